"""The one per-config table: every config once, its statistics and its hardware use side by side."""

import numpy as np
import pandas as pd
import pytest

from parallel_tune.analysis.load import load
from parallel_tune.analysis.table import per_config
from parallel_tune.core.tables import SKIPPED

from ..conftest import ROOT

KEYS = ["num_env_runners", "num_envs_per_env_runner"]


def test_every_config_is_one_row_with_its_trial_statistics_and_hardware():
    e = load(ROOT / "benchmarks" / "results" / "runners_only_oversubscribed_2core")
    configs = per_config(e.iterations, e.trials, e.telemetry, config_keys=e.config_keys, warmup_iterations=1)
    assert len(configs) == len(e.trials) == 3 and configs["trial_name"].is_unique
    assert configs["measured"].all()
    row = configs.set_index("num_env_runners").loc[3]
    it = e.iterations[(e.iterations["num_env_runners"] == 3) & (e.iterations["iteration"] > 1)]
    assert row["time_per_iter_s"] == pytest.approx(it["time_this_iter_s"].median())
    samples = e.telemetry[e.telemetry["trial_name"] == row["trial_name"]]
    assert row["busy_cores_mean"] == pytest.approx(samples["busy_cores"].mean())
    assert row["cpus_reserved"] == 4.0 and row["status"] == "TERMINATED"


def test_a_config_without_a_trial_keeps_its_row_with_nothing_measured():
    trials = pd.DataFrame(
        [
            {"trial_name": "a", "num_env_runners": 1, "num_envs_per_env_runner": 1, "status": "TERMINATED"},
            {"trial_name": "b", "num_env_runners": 8, "num_envs_per_env_runner": 1, "status": SKIPPED},
        ]
    )
    iterations = pd.DataFrame(
        {
            "trial_name": "a",
            "num_env_runners": 1,
            "num_envs_per_env_runner": 1,
            "iteration": [1, 2, 3],
            "time_this_iter_s": [9.0, 2.0, 2.0],
            "env_steps_sampled": 100,
            "total_envs": 1,
        }
    )
    configs = per_config(iterations, trials, pd.DataFrame(), config_keys=KEYS, warmup_iterations=1).set_index(
        "trial_name"
    )
    assert list(configs.index) == ["a", "b"]
    assert configs.loc["a", "measured"] and configs.loc["a", "n_measured"] == 2
    assert not configs.loc["b", "measured"] and np.isnan(configs.loc["b", "time_per_iter_s"])


def test_a_configs_replicates_are_one_row_with_their_seeds_and_pooled_iterations():
    from parallel_tune.analysis.table import replicates

    keys = ["num_env_runners", "num_envs_per_env_runner"]
    trials = pd.DataFrame(
        {
            "trial_id": ["a0", "b0", "a1"],
            "trial_name": ["a", "b", "a"],
            "num_env_runners": 1,
            "num_envs_per_env_runner": [1, 2, 1],
            "seed": [0, 0, 1000],
            "status": ["TERMINATED", "TERMINATED", "ERROR"],
            "error": ["", "", "actor died"],
            "iterations_completed": [8, 8, 5],
            "iterations_rerun": [0, 0, 1],
            "total_envs": [1, 2, 1],
        }
    )
    folded = replicates(trials).set_index("trial_name")
    assert folded.loc["a", "iterations_rerun"] == 1, "the second replicate's re-run is not lost in the fold"
    assert list(folded.index) == ["a", "b"] and list(folded["replicates"]) == [2, 1]
    assert folded.loc["a", "seeds"] == "0, 1000" and folded.loc["a", "status"] == "ERROR"
    assert folded.loc["a", "error"] == "actor died" and folded.loc["a", "iterations_completed"] == 5
    iterations = pd.DataFrame(
        {
            "trial_id": ["a0"] * 3 + ["a1"] * 3,
            "trial_name": "a",
            "num_env_runners": 1,
            "num_envs_per_env_runner": 1,
            "iteration": [1, 2, 3] * 2,
            "time_this_iter_s": [9.0, 1.0, 1.0, 9.0, 2.0, 2.0],
            "env_steps_sampled": 1000.0,
            "total_envs": 1,
        }
    )
    row = per_config(iterations, trials.iloc[[0, 2]], pd.DataFrame(), config_keys=keys, warmup_iterations=1).iloc[0]
    assert row["n_measured"] == 4, "both replicates' measured iterations, warm-up of each left out"
    assert row["time_per_iter_s"] == pytest.approx(1.5)
