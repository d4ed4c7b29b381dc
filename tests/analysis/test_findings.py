"""Every metric of one experiment at once: drift against the config that ran again, and the stand-in baseline."""

import pytest

from parallel_tune.analysis import findings, report
from parallel_tune.analysis.load import load
from parallel_tune.core import spaces

from ..conftest import ROOT

VECTORIZE = ROOT / "benchmarks" / "results" / "vectorize_2core"
SYNC = {"num_env_runners": 1, "num_envs_per_env_runner": 1, "gym_env_vectorize_mode": "sync"}


def vectorize_findings(baseline, *, drift=True):
    e = load(VECTORIZE)
    return findings.findings(
        e.iterations,
        e.trials,
        e.telemetry,
        config_keys=e.config_keys,
        baseline=baseline,
        warmup_iterations=1,
        cores=2,
        drift_iterations=e.drift if drift else None,
    )


def test_drift_is_measured_against_the_config_that_ran_again():
    # The committed vectorize sweep: 1r x 1e sync (15.5 s) re-measured at 0.954x; 1r x 1e async took 27.1 s.
    found = vectorize_findings(SYNC)
    assert found.drift["ratio"] == pytest.approx(0.954, abs=0.0005)
    assert (found.drift["label"], found.drift["is_baseline"]) == ("1r x 1e sync", True)
    # Speedups against the async config; the check still compares sync with sync, and says it is not the baseline.
    found = vectorize_findings({**SYNC, "gym_env_vectorize_mode": "async"})
    assert found.scaled.set_index("label").loc["1r x 1e async", "is_baseline"]
    assert found.drift["ratio"] == pytest.approx(0.954, abs=0.0005), "not 15.5 s against async's 27.1 s"
    assert (found.drift["label"], found.drift["is_baseline"]) == ("1r x 1e sync", False)
    text = " ".join(report.drift_section(found))
    assert text.startswith("A config other than the baseline, 1r x 1e sync, re-measured at the end of the sweep")


def test_a_grid_without_the_baseline_measures_against_the_config_nearest_to_it():
    grid = {"num_env_runners": [8, 15], "num_envs_per_env_runner": [1, 4], "gym_env_vectorize_mode": ["async", "sync"]}
    data = {"env": "HalfCheetah-v5", "iterations": 5, "ppo": {}, "grid": grid, "baseline": SYNC}
    s = spaces.from_dict(data, name="r")
    nearest = {"num_env_runners": 8, "num_envs_per_env_runner": 1, "gym_env_vectorize_mode": "sync"}
    assert s.reference_config(s.configs()) == nearest, "the sweep's drift check re-measures this one"
    assert s.reference_config([*s.configs(), SYNC]) == SYNC
    # The analysis picks the same stand-in: 1r x 1e sync for a 2-runner sync baseline the 2-core sweep never ran.
    found = vectorize_findings({**SYNC, "num_env_runners": 2}, drift=False)
    assert found.scaled.set_index("label").loc["1r x 1e sync", "is_baseline"]
    assert found.scaled["is_baseline"].sum() == 1


def test_the_findings_of_an_experiment_take_its_record():
    e = load(VECTORIZE)
    found = findings.of(e)
    assert found.cores == 2 and found.precision == e.record.space.precision == 0.05
    assert len(found.configs) == len(e.trials) == 8 and len(found.scaled) == 8
    assert found.scaled.set_index("label").loc["1r x 1e sync", "is_baseline"], "the space's own baseline"
    assert found.drift["ratio"] == pytest.approx(0.954, abs=0.0005)
