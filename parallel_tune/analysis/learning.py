"""Does the faster config learn as well? Final returns across seeds, with rliable's statistics.

A config that samples 4x faster but needs 3x more env steps to the same
return is no win, and whether more envs per runner help or hurt PPO is
disputed (Andrychowicz et al. 2021; Mayor et al. 2025): it is measured here,
per config, over a learning check's replicates (``--seeds``, ``--env-steps``).

The statistics are rliable's (Agarwal et al., "Deep Reinforcement Learning at
the Edge of the Statistical Precipice", NeurIPS 2021), written out here in a
few lines rather than taken as a dependency: rliable 1.2.0 installs against
our pins, but does not import (its bootstrap comes from arch 7.2.0, whose
import fails under pandas 3.1 with a TypeError in ``deprecate_kwarg``):

- **IQM**: the interquartile mean, the mean of the middle 50 % of runs
  (rliable's ``scipy.stats.trim_mean(x, proportiontocut=0.25)``);
- **stratified bootstrap**: each config's runs are resampled with replacement
  within that config (the stratum), independently of the others;
- **probability of improvement** P(X >= Y): the chance that a run of one
  config ends at least as high as a run of the other, ties counting half
  (the Mann-Whitney U statistic over n x m, rliable's
  ``probability_of_improvement``).

Pure pandas and numpy. Tables in, tables out; layouts in the docstrings.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from parallel_tune.analysis.metrics import trial_key
from parallel_tune.core.stats import steps_so_far

#: The part of a run whose mean episode return is its final return: the last quarter of its env steps.
FINAL_FRACTION = 0.25
#: Two configs learn "as well" when the 95 % interval of the difference of their final-return IQMs lies within
#: this fraction of the baseline's IQM, either way.
TOLERANCE = 0.10
RETURN = "episode_return_mean"


def iqm(values) -> float:
    """The interquartile mean: the mean of the runs left after cutting int(n / 4) from each end (NaN: none)."""
    x = np.asarray(values, dtype=float)
    x = np.sort(x[~np.isnan(x)])
    if not len(x):
        return float("nan")
    cut = int(0.25 * len(x))  # rliable's trim_mean(x, 0.25): a quarter off each end
    return float(x[cut : len(x) - cut].mean())


def probability_of_improvement(x, y) -> float:
    """P(X >= Y) over every pair of a run of ``x`` and a run of ``y``, ties counting half."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not len(x) or not len(y):
        return float("nan")
    diff = x[:, None] - y[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def stratified_bootstrap_ci(
    strata: list[np.ndarray], stat, *, n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of ``stat(*strata)`` with each stratum's runs resampled within it; (nan, nan) where a
    stratum has fewer than 2 runs."""
    strata = [np.asarray(s, dtype=float) for s in strata]
    if any(len(s) < 2 for s in strata):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = [s[rng.integers(0, len(s), size=(n_resamples, len(s)))] for s in strata]
    values = np.array([stat(*(d[i] for d in draws)) for i in range(n_resamples)])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def final_returns(iterations: pd.DataFrame, *, fraction: float = FINAL_FRACTION) -> pd.DataFrame:
    """One row per run (trial): trial_name, seed, final_return (the mean ``episode_return_mean`` over the
    iterations in the last ``fraction`` of its env steps), env_steps (sampled in all), train_s (the sum of its
    iteration times) and steps_per_s (its median env steps/s, its first iteration left out as warm-up). Runs
    with no episode finished have a NaN final return."""
    rows = []
    for _, run in iterations.sort_values("iteration").groupby(trial_key(iterations), sort=False):
        steps = steps_so_far(run)
        last = steps >= (1 - fraction) * steps.max() if len(steps) else steps.astype(bool)
        rows.append(
            {
                "trial_name": run["trial_name"].iloc[0],
                "seed": run["seed"].iloc[0] if "seed" in run else np.nan,
                "final_return": float(run.loc[last, RETURN].mean()) if RETURN in run else np.nan,
                "env_steps": float(steps.max()) if len(steps) else np.nan,
                "train_s": float(run["time_this_iter_s"].sum()),
                "steps_per_s": float((run["env_steps_sampled"] / run["time_this_iter_s"]).iloc[1:].median()),
            }
        )
    return pd.DataFrame(rows, columns=["trial_name", "seed", "final_return", "env_steps", "train_s", "steps_per_s"])


def to_target(iterations: pd.DataFrame, target: float) -> pd.DataFrame:
    """One row per run: trial_name, seed, env_steps_to_target and time_to_target_s (its iteration times summed)
    at the first iteration whose ``episode_return_mean`` reaches ``target``; NaN where it never did."""
    rows = []
    for _, run in iterations.sort_values("iteration").groupby(trial_key(iterations), sort=False):
        hit = run[RETURN].to_numpy(float) >= target if RETURN in run else np.zeros(len(run), bool)
        first = int(np.argmax(hit)) if hit.any() else None
        rows.append(
            {
                "trial_name": run["trial_name"].iloc[0],
                "seed": run["seed"].iloc[0] if "seed" in run else np.nan,
                "env_steps_to_target": float(steps_so_far(run).iloc[first]) if first is not None else np.nan,
                "time_to_target_s": float(run["time_this_iter_s"].iloc[: first + 1].sum())
                if first is not None
                else np.nan,
            }
        )
    return pd.DataFrame(rows)


def learning(
    iterations: pd.DataFrame,
    *,
    baseline: str,
    target_return: float | None = None,
    tolerance: float = TOLERANCE,
    n_resamples: int = 2000,
) -> pd.DataFrame:
    """Per config, how well it learned against ``baseline`` (a ``trial_name``); empty without episode returns.

    ``iterations``: the loader's per-iteration table (trial_id, trial_name,
    seed, iteration, time_this_iter_s, env_steps_sampled[_lifetime],
    episode_return_mean). Returns one row per config: trial_name, runs,
    final_return_iqm with _ci_low/_ci_high (stratified bootstrap over its
    runs), final_return_min/_max, steps_per_s_min/_max (the spread of its runs'
    speeds), diff_iqm (its IQM minus the baseline's) with
    _ci_low/_ci_high (both configs' runs resampled, each within itself),
    p_as_good (P(its final return >= the baseline's)) with _ci_low/_ci_high,
    verdict ("baseline", "as well", "better", "worse", "cannot tell"),
    seeds_needed (for "cannot tell": about how many runs per config would
    put the interval of the difference within the tolerance, if the
    difference is as small as that), and with ``target_return``:
    reached ("3/5"), env_steps_to_target and time_to_target_s (medians over
    the runs that reached it).

    Verdict, with t = ``tolerance`` x |baseline IQM|: "as well" where the
    interval of diff_iqm lies within [-t, +t]; else "better" where it lies
    above 0, "worse" where below; else "cannot tell".
    """
    finals = final_returns(iterations)
    if finals.empty or finals["final_return"].isna().all():
        return pd.DataFrame()
    runs = {name: part["final_return"].dropna().to_numpy() for name, part in finals.groupby("trial_name", sort=False)}
    speeds = {name: part["steps_per_s"] for name, part in finals.groupby("trial_name", sort=False)}
    base = runs.get(baseline, np.array([]))
    band = tolerance * abs(iqm(base)) if len(base) else float("nan")
    targets = to_target(iterations, target_return) if target_return is not None else None
    rows = []
    for name, mine in runs.items():
        low, high = stratified_bootstrap_ci([mine], iqm, n_resamples=n_resamples)
        row = {
            "trial_name": name,
            "runs": len(mine),
            "final_return_iqm": iqm(mine),
            "final_return_iqm_ci_low": low,
            "final_return_iqm_ci_high": high,
            "final_return_min": float(mine.min()) if len(mine) else np.nan,
            "final_return_max": float(mine.max()) if len(mine) else np.nan,
            "steps_per_s_min": float(speeds[name].min()),
            "steps_per_s_max": float(speeds[name].max()),
        }
        if name == baseline or not len(base):
            row.update(
                verdict="baseline" if name == baseline else "cannot tell", diff_iqm=0.0 if name == baseline else np.nan
            )
        else:
            d_low, d_high = stratified_bootstrap_ci([mine, base], lambda a, b: iqm(a) - iqm(b), n_resamples=n_resamples)
            p_low, p_high = stratified_bootstrap_ci([mine, base], probability_of_improvement, n_resamples=n_resamples)
            verdict, needed = _verdict(d_low, d_high, band, min(len(mine), len(base)))
            row.update(
                diff_iqm=iqm(mine) - iqm(base),
                diff_iqm_ci_low=d_low,
                diff_iqm_ci_high=d_high,
                p_as_good=probability_of_improvement(mine, base),
                p_as_good_ci_low=p_low,
                p_as_good_ci_high=p_high,
                verdict=verdict,
                seeds_needed=needed,
            )
        if targets is not None:
            hit = targets[targets["trial_name"] == name]
            reached = hit.dropna(subset=["env_steps_to_target"])
            row.update(
                reached=f"{len(reached)}/{len(hit)}",
                env_steps_to_target=float(reached["env_steps_to_target"].median()) if len(reached) else np.nan,
                time_to_target_s=float(reached["time_to_target_s"].median()) if len(reached) else np.nan,
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _verdict(low: float, high: float, band: float, runs: int) -> tuple[str, float]:
    """The verdict of a difference's interval against the tolerance band, and for "cannot tell" the runs per config
    that would make the interval as narrow as the band (its half-width shrinks as one over the square root)."""
    if np.isnan(low) or np.isnan(band):
        return "cannot tell", np.nan
    if -band <= low and high <= band:
        return "as well", np.nan
    if low > 0:
        return "better", np.nan
    if high < 0:
        return "worse", np.nan
    half = (high - low) / 2
    return "cannot tell", float(math.ceil(runs * (half / band) ** 2)) if band > 0 else np.nan


def curves(iterations: pd.DataFrame, *, by: str = "env_steps", points: int = 40) -> pd.DataFrame:
    """Learning curves for the dashboard and ``compare``: per config, the episode return of its runs on a common
    grid of ``by`` ("env_steps", or "train_s": wall-clock inside iterations), interpolated; columns trial_name,
    label, <by>, return_mean, return_low, return_high (the runs' lowest and highest), runs."""
    if RETURN not in iterations or iterations[RETURN].isna().all():
        return pd.DataFrame()
    out = []
    for name, config in iterations.groupby("trial_name", sort=False):
        tracks = []
        for _, run in config.sort_values("iteration").groupby(trial_key(config), sort=False):
            x = steps_so_far(run) if by == "env_steps" else run["time_this_iter_s"].astype(float).cumsum()
            ok = run[RETURN].notna().to_numpy()
            if ok.sum() >= 2:
                tracks.append((x.to_numpy()[ok], run[RETURN].to_numpy(float)[ok]))
        if not tracks:
            continue
        grid = np.linspace(max(t[0][0] for t in tracks), min(t[0][-1] for t in tracks), points)
        ys = np.array([np.interp(grid, tx, ty) for tx, ty in tracks])
        out.append(
            pd.DataFrame(
                {
                    "trial_name": name,
                    "label": config["label"].iloc[0] if "label" in config else name,
                    by: grid,
                    "return_mean": ys.mean(axis=0),
                    "return_low": ys.min(axis=0),
                    "return_high": ys.max(axis=0),
                    "runs": len(tracks),
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()
