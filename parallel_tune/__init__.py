"""Measure how Ray RLlib's parallelism settings change training speed, and why scaling stops.

The folders are the architecture::

    sweep  analyze  compare  ceiling      the commands (python -m parallel_tune.<command>)
    run/        runs a sweep as a Tune experiment: plan, cluster, placement, trial building,
                telemetry, stopping, probes; the only wing that talks to Ray
    analysis/   reads an experiment back and explains it: loading, the per-config table,
                metrics, diagnosis, report, dashboard; plain pandas, no Ray
    core/       the ground floor both wings stand on: spaces, the experiment record, file
                names, table layouts, statistics, the machine

``run`` and ``analysis`` never import each other; ``core`` imports nothing above it. From Python::

    import parallel_tune
    result = parallel_tune.sweep("my_training.py", space="runners_only", runners=[1, 2, 4])
    analysis = parallel_tune.analyze(result.experiment_dir)   # its tables, metrics and report
"""

__version__ = "0.2.0"

#: The commands, each a module with ``main(argv)`` and, for sweep and analyze, callable from Python.
COMMANDS = ("sweep", "analyze", "compare", "ceiling")


def __getattr__(name: str):
    """``parallel_tune.sweep(config, ...)`` and ``parallel_tune.analyze(path)`` without importing every command
    (and Ray) on ``import parallel_tune``."""
    if name in COMMANDS:
        import importlib

        return importlib.import_module(f"parallel_tune.{name}")
    raise AttributeError(f"module 'parallel_tune' has no attribute {name!r}")
