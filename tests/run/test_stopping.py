"""The sweep's scheduler: stopping when the speed is known, and never running a finished trial again.

Tune's hooks called directly with small fake trials (as Ray's own scheduler
tests do); real sweeps that are killed and resumed are in ``test_experiment``.
"""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from ray.tune.schedulers import TrialScheduler

from parallel_tune.core import files, race, spaces, stats
from parallel_tune.run.stopping import SweepScheduler, finished

from ..conftest import precision_space as space


def fake_trial(trial_id="t", trial_dir=None, status="RUNNING"):
    """What the scheduler reads of a Tune trial: its id, status and (once Tune named it) its directory."""
    storage = SimpleNamespace(trial_dir_name=trial_dir.name if trial_dir else None)
    return SimpleNamespace(
        trial_id=trial_id, status=status, storage=storage, path=str(trial_dir) if trial_dir else None
    )


def result(i, t, since=None):
    return {"training_iteration": i, "time_this_iter_s": t, "iterations_since_restore": since or i}


def stops_after(scheduler, times, since=None, trial=None):
    """The iteration the scheduler stops at, feeding it one result per time; None if it never does."""
    trial = trial or fake_trial()
    for i, t in enumerate(times, 1):
        if scheduler.on_trial_result(None, trial, result(i, t, since[i - 1] if since else None)) == TrialScheduler.STOP:
            return i
    return None


def test_a_stable_trial_stops_at_the_first_tight_interval_never_before_the_minimum():
    # Warm-up 30 s, then 10.0 s +-0.1 %: three measured iterations are enough, not two.
    assert stops_after(SweepScheduler(space()), [30, 10.0, 10.01, 9.99, 10.0, 10.0]) == 4
    assert stops_after(SweepScheduler(space(min_measured=5)), [30, 10.0, 10.01, 9.99, 10.0, 10.0, 10.0]) == 6


def test_a_noisy_trial_runs_until_its_interval_is_tight_or_the_cap():
    noisy = [30, 10, 14, 8, 12, 9, 13, 10, 11, 10.5, 10.4, 10.6]
    assert stops_after(SweepScheduler(space(precision=0.05, iterations=12)), noisy) == 12, "the cap"
    at = stops_after(SweepScheduler(space(precision=0.2, iterations=12)), noisy)
    times = np.array(noisy[1:at])
    assert stats.precise_enough(times, precision=0.2, min_measured=3)
    assert not stats.precise_enough(times[:-1], precision=0.2, min_measured=3), "it stopped at the first one"


def test_without_precision_every_trial_runs_the_space_iterations():
    assert stops_after(SweepScheduler(space(precision=None)), [30] + [10.0] * 9) == 10


def test_the_warmup_after_a_restore_does_not_count():
    # Iterations 1-3 ran, a restore, then 4 (warm-up again, 50 s), 5, 6.
    times, since = [30, 10.0, 10.0, 50, 10.0, 10.0], [1, 2, 3, 1, 2, 3]
    assert stops_after(SweepScheduler(space()), times, since) == 5


def test_a_rerun_iteration_replaces_nothing_the_trial_measured():
    scheduler, trial = SweepScheduler(space(precision=0.05, iterations=5)), fake_trial()
    for i, t in enumerate([30, 10.0, 10.0], 1):
        assert scheduler.on_trial_result(None, trial, result(i, t)) == TrialScheduler.CONTINUE
    # Restored from iteration 2's checkpoint: iteration 3 runs again (a warm-up, 80 s), then 4.
    assert scheduler.on_trial_result(None, trial, result(3, 80.0, since=1)) == TrialScheduler.CONTINUE
    assert scheduler.on_trial_result(None, trial, result(4, 10.0, since=2)) == TrialScheduler.STOP
    assert [r["time_this_iter_s"] for r in scheduler._rows["t"]] == [30, 10.0, 10.0, 10.0]


def write_results(trial_dir, times, since=None):
    trial_dir.mkdir(parents=True)
    lines = [
        json.dumps({"trial_id": "t", **result(i, t, since[i - 1] if since else None)}) for i, t in enumerate(times, 1)
    ]
    (trial_dir / files.RESULTS).write_text("\n".join(lines) + "\n")


def test_a_resumed_trial_is_judged_on_what_it_measured_before(tmp_path):
    # Two measured iterations before the interruption, continued from the checkpoint after iteration 3:
    # the first result after the restore is a warm-up, and the next one completes the interval.
    trial_dir = tmp_path / "ppo[num_env_runners=1]"
    write_results(trial_dir, [30, 10.0, 10.0])
    scheduler, trial = SweepScheduler(space()), fake_trial(trial_dir=trial_dir)
    assert scheduler.on_trial_result(None, trial, result(4, 60.0, since=1)) == TrialScheduler.CONTINUE
    assert scheduler.on_trial_result(None, trial, result(5, 10.0, since=2)) == TrialScheduler.STOP


class FakeController:
    """The part of Tune's controller a scheduler may use: its trials, and stopping one."""

    def __init__(self, trials):
        self.trials, self.stopped = trials, []

    def get_trials(self):
        return self.trials

    def stop_trial(self, trial):
        self.stopped.append(trial.trial_id)
        trial.status = "TERMINATED"

    def has_resources_for_trial(self, trial):
        return True


def test_a_trial_whose_results_already_end_it_is_stopped_not_run(tmp_path):
    # Killed after the last result was written, before Tune saved TERMINATED: Tune restores it as PENDING.
    done_dir, half_dir = tmp_path / "done", tmp_path / "half"
    write_results(done_dir, [30, 10.0, 10.0])
    write_results(half_dir, [30, 10.0])
    trials = [fake_trial("done", done_dir, "PENDING"), fake_trial("half", half_dir, "PENDING")]
    controller = FakeController(trials)
    chosen = SweepScheduler(space(precision=None, iterations=3)).choose_trial_to_run(controller)
    assert controller.stopped == ["done"] and chosen is trials[1]
    assert finished(space(precision=None, iterations=3), done_dir)
    assert not finished(space(precision=None, iterations=3), half_dir)
    # With a precision target, three tight measured iterations end a trial before its cap.
    precise_dir = tmp_path / "precise"
    write_results(precise_dir, [30, 10.0, 10.0, 10.0])
    assert finished(space(precision=0.05, iterations=10), precise_dir)


def test_the_scheduler_pickles_without_what_it_read():
    import pickle

    scheduler = SweepScheduler(space())
    stops_after(scheduler, [30, 10.0])
    back = pickle.loads(pickle.dumps(scheduler))
    assert back._rows == {} and back.space == scheduler.space


@pytest.mark.parametrize("kept", [["a"], []])
def test_a_stopper_pickled_by_0_1_unpickles_and_stops_nothing(kept):
    # Experiments made before 0.2 pickled parallel_tune.stopping.PrecisionStopper into Tune's state.
    from parallel_tune.run.stopping import PrecisionStopper

    old = PrecisionStopper.__new__(PrecisionStopper)
    old.__dict__.update({"iterations": 3, "warmup": 1, "precision": None, "min_measured": 3, "_times": {"t": kept}})
    assert old("t", result(5, 1.0)) is False and old.stop_all() is False


def test_the_scheduler_says_once_when_the_noise_puts_the_target_out_of_reach():
    scheduler, trial = SweepScheduler(space(precision=0.05, iterations=12)), fake_trial()
    for i, t in enumerate([40.0, 15.3, 21.2], 1):
        scheduler.on_trial_result(None, trial, result(i, t))
        assert scheduler.out_of_reach("t") is None, "not before the minimum measured iterations"
    scheduler.on_trial_result(None, trial, result(4, 17.0))
    told = scheduler.out_of_reach("t")
    assert told["measured"] == 3 and told["needed"] > told["possible"] == 11
    assert scheduler.out_of_reach("t") is None, "said once"


def racing(iterations=10):
    return spaces.validate(
        spaces.from_dict(
            {
                "env": "HalfCheetah-v5",
                "iterations": iterations,
                "precision": 0.05,
                "goal": "fastest",
                "ppo": {},
                "grid": {"num_envs_per_env_runner": [1, 16]},
            },
            name="s",
        )
    )


def write_steps(trial_dir, times, steps=1000.0):
    trial_dir.mkdir(parents=True)
    rows = [{**result(i, t), "env_runners": {"num_env_steps_sampled": steps}} for i, t in enumerate(times, 1)]
    (trial_dir / files.RESULTS).write_text("".join(json.dumps(r) + "\n" for r in rows))


def stepped(i, t, steps=1000.0):
    return {**result(i, t), "env_runners/num_env_steps_sampled": steps}


def test_a_race_stops_a_clearly_slower_trial_and_logs_why(tmp_path):
    fast_dir, slow_dir = tmp_path / "fast", tmp_path / "slow"
    write_steps(fast_dir, [3.0, 0.25, 0.25, 0.25])  # measured to its precision: the incumbent
    (slow_dir).mkdir()
    fast, slow = fake_trial("f", fast_dir, "TERMINATED"), fake_trial("s", slow_dir)
    controller = FakeController([fast, slow])
    scheduler = SweepScheduler(racing(), tmp_path)
    # Noisy enough that the precision rule would not end it yet: only the race does.
    decisions = [scheduler.on_trial_result(controller, slow, stepped(i, t)) for i, t in enumerate([3, 1, 1.1, 0.9], 1)]
    assert decisions == [TrialScheduler.CONTINUE] * 3 + [TrialScheduler.STOP], "judged after warm-up + 3 measured"
    logged = race.read(tmp_path)["eliminated"]["slow"]
    assert logged["iteration"] == 4 and logged["incumbent"] == "fast"
    assert logged["incumbent_steps_per_s"] == pytest.approx(4000) and logged["steps_per_s_ci_high"] < 3880
    assert scheduler.raced_out("s")["incumbent"] == "fast" and scheduler.raced_out("s") is None, "said once"


def test_a_resumed_race_never_runs_a_raced_out_trial_and_judges_from_disk(tmp_path):
    # Killed after the decision was logged but before Tune saved the trial as TERMINATED; and a trial whose
    # results on disk already put it out, though it was never judged (killed between result and decision).
    write_steps(tmp_path / "fast", [3.0, 0.25, 0.25, 0.25])
    write_steps(tmp_path / "logged", [3.0, 1.0, 1.0, 1.0])
    write_steps(tmp_path / "unjudged", [3.0, 1.0, 1.1, 0.9])  # not precise: only the race ends it
    write_steps(tmp_path / "close", [3.0, 0.251, 0.252])
    race.append(tmp_path, {"raced_out": "logged", "evidence": {"iteration": 4}})
    trials = [fake_trial("fast", tmp_path / "fast", "TERMINATED")]
    trials += [fake_trial(n, tmp_path / n, "PENDING") for n in ("logged", "unjudged", "close")]
    controller = FakeController(trials)
    chosen = SweepScheduler(racing(), tmp_path).choose_trial_to_run(controller)
    assert controller.stopped == ["logged", "unjudged"] and chosen.trial_id == "close"
    assert set(race.read(tmp_path)["eliminated"]) == {"logged", "unjudged"}


def test_the_incumbent_is_the_fastest_trial_measured_to_its_end(tmp_path):
    write_steps(tmp_path / "a", [3.0, 0.5, 0.5, 0.5])
    write_steps(tmp_path / "b", [3.0, 0.25, 0.25, 0.25])
    write_steps(tmp_path / "c", [3.0, 0.1])  # faster, but not measured to its end
    write_steps(tmp_path / "d", [3.0, 0.05, 0.05, 0.05])  # fastest, but raced out (a log from before)
    race.append(tmp_path, {"raced_out": "d", "evidence": {}})
    trials = [fake_trial(n, tmp_path / n, "TERMINATED") for n in "abcd"]
    assert SweepScheduler(racing(), tmp_path).incumbent(trials)[0] == "b"


def test_a_trial_tune_stopped_at_the_cap_becomes_the_incumbent(tmp_path):
    # Tune's own stop at the cap calls on_trial_complete with the last result, never on_trial_result.
    (tmp_path / "fast").mkdir()
    fast = fake_trial("f", tmp_path / "fast")
    scheduler = SweepScheduler(racing(iterations=4), tmp_path)
    for i, t in enumerate([3.0, 0.25, 0.3], 1):
        scheduler.on_trial_result(FakeController([fast]), fast, stepped(i, t))
    assert scheduler.incumbent([fast]) is None, "not measured to its end yet"
    scheduler.on_trial_complete(None, fast, stepped(4, 0.2))
    assert scheduler.incumbent([fast])[0] == "fast"


def test_a_training_budget_stops_a_trial_at_its_env_steps_whatever_its_noise():
    budget = spaces.load("smoke").with_overrides(seeds=2, env_steps=2500, iterations=10)
    scheduler, trial = SweepScheduler(budget), fake_trial()
    lifetime = {"num_env_steps_sampled_lifetime": 0}
    decisions = []
    for i in range(1, 5):
        lifetime["num_env_steps_sampled_lifetime"] += 1000
        decisions.append(scheduler.on_trial_result(None, trial, {**stepped(i, 1.0 + i), **lifetime}))
    assert decisions == [TrialScheduler.CONTINUE, TrialScheduler.CONTINUE, TrialScheduler.STOP, TrialScheduler.STOP]
