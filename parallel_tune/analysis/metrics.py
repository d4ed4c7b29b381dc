"""Scaling metrics: pure functions, DataFrame in, DataFrame out.

No Ray, no I/O, no printing; every knob is an argument. The tables:

``iterations`` (one row per trial-iteration, from ``analysis.load``)
    trial_name, label, <config keys>, iteration, iterations_since_restore
    (optional), time_this_iter_s, env_steps_sampled, sampling_s,
    learner_update_s, weight_sync_s, env_connector_sync_s,
    env_step_per_step_s, inference_per_step_s, env_to_module_per_step_s,
    module_to_env_per_step_s, total_envs

``telemetry`` (one row per hardware sample, from ``analysis.load``): see ``telemetry_by_node``.

``configs`` (one row per config, from ``analysis.table.per_config``): the
    trial's columns, ``summarize``'s and ``telemetry_summary``'s; the table
    ``scaling``, ``misconfigurations`` and ``parallel_tune.analysis.diagnosis`` read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from parallel_tune.core import spaces
from parallel_tune.core.stats import (
    bootstrap_ci,
    cost,
    measured,
    ratio_of_medians,
    relative_half_width,
    variation_pct,
)
from parallel_tune.core.tables import SKIPPED

#: The original study's rating bands on efficiency (%): (name, lower edge), best first. The top
#: band starts *above* its edge (Excellent > 70 %); the others at it (Good 60-70 %).
RATING_BANDS = (("Excellent", 70.0), ("Good", 60.0), ("Acceptable", 50.0), ("Poor", 0.0))


def same_config(table: pd.DataFrame, config, keys: list[str]) -> np.ndarray:
    """The rows of ``table`` whose ``keys`` columns hold ``config``'s values (a dict or a row)."""
    return np.logical_and.reduce([table[k] == config[k] for k in keys])


def trial_key(table: pd.DataFrame) -> str:
    """The column that tells one trial from another: ``trial_id`` (a learning check's replicates of a config share
    its ``trial_name``), else ``trial_name`` (tables written before trial ids were kept)."""
    return "trial_id" if "trial_id" in table and table["trial_id"].astype(str).str.len().gt(0).all() else "trial_name"


def harness_time(
    iterations: pd.DataFrame, *, started_at_s: float | None = None, resumed_at_s: list[float] | tuple = ()
) -> dict[str, object]:
    """What a sweep cost beyond its measurements (trials run one after another).

    ``iterations`` needs trial_name, iteration, time_this_iter_s and
    reported_at_s (when the result reached the driver). Returns ``trials``: a
    table of trial_name and startup_s, the time from the previous trial's last
    result (the sweep's start, ``started_at_s``, for the first; a resume's
    start, ``resumed_at_s``, for the first after it) to the start of this
    trial's first iteration: checkpoint and teardown of the previous trial,
    this one's placement group, actors and environments. And for the sweep:
    wall_s (its start to the last result, less the time it stood still
    between an interruption and its resume), stopped_s (that time: from the
    last result before each resume to the resume), in_iterations_s (every
    iteration's time_this_iter_s, warm-up included) and outside_iterations_s
    (the rest of wall_s).
    """
    trial = trial_key(iterations)
    spans = (
        iterations.groupby(trial)
        .agg(first_at=("reported_at_s", "min"), last_at=("reported_at_s", "max"), trial_name=("trial_name", "first"))
        .sort_values("first_at")
    )
    firsts = iterations.loc[iterations.groupby(trial)["reported_at_s"].idxmin()].set_index(trial)
    previous_end = spans["last_at"].shift(1).fillna(started_at_s if started_at_s else np.nan)
    began = spans["first_at"] - firsts.loc[spans.index, "time_this_iter_s"]
    for at in sorted(resumed_at_s):  # the first trial after a resume started up from the resume, not before it
        previous_end = previous_end.where(~((previous_end < at) & (at <= began)), at)
    startup = began - previous_end
    # A config's replicates (a learning check) each start once: their mean start-up.
    trials = pd.DataFrame({"trial_name": spans["trial_name"].to_numpy(), "startup_s": startup.to_numpy()})
    trials = trials.groupby("trial_name", sort=False, as_index=False)["startup_s"].mean()
    inside = float(iterations["time_this_iter_s"].sum())
    stamps = iterations["reported_at_s"]
    stopped = 0.0
    for at in resumed_at_s:
        before = stamps[stamps < at]
        stopped += at - float(before.max()) if len(before) else 0.0
    wall = float(stamps.max() - started_at_s) - stopped if started_at_s else float("nan")
    return {
        "trials": trials,
        "wall_s": wall,
        "stopped_s": stopped,
        "resumes": len(resumed_at_s),
        "in_iterations_s": inside,
        "outside_iterations_s": wall - inside,
    }


def restarts(iterations: pd.DataFrame) -> pd.DataFrame:
    """Where a trial continued from a checkpoint: trial_name, restored_after_iteration (and seed, in a learning
    check).

    One row per restore: where ``iteration - iterations_since_restore`` (the
    iteration the trial's process started after) changes within a trial, or is
    above 0 at its first row. Empty when every trial ran in one go.
    """
    if "iterations_since_restore" not in iterations or iterations.empty:
        return pd.DataFrame(columns=["trial_name", "restored_after_iteration"])
    trial = trial_key(iterations)
    df = iterations.sort_values([trial, "iteration"])
    offset = (df["iteration"] - df["iterations_since_restore"].fillna(df["iteration"])).astype(int)
    before = offset.groupby(df[trial]).shift(1).fillna(0).astype(int)
    hit = offset != before
    out = pd.DataFrame(
        {"trial_name": df.loc[hit, "trial_name"].to_numpy(), "restored_after_iteration": offset[hit].to_numpy()}
    )
    if "seed" in df:  # a learning check's replicates share their config's name
        out["seed"] = df.loc[hit, "seed"].to_numpy()
    return out


def summarize(
    iterations: pd.DataFrame,
    *,
    group_keys: list[str],
    warmup_iterations: int = 1,
    max_rel_ci_width: float = 0.2,
    seed: int = 0,
    n_resamples: int = 2000,
    asynchronous: bool = False,
) -> pd.DataFrame:
    """Per-config statistics over measured iterations (``n_resamples``: the bootstrap's).

    Returns one row per config: <group_keys>, total_envs, n_measured,
    time_per_iter_s (median), time_per_iter_s_ci_low/high (bootstrap 95 %),
    env_steps_per_iter (median env steps sampled in an iteration),
    env_steps_per_s (median of steps sampled / wall time) and its interval,
    rel_ci_width (interval width / median time), rel_half_width (its wider
    side / median: what ``--precision`` bounds), unreliable (width above
    ``max_rel_ci_width``, or fewer than 2 measured iterations), time_cv_pct
    (the iteration times' coefficient of variation: the noise), the median
    sampling_s / learner_update_s / weight_sync_s / other_s and each one's
    share of the iteration (``*_share_pct``), and per-step times in ms;
    time_per_kstep_s (median seconds per 1,000 env steps sampled) with its
    interval; learner_busy_pct (median share of the learner thread's time spent
    updating rather than waiting for samples, where an asynchronous algorithm
    reports it) with its interval. ``asynchronous`` (APPO, IMPALA: time-boxed
    iterations, a learner beside the runners): the interval widths, the noise
    and ``unreliable`` are those of the time per 1,000 steps (``stats.cost``),
    and the iteration is not split into parts (NaN).
    """
    rows = []
    for keys, g in measured(iterations, warmup_iterations).groupby(group_keys, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        t = g["time_this_iter_s"].to_numpy(float)
        sps = (g["env_steps_sampled"] / g["time_this_iter_s"]).to_numpy(float)
        kstep = cost(g, asynchronous=True).to_numpy(float)
        noise = kstep if asynchronous else t
        t_med = float(np.median(t))
        t_lo, t_hi = bootstrap_ci(t, seed=seed, n_resamples=n_resamples)
        s_lo, s_hi = bootstrap_ci(sps, seed=seed, n_resamples=n_resamples)
        k_lo, k_hi = bootstrap_ci(kstep, seed=seed, n_resamples=n_resamples)
        n_lo, n_hi = (k_lo, k_hi) if asynchronous else (t_lo, t_hi)
        n_med = float(np.nanmedian(noise)) if np.isfinite(noise).any() else float("nan")
        width = (n_hi - n_lo) / n_med if n_med else float("nan")
        row = dict(zip(group_keys, keys, strict=False))
        if "label" in g:
            row["label"] = g["label"].iloc[0]
        row.update(
            total_envs=int(g["total_envs"].iloc[0]),
            n_measured=len(g),
            time_per_iter_s=t_med,
            time_per_iter_s_ci_low=t_lo,
            time_per_iter_s_ci_high=t_hi,
            env_steps_per_iter=float(np.median(g["env_steps_sampled"].to_numpy(float))),
            env_steps_per_s=float(np.median(sps)),
            env_steps_per_s_ci_low=s_lo,
            env_steps_per_s_ci_high=s_hi,
            time_per_kstep_s=float(np.nanmedian(kstep)) if np.isfinite(kstep).any() else float("nan"),
            time_per_kstep_s_ci_low=k_lo,
            time_per_kstep_s_ci_high=k_hi,
            rel_ci_width=width,
            rel_half_width=relative_half_width(noise, seed=seed, n_resamples=n_resamples),
            unreliable=bool(len(g) < 2 or not width <= max_rel_ci_width),
            time_cv_pct=variation_pct(noise),
            **_learner_busy(g, seed=seed, n_resamples=n_resamples),
        )
        parts = {}
        for col in ("sampling_s", "learner_update_s", "weight_sync_s"):
            parts[col] = float(np.nanmedian(g[col])) if col in g and g[col].notna().any() else float("nan")
        parts["other_s"] = float("nan") if asynchronous else max(t_med - np.nansum(list(parts.values())), 0.0)
        row.update(parts)
        for col, value in parts.items():
            row[col.removesuffix("_s") + "_share_pct"] = 100 * value / t_med if t_med else float("nan")
        for col in ("env_step", "inference", "env_to_module", "module_to_env"):
            src = f"{col}_per_step_s"
            row[f"{col}_per_step_ms"] = (
                float(g[src].median() * 1e3) if src in g and g[src].notna().any() else float("nan")
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _learner_busy(g: pd.DataFrame, *, seed: int, n_resamples: int) -> dict[str, float]:
    """The learner thread's busy share (update over update plus waiting for samples), median and interval."""
    if "learner_thread_update_s" not in g or "learner_thread_wait_s" not in g:
        return {"learner_busy_pct": np.nan, "learner_busy_pct_ci_low": np.nan, "learner_busy_pct_ci_high": np.nan}
    update, wait = g["learner_thread_update_s"].astype(float), g["learner_thread_wait_s"].astype(float)
    busy = (100 * update / (update + wait)).to_numpy(float)
    busy = busy[np.isfinite(busy)]
    low, high = bootstrap_ci(busy, seed=seed, n_resamples=n_resamples)
    median = float(np.median(busy)) if len(busy) else np.nan
    return {"learner_busy_pct": median, "learner_busy_pct_ci_low": low, "learner_busy_pct_ci_high": high}


def rating(efficiency_pct: float, low: float | None = None, high: float | None = None) -> str:
    """The band of ``RATING_BANDS`` an efficiency falls in; "n/a" for NaN.

    With its interval (``low``, ``high``) across a band edge, both ends' bands:
    "Good or Acceptable" (three or more: "Excellent to Acceptable"), rather than
    a band that flips from one run to the next.
    """
    if efficiency_pct is None or np.isnan(efficiency_pct):
        return "n/a"
    names = [name for name, _ in RATING_BANDS]
    ends = [_band(v) for v in (high, low) if v is not None and not np.isnan(v)]
    span = sorted({_band(efficiency_pct), *ends}, key=names.index)
    if len(span) == 1:
        return span[0]
    between = names.index(span[-1]) - names.index(span[0])
    return f"{span[0]} {'or' if between == 1 else 'to'} {span[-1]}"


def _band(efficiency_pct: float) -> str:
    (top, top_edge), *rest = RATING_BANDS
    if efficiency_pct > top_edge:
        return top
    return next((name for name, edge in rest if efficiency_pct >= edge), rest[-1][0])


def scaling(
    configs: pd.DataFrame,
    baseline: dict,
    *,
    group_keys: list[str],
    iterations: pd.DataFrame | None = None,
    warmup_iterations: int = 1,
    seed: int = 0,
    asynchronous: bool = False,
) -> pd.DataFrame:
    """Speedup and efficiency of every measured config relative to ``baseline``.

    ``configs``: ``analysis.table.per_config``'s rows that were measured (each
    has time_per_iter_s, total_envs and sampling_cpus). Adds speedup
    (baseline time / time), efficiency_per_env_pct (speedup / total envs
    relative to the baseline's, the original study's definition),
    efficiency_per_cpu_pct (speedup / sampling CPUs relative to the
    baseline's: extra envs per runner add no cores), and rating (bands on
    efficiency per env, as the original study rated). If the baseline config
    was not measured, the nearest config stands in (``spaces.stand_in_order``,
    the one the sweep's drift check re-measures); ``baseline_name`` says which
    and ``is_baseline`` marks its row. With the per-iteration ``iterations``:
    speedup_ci_low/high (``ratio_of_medians`` of the baseline's times over the
    config's, both resampled) and efficiency_per_env_pct_ci_low/high, and a
    rating that names both bands where that interval crosses an edge.
    ``asynchronous`` (APPO, IMPALA): iterations are time-boxed, so speedup is
    the ratio of seconds per 1,000 env steps (``time_per_kstep_s``: the
    throughput ratio) rather than of times per iteration.
    """
    out = configs.reset_index(drop=True).copy()
    is_base = np.logical_and.reduce([out[k] == v for k, v in baseline.items() if k in out]) if baseline else None
    if is_base is None or not is_base.any():
        order = {i: spaces.stand_in_order(r.sampling_cpus, r.total_envs, r, baseline or {}) for i, r in out.iterrows()}
        base = out.loc[min(order, key=order.get)]
    else:
        base = out[is_base].iloc[0]
    time_col = "time_per_kstep_s" if asynchronous else "time_per_iter_s"
    out["speedup"] = base[time_col] / out[time_col]
    out["efficiency_per_env_pct"] = 100 * out["speedup"] / (out["total_envs"] / base["total_envs"])
    out["efficiency_per_cpu_pct"] = 100 * out["speedup"] / (out["sampling_cpus"] / base["sampling_cpus"])
    out["baseline_name"] = ",".join(f"{k}={base[k]}" for k in group_keys)
    out["is_baseline"] = same_config(out, base, group_keys)
    out["speedup_ci_low"] = out["speedup_ci_high"] = np.nan
    if iterations is not None and not iterations.empty:
        times = measured(iterations, warmup_iterations)
        times = times.assign(_cost=cost(times, asynchronous=asynchronous))
        base_times = times[same_config(times, base, group_keys)]["_cost"]
        for i, r in out[~out["is_baseline"]].iterrows():
            ratio = ratio_of_medians(times[same_config(times, r, group_keys)]["_cost"], base_times, seed=seed)
            out.loc[i, ["speedup_ci_low", "speedup_ci_high"]] = ratio["ci_low"], ratio["ci_high"]
    per_env = out["total_envs"] / base["total_envs"]
    out["efficiency_per_env_pct_ci_low"] = 100 * out["speedup_ci_low"] / per_env
    out["efficiency_per_env_pct_ci_high"] = 100 * out["speedup_ci_high"] / per_env
    out["rating"] = [
        rating(r.efficiency_per_env_pct, r.efficiency_per_env_pct_ci_low, r.efficiency_per_env_pct_ci_high)
        for r in out.itertuples()
    ]
    return out


def karp_flatt(speedup: pd.Series, width: pd.Series) -> pd.Series:
    """Experimentally determined serial fraction e = (1/S - 1/p) / (1 - 1/p); NaN at p = 1.

    A serial fraction that grows with p means overhead grows with width
    (communication, synchronisation), not a fixed serial part.
    """
    p = width.astype(float)
    e = (1 / speedup - 1 / p) / (1 - 1 / p)
    return e.where(p > 1)


def amdahl_fit(width: pd.Series, speedup: pd.Series) -> dict[str, float]:
    """Least-squares serial fraction s of S(p) = 1 / (s + (1 - s) / p).

    Linear in s: 1/S - 1/p = s (1 - 1/p). Returns serial_fraction,
    max_speedup (1/s, the ceiling as p -> inf) and rmse of the speedups.
    """
    p = np.asarray(width, float)
    s_obs = np.asarray(speedup, float)
    keep = (p > 1) & np.isfinite(s_obs) & (s_obs > 0)
    if keep.sum() < 1:
        return {"serial_fraction": float("nan"), "max_speedup": float("nan"), "rmse": float("nan"), "points": 0}
    x = 1 - 1 / p[keep]
    y = 1 / s_obs[keep] - 1 / p[keep]
    s = float(np.clip(np.dot(x, y) / np.dot(x, x), 0.0, 1.0))
    pred = 1 / (s + (1 - s) / p)
    rmse = float(np.sqrt(np.mean((pred[np.isfinite(s_obs)] - s_obs[np.isfinite(s_obs)]) ** 2)))
    return {
        "serial_fraction": s,
        "max_speedup": 1 / s if s > 0 else float("inf"),
        "rmse": rmse,
        "points": int(keep.sum()),
    }


def runner_scaling(
    scaled: pd.DataFrame, *, envs_per_runner: int | None = None, time_col: str = "time_per_iter_s"
) -> pd.DataFrame:
    """The runner-only slice: configs with one envs-per-runner value, sorted by runners.

    Adds ``width`` (runners relative to the slice's smallest) and
    ``karp_flatt_serial_fraction``; speedups (of ``time_col``: seconds per
    iteration, or per 1,000 env steps for an asynchronous algorithm) are
    re-based on the slice's smallest config so the slice is a clean
    strong-scaling series.
    """
    df = scaled
    if "num_envs_per_env_runner" in df:
        value = envs_per_runner if envs_per_runner is not None else df["num_envs_per_env_runner"].min()
        df = df[df["num_envs_per_env_runner"] == value]
    df = df[df["num_env_runners"] > 0].sort_values("num_env_runners").copy()
    if df.empty:
        return df
    first = df.iloc[0]
    df["width"] = df["num_env_runners"] / first["num_env_runners"]
    df["slice_speedup"] = first[time_col] / df[time_col]
    df["karp_flatt_serial_fraction"] = karp_flatt(df["slice_speedup"], df["width"])
    return df


def ceiling_fraction(scaled: pd.DataFrame, ceiling: pd.DataFrame) -> pd.DataFrame:
    """Each config's env steps/s as a share of the raw environment ceiling.

    ``scaled`` needs num_env_runners and env_steps_per_s; ``ceiling`` is
    ``parallel_tune.ceiling``'s table: processes, env_steps_per_s (the bare
    environment stepped with random actions by that many processes at once).
    Adds sampling_processes (env runners; 1 when the main process samples),
    ceiling_env_steps_per_s (NaN where the ceiling has no such width: widths
    are matched exactly, not interpolated) and ceiling_fraction_pct.
    """
    out = scaled.copy()
    out["sampling_processes"] = spaces.sampling_processes(out["num_env_runners"].fillna(0).astype(int))
    by_width = ceiling.groupby("processes")["env_steps_per_s"].median()
    out["ceiling_env_steps_per_s"] = out["sampling_processes"].map(by_width).astype(float)
    out["ceiling_fraction_pct"] = 100 * out["env_steps_per_s"] / out["ceiling_env_steps_per_s"]
    return out


def recommend(
    scaled: pd.DataFrame, *, good_floor_pct: float = 60.0, learned: pd.DataFrame | None = None
) -> dict[str, object]:
    """The fastest config (most env steps/s), the configs as fast within their intervals, and the widest config
    still rated Good or better (per env); with a learning check (``learned``: ``learning.learning``'s table), also
    ``fastest_learning``: the fastest config that learns as well as the baseline or better (the baseline itself
    where none other does), and ``faster_untold``: the labels of faster configs whose seeds could not tell.

    The fastest carries everything ``scaled`` knows of it: time per iteration,
    efficiency per CPU, and its ceiling fraction where ``ceiling_fraction`` ran.
    ``as_fast``: the labels of the others whose env steps/s interval reaches
    the fastest's (a noisier run could have named any of them); empty where
    the fastest leads clearly, or where no interval was measured.
    """
    ok = scaled[scaled["env_steps_per_s"].notna()]
    if ok.empty:
        return {}
    ranked = ok.sort_values(["env_steps_per_s", "sampling_cpus"], ascending=[False, True])
    fastest = ranked.iloc[0]
    good = ok[ok["efficiency_per_env_pct"] >= good_floor_pct].sort_values(
        ["total_envs", "time_per_iter_s"], ascending=[False, True]
    )
    low = fastest.get("env_steps_per_s_ci_low", np.nan)
    high = ranked.get("env_steps_per_s_ci_high", pd.Series(np.nan, index=ranked.index)).iloc[1:]
    as_fast = [str(ranked.loc[i].get("label", i)) for i in high.index if high[i] >= low]
    out = {
        "fastest": fastest.to_dict(),
        "as_fast": as_fast,
        "largest_good": good.iloc[0].to_dict() if len(good) else None,
    }
    if learned is not None and not learned.empty:
        fine = set(learned.loc[learned["verdict"].isin(["baseline", "as well", "better"]), "trial_name"])
        keep = ranked[ranked["trial_name"].isin(fine)]
        out["fastest_learning"] = keep.iloc[0].to_dict() if len(keep) else None
        untold = set(learned.loc[learned["verdict"] == "cannot tell", "trial_name"])
        faster = ranked.iloc[: ranked.index.get_loc(keep.index[0])] if len(keep) else ranked
        out["faster_untold"] = [
            str(r.get("label", r["trial_name"])) for _, r in faster.iterrows() if r["trial_name"] in untold
        ]
    return out


def telemetry_by_node(telemetry: pd.DataFrame) -> pd.DataFrame:
    """Per trial and node, what that node did while the trial ran.

    ``telemetry`` has one row per sample: trial_name, node_id, node_ip,
    node_cores, timestamp_s, iteration, cpu_util_pct, busy_cores,
    load_avg_1m, mem_used_mb, ray_workers_cpu_s, and gpu<i>_util_pct /
    gpu<i>_mem_used_mb where GPUs were visible. Returns trial_name, node_id,
    node_ip, node_cores, samples, cpu_util_pct_mean/_peak, busy_cores_mean,
    load_avg_1m_peak, cpu_steal_pct_mean (CPU time the hypervisor gave other
    tenants; NaN where not recorded), mem_used_mb_peak, ray_workers_cpu_s (CPU seconds the
    node's Ray workers used during the trial), gpu_util_pct_mean/_peak and
    gpu_mem_used_mb_peak (NaN without GPU samples).
    """
    if telemetry.empty:
        return pd.DataFrame(columns=["trial_name", "node_id"])
    rows = []
    for (name, node), g in telemetry.groupby(["trial_name", "node_id"], sort=True):
        util = [c for c in g.columns if c.startswith("gpu") and c.endswith("_util_pct")]
        mem = [c for c in g.columns if c.startswith("gpu") and c.endswith("_mem_used_mb")]
        gpu_util = g[util].mean(axis=1) if util else pd.Series(dtype=float)
        rows.append(
            {
                "trial_name": name,
                "node_id": node,
                "node_ip": g["node_ip"].iloc[0],
                "node_cores": g["node_cores"].iloc[0],
                "samples": len(g),
                "cpu_util_pct_mean": g["cpu_util_pct"].mean(),
                "cpu_util_pct_peak": g["cpu_util_pct"].max(),
                "busy_cores_mean": g["busy_cores"].mean(),
                "load_avg_1m_peak": g["load_avg_1m"].max(),
                "cpu_steal_pct_mean": g["cpu_steal_pct"].mean() if "cpu_steal_pct" in g else float("nan"),
                "mem_used_mb_peak": g["mem_used_mb"].max(),
                "ray_workers_cpu_s": g["ray_workers_cpu_s"].max() - g["ray_workers_cpu_s"].min(),
                "gpu_util_pct_mean": gpu_util.mean() if gpu_util.notna().any() else float("nan"),
                "gpu_util_pct_peak": gpu_util.max() if gpu_util.notna().any() else float("nan"),
                "gpu_mem_used_mb_peak": g[mem].max(axis=1).max()
                if mem and g[mem].notna().any().any()
                else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def telemetry_summary(telemetry: pd.DataFrame) -> pd.DataFrame:
    """Per trial, what its nodes did while it ran: ``telemetry_by_node`` added up over nodes.

    Returns trial_name, nodes_sampled, node_cores (summed), samples,
    cpu_util_pct_mean (mean over nodes) / _peak, busy_cores_mean (summed:
    cores busy across the trial's nodes), load_avg_1m_peak (the highest
    node's), cpu_steal_pct_mean (mean over nodes), mem_used_mb_peak and ray_workers_cpu_s (summed),
    gpu_util_pct_mean / _peak and gpu_mem_used_mb_peak. On one machine these
    are that machine's figures.
    """
    by_node = telemetry_by_node(telemetry)
    if by_node.empty:
        return pd.DataFrame(columns=["trial_name"])
    grouped = by_node.groupby("trial_name", sort=True)
    return grouped.agg(
        nodes_sampled=("node_id", "nunique"),
        node_cores=("node_cores", lambda c: c.sum(min_count=1)),
        samples=("samples", "sum"),
        cpu_util_pct_mean=("cpu_util_pct_mean", "mean"),
        cpu_util_pct_peak=("cpu_util_pct_peak", "max"),
        busy_cores_mean=("busy_cores_mean", "sum"),
        load_avg_1m_peak=("load_avg_1m_peak", "max"),
        cpu_steal_pct_mean=("cpu_steal_pct_mean", "mean"),
        mem_used_mb_peak=("mem_used_mb_peak", "sum"),
        ray_workers_cpu_s=("ray_workers_cpu_s", "sum"),
        gpu_util_pct_mean=("gpu_util_pct_mean", "mean"),
        gpu_util_pct_peak=("gpu_util_pct_peak", "max"),
        gpu_mem_used_mb_peak=("gpu_mem_used_mb_peak", "max"),
    ).reset_index()


def misconfigurations(
    configs: pd.DataFrame,
    *,
    logical_cores: int,
    by_node: pd.DataFrame | None = None,
    cluster: bool = False,
    idle_gpu_pct: float = 5.0,
    spare_cores: float = 1.0,
) -> list[str]:
    """Plain-words warnings from what each config reserved against what it used.

    ``configs``: ``analysis.table.per_config``'s table (reservations and
    ``telemetry_summary``'s columns, NaN where nothing was sampled).

    - a config that reserved a GPU which stayed idle (mean utilisation below
      ``idle_gpu_pct``), or whose GPU use was never measured;
    - CPU oversubscription: more cores busy on average than the trial reserved
      (plus ``spare_cores`` for the driver and Ray's own daemons), or a load
      average above the cores of the node it was measured on (``by_node``,
      ``telemetry_by_node``'s table; without it, above ``logical_cores``);
    - a config that wanted more CPUs than the machine (or, ``cluster``, the
      whole cluster: ``logical_cores`` then counts every node's) has.
    """
    out: list[str] = []
    where = "the cluster has" if cluster else "the machine has"
    nodes = by_node if by_node is not None and not by_node.empty else None
    for _, r in configs.iterrows():
        name = r["trial_name"]
        if r.get("cpus_reserved", 0) > logical_cores:
            out.append(f"{name} wanted {r['cpus_reserved']:g} CPUs; {where} {logical_cores} logical cores")
        if r.get("status") == SKIPPED or not r.get("samples", 0) > 0:
            continue
        if r.get("gpus_reserved", 0) > 0:
            util = r.get("gpu_util_pct_mean", np.nan)
            if np.isnan(util):
                out.append(f"{name} reserved {r['gpus_reserved']:g} GPU(s) but no GPU was visible to measure")
            elif util < idle_gpu_pct:
                out.append(f"{name} reserved {r['gpus_reserved']:g} GPU(s) that stayed idle (mean {util:.1f} % busy)")
        busy = r.get("busy_cores_mean", np.nan)
        if busy > r.get("cpus_reserved", 0) + spare_cores:
            out.append(
                f"{name}: CPU oversubscription, {busy:.1f} cores busy on average but {r['cpus_reserved']:g} reserved "
                "(torch or BLAS threads beyond the reservation?)"
            )
        if nodes is not None and nodes["node_id"].astype(bool).any():
            for _, n in nodes[nodes["trial_name"] == name].iterrows():
                if n["load_avg_1m_peak"] > n["node_cores"]:
                    out.append(
                        f"{name}: load average on node {str(n['node_id'])[:6]} peaked at {n['load_avg_1m_peak']:.1f}, "
                        f"above its {n['node_cores']:g} logical cores"
                    )
        elif r.get("load_avg_1m_peak", np.nan) > logical_cores:
            out.append(
                f"{name}: load average peaked at {r['load_avg_1m_peak']:.1f}, above the machine's "
                f"{logical_cores} logical cores"
            )
    return out
