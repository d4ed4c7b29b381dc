"""Metric functions on tables whose answers can be checked on paper."""

import numpy as np
import pandas as pd
import pytest

from parallel_tune.analysis import metrics
from parallel_tune.analysis.table import per_config
from parallel_tune.core.stats import measured

KEYS = ["num_env_runners", "num_envs_per_env_runner"]


def iterations_table(times: dict[tuple[int, int], float], *, n_iters=4, warmup_time=99.0, steps=16384) -> pd.DataFrame:
    """Constant time per measured iteration; iteration 1 is a slow warm-up."""
    rows = []
    for (r, e), t in times.items():
        for i in range(1, n_iters + 1):
            rows.append(
                {
                    "trial_name": f"ppo[num_env_runners={r},num_envs_per_env_runner={e}]",
                    "num_env_runners": r,
                    "num_envs_per_env_runner": e,
                    "iteration": i,
                    "time_this_iter_s": warmup_time if i == 1 else t,
                    "env_steps_sampled": steps,
                    "sampling_s": 0.8 * t,
                    "learner_update_s": 0.15 * t,
                    "weight_sync_s": 0.01 * t,
                    "total_envs": r * e,
                }
            )
    return pd.DataFrame(rows)


def trials_table(configs) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "trial_name": f"ppo[num_env_runners={r},num_envs_per_env_runner={e}]",
                "num_env_runners": r,
                "num_envs_per_env_runner": e,
                "sampling_cpus": float(r),
                "cpus_reserved": 1.0 + r,
                "gpus_reserved": 0.0,
                "status": "TERMINATED",
                "total_envs": r * e,
            }
            for r, e in configs
        ]
    )


# The original study's published table (i7-12700): efficiency per env for each config.
ORIGINAL = {(1, 1): 100.0, (2, 1): 86.2, (4, 1): 67.0, (8, 1): 51.5, (8, 2): 36.0, (1, 2): 78.4}


def configs_of(times: dict[tuple[int, int], float], telemetry: pd.DataFrame | None = None) -> pd.DataFrame:
    """The per-config table of configs measured at these times (iteration 1 a slow warm-up)."""
    return per_config(
        iterations_table(times),
        trials_table(times),
        pd.DataFrame() if telemetry is None else telemetry,
        config_keys=KEYS,
        warmup_iterations=1,
    )


def scaled_of(times, baseline=None) -> pd.DataFrame:
    baseline = {"num_env_runners": 1, "num_envs_per_env_runner": 1} if baseline is None else baseline
    return metrics.scaling(configs_of(times), baseline, group_keys=KEYS)


def scaled_original(base_time=24.0):
    return scaled_of({cfg: base_time / (eff / 100 * cfg[0] * cfg[1]) for cfg, eff in ORIGINAL.items()})


def test_reproduces_the_original_study_efficiencies():
    scaled = scaled_original().set_index(KEYS)
    for cfg, eff in ORIGINAL.items():
        assert scaled.loc[cfg, "efficiency_per_env_pct"] == pytest.approx(eff, abs=1e-9)
    assert scaled.loc[(2, 1), "speedup"] == pytest.approx(1.724)
    assert scaled.loc[(8, 2), "speedup"] == pytest.approx(5.76)
    assert scaled.loc[(2, 1), "rating"] == "Excellent"
    assert scaled.loc[(4, 1), "rating"] == "Good"
    assert scaled.loc[(8, 1), "rating"] == "Acceptable"
    assert scaled.loc[(8, 2), "rating"] == "Poor"


def test_efficiency_per_cpu_counts_cores_not_envs():
    scaled = scaled_original().set_index(KEYS)
    # 1r x 2e runs on one sampling CPU: 1.568x speedup on 1 CPU is 156.8 % per CPU, 78.4 % per env.
    assert scaled.loc[(1, 2), "efficiency_per_cpu_pct"] == pytest.approx(156.8)
    # 8r x 2e: 5.76x on 8 CPUs.
    assert scaled.loc[(8, 2), "efficiency_per_cpu_pct"] == pytest.approx(72.0)


def test_warmup_is_excluded_and_intervals_bracket_the_median():
    summary = metrics.summarize(iterations_table({(1, 1): 2.0}), group_keys=KEYS, warmup_iterations=1)
    row = summary.iloc[0]
    assert row["n_measured"] == 3
    assert row["time_per_iter_s"] == 2.0  # the 99 s warm-up iteration does not count
    assert row["env_steps_per_s"] == pytest.approx(16384 / 2.0)
    assert row["time_per_iter_s_ci_low"] <= 2.0 <= row["time_per_iter_s_ci_high"]
    assert not row["unreliable"]
    assert row["sampling_share_pct"] == pytest.approx(80.0)
    assert row["other_s"] == pytest.approx(2.0 * 0.04)


def test_a_continued_trial_counts_its_warmup_again_after_the_restore():
    # Ran 1-3, was interrupted, continued from the checkpoint after iteration 3: iteration 4
    # paid actor start-up again (99 s) and must not count; 5 and 6 do.
    it = iterations_table({(1, 1): 10.0}, n_iters=6)
    it["iterations_since_restore"] = [1, 2, 3, 1, 2, 3]
    it.loc[it["iteration"] == 4, "time_this_iter_s"] = 99.0
    kept = measured(it, warmup_iterations=1)
    assert list(kept["iteration"]) == [2, 3, 5, 6]
    assert metrics.summarize(it, group_keys=KEYS)["time_per_iter_s"].iloc[0] == 10.0
    assert metrics.restarts(it).to_dict("records") == [
        {"trial_name": it["trial_name"].iloc[0], "restored_after_iteration": 3}
    ]
    # Without the column (older results), iteration number alone decides.
    assert list(measured(it.drop(columns="iterations_since_restore"), 1)["iteration"]) == [2, 3, 4, 5, 6]
    assert metrics.restarts(it.drop(columns="iterations_since_restore")).empty


def test_wide_spread_is_flagged():
    df = iterations_table({(1, 1): 1.0}, n_iters=6)
    df.loc[df["iteration"] == 3, "time_this_iter_s"] = 3.0
    df.loc[df["iteration"] == 5, "time_this_iter_s"] = 0.4
    row = metrics.summarize(df, group_keys=KEYS, warmup_iterations=1).iloc[0]
    assert row["unreliable"]


def test_one_measured_iteration_is_unreliable():
    row = metrics.summarize(iterations_table({(1, 1): 1.0}, n_iters=2), group_keys=KEYS).iloc[0]
    assert row["n_measured"] == 1 and row["unreliable"]


@pytest.mark.parametrize("serial", [0.0, 0.05, 0.2])
def test_amdahl_fit_recovers_the_serial_fraction(serial):
    p = pd.Series([1, 2, 4, 8, 16], dtype=float)
    speedup = 1 / (serial + (1 - serial) / p)
    fit = metrics.amdahl_fit(p, speedup)
    assert fit["serial_fraction"] == pytest.approx(serial, abs=1e-12)
    assert fit["rmse"] == pytest.approx(0.0, abs=1e-9)
    assert fit["max_speedup"] == (pytest.approx(1 / serial) if serial else float("inf"))


def test_karp_flatt_of_an_amdahl_curve_is_its_serial_fraction():
    p = pd.Series([1.0, 2, 4, 8])
    e = metrics.karp_flatt(1 / (0.1 + 0.9 / p), p)
    assert np.isnan(e.iloc[0])
    assert e.iloc[1:].to_numpy() == pytest.approx([0.1, 0.1, 0.1])


def test_runner_slice_and_fit_through_summaries():
    serial = 0.08
    times = {(r, 1): 10.0 * (serial + (1 - serial) / r) for r in (1, 2, 4, 8)}
    times[(1, 4)] = 3.0  # not in the runner-only slice
    sl = metrics.runner_scaling(scaled_of(times))
    assert list(sl["num_env_runners"]) == [1, 2, 4, 8]
    assert metrics.amdahl_fit(sl["width"], sl["slice_speedup"])["serial_fraction"] == pytest.approx(serial)


def test_missing_baseline_falls_back_to_the_smallest_config():
    scaled = scaled_of({(2, 1): 5.0, (4, 1): 3.0})
    assert scaled["baseline_name"].iloc[0] == "num_env_runners=2,num_envs_per_env_runner=1"
    assert scaled.set_index(KEYS).loc[(4, 1), "efficiency_per_env_pct"] == pytest.approx(100 * (5 / 3) / 2)


@pytest.mark.parametrize(
    "eff, band",
    [
        (86.2, "Excellent"),
        (70.0, "Good"),
        (60.0, "Good"),
        (59.9, "Acceptable"),
        (50.0, "Acceptable"),
        (49.9, "Poor"),
        (float("nan"), "n/a"),
    ],
)
def test_rating_bands(eff, band):
    assert metrics.rating(eff) == band


def test_recommend_fastest_and_widest_good():
    rec = metrics.recommend(scaled_original())
    assert (rec["fastest"]["num_env_runners"], rec["fastest"]["num_envs_per_env_runner"]) == (8, 2)
    assert (rec["largest_good"]["num_env_runners"], rec["largest_good"]["num_envs_per_env_runner"]) == (4, 1)


def telemetry_rows(name, busy, load, gpu=None):
    rows = []
    for i in range(3):
        row = {
            "trial_name": name,
            "node_id": "n1",
            "node_ip": "10.0.0.1",
            "node_cores": 16,
            "timestamp_s": float(i),
            "iteration": i + 1,
            "cpu_util_pct": 50.0 + i,
            "busy_cores": busy,
            "load_avg_1m": load,
            "mem_used_mb": 1000.0 + i,
            "ray_workers_cpu_s": 10.0 + 2 * i,
        }
        if gpu is not None:
            row.update({"gpu0_util_pct": gpu, "gpu0_mem_used_mb": 500.0 + i})
        rows.append(row)
    return rows


def test_telemetry_summary_and_misconfigurations():
    tel = pd.DataFrame(
        telemetry_rows("a", busy=2, load=1.0, gpu=1.0)
        + telemetry_rows("b", busy=9, load=20.0)
        + telemetry_rows("c", busy=2, load=1.0, gpu=40.0)
    )
    usage = metrics.telemetry_summary(tel).set_index("trial_name")
    assert usage.loc["a", "cpu_util_pct_mean"] == pytest.approx(51.0)
    assert usage.loc["a", "ray_workers_cpu_s"] == pytest.approx(4.0)
    assert usage.loc["a", "gpu_mem_used_mb_peak"] == pytest.approx(502.0)
    assert np.isnan(usage.loc["b", "gpu_util_pct_mean"])
    trials = pd.DataFrame(
        [
            {
                "trial_name": "a",
                "num_env_runners": 1,
                "cpus_reserved": 2.0,
                "gpus_reserved": 1.0,
                "status": "TERMINATED",
            },
            {
                "trial_name": "b",
                "num_env_runners": 2,
                "cpus_reserved": 3.0,
                "gpus_reserved": 0.0,
                "status": "TERMINATED",
            },
            {
                "trial_name": "c",
                "num_env_runners": 3,
                "cpus_reserved": 2.0,
                "gpus_reserved": 1.0,
                "status": "TERMINATED",
            },
            {
                "trial_name": "d",
                "num_env_runners": 16,
                "cpus_reserved": 17.0,
                "gpus_reserved": 0.0,
                "status": "SKIPPED",
            },
        ]
    )
    configs = per_config(pd.DataFrame(), trials, tel, config_keys=["num_env_runners"], warmup_iterations=1)
    assert list(configs["trial_name"]) == ["a", "b", "c", "d"] and not configs["measured"].any()
    assert configs.set_index("trial_name").loc["b", "busy_cores_mean"] == 9
    # Per node, as on a cluster: the load is judged against that node's 16 cores.
    warnings = metrics.misconfigurations(configs, logical_cores=16)
    assert any(w.startswith("a reserved 1 GPU(s) that stayed idle") for w in warnings)
    assert any(w.startswith("b: CPU oversubscription, 9.0 cores busy") for w in warnings)
    assert any(w.startswith("b: load average peaked at 20.0") for w in warnings)
    assert any(w.startswith("d wanted 17 CPUs") for w in warnings)
    assert not any(w.startswith("c") for w in warnings)


def ceiling_table(rates: dict[int, float]) -> pd.DataFrame:
    return pd.DataFrame({"processes": list(rates), "env_steps_per_s": list(rates.values())})


def test_ceiling_fraction_matches_sampling_processes():
    scaled = pd.DataFrame(
        {
            "num_env_runners": [0, 1, 1, 4, 8],
            "num_envs_per_env_runner": [1, 1, 16, 1, 1],
            "env_steps_per_s": [500.0, 660.0, 2970.0, 2400.0, 4000.0],
        }
    )
    out = metrics.ceiling_fraction(scaled, ceiling_table({1: 11_000.0, 4: 30_000.0}))
    assert list(out["sampling_processes"]) == [1, 1, 1, 4, 8]  # 0 runners: the main process samples
    assert list(out["ceiling_env_steps_per_s"][:4]) == [11_000.0, 11_000.0, 11_000.0, 30_000.0]
    assert out["ceiling_fraction_pct"].iloc[1] == pytest.approx(6.0)
    assert out["ceiling_fraction_pct"].iloc[2] == pytest.approx(27.0)
    assert out["ceiling_fraction_pct"].iloc[3] == pytest.approx(8.0)
    assert np.isnan(out["ceiling_fraction_pct"].iloc[4]), "an unmeasured width is n/a, not guessed"


def test_recommendation_names_the_fastest_with_its_ceiling_fraction_and_per_cpu_efficiency():
    scaled = metrics.ceiling_fraction(
        scaled_original(), ceiling_table({1: 11_000.0, 2: 16_500.0, 4: 29_500.0, 8: 64_400.0})
    )
    fastest = metrics.recommend(scaled)["fastest"]
    assert (fastest["num_env_runners"], fastest["num_envs_per_env_runner"]) == (8, 2)
    # 8r x 2e: 36.0 % per env over 16 envs = 5.76x; 8 sampling CPUs -> 72.0 % per CPU.
    assert fastest["efficiency_per_cpu_pct"] == pytest.approx(72.0)
    assert fastest["ceiling_fraction_pct"] == pytest.approx(100 * fastest["env_steps_per_s"] / 64_400.0)


def test_recommendation_prefers_throughput_then_fewer_cpus():
    scaled = pd.DataFrame(
        {
            "num_env_runners": [2, 4],
            "num_envs_per_env_runner": [1, 1],
            "env_steps_per_s": [1000.0, 1000.0],
            "time_per_iter_s": [16.0, 16.0],
            "sampling_cpus": [2.0, 4.0],
            "total_envs": [2, 4],
            "efficiency_per_env_pct": [50.0, 25.0],
        }
    )
    assert metrics.recommend(scaled)["fastest"]["num_env_runners"] == 2


def two_trials(reported_at_s):
    """Trials a and b, two iterations each (5 s and 2 s, then 4 s and 2 s), their results reported at these times."""
    return pd.DataFrame(
        {
            "trial_name": ["a", "a", "b", "b"],
            "iteration": [1, 2, 1, 2],
            "time_this_iter_s": [5.0, 2.0, 4.0, 2.0],
            "reported_at_s": reported_at_s,
        }
    )


def test_harness_time_is_start_up_and_what_iterations_leave():
    # The sweep started at 90; a's first 5 s iteration reported at 112: 17 s before it started.
    # b's first 4 s iteration reported at 130, 16 s after a's last result at 114: 12 s.
    it = two_trials([112.0, 114.0, 130.0, 132.0])
    h = metrics.harness_time(it, started_at_s=90.0)
    assert h["trials"].set_index("trial_name")["startup_s"].to_dict() == {"a": 17.0, "b": 12.0}
    assert (h["wall_s"], h["in_iterations_s"], h["outside_iterations_s"]) == (42.0, 13.0, 29.0)


def test_the_time_a_sweep_stood_interrupted_is_neither_start_up_nor_harness():
    # As above, but killed after a's last result at 114 and resumed at 1,114: b's first iteration reported at
    # 1,130 began at 1,126, 12 s after the resume.
    it = two_trials([112.0, 114.0, 1130.0, 1132.0])
    h = metrics.harness_time(it, started_at_s=90.0, resumed_at_s=[1114.0])
    assert h["trials"].set_index("trial_name")["startup_s"].to_dict() == {"a": 17.0, "b": 12.0}
    assert (h["wall_s"], h["stopped_s"], h["resumes"], h["outside_iterations_s"]) == (42.0, 1000.0, 1, 29.0)
    # A resume within a trial that was running (it started over) counts its start-up from the resume too.
    h = metrics.harness_time(it, started_at_s=90.0, resumed_at_s=[1120.0])
    assert h["trials"].set_index("trial_name")["startup_s"].to_dict() == {"a": 17.0, "b": 6.0}


@pytest.mark.parametrize(
    "eff, low, high, band",
    [
        (65.0, 62.0, 68.0, "Good"),
        (61.0, 58.0, 64.0, "Good or Acceptable"),
        (71.0, 68.0, 73.0, "Excellent or Good"),
        (60.0, 45.0, 75.0, "Excellent to Poor"),
        (55.0, float("nan"), float("nan"), "Acceptable"),
    ],
)
def test_a_rating_near_a_band_edge_names_both_bands(eff, low, high, band):
    assert metrics.rating(eff, low, high) == band


def test_speedups_carry_an_interval_and_ratings_hedge_at_an_edge():
    # 2 runners at 1.2x the baseline's time per env: 60 % per env, right on the Good/Acceptable edge.
    times = {(1, 1): 10.0, (2, 1): 10.0 / 1.2}
    it = iterations_table(times, n_iters=8)
    rng = np.random.default_rng(3)
    it.loc[it["iteration"] > 1, "time_this_iter_s"] *= 1 + 0.05 * rng.standard_normal((it["iteration"] > 1).sum())
    configs = per_config(it, trials_table(times), pd.DataFrame(), config_keys=KEYS, warmup_iterations=1)
    scaled = metrics.scaling(
        configs, {"num_env_runners": 1, "num_envs_per_env_runner": 1}, group_keys=KEYS, iterations=it
    ).set_index(KEYS)
    row = scaled.loc[(2, 1)]
    assert row["speedup_ci_low"] < row["speedup"] < row["speedup_ci_high"]
    assert row["efficiency_per_env_pct_ci_low"] < 60 < row["efficiency_per_env_pct_ci_high"]
    assert row["rating"] == "Good or Acceptable"
    assert scaled.loc[(1, 1), "rating"] == "Excellent" and np.isnan(scaled.loc[(1, 1), "speedup_ci_low"])


def test_replicates_sharing_a_config_name_are_told_apart_by_their_trial_id():
    # Two replicates of one config, each run in one go, one after the other: no restore, two start-ups.
    two = pd.DataFrame(
        {
            "trial_id": ["r0"] * 3 + ["r1"] * 3,
            "trial_name": "cfg",
            "iteration": [1, 2, 3] * 2,
            "iterations_since_restore": [1, 2, 3] * 2,
            "time_this_iter_s": 1.0,
            "reported_at_s": [11.0, 12.0, 13.0, 24.0, 25.0, 26.0],
        }
    )
    assert metrics.restarts(two).empty, "interleaved by name, they would look like restores"
    # The second replicate (seed 1000) continued from a checkpoint after iteration 1: the report names its seed.
    restored = two.assign(seed=[0] * 3 + [1000] * 3, iterations_since_restore=[1, 2, 3, 1, 1, 2])
    assert metrics.restarts(restored).to_dict("records") == [
        {"trial_name": "cfg", "restored_after_iteration": 1, "seed": 1000}
    ]
    timing = metrics.harness_time(two, started_at_s=0.0)
    # Start-ups: 11 - 1 - 0 = 10 s and 24 - 1 - 13 = 10 s; one row for the config, their mean.
    assert timing["trials"].to_dict("records") == [{"trial_name": "cfg", "startup_s": 10.0}]
