"""The progress lines, driven directly with small fake trials."""

import io
from types import SimpleNamespace

from parallel_tune.progress import ProgressCallback


def trial(tid, status="RUNNING"):
    return SimpleNamespace(trial_id=tid, status=status, path=f"/x/{tid}", __str__=lambda self: tid)


def test_progress_says_which_trial_iteration_elapsed_and_eta():
    out = io.StringIO()
    cb = ProgressCallback(total_trials=2, iterations=3, stream=out)
    a, b = trial("a"), trial("b")
    cb.on_trial_start(0, [a, b], a)
    for i in (1, 2, 3):
        cb.on_trial_result(i, [a, b], a, {"training_iteration": i, "time_this_iter_s": 10.0})
    a.status = "TERMINATED"
    cb.on_trial_complete(3, [a, b], a)
    cb.on_trial_start(3, [a, b], b)
    cb.on_trial_result(4, [a, b], b, {"training_iteration": 1, "time_this_iter_s": 10.0})
    cb.on_trial_error(5, [a, b], b)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[trial 1/2]") and lines[0].endswith("started")
    assert "iter 1/3 10.00 s/iter" in lines[1] and lines[1].endswith("eta 0:00:50")  # 5 iterations left x 10 s
    assert lines[3].endswith("eta 0:00:30")
    assert lines[5].startswith("[trial 2/2]") and "iter 1/3" in lines[6] and lines[6].endswith("eta 0:00:20")
    assert lines[-1].startswith("[trial 2/2]") and "FAILED (see /x/b)" in lines[-1]


def test_progress_pickles_without_its_stream():
    import pickle

    cb = ProgressCallback(total_trials=1, iterations=1, stream=io.StringIO())
    assert pickle.loads(pickle.dumps(cb)).stream is None
