"""Measure how RLlib PPO's parallelism settings change training speed.

The package is a pipeline, one module a stage::

    spaces -> sweep -> telemetry -> results -> metrics -> report
                        (ceiling: the raw environment's own limit)

Only ``ppo``, ``sweep``, ``telemetry``, ``results`` and ``ceiling`` import Ray,
and only when called; the rest is plain pandas.
"""

__version__ = "0.1.0"

#: Bumped whenever a Parquet table's columns change meaning.
SCHEMA_VERSION = 1
