"""The racing rule, the predicted order and the replay, on iteration streams small enough to check by hand."""

import numpy as np
import pandas as pd
import pytest

from parallel_tune.core import race, stats


def stream(times, steps=1000.0):
    """One trial's iteration rows: ``steps`` env steps in each of ``times`` seconds."""
    return pd.DataFrame(
        {
            "iteration": range(1, len(times) + 1),
            "time_this_iter_s": times,
            "env_steps_sampled": [steps] * len(times),
        }
    )


FAST = stream([3.0, 0.25, 0.25, 0.25, 0.25])  # 4,000 env steps/s after its warm-up


def test_a_clearly_slower_config_is_out_once_it_has_the_minimum_measured():
    slow = stream([3.0, 1.0, 1.01, 0.99, 1.0])  # about 1,000 env steps/s
    kw = {"warmup_iterations": 1, "min_measured": 3, "margin": 0.03}
    assert race.judge(slow.iloc[:3], FAST, **kw) is None, "2 measured iterations: not judged yet"
    evidence = race.judge(slow.iloc[:4], FAST, **kw)
    assert evidence["iteration"] == 4 and evidence["measured"] == 3
    assert evidence["incumbent_steps_per_s"] == pytest.approx(4000)
    # The evidence is the report's interval: the bootstrap interval of the median, in env steps/s.
    low, high = stats.bootstrap_ci(1000 / np.array([1.0, 1.01, 0.99]))
    assert (evidence["steps_per_s_ci_low"], evidence["steps_per_s_ci_high"]) == pytest.approx((low, high))
    assert evidence["steps_per_s_ci_high"] < 0.97 * 4000


def test_a_config_within_the_margin_stays_in_the_race():
    # 3,960 env steps/s against 4,000: 1 % slower, inside a 3 % margin; outside a margin of 0.
    close = stream([3.0, 0.2525, 0.2525, 0.2525, 0.2525])
    assert race.judge(close, FAST, warmup_iterations=1, min_measured=3, margin=0.03) is None
    assert race.judge(close, FAST, warmup_iterations=1, min_measured=3, margin=0.0) is not None


def test_the_fastest_is_predicted_first_by_the_cost_model_or_the_ceiling():
    one, sixteen = (
        {"num_env_runners": 1, "num_envs_per_env_runner": 1},
        {"num_env_runners": 1, "num_envs_per_env_runner": 16},
    )
    async16 = {**sixteen, "gym_env_vectorize_mode": "async"}
    # Envs per runner share one forward pass; 16 ASYNC env processes on 2 cores wait for them.
    assert race.order([one, sixteen, async16], [one, sixteen, async16], cpus=2) == [1, 0, 2]
    four = {"num_env_runners": 4, "num_envs_per_env_runner": 1}
    # Without a ceiling, 4 runners predict 4x 1 runner; a ceiling that measured 4 processes as no faster than 1
    # (a 1-core machine) puts them level, and the grid's order decides.
    assert race.order([one, four], [one, four], cpus=8) == [1, 0]
    assert race.order([one, four], [one, four], cpus=8, ceiling={1: 5000.0, 4: 5000.0}) == [0, 1]
    assert race.basis([one, four], {1: 5000.0, 4: 5000.0}) == "the raw-environment ceiling"
    assert race.basis([one, four], {1: 5000.0}) == "a cost model"


def test_the_replay_cuts_each_stream_where_the_race_would_have():
    slow = stream([3.0, 1.0, 1.01, 0.99, 1.0, 1.0])
    middle = stream([3.0, 0.3, 0.31, 0.29, 0.3, 0.3])
    out = race.replay(
        [("fast", FAST), ("slow", slow), ("middle", middle)],
        cap=5,
        warmup_iterations=1,
        precision=None,
        min_measured=3,
    ).set_index("label")
    assert out.loc["fast", "outcome"] == "winner" and out.loc["fast", "iterations"] == 5
    assert out.loc["slow", "outcome"] == "eliminated" and out.loc["slow", "iterations"] == 4
    assert out.loc["middle", "incumbent"] == "fast" and out.loc["middle", "iterations"] == 4
    assert out.loc["slow", "trial_s"] == pytest.approx(3.0 + 1.0 + 1.01 + 0.99)
    assert out["trial_s_full"].sum() == pytest.approx(FAST["time_this_iter_s"].sum() + 8.0 + 4.5)
    assert race.winner({"fast": FAST, "slow": slow, "middle": middle}, 1) == "fast"


def test_a_config_that_ends_faster_becomes_the_incumbent():
    slow_first = stream([3.0, 0.5, 0.5, 0.5, 0.5])
    out = race.replay(
        [("slow", slow_first), ("fast", FAST)], cap=5, warmup_iterations=1, precision=None, min_measured=3
    ).set_index("label")
    assert list(out["outcome"]) == ["measured", "winner"], "nothing raced out: the faster one came second"


def test_the_log_is_a_list_of_events_read_as_one_and_a_cut_line_is_skipped(tmp_path):
    assert race.read(tmp_path) == {}
    race.append(tmp_path, {"order": [{"trial": "a"}, {"trial": "b"}], "started_at_s": 1.0})
    race.append(tmp_path, {"raced_out": "b", "evidence": {"iteration": 4}})
    with open(tmp_path / "race.jsonl", "a") as out:
        out.write('{"winner": "a", "finished_at')  # killed mid-line
    log = race.read(tmp_path)
    assert log["eliminated"] == {"b": {"iteration": 4}} and log["started_at_s"] == 1.0 and "winner" not in log
    race.append(tmp_path, {"winner": "a"})
    assert race.read(tmp_path)["winner"] == "a", "an event after a cut line still counts"
