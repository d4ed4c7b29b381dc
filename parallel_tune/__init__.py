"""Measure how RLlib PPO's parallelism settings change training speed.

The package is a pipeline, one module a stage::

    spaces -> plan -> sweep -> telemetry -> results -> metrics -> report
              (cluster: start or join Ray; manifest: what the sweep planned;
               ceiling: the raw environment's own limit)

Only ``cluster``, ``ppo``, ``plan``, ``sweep``, ``progress``, ``telemetry``,
``results``, ``ceiling`` and ``analyze`` reach Ray or RLlib, and only when
called (``telemetry``'s sampler works without Ray); ``spaces``, ``placement``,
``manifest``, ``files``, ``metrics`` and ``report`` are plain Python and pandas.
"""

__version__ = "0.1.0"

#: Bumped whenever a Parquet table's columns change meaning.
SCHEMA_VERSION = 1


class UsageError(Exception):
    """Bad input or an impossible request: every CLI prints it as one line and exits with status 2."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's first non-empty line: what a one-line error keeps of a library's message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:limit] if lines else type(exc).__name__
