"""The statistics every part of the package states its numbers with: one interval, one stopping rule.

The precision stopper (while a sweep runs), the resume guard (whether a
trial already finished), the report (whether the precision asked was
reached), the drift check and the comparison all call these, so a decision
and the figures printed beside it are the same computation. Pure numpy and
pandas.

The iteration rows they read have ``iteration``, ``time_this_iter_s`` and,
optionally, ``iterations_since_restore`` (Tune's counter, 1 on the first
iteration after a trial was restored from a checkpoint).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def bootstrap_ci(
    values: np.ndarray, *, stat=np.median, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat``; (nan, nan) for fewer than 2 values."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    samples = rng.choice(values, size=(n_resamples, len(values)), replace=True)
    stats = stat(samples, axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)


def relative_half_width(values: np.ndarray, *, seed: int = 0, n_resamples: int = 2000) -> float:
    """The wider side of the median's bootstrap 95 % interval, relative to the median; NaN under 2 values."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    lo, hi = bootstrap_ci(values, seed=seed, n_resamples=n_resamples)
    if np.isnan(lo):
        return float("nan")
    median = float(np.median(values))
    return max(median - lo, hi - median) / median if median else float("nan")


def precise_enough(times: np.ndarray, *, precision: float, min_measured: int) -> bool:
    """The precision rule: at least ``min_measured`` measured times whose interval is within +-``precision``."""
    times = np.asarray(times, dtype=float)
    times = times[~np.isnan(times)]
    return len(times) >= min_measured and relative_half_width(times) <= precision


#: What helps where the noise puts a precision target out of reach: the sweep says it, and the report repeats it.
PRECISION_HELP = (
    "a bigger train_batch_size (longer iterations average out more noise), fewer trials at once, or a quieter machine"
)


def variation_pct(values: np.ndarray) -> float:
    """Coefficient of variation (sample standard deviation over the mean), in %: how noisy the iterations were."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) < 2 or not values.mean():
        return float("nan")
    return float(100 * values.std(ddof=1) / values.mean())


def iterations_needed(times: np.ndarray, *, precision: float) -> int | None:
    """Measured iterations the precision rule would need at this noise: None where it cannot say (under 2 times).

    The interval's half-width shrinks as one over the square root of the
    iterations, so n measured at half-width h need about n (h / precision)^2.
    """
    times = np.asarray(times, dtype=float)
    times = times[~np.isnan(times)]
    width = relative_half_width(times)
    if len(times) < 2 or np.isnan(width):
        return None
    return max(len(times), int(np.ceil(len(times) * (width / precision) ** 2)))


def precision_out_of_reach(
    iterations: pd.DataFrame,
    *,
    cap: int,
    warmup_iterations: int,
    precision: float | None,
    min_measured: int,
    asynchronous: bool = False,
) -> dict | None:
    """Whether one trial's noise puts the precision target beyond its cap, once ``min_measured`` are in.

    Returns None while it can still be reached (or before it can be judged),
    else {"measured", "half_width", "needed", "possible"}: measured
    iterations so far, their interval's relative half-width, about how many
    the target needs, and how many the cap allows.
    """
    if precision is None or iterations.empty:
        return None
    times = cost(measured(iterations, warmup_iterations), asynchronous=asynchronous).to_numpy(float)
    possible = cap - warmup_iterations
    if len(times) < min_measured or precise_enough(times, precision=precision, min_measured=min_measured):
        return None
    needed = iterations_needed(times, precision=precision)
    if needed is None or needed <= possible:
        return None
    return {"measured": len(times), "half_width": relative_half_width(times), "needed": needed, "possible": possible}


def ratio_of_medians(first: np.ndarray, again: np.ndarray, *, n_resamples: int = 2000, seed: int = 0) -> dict:
    """Median of ``again`` over median of ``first``, with a percentile bootstrap 95 % interval resampling both.

    The drift check's question (the baseline's times at the sweep's end over
    its times at the start) and the comparison's (a config's env steps/s in
    one experiment over another's). Returns ratio, ci_low, ci_high, n_first,
    n_again; NaN where a side has no value.
    """
    a, b = np.asarray(first, float), np.asarray(again, float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not len(a) or not len(b):
        nan = float("nan")
        return {"ratio": nan, "ci_low": nan, "ci_high": nan, "n_first": len(a), "n_again": len(b)}
    rng = np.random.default_rng(seed)
    ratios = np.median(rng.choice(b, (n_resamples, len(b))), axis=1) / np.median(
        rng.choice(a, (n_resamples, len(a))), axis=1
    )
    low, high = np.percentile(ratios, [2.5, 97.5])
    return {
        "ratio": float(np.median(b) / np.median(a)),
        "ci_low": float(low),
        "ci_high": float(high),
        "n_first": len(a),
        "n_again": len(b),
    }


def measured(iterations: pd.DataFrame, warmup_iterations: int) -> pd.DataFrame:
    """The iterations that count: the first ``warmup_iterations`` after every (re)start excluded.

    A trial continued from a checkpoint (a resumed sweep) starts new actors, so
    its first iterations after the restore pay start-up again. Tune's
    ``iterations_since_restore`` restarts at 1 there; without it (or where it is
    missing) the trial is taken to have run in one go.
    """
    it = iterations["iteration"]
    since = iterations["iterations_since_restore"].fillna(it) if "iterations_since_restore" in iterations else it
    return iterations[(it > warmup_iterations) & (since > warmup_iterations)]


def cost(iterations: pd.DataFrame, *, asynchronous: bool = False) -> pd.Series:
    """What one iteration cost, as the precision rule and the drift check measure it: its time
    (``time_this_iter_s``: PPO's iterations sample a fixed batch), or for an asynchronous algorithm (APPO,
    IMPALA: time-boxed iterations of however many steps) the seconds per 1,000 env steps sampled."""
    if not asynchronous:
        return iterations["time_this_iter_s"].astype(float)
    steps = iterations["env_steps_sampled"].astype(float)
    return (1000 * iterations["time_this_iter_s"] / steps.where(steps > 0)).astype(float)


def steps_so_far(iterations: pd.DataFrame) -> pd.Series:
    """Env steps one trial had sampled at each of its rows (in iteration order): RLlib's lifetime count where
    every row has it (``env_steps_lifetime`` as a trial's results are read, ``env_steps_sampled_lifetime`` in the
    loader's table), else the running sum of ``env_steps_sampled``. The training budget stops by it, and a
    learning check's curves and time to target are drawn along it."""
    for column in ("env_steps_lifetime", "env_steps_sampled_lifetime"):
        if column in iterations and iterations[column].notna().all():
            return iterations[column].astype(float)
    if "env_steps_sampled" not in iterations:
        return pd.Series(0.0, index=iterations.index)
    return iterations["env_steps_sampled"].astype(float).cumsum()


def sampled(iterations: pd.DataFrame) -> float:
    """Env steps one trial sampled so far (``steps_so_far``'s last count)."""
    steps = steps_so_far(iterations)
    return float(steps.max()) if len(steps) else 0.0


def trial_done(
    iterations: pd.DataFrame,
    *,
    cap: int,
    warmup_iterations: int,
    precision: float | None,
    min_measured: int,
    asynchronous: bool = False,
    env_steps: int | None = None,
) -> bool:
    """Did one trial's iterations end it: the ``cap`` reached, ``env_steps`` sampled (a training budget), or
    (with a ``precision``) an interval tight enough?

    The rule the precision stopper stops by, the resume guard recognises a
    finished trial by, and the sweep tells a finished trial from an
    interrupted one by. ``iterations``: one trial's rows, each iteration once
    (with ``env_steps_sampled`` for an ``asynchronous`` algorithm, ``cost``).
    """
    if iterations.empty:
        return False
    if int(iterations["iteration"].max()) >= cap:
        return True
    if env_steps is not None and sampled(iterations) >= env_steps:
        return True
    if precision is None:
        return False
    times = cost(measured(iterations, warmup_iterations), asynchronous=asynchronous).to_numpy(float)
    return precise_enough(times, precision=precision, min_measured=min_measured)
