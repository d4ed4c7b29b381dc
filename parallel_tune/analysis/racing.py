"""What a race (``--goal fastest``) decided, what it saved, and whether its winner still wins.

Pure pandas over the per-config table, the per-iteration table, the drift
check's iterations and the race's log (``parallel_tune.core.race``). Every
speed here is env steps/s over measured iterations (``race.steps_per_s``)
with ``stats.bootstrap_ci``'s interval: the statistic the race decided by.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from parallel_tune.analysis.metrics import same_config
from parallel_tune.core import race, stats


def outcomes(
    scaled: pd.DataFrame,
    iterations: pd.DataFrame,
    log: dict[str, Any],
    *,
    config_keys: list[str],
    warmup_iterations: int,
    cap: int,
    precision: float | None,
    drift_iterations: pd.DataFrame | None = None,
    asynchronous: bool = False,
) -> dict[str, Any]:
    """The race's outcome; {} for a sweep that did not race.

    ``scaled``: one row per measured config (trial_name, label, config keys,
    ``time_per_iter_s``). ``log``: the race's log (``race.read``). Returns:

    - ``configs``: one row per config in race order: trial_name, label,
      outcome (winner, measured, raced out), iterations (run), steps_per_s
      with ci_low/ci_high, raced_out_at_iteration, incumbent, incumbent_steps_per_s
      (the evidence it was stopped on), full_iterations (what the precision
      target, else the cap, would have needed) and extra_s (the time those
      iterations would have taken);
    - ``winner`` and ``winner_label``, ``margin``, ``predicted_by``;
    - ``race_s`` (its first trial's start to its end), ``full_grid_s``
      (``race_s`` plus every raced-out config's ``extra_s``: the full grid at
      the same precision), ``saved_fraction``;
    - ``check``: the winner re-measured at the end (``winner_check``), or {}.
    """
    if not log or scaled.empty:
        return {}
    out = log.get("eliminated", {})
    rank = {e["trial"]: i for i, e in enumerate(log.get("order", []))}
    rows = []
    for _, r in scaled.iterrows():
        mine = iterations[iterations["trial_name"] == r["trial_name"]]
        speed = race.steps_per_s(mine, warmup_iterations)
        low, high = stats.bootstrap_ci(speed)
        evidence = out.get(r["trial_name"], {})
        full = _iterations_to_finish(mine, warmup_iterations, cap, precision, asynchronous) if evidence else len(mine)
        per_iter = float(mine["time_this_iter_s"].iloc[warmup_iterations:].median()) if len(mine) else np.nan
        rows.append(
            {
                "trial_name": r["trial_name"],
                "label": r.get("label", r["trial_name"]),
                "outcome": "raced out" if evidence else "measured",
                "iterations": len(mine),
                "steps_per_s": float(np.median(speed)) if len(speed) else np.nan,
                "steps_per_s_ci_low": low,
                "steps_per_s_ci_high": high,
                "raced_out_at_iteration": evidence.get("iteration"),
                "incumbent": evidence.get("incumbent"),
                "incumbent_steps_per_s": evidence.get("incumbent_steps_per_s"),
                "full_iterations": full,
                "extra_s": max(full - len(mine), 0) * per_iter if evidence else 0.0,
                "_rank": rank.get(r["trial_name"], len(rank)),
            }
        )
    configs = pd.DataFrame(rows).sort_values(["_rank", "trial_name"]).drop(columns="_rank").reset_index(drop=True)
    winner = log.get("winner")
    configs.loc[configs["trial_name"] == winner, "outcome"] = "winner"
    started, finished = log.get("started_at_s"), log.get("finished_at_s")
    race_s = float(finished - started) if started and finished else np.nan
    full_s = race_s + float(configs["extra_s"].sum())
    label = configs.loc[configs["trial_name"] == winner, "label"]
    return {
        "configs": configs,
        "winner": winner,
        "winner_label": str(label.iloc[0]) if len(label) else winner,
        "margin": float(log.get("margin", race.DEFAULT_MARGIN)),
        "predicted_by": log.get("predicted_by", ""),
        "race_s": race_s,
        "full_grid_s": full_s,
        "saved_fraction": 1 - race_s / full_s if full_s and full_s == full_s else np.nan,
        "check": winner_check(configs, scaled, drift_iterations, config_keys=config_keys, warmup=warmup_iterations),
    }


def _iterations_to_finish(
    mine: pd.DataFrame, warmup: int, cap: int, precision: float | None, asynchronous: bool = False
) -> int:
    """Iterations a raced-out config would have run in the full grid: to the precision target at its noise
    (``stats.iterations_needed``) plus warm-up, at most the cap; the cap without a target."""
    if precision is None:
        return cap
    times = stats.cost(stats.measured(mine, warmup), asynchronous=asynchronous).to_numpy(float)
    needed = stats.iterations_needed(times, precision=precision)
    return cap if needed is None else min(cap, warmup + needed)


def winner_check(
    configs: pd.DataFrame,
    scaled: pd.DataFrame,
    drift_iterations: pd.DataFrame | None,
    *,
    config_keys: list[str],
    warmup: int,
) -> dict[str, Any]:
    """Does the winner, re-measured at the sweep's end, still beat the runner-up's median?

    {} without a re-measurement. Else: ``steps_per_s`` (re-measured median)
    with ``ci_low``/``ci_high``, ``runner_up`` and its ``runner_up_steps_per_s``
    (median during the race), and ``verdict``: "still wins" (the interval is
    above the runner-up), "ties" (the interval holds it), "no longer wins".
    """
    winners = configs[configs["outcome"] == "winner"]
    others = configs[configs["outcome"] != "winner"].dropna(subset=["steps_per_s"])
    if drift_iterations is None or drift_iterations.empty or winners.empty:
        return {}
    row = scaled[scaled["trial_name"] == winners["trial_name"].iloc[0]].iloc[0]
    again = drift_iterations[same_config(drift_iterations, row, config_keys)]
    speed = race.steps_per_s(again, warmup)
    if not len(speed):
        return {}
    low, high = stats.bootstrap_ci(speed)
    check: dict[str, Any] = {"steps_per_s": float(np.median(speed)), "ci_low": low, "ci_high": high, "n": len(speed)}
    if others.empty:
        return {**check, "verdict": "still wins", "runner_up": None, "runner_up_steps_per_s": np.nan}
    second = others.sort_values("steps_per_s", ascending=False).iloc[0]
    bar = float(second["steps_per_s"])
    verdict = "still wins" if low > bar else ("no longer wins" if high < bar else "ties")
    return {**check, "verdict": verdict, "runner_up": second["label"], "runner_up_steps_per_s": bar}
