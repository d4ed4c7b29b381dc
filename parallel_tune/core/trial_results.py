"""A trial's own record of its iterations: Tune's ``result.json``, one JSON line per iteration.

Read by the loader (every column) and by a resumed sweep (whether a trial
already finished, and the times its precision stopper had seen), so both
agree on what a trial measured. Two rules live here:

- a line cut short (a process killed while writing) is dropped and said, never fatal;
- where a restore ran an iteration again (a sweep killed after the
  iteration's result was written but before its checkpoint was), the first
  complete run of that iteration is the measurement; the re-run, the first
  iteration of a new process, is warm-up and is dropped (``first_runs``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from parallel_tune.core.files import RESULTS

#: Tune's result keys this module reads, under the names the package's tables use.
ITERATION, SINCE_RESTORE, TIME = "training_iteration", "iterations_since_restore", "time_this_iter_s"
#: Env steps sampled in the iteration (RLlib's env runner metrics), and since the trial began (the algorithm's).
STEPS, LIFETIME_STEPS = "env_runners/num_env_steps_sampled", "num_env_steps_sampled_lifetime"


def read(trial_dir: Path) -> tuple[pd.DataFrame, str]:
    """Every result line of one trial, flattened as Tune's ``progress.csv`` is (``env_runners/...``).

    Returns (rows, problem): ``problem`` is "" or one line saying what could
    not be read (no file, or lines cut short, which are dropped).
    """
    path = Path(trial_dir) / RESULTS
    if not path.exists():
        return pd.DataFrame(), f"no {RESULTS} in {trial_dir}"
    rows, bad = [], 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            bad += 1
    problem = f"{bad} unreadable line(s) in {path} (cut short?) were skipped" if bad else ""
    if not rows:
        return pd.DataFrame(), problem or f"{path} holds no results"
    return pd.json_normalize(rows, sep="/"), problem


def first_runs(rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Each iteration's first complete run, in order, and how many later runs of an iteration were dropped."""
    if rows.empty or ITERATION not in rows:
        return rows, 0
    kept = rows.dropna(subset=[ITERATION]).drop_duplicates(ITERATION, keep="first")
    return kept.sort_values(ITERATION, kind="stable"), int(rows[ITERATION].notna().sum() - len(kept))


def steps_sampled(rows: pd.DataFrame) -> pd.Series:
    """Env steps sampled in each iteration (one trial's rows, in order): the env runners' own count, or where an
    asynchronous algorithm's iteration closed before its runners reported, the growth of the lifetime count."""
    own = rows[STEPS].astype(float) if STEPS in rows else pd.Series(float("nan"), index=rows.index)
    if LIFETIME_STEPS not in rows:
        return own
    grown = rows[LIFETIME_STEPS].astype(float).diff().fillna(rows[LIFETIME_STEPS].astype(float))
    return own.fillna(grown)


def timings(trial_dir: Path) -> pd.DataFrame:
    """One trial's measured iterations as the stopping rule reads them: iteration, iterations_since_restore,
    time_this_iter_s, env_steps_sampled, env_steps_lifetime (``parallel_tune.core.stats``), first runs only;
    empty without results."""
    rows, _ = read(trial_dir)
    rows, _ = first_runs(rows)
    if rows.empty or ITERATION not in rows or TIME not in rows:
        return pd.DataFrame(columns=["iteration", SINCE_RESTORE, TIME, "env_steps_sampled", "env_steps_lifetime"])
    out = pd.DataFrame({"iteration": rows[ITERATION].astype(int), TIME: rows[TIME].astype(float)})
    out[SINCE_RESTORE] = rows[SINCE_RESTORE] if SINCE_RESTORE in rows else out["iteration"]
    out["env_steps_sampled"] = steps_sampled(rows)
    lifetime = rows[LIFETIME_STEPS] if LIFETIME_STEPS in rows else pd.Series(float("nan"), index=rows.index)
    out["env_steps_lifetime"] = lifetime.astype(float)
    return out.reset_index(drop=True)
