"""Measure how Ray RLlib's parallelism settings change training speed, and why scaling stops.

The folders are the architecture::

    sweep  analyze  compare  ceiling      the commands (python -m parallel_tune.<command>)
    run/        runs a sweep as a Tune experiment: plan, cluster, placement, trial building,
                telemetry, stopping, probes; the only wing that talks to Ray
    analysis/   reads an experiment back and explains it: loading, the per-config table,
                metrics, diagnosis, report, dashboard; plain pandas, no Ray
    core/       the ground floor both wings stand on: spaces, the experiment record, file
                names, table layouts, statistics, the machine

``run`` and ``analysis`` never import each other; ``core`` imports nothing above it.
"""

__version__ = "0.2.0"
