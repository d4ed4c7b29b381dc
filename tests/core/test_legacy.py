"""Experiments pickled by 0.1 refer to modules that moved; while they are read, the old paths still import."""

import pickle
import sys

from parallel_tune.core.legacy import MOVED, old_module_names


def test_every_old_path_imports_its_new_home_and_is_gone_afterwards():
    import importlib

    with old_module_names():
        for old, new in MOVED.items():
            assert importlib.import_module(old) is importlib.import_module(new)
    assert not any(old in sys.modules for old in MOVED)
    import parallel_tune

    assert not hasattr(parallel_tune, "files") and not hasattr(parallel_tune, "telemetry")


def test_an_object_pickled_at_an_old_path_unpickles():
    from parallel_tune.core.files import trial_name

    old = pickle.dumps(trial_name, protocol=0).replace(b"parallel_tune.core.files", b"parallel_tune.files")
    assert b"parallel_tune.files" in old
    with old_module_names():
        assert pickle.loads(old) is trial_name


def test_an_unknown_old_path_is_still_an_import_error():
    import pytest

    with old_module_names(), pytest.raises(ModuleNotFoundError):
        __import__("parallel_tune.nowhere")
