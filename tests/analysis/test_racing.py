"""What a race decided: its outcome table, the time it saved, the winner re-checked, and the rule replayed
over every committed experiment (Ray-free)."""

from pathlib import Path

import pandas as pd
import pytest

from parallel_tune.analysis import racing
from parallel_tune.analysis.load import load
from parallel_tune.core import race

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted(p.parent for p in (ROOT / "benchmarks" / "results").glob("*/analysis/iterations.parquet"))
KEYS = ["num_env_runners", "num_envs_per_env_runner"]


def rows(name, envs, times, steps=1000.0):
    return pd.DataFrame(
        {
            "trial_name": name,
            "num_env_runners": 1,
            "num_envs_per_env_runner": envs,
            "iteration": range(1, len(times) + 1),
            "time_this_iter_s": times,
            "env_steps_sampled": steps,
        }
    )


FAST, SLOW = "ppo[1x16]", "ppo[1x1]"
ITERATIONS = pd.concat([rows(FAST, 16, [3.0, 0.25, 0.26, 0.24, 0.25]), rows(SLOW, 1, [3.0, 1.0, 1.2, 0.8])])
SCALED = pd.DataFrame(
    {
        "trial_name": [SLOW, FAST],
        "label": ["1r x 1e", "1r x 16e"],
        "num_env_runners": 1,
        "num_envs_per_env_runner": [1, 16],
        "is_baseline": [True, False],
    }
)
LOG = {
    "margin": 0.03,
    "predicted_by": "a cost model",
    "order": [{"trial": FAST}, {"trial": SLOW}],
    "started_at_s": 100.0,
    "finished_at_s": 130.0,
    "winner": FAST,
    "eliminated": {SLOW: {"iteration": 4, "incumbent": FAST, "incumbent_steps_per_s": 4000.0}},
}


def outcome(drift=None, precision=0.05):
    return racing.outcomes(
        SCALED,
        ITERATIONS,
        LOG,
        config_keys=KEYS,
        warmup_iterations=1,
        cap=20,
        precision=precision,
        drift_iterations=drift,
    )


def test_the_outcome_names_the_winner_and_the_evidence_in_race_order():
    out = outcome()
    configs = out["configs"].set_index("trial_name")
    assert list(out["configs"]["trial_name"]) == [FAST, SLOW], "the order the race ran them in"
    assert out["winner_label"] == "1r x 16e" and configs.loc[FAST, "outcome"] == "winner"
    assert configs.loc[SLOW, "outcome"] == "raced out" and configs.loc[SLOW, "raced_out_at_iteration"] == 4
    assert configs.loc[SLOW, "steps_per_s"] == pytest.approx(1000) and configs.loc[FAST, "steps_per_s"] == 4000


def test_the_full_grid_estimate_adds_what_the_precision_target_would_have_needed():
    # The raced-out config measured 1.0, 1.2, 0.8 s: +-~20 % after 3, so +-5 % needs about 3 x (20/5)^2 = 48
    # measured iterations (stats.iterations_needed); capped at 20 with the warm-up: 16 more at its median 1.0 s.
    out = outcome()
    slow = out["configs"].set_index("trial_name").loc[SLOW]
    assert slow["full_iterations"] == 20 and slow["extra_s"] == pytest.approx(16 * 1.0)
    assert out["race_s"] == 30 and out["full_grid_s"] == pytest.approx(46)
    assert out["saved_fraction"] == pytest.approx(16 / 46)
    # Without a precision target, the full grid runs every config to the cap.
    assert outcome(precision=None)["full_grid_s"] == pytest.approx(46)


@pytest.mark.parametrize(
    "times, verdict",
    [
        ([3.0, 0.25, 0.25, 0.26], "still wins"),  # ~4,000 env steps/s, far above the runner-up's 1,000
        ([3.0, 0.9, 1.1, 1.0, 0.95], "ties"),  # its interval holds 1,000
        ([3.0, 2.0, 2.1, 1.9], "no longer wins"),  # ~500: the machine or the winner changed
    ],
)
def test_the_winner_is_checked_against_the_runner_up(times, verdict):
    check = outcome(drift=rows(FAST, 16, times))["check"]
    assert check["verdict"] == verdict and check["runner_up"] == "1r x 1e"
    assert check["runner_up_steps_per_s"] == pytest.approx(1000)


def test_without_a_log_there_is_no_race():
    assert racing.outcomes(SCALED, ITERATIONS, {}, config_keys=KEYS, warmup_iterations=1, cap=5, precision=None) == {}


@pytest.mark.parametrize("tables", COMMITTED, ids=lambda p: p.parent.name)
def test_a_race_over_every_committed_experiment_picks_the_full_grids_winner(tables, capsys):
    experiment = load(tables)
    space, iterations = experiment.record.space, experiment.iterations
    streams = {name: part for name, part in iterations.groupby("trial_name")}
    first = iterations.groupby("trial_name").first()
    names = list(streams)
    full = [space.full_config({k: first.loc[n, k] for k in experiment.config_keys}) for n in names]
    order = race.order(names, full, cpus=experiment.cores)
    replayed = race.replay(
        [(names[i], streams[names[i]]) for i in order],
        cap=space.iterations,
        warmup_iterations=space.warmup_iterations,
        precision=space.precision,
        min_measured=space.min_measured_iterations,
    )
    won = replayed.loc[replayed["outcome"] == "winner", "label"].tolist()
    assert won == [race.winner(streams, space.warmup_iterations)]
    used = replayed["trial_s"].sum() / replayed["trial_s_full"].sum()
    with capsys.disabled():
        print(f"\n{tables.parent.name}: the race picks {won[0]} in {used:.2f} of the full grid's trial-seconds")
    assert used <= 1
