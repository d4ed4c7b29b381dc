"""Stopping when the speed is known, drift and the harness's time: on hand-made sequences."""

import numpy as np
import pandas as pd
import pytest

from parallel_tune import files, metrics, report, spaces, sweep
from parallel_tune.results import read_table
from parallel_tune.stopping import PrecisionStopper

from .conftest import ROOT


def space(precision=0.05, iterations=10, warmup=1, min_measured=3):
    data = {
        "env": "HalfCheetah-v5",
        "iterations": iterations,
        "warmup_iterations": warmup,
        "min_measured_iterations": min_measured,
        "ppo": {},
        "grid": {"num_env_runners": [1]},
    }
    if precision is not None:
        data["precision"] = precision
    return spaces.from_dict(data, name="s")


def stops_after(stopper, times, since=None):
    """The iteration the stopper stops at, feeding it one result per time; None if it never does."""
    for i, t in enumerate(times, 1):
        result = {
            "training_iteration": i,
            "time_this_iter_s": t,
            "iterations_since_restore": since[i - 1] if since else i,
        }
        if stopper("t", result):
            return i
    return None


def test_a_stable_trial_stops_at_the_first_tight_interval_never_before_the_minimum():
    # Warm-up 30 s, then 10.0 s +-0.1 %: three measured iterations are enough, not two.
    assert stops_after(PrecisionStopper(space()), [30, 10.0, 10.01, 9.99, 10.0, 10.0]) == 4
    assert stops_after(PrecisionStopper(space(min_measured=5)), [30, 10.0, 10.01, 9.99, 10.0, 10.0, 10.0]) == 6


def test_a_noisy_trial_runs_until_its_interval_is_tight_or_the_cap():
    noisy = [30, 10, 14, 8, 12, 9, 13, 10, 11, 10.5, 10.4, 10.6]
    assert stops_after(PrecisionStopper(space(precision=0.05, iterations=12)), noisy) == 12, "the cap"
    at = stops_after(PrecisionStopper(space(precision=0.2, iterations=12)), noisy)
    times = np.array(noisy[1:at])
    assert metrics.precise_enough(times, precision=0.2, min_measured=3)
    assert not metrics.precise_enough(times[:-1], precision=0.2, min_measured=3), "it stopped at the first one"


def test_without_precision_every_trial_runs_the_space_iterations():
    assert stops_after(PrecisionStopper(space(precision=None)), [30] + [10.0] * 9) == 10


def test_the_warmup_after_a_restore_does_not_count():
    stopper = PrecisionStopper(space())
    # Iterations 1-3 ran, a restore, then 4 (warm-up again, 50 s), 5, 6.
    times, since = [30, 10.0, 10.0, 50, 10.0, 10.0], [1, 2, 3, 1, 2, 3]
    assert stops_after(stopper, times, since) == 5
    assert stopper._times["t"] == [10.0, 10.0, 10.0]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--precision", "0"], "--precision must be in (0, 1]"),
        (["--precision", "-0.05"], "--precision must be in (0, 1]"),
        (["--precision", "1.5"], "--precision must be in (0, 1]"),
        (["--precision", "0.05", "--iterations", "3"], "'min_measured_iterations' must be between 2 and"),
    ],
)
def test_bad_precision_is_one_line_and_exit_2(capsys, argv, message):
    assert sweep.main(["--space", "runners_only", "--runners", "1", *argv, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_a_space_file_sets_precision_and_its_minimum():
    s = space(precision=0.1, iterations=20, min_measured=4)
    assert (s.precision, s.min_measured_iterations) == (0.1, 4)
    assert s.settings()["precision"] == 0.1, "stored with the results and compared on resume"
    with pytest.raises(spaces.SpaceError, match="'precision' is the 95 % interval's half-width"):
        space(precision=True)


def test_drift_of_a_pair_of_baseline_runs():
    first = np.array([10.0, 10.1, 9.9, 10.0])
    same = metrics.ratio_of_medians(first, np.array([10.0, 10.05, 9.95]))
    assert same["ratio"] == pytest.approx(1.0) and same["ci_low"] <= 1.0 <= same["ci_high"]
    slower = metrics.ratio_of_medians(first, np.array([11.0, 11.1, 10.9]))
    assert slower["ratio"] == pytest.approx(1.1) and slower["ci_low"] > 1.05
    assert np.isnan(metrics.ratio_of_medians(first, np.array([]))["ratio"])


def test_harness_time_is_start_up_and_what_iterations_leave():
    it = pd.DataFrame(
        {
            "trial_name": ["a", "a", "b", "b"],
            "iteration": [1, 2, 1, 2],
            "time_this_iter_s": [5.0, 2.0, 4.0, 2.0],
            # The sweep started at 90; a's first 5 s iteration reported at 112: 17 s before it started.
            # b's first 4 s iteration reported at 130, 16 s after a's last result at 114: 12 s.
            "reported_at_s": [112.0, 114.0, 130.0, 132.0],
        }
    )
    h = metrics.harness_time(it, started_at_s=90.0)
    assert h["trials"].set_index("trial_name")["startup_s"].to_dict() == {"a": 17.0, "b": 12.0}
    assert (h["wall_s"], h["in_iterations_s"], h["outside_iterations_s"]) == (42.0, 13.0, 29.0)


VECTORIZE = ROOT / "benchmarks" / "results" / "vectorize_2core" / "analysis"
KEYS = ["num_env_runners", "num_envs_per_env_runner", "gym_env_vectorize_mode"]


def vectorize_findings(baseline, drift):
    iterations, meta = read_table(VECTORIZE / files.table("iterations"))
    return metrics.findings(
        iterations,
        read_table(VECTORIZE / files.table("trials"))[0],
        read_table(VECTORIZE / files.table("telemetry"))[0],
        config_keys=KEYS,
        baseline=baseline,
        warmup_iterations=meta["space"]["warmup_iterations"],
        cores=2,
        drift_iterations=drift,
    )


def test_drift_is_measured_against_the_config_that_ran_again():
    # The committed vectorize sweep: 1r x 1e sync (15.5 s) re-measured at 0.954x; 1r x 1e async took 27.1 s.
    drift = read_table(VECTORIZE / files.table("drift"))[0]
    assert "gym_env_vectorize_mode" not in drift, "written before the drift table kept every grid key"
    sync = {"num_env_runners": 1, "num_envs_per_env_runner": 1, "gym_env_vectorize_mode": "sync"}
    found = vectorize_findings(sync, drift)
    assert found.drift["ratio"] == pytest.approx(0.954, abs=0.0005)
    assert (found.drift["label"], found.drift["is_baseline"]) == ("1r x 1e sync", True)
    # Speedups against the async config; the check still compares sync with sync, and says it is not the baseline.
    found = vectorize_findings({**sync, "gym_env_vectorize_mode": "async"}, drift.assign(gym_env_vectorize_mode="sync"))
    assert found.scaled.set_index("label").loc["1r x 1e async", "is_baseline"]
    assert found.drift["ratio"] == pytest.approx(0.954, abs=0.0005), "not 15.5 s against async's 27.1 s"
    assert (found.drift["label"], found.drift["is_baseline"]) == ("1r x 1e sync", False)
    text = " ".join(report.drift_section(found))
    assert text.startswith("A config other than the baseline, 1r x 1e sync, re-measured at the end of the sweep")


def test_a_grid_without_the_baseline_measures_against_the_config_nearest_to_it():
    grid = {"num_env_runners": [8, 15], "num_envs_per_env_runner": [1, 4], "gym_env_vectorize_mode": ["async", "sync"]}
    base = {"num_env_runners": 1, "num_envs_per_env_runner": 1, "gym_env_vectorize_mode": "sync"}
    data = {"env": "HalfCheetah-v5", "iterations": 5, "ppo": {}, "grid": grid, "baseline": base}
    s = spaces.from_dict(data, name="r")
    nearest = {"num_env_runners": 8, "num_envs_per_env_runner": 1, "gym_env_vectorize_mode": "sync"}
    assert s.reference_config(s.configs()) == nearest, "the sweep's drift check re-measures this one"
    assert s.reference_config([*s.configs(), base]) == base
    # The analysis picks the same stand-in: 1r x 1e sync for a 2-runner sync baseline the 2-core sweep never ran.
    found = vectorize_findings({**base, "num_env_runners": 2}, None)
    assert found.scaled.set_index("label").loc["1r x 1e sync", "is_baseline"]
    assert found.scaled["is_baseline"].sum() == 1
