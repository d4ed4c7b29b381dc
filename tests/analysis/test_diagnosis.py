"""The loss budget and the verdicts on hand-made tables whose answers can be checked on paper."""

import numpy as np
import pandas as pd
import pytest

from parallel_tune.analysis import diagnosis, findings, metrics

from ..conftest import ROOT

KEYS = ["num_env_runners", "num_envs_per_env_runner"]
STEPS = 16384


def config(r, e=1, *, env_ms=0.2, inf_ms=0.3, conn_ms=0.5, wait=0.0, learner=1.0, sync=0.01, other=0.0):
    """One config's row: per-step timers (ms per runner step) and the iteration they add up to."""
    runner_steps = STEPS / (max(r, 1) * e)
    sampling = runner_steps * (env_ms + inf_ms + conn_ms) / 1e3 + wait
    return {
        "num_env_runners": r,
        "num_envs_per_env_runner": e,
        "sampling_cpus": float(max(r, 1)),
        "env_steps_per_iter": float(STEPS),
        "env_step_per_step_ms": env_ms,
        "inference_per_step_ms": inf_ms,
        "env_to_module_per_step_ms": conn_ms / 2,
        "module_to_env_per_step_ms": conn_ms / 2,
        "sampling_s": sampling,
        "learner_update_s": learner,
        "weight_sync_s": sync,
        "time_per_iter_s": sampling + learner + sync + other,
    }


def table(rows, baseline=(1, 1)):
    df = pd.DataFrame(rows)
    df["is_baseline"] = (df["num_env_runners"] == baseline[0]) & (df["num_envs_per_env_runner"] == baseline[1])
    return df


def judged(rows, *, cores=16, busy=None, load=None):
    # Each config's reservation and hardware use, as analysis.table.per_config gives them.
    scaled = table(rows).assign(
        cpus_reserved=lambda d: 1.0 + d["num_env_runners"],
        busy_cores_mean=busy if busy is not None else np.nan,
        load_avg_1m_peak=load if load is not None else np.nan,
    )
    return diagnosis.diagnose(scaled, cores=cores).set_index(KEYS)


def lost_parts(df):
    return df[list(diagnosis.LOSS_PARTS.values())]


def test_perfect_scaling_loses_nothing():
    # Every part, the learner too, halves with twice the runners.
    out = judged([config(r, learner=1.0 / r, sync=0.01 / r) for r in (1, 2, 4, 8)])
    assert out["ideal_time_per_iter_s"].to_numpy() == pytest.approx(out["time_per_iter_s"].to_numpy())
    assert lost_parts(out).abs().to_numpy().max() == pytest.approx(0.0, abs=1e-12)
    assert out.loc[(1, 1), "limited_by"] == "baseline"
    # Nothing lost: the verdict names the largest remaining cost (connectors, 0.5 of 1.0 ms per step).
    assert set(out.drop(index=(1, 1))["limited_by"]) == {"sampling:connectors"}


def test_a_constant_learner_takes_all_the_loss():
    out = judged([config(r, learner=2.0, sync=0.0) for r in (1, 2, 4, 8)])
    for r in (2, 4, 8):
        row = out.loc[(r, 1)]
        assert row["lost_learner_s"] == pytest.approx(2.0 - 2.0 / r)
        assert row["lost_time_s"] == pytest.approx(row["lost_learner_s"])
        assert row["limited_by"] == "learner" and "num_learners" in row["advice"]
    others = lost_parts(out).drop(columns="lost_learner_s")
    assert others.abs().to_numpy().max() == pytest.approx(0.0, abs=1e-12)


def oversubscribed():
    # 3 runners + the main process on 2 cores: each env step and forward pass takes twice as long.
    return [config(1, learner=0.1), config(3, env_ms=0.4, inf_ms=0.6, conn_ms=1.0, learner=0.1)]


def test_doubled_step_costs_on_saturated_cores_blame_the_cores():  # and the ratio sizes what the cores cost
    out = judged(oversubscribed(), cores=2, busy=[1.0, 2.0], load=[1.0, 3.5])
    row = out.loc[(3, 1)]
    assert row["limited_by"] == "cpu_cores" and row["step_cost_ratio"] == pytest.approx(2.0)
    assert row["cores_oversubscribed"] and row["cores_saturated"]
    assert "at most 1 runner(s)" in row["advice"] and "reserving 4 CPUs share 2 cores" in row["advice"]


@pytest.mark.parametrize(
    "cores, busy, load",
    [(2, [0.5, 0.6], [0.5, 0.7]), (16, [1.0, 4.0], [1.0, 4.0])],
    ids=["cores-idle", "enough-cores"],
)
def test_no_core_verdict_without_both_oversubscription_and_saturation(cores, busy, load):
    row = judged(oversubscribed(), cores=cores, busy=busy, load=load).loc[(3, 1)]
    assert row["limited_by"] != "cpu_cores"
    assert row["limited_by"].startswith("sampling:"), "the doubled per-step costs are then what it lost"


def test_processes_that_outnumber_saturated_cores_are_the_verdict_whatever_the_step_cost():
    # 3 runners sampling at once on 2 cores, saturated, but the per-env step cost rose only 1.1x (a noisy day):
    # the facts decide; the ratio only sizes what the cores cost.
    rows = [config(1, env_ms=0.5), config(2, env_ms=0.5), config(3, env_ms=0.55, wait=2.0)]
    out = judged(rows, cores=2, busy=[1.0, 2.0, 2.0], load=[1.0, 2.0, 3.4])
    row = out.loc[(3, 1)]
    assert row["limited_by"] == "cpu_cores" and row["step_cost_ratio"] == pytest.approx(1.1)
    assert row["concurrent_processes"] == 3 and row["cores_oversubscribed"]
    # Two runners need two cores at once (the main process waits while they sample): they fit.
    assert out.loc[(2, 1), "limited_by"] != "cpu_cores" and not out.loc[(2, 1), "cores_oversubscribed"]
    # Physical cores decide: 4 logical cores with 2 physical do not hold 3 runners either.
    assert judged(rows, cores=4, busy=[1.0, 3.0, 3.0], load=[1.0, 3, 4.5]).loc[(3, 1), "limited_by"] != "cpu_cores"
    hyper = diagnosis.diagnose(
        table(rows).assign(cpus_reserved=[2.0, 3.0, 4.0], busy_cores_mean=3.5, load_avg_1m_peak=4.5),
        cores=4,
        physical_cores=2,
    ).set_index(KEYS)
    assert hyper.loc[(3, 1), "limited_by"] == "cpu_cores"


def iterations_of(rows, *, n=8, noise=0.0, seed=0):
    """Measured iterations around each config's figures (iteration 1 a warm-up), with relative ``noise``."""
    rng = np.random.default_rng(seed)
    out = []
    for c in rows:
        for i in range(1, n + 1):
            jitter = lambda: 1 + noise * rng.standard_normal()  # noqa: E731
            learner, sampling = c["learner_update_s"] * jitter(), c["sampling_s"] * jitter()
            out.append(
                {
                    "num_env_runners": c["num_env_runners"],
                    "num_envs_per_env_runner": c["num_envs_per_env_runner"],
                    "iteration": i,
                    "time_this_iter_s": (sampling + learner + c["weight_sync_s"]) * (3 if i == 1 else 1),
                    "env_steps_sampled": STEPS,
                    "sampling_s": sampling,
                    "learner_update_s": learner,
                    "weight_sync_s": c["weight_sync_s"],
                    "env_step_per_step_s": c["env_step_per_step_ms"] / 1e3,
                    "inference_per_step_s": c["inference_per_step_ms"] / 1e3,
                    "env_to_module_per_step_s": c["env_to_module_per_step_ms"] / 1e3,
                    "module_to_env_per_step_s": c["module_to_env_per_step_ms"] / 1e3,
                }
            )
    return pd.DataFrame(out)


def reserved(rows):
    return table(rows).assign(cpus_reserved=lambda d: 1.0 + d["num_env_runners"])


def test_a_clear_lead_is_named_alone_and_a_close_one_is_mixed():
    # 2 runners lose 2 s to the learner and 0.1 s elsewhere: clearly the learner, however the iterations vary.
    clear = [config(1, learner=1.0), config(2, learner=2.5, wait=0.1)]
    out = diagnosis.diagnose(reserved(clear), cores=16, iterations=iterations_of(clear, noise=0.05)).set_index(KEYS)
    assert out.loc[(2, 1), "limited_by"] == "learner" and out.loc[(2, 1), "verdict_lead_s_ci_low"] > 0
    low, high = out.loc[(2, 1), ["lost_learner_s_ci_low", "lost_learner_s_ci_high"]]
    assert low < out.loc[(2, 1), "lost_learner_s"] < high
    # Learner and sampling wait lose about as much, and the iterations are noisy: mixed, both named.
    close = [config(1, learner=1.0), config(2, learner=2.0, wait=1.5)]
    out = diagnosis.diagnose(reserved(close), cores=16, iterations=iterations_of(close, noise=0.4)).set_index(KEYS)
    row = out.loc[(2, 1)]
    assert row["limited_by"] == "mixed" and set(row["contenders"].split(", ")) == {"learner", "sampling:wait"}
    assert row["advice"].startswith("Two parts lose about as much, within their intervals (")
    assert row["verdict_lead_s_ci_low"] <= 0


def test_too_few_measured_iterations_cannot_tell():
    rows = [config(1, learner=1.0), config(2, learner=2.5)]
    out = diagnosis.diagnose(reserved(rows), cores=16, iterations=iterations_of(rows, n=3)).set_index(KEYS)
    assert out.loc[(2, 1), "limited_by"] == "cannot tell" and "Measure at least 3" in out.loc[(2, 1), "advice"]
    assert out.loc[(1, 1), "limited_by"] == "baseline"


def test_sixteen_envs_on_one_runner_gain_in_inference():
    # Inference per runner step grows from 0.26 to 0.43 ms for 16x the envs: a 10x gain per env step.
    base = config(1, env_ms=0.16, inf_ms=0.26, conn_ms=0.6)
    wide = config(1, 16, env_ms=16 * 0.09, inf_ms=0.43, conn_ms=1.26)
    out = judged([base, wide])
    row = out.loc[(1, 16)]
    assert row["ideal_time_per_iter_s"] == pytest.approx(base["time_per_iter_s"]), "same CPUs, same ideal"
    assert row["lost_inference_s"] == pytest.approx(1024 * 0.43e-3 - STEPS * 0.26e-3)
    assert row["lost_inference_s"] < -3.0 and row["lost_time_s"] < 0


def test_the_parts_always_add_up_to_measured_minus_ideal():
    rng = np.random.default_rng(7)
    rows = [
        config(
            r,
            e,
            env_ms=rng.uniform(0.05, 2),
            inf_ms=rng.uniform(0.05, 2),
            conn_ms=rng.uniform(0.05, 2),
            wait=rng.uniform(0, 3),
            learner=rng.uniform(0.1, 5),
            sync=rng.uniform(0, 0.5),
            other=rng.uniform(-0.2, 1),
        )
        for r in (1, 2, 3, 8)
        for e in (1, 4)
    ]
    out = judged(rows)
    assert lost_parts(out).sum(axis=1).to_numpy() == pytest.approx(out["lost_time_s"].to_numpy(), abs=1e-9)
    assert (out["lost_time_s"] == out["time_per_iter_s"] - out["ideal_time_per_iter_s"]).all()
    assert set(out["limited_by"]) <= set(diagnosis.LIMITS)


def iterations(rows, n_iters=4):
    """Per-iteration rows repeating each config's figures; iteration 1 is a slow warm-up."""
    out = []
    for c in rows:
        for i in range(1, n_iters + 1):
            out.append(
                {
                    **{k: v for k, v in c.items() if k in KEYS or k.endswith(("_per_step_ms", "_s"))},
                    "trial_name": f"ppo[num_env_runners={c['num_env_runners']}]",
                    "iteration": i,
                    "time_this_iter_s": c["time_per_iter_s"] * (3 if i == 1 else 1),
                    "env_steps_sampled": STEPS,
                    "env_step_per_step_s": c["env_step_per_step_ms"] / 1e3,
                    "inference_per_step_s": c["inference_per_step_ms"] / 1e3,
                    "env_to_module_per_step_s": c["env_to_module_per_step_ms"] / 1e3,
                    "module_to_env_per_step_s": c["module_to_env_per_step_ms"] / 1e3,
                    "total_envs": c["num_env_runners"],
                }
            )
    return pd.DataFrame(out)


def test_amdahl_leaves_out_the_core_bound_configs_and_says_so():
    rows = [config(1, learner=3.0), config(2, learner=3.0), config(4, env_ms=0.6, inf_ms=0.9, conn_ms=1.5, learner=3.0)]
    it = iterations(rows)
    trials = pd.DataFrame(
        {
            "trial_name": it["trial_name"].unique(),
            "num_env_runners": [1, 2, 4],
            "num_envs_per_env_runner": 1,
            "sampling_cpus": [1.0, 2.0, 4.0],
            "cpus_reserved": [2.0, 3.0, 5.0],
            "gpus_reserved": 0.0,
            "status": "TERMINATED",
            "total_envs": [1, 2, 4],
        }
    )
    telemetry = pd.DataFrame(
        [
            {
                "trial_name": n,
                "node_id": "n1",
                "node_ip": "10.0.0.1",
                "node_cores": 3,
                "timestamp_s": 0.0,
                "iteration": 2,
                "cpu_util_pct": 90.0,
                "busy_cores": b,
                "load_avg_1m": b,
                "mem_used_mb": 1.0,
                "ray_workers_cpu_s": 0.0,
            }
            for n, b in zip(trials["trial_name"], [2, 3, 3], strict=True)
        ]
    )
    found = findings.findings(
        it, trials, telemetry, config_keys=KEYS, baseline={"num_env_runners": 1}, warmup_iterations=1, cores=3
    )
    verdicts = found.scaled.set_index("num_env_runners")["limited_by"]
    assert verdicts.to_dict() == {1: "baseline", 2: "learner", 4: "cpu_cores"}
    assert list(found.runner_slice["num_env_runners"]) == [1, 2] and found.fit["points"] == 1


def test_async_envs_are_busy_processes_the_reservation_does_not_count():
    # 1 runner stepping 8 envs, each in its own subprocess: 2 CPUs reserved, 10 processes busy.
    base, wide = config(1, learner=0.1), config(1, 8, env_ms=8 * 0.4, inf_ms=0.6, conn_ms=1.0, learner=0.1)
    scaled = table([base, wide]).assign(
        gym_env_vectorize_mode="async",
        cpus_reserved=2.0,
        busy_processes=[2, 10],
        busy_cores_mean=[1.0, 2.0],
        load_avg_1m_peak=[1.0, 9.0],
    )
    out = diagnosis.diagnose(scaled, cores=2).set_index(KEYS)
    row = out.loc[(1, 8)]
    assert row["cores_oversubscribed"] and row["limited_by"] == "cpu_cores"
    assert "10 busy processes (2 CPUs reserved) share 2 cores" in row["advice"]


def test_advice_for_env_stepping_counts_the_free_cores():
    # 1 runner x 16 envs: env stepping is its largest cost; main process and runner reserve 2 CPUs.
    rows = [config(1), config(1, 16, env_ms=16 * 0.3)]
    on_two, on_sixteen = judged(rows, cores=2).loc[(1, 16)], judged(rows, cores=16).loc[(1, 16)]
    assert on_two["limited_by"] == on_sixteen["limited_by"] == "sampling:env_step"
    assert "already fill the 2 cores: more env runners need more cores or nodes" in on_two["advice"]
    assert on_sixteen["advice"].endswith("add env runners, one per free core (14 free here).")


def test_advice_for_async_envs_and_a_single_runners_wait():
    # Two 1-runner configs that lose 6 s each to sampling no per-step timer explains; one steps ASYNC.
    rows = [config(1), config(1, 2, wait=6.0), config(1, 4, wait=6.0)]
    scaled = table(rows).assign(gym_env_vectorize_mode=["sync", "sync", "async"], cpus_reserved=2.0)
    out = diagnosis.diagnose(scaled, cores=16).set_index(KEYS)
    assert out.loc[(1, 2), "limited_by"] == out.loc[(1, 4), "limited_by"] == "sampling:wait"
    assert "more envs per runner" in out.loc[(1, 2), "advice"] and "fewer runners" not in out.loc[(1, 2), "advice"]
    assert "SYNC (gym_env_vectorize_mode: sync) is faster" in out.loc[(1, 4), "advice"]


COMMITTED = [
    *sorted(p.parent.parent for p in (ROOT / "benchmarks" / "results").glob("*/analysis/iterations.parquet")),
    ROOT / "tests" / "data" / "smoke_experiment",
]


@pytest.mark.parametrize("experiment", COMMITTED, ids=[p.name for p in COMMITTED])
def test_every_single_verdict_of_a_committed_experiment_holds_in_nearly_all_resamples(experiment):
    # Resample each config's measured iterations (a bootstrap over the experiment's own iterations) and judge
    # again: a verdict the report states alone must come out the same in at least 90 % of 100 resamples.
    from parallel_tune.analysis.load import load
    from parallel_tune.analysis.table import per_config
    from parallel_tune.core.stats import measured

    e = load(experiment)
    space, keys = e.record.space, e.config_keys
    found = findings.of(e)
    stated = found.scaled.set_index("trial_name")["limited_by"]
    single = stated[~stated.isin(["baseline", "mixed", "cannot tell"])]
    assert len(single) or len(stated) <= 2, "a sweep of several configs states some verdicts alone"
    kept = e.iterations[e.iterations["iteration"] <= space.warmup_iterations]
    rows = measured(e.iterations, space.warmup_iterations)
    usage = found.configs[["trial_name", "busy_cores_mean", "load_avg_1m_peak"]]  # the hardware, as it was
    rng = np.random.default_rng(0)
    agree = pd.Series(0, index=single.index)
    for _ in range(100):
        again = pd.concat([kept, rows.groupby("trial_name").sample(frac=1, replace=True, random_state=rng)])
        configs = per_config(
            again, e.trials, pd.DataFrame(), config_keys=keys, warmup_iterations=space.warmup_iterations, n_resamples=50
        ).merge(usage, on="trial_name")
        ran = configs[configs["measured"] & ~configs["status"].isin(["SKIPPED", "NOT_STARTED"])]
        judged = diagnosis.diagnose(
            metrics.scaling(ran, space.baseline_config(), group_keys=keys),
            cores=e.cores,
            physical_cores=e.physical_cores,
        ).set_index("trial_name")
        agree += judged.loc[single.index, "limited_by"] == single
    assert (agree / 100 >= 0.9).all(), (agree / 100).to_dict()
