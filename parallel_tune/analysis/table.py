"""The one per-config table: trials joined with their measured iterations and hardware use.

Metrics, diagnosis, report and dashboard all read this table (or the rows of
it that were measured); none of them joins trials, iterations or telemetry
for itself.
"""

from __future__ import annotations

import pandas as pd

from parallel_tune.analysis.metrics import summarize, telemetry_summary


def per_config(
    iterations: pd.DataFrame,
    trials: pd.DataFrame,
    telemetry: pd.DataFrame,
    *,
    config_keys: list[str],
    warmup_iterations: int,
    max_rel_ci_width: float = 0.2,
    seed: int = 0,
    n_resamples: int = 2000,
    asynchronous: bool = False,
) -> pd.DataFrame:
    """One row per config of ``trials`` (skipped and never-started ones too), sorted by the config keys
    (``n_resamples``: the bootstrap's, for the intervals; ``asynchronous``: APPO or IMPALA, ``metrics.summarize``).

    ``iterations``, ``trials`` and ``telemetry`` are ``analysis.load``'s
    tables. Columns, left to right:

    - the trial's: trial_name, label, <config_keys>, status, error,
      iterations_completed, iterations_rerun, cpus_reserved, gpus_reserved,
      busy_processes, concurrent_processes, sampling_cpus, node_ip, path, placement, bundle_nodes,
      nodes_used, total_envs (those the trials table has);
    - ``metrics.summarize``'s over its measured iterations: n_measured,
      time_per_iter_s with its _ci_low/_ci_high, env_steps_per_iter,
      env_steps_per_s with its interval, rel_ci_width, rel_half_width,
      unreliable, sampling_s / learner_update_s / weight_sync_s / other_s
      with their *_share_pct, and the *_per_step_ms timers (NaN where nothing
      was measured);
    - ``metrics.telemetry_summary``'s: nodes_sampled, node_cores, samples,
      cpu_util_pct_mean/_peak, busy_cores_mean, load_avg_1m_peak, cpu_steal_pct_mean,
      mem_used_mb_peak, ray_workers_cpu_s, gpu_util_pct_mean/_peak,
      gpu_mem_used_mb_peak (NaN where nothing was sampled);
    - ``measured``: at least one measured iteration.

    A learning check's replicates of a config (its seeds) are one row: their
    iterations pooled, ``replicates`` and ``seeds`` added (``replicates``).
    """
    if trials.empty:
        return pd.DataFrame()
    out = replicates(trials).sort_values(config_keys, kind="stable").reset_index(drop=True)
    summary = (
        summarize(
            iterations,
            group_keys=config_keys,
            warmup_iterations=warmup_iterations,
            max_rel_ci_width=max_rel_ci_width,
            seed=seed,
            n_resamples=n_resamples,
            asynchronous=asynchronous,
        )
        if not iterations.empty
        else pd.DataFrame()
    )
    if not summary.empty:
        summary = summary.drop(columns=[c for c in ("label", "total_envs") if c in summary])
        out = out.merge(summary, on=config_keys, how="left")
    out["measured"] = out["n_measured"].fillna(0) > 0 if "n_measured" in out else False
    usage = telemetry_summary(telemetry)
    if not usage.empty:
        out = out.merge(usage, on="trial_name", how="left")
    return out


def replicates(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per config (``trial_name``): a config's replicates (a learning check's seeds) folded into its first
    trial's row, with ``replicates`` (how many), ``seeds`` ("0, 1000"), the status an errored one gives all
    ("ERROR"), their errors joined, the fewest ``iterations_completed`` and every ``iterations_rerun``. A table
    with one trial per config comes back as it was, with ``replicates`` 1."""
    if not trials["trial_name"].duplicated().any():
        return trials.assign(replicates=1)
    rows = []
    for _, group in trials.groupby("trial_name", sort=False):
        row = group.iloc[0].copy()
        row["replicates"] = len(group)
        if "seed" in group:
            row["seeds"] = ", ".join(str(int(v)) for v in group["seed"].dropna())
        errored = group["status"] == "ERROR"
        row["status"] = "ERROR" if errored.any() else row["status"]
        row["error"] = "; ".join(e for e in group["error"].fillna("") if e)
        row["iterations_completed"] = int(group["iterations_completed"].min())
        if "iterations_rerun" in group:
            row["iterations_rerun"] = int(group["iterations_rerun"].fillna(0).sum())
        rows.append(row)
    return pd.DataFrame(rows).reset_index(drop=True)
