"""The module paths older experiments were pickled under, so they still load and resume.

Tune pickles references to classes and functions into an experiment's state
(the trainable's callbacks and stopper in ``tuner.pkl``, each trial's name
creator in ``experiment_state-*.json``). Experiments written before the
package was split into ``core/``, ``run/`` and ``analysis/`` (0.1) refer to
modules that no longer exist; while ``old_module_names()`` is open, each old
path imports its new home.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys

#: Module path in 0.1 -> its home since 0.2.
MOVED = {
    "parallel_tune.files": "parallel_tune.core.files",
    "parallel_tune.spaces": "parallel_tune.core.spaces",
    "parallel_tune.machine": "parallel_tune.core.machine",
    "parallel_tune.manifest": "parallel_tune.core.record",
    "parallel_tune.cluster": "parallel_tune.run.cluster",
    "parallel_tune.placement": "parallel_tune.run.placement",
    "parallel_tune.plan": "parallel_tune.run.plan",
    "parallel_tune.probe": "parallel_tune.run.probe",
    "parallel_tune.ppo": "parallel_tune.run.trial",
    "parallel_tune.progress": "parallel_tune.run.progress",
    "parallel_tune.stopping": "parallel_tune.run.stopping",
    "parallel_tune.telemetry": "parallel_tune.run.telemetry",
}


@contextlib.contextmanager
def old_module_names():
    """Let unpickling find 0.1's modules at their new homes; ``sys.modules`` is as before afterwards.

    A new home is imported only when something asks for the old name, so the
    analysis wing opening an experiment imports nothing of the run wing's
    unless the experiment's state refers to it.
    """
    added = [old for old in MOVED if old not in sys.modules]
    finder = _Finder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for old in added:
            if sys.modules.pop(old, None) is not None:  # the import system also set it on the package
                parent, _, child = old.rpartition(".")
                if getattr(sys.modules[parent], child, None) is not None:
                    delattr(sys.modules[parent], child)


class _Finder:
    """An import hook that answers an old module name with the module at its new home."""

    def find_spec(self, name, path=None, target=None):
        if name not in MOVED:
            return None
        return importlib.util.spec_from_loader(name, _Alias(MOVED[name]))


class _Alias:
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass
