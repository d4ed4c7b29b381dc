"""The progress lines, driven directly with small fake trials."""

import io
import time
from types import SimpleNamespace

from parallel_tune.run.progress import ProgressCallback


def trial(tid, status="RUNNING", last=None):
    return SimpleNamespace(trial_id=tid, status=status, path=f"/x/{tid}", last_result=last or {})


def test_progress_says_which_trial_iteration_elapsed_and_eta():
    out = io.StringIO()
    cb = ProgressCallback(total_trials=2, iterations=3, stream=out)
    a, b = trial("a"), trial("b")
    cb.on_trial_start(0, [a, b], a)
    for i in (1, 2, 3):
        cb.on_trial_result(i, [a, b], a, {"training_iteration": i, "time_this_iter_s": 10.0})
    a.status, a.last_result = "TERMINATED", {"training_iteration": 3}
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


def test_every_result_says_when_it_reached_the_driver():
    cb = ProgressCallback(total_trials=1, iterations=2, stream=io.StringIO())
    a = trial("a")
    cb.on_trial_start(0, [a], a)
    result = {"training_iteration": 1, "time_this_iter_s": 1.0}
    cb.on_trial_result(1, [a], a, result)
    assert abs(result["reported_at_s"] - time.time()) < 5


def test_an_adaptive_eta_expects_what_finished_trials_needed():
    out = io.StringIO()
    cb = ProgressCallback(total_trials=3, iterations=10, stream=out, adaptive=True)
    a, b, c = trial("a"), trial("b"), trial("c")
    cb.on_trial_start(0, [a, b, c], a)
    cb.on_trial_result(1, [a, b, c], a, {"training_iteration": 1, "time_this_iter_s": 10.0})
    assert out.getvalue().splitlines()[-1].endswith("eta 0:04:50")  # the cap before any trial finished: 29 x 10 s
    a.status, a.last_result = "TERMINATED", {"training_iteration": 4}  # stopped by precision after 4
    cb.on_trial_complete(4, [a, b, c], a)
    cb.on_trial_start(4, [a, b, c], b)
    cb.on_trial_result(5, [a, b, c], b, {"training_iteration": 1, "time_this_iter_s": 10.0})
    assert out.getvalue().splitlines()[-1].endswith("eta 0:01:10")  # b: 3 more, c: 4 -> 7 x 10 s


def test_a_resumed_sweep_numbers_its_trials_after_those_already_done():
    out = io.StringIO()
    cb = ProgressCallback(total_trials=3, iterations=3, stream=out, done_before=2)
    done, left = trial("done", status="TERMINATED"), trial("left")
    cb.on_trial_complete(0, [done, left], done)  # stopped by the scheduler: its results already end it
    cb.on_trial_start(0, [done, left], left)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(": its results already end it; not run again") and "[trial" not in lines[0]
    assert lines[1].startswith("[trial 3/3]") and lines[1].endswith("started")


def test_progress_prints_what_the_scheduler_says_is_out_of_reach():
    from parallel_tune.core import spaces
    from parallel_tune.run.stopping import SweepScheduler

    data = {"env": "HalfCheetah-v5", "iterations": 12, "precision": 0.05, "ppo": {}, "grid": {"num_env_runners": [1]}}
    scheduler = SweepScheduler(spaces.from_dict(data, name="s"))
    out = io.StringIO()
    cb = ProgressCallback(total_trials=1, iterations=12, stream=out, adaptive=True, scheduler=scheduler)
    a = trial("a")
    a.storage = None
    cb.on_trial_start(0, [a], a)
    for i, t in enumerate([40.0, 15.3, 21.2, 17.0], 1):
        result = {"training_iteration": i, "time_this_iter_s": t, "iterations_since_restore": i}
        scheduler.on_trial_result(None, a, result)  # Tune calls the scheduler first, then the callbacks
        cb.on_trial_result(i, [a], a, result)
    lines = out.getvalue().splitlines()
    warned = [line for line in lines if "out of reach" in line]
    assert len(warned) == 1 and warned[0].startswith("[trial 1/1]") and "±5 % is out of reach within 12" in warned[0]
    assert "after 3 measured" in warned[0] and "a bigger train_batch_size" in warned[0]


def test_a_training_budget_eta_expects_the_iterations_the_budget_takes():
    # A cap of 25, but 300,000 env steps at 16,384 a step take 19 iterations: 18 more after the first.
    out = io.StringIO()
    cb = ProgressCallback(total_trials=1, iterations=25, stream=out, env_steps=300_000)
    a = trial("a")
    cb.on_trial_start(0, [a], a)
    result = {"training_iteration": 1, "time_this_iter_s": 10.0, "env_runners": {"num_env_steps_sampled": 16384}}
    cb.on_trial_result(1, [a], a, result)
    assert out.getvalue().splitlines()[-1].endswith("eta 0:03:00")


def test_a_resumed_sweeps_eta_counts_the_iterations_its_finished_trials_took():
    # Restored: "done" ran 10 iterations in 50 s. Here: "left" takes 30 s an iteration. Mean (50 + 30) / 11.
    out = io.StringIO()
    cb = ProgressCallback(total_trials=2, iterations=10, stream=out, done_before=1)
    done = trial("done", status="TERMINATED", last={"training_iteration": 10, "time_total_s": 50.0})
    left = trial("left")
    cb.on_trial_start(0, [done, left], left)
    cb.on_trial_result(1, [done, left], left, {"training_iteration": 1, "time_this_iter_s": 30.0})
    assert out.getvalue().splitlines()[-1].endswith("eta 0:01:05")  # 9 x 80 / 11 s, not 9 x 30 s
