"""When a trial has been measured enough, and never running a finished trial again: one Tune scheduler.

``SweepScheduler`` keeps Tune's first-in-first-out order and decides two
things from each trial's own iterations, by ``parallel_tune.core.stats.trial_done``
(the rule the report states): a running trial stops at the space's cap or,
with a precision target, as soon as its measured iterations (warm-up
excluded, counted again after a restore, at least ``min_measured_iterations``)
give a median whose bootstrap 95 % interval is within +-precision of it; and a
trial about to start whose results already end it is stopped instead.

With ``goal: fastest`` it also races (``parallel_tune.core.race``): a running
trial is stopped as soon as ``race.judge`` finds it clearly slower than the
incumbent, the fastest trial measured to its end so far, and the decision is
logged in the experiment's ``race.jsonl``. The incumbent is found again from
every trial's results whenever a trial is judged, and a trial the log already
raced out is never run again, so a resumed race decides as the uninterrupted
one would have.

Tune's saved experiment state can lag a trial's own results by up to a
second (a sweep killed after a trial's last result was written, before the
state that says TERMINATED was saved), and resuming would run that trial
again from its last checkpoint. The scheduler therefore reads what a trial
already measured from its ``result.json`` the first time it sees the trial,
so a resumed sweep decides as the uninterrupted one would have, wherever the
experiment directory has moved since. (A scheduler, not a Tune ``Stopper``:
Tune pickles its stopper into the experiment state and restores that copy
on resume; a scheduler is built afresh.)
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from ray.tune import Stopper
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from parallel_tune.core import race, stats, trial_results
from parallel_tune.core.spaces import SearchSpace, asynchronous

logger = logging.getLogger(__name__)


def done(space: SearchSpace, iterations: pd.DataFrame) -> bool:
    """Do a trial's iterations (``trial_results.timings``' columns) end it by ``space``'s cap, env-step budget
    or precision?"""
    return stats.trial_done(
        iterations,
        cap=space.iterations,
        warmup_iterations=space.warmup_iterations,
        precision=space.precision,
        min_measured=space.min_measured_iterations,
        asynchronous=asynchronous(space.algorithm),
        env_steps=space.env_steps,
    )


def finished(space: SearchSpace, trial_dir: Path) -> bool:
    """Do this trial's own results (its ``result.json``) end it?"""
    return done(space, trial_results.timings(trial_dir))


def fastest(space: SearchSpace, trials: dict[str, pd.DataFrame], raced_out=()) -> tuple[str, pd.DataFrame] | None:
    """A race's incumbent: of the trials (name -> iterations) measured to their end and not ``raced_out``, the
    fastest by median env steps/s, as (name, its iterations); None before any is."""
    best, speed = None, -1.0
    for name, rows in trials.items():
        if name in raced_out or not done(space, rows):
            continue
        mine = race.steps_per_s(rows, space.warmup_iterations)
        if len(mine) and float(np.median(mine)) > speed:
            best, speed = (name, rows), float(np.median(mine))
    return best


class SweepScheduler(FIFOScheduler):
    """FIFO scheduling that stops a trial when its iterations end it, and never starts a finished one."""

    def __init__(self, space: SearchSpace, experiment_dir: Path | None = None):
        """``experiment_dir``: where a race (``space.goal == "fastest"``) keeps its log; None races without one."""
        super().__init__()
        self.space = space
        self.experiment_dir = experiment_dir
        self.racing = space.goal == "fastest"
        self._rows: dict[str, list[dict]] = {}
        self._checked: set[str] = set()
        self._told: set[str] = set()
        self._raced_out: dict[str, dict] = {}  # trial id -> the evidence, once, for the progress line

    def __getstate__(self):  # Tune pickles its config; what a sweep measured is read again from disk
        return {**self.__dict__, "_rows": {}, "_checked": set(), "_told": set(), "_raced_out": {}}

    def _iterations(self, trial) -> list[dict]:
        """The trial's first runs of each iteration: from its results on disk the first time, then as reported.

        A trial Tune has not yet given a directory has no results to read.
        """
        if trial.trial_id not in self._rows:
            known = trial_results.timings(Path(trial.path)) if _named(trial) else pd.DataFrame()
            self._rows[trial.trial_id] = known.to_dict("records")
        return self._rows[trial.trial_id]

    def _add(self, trial, result: dict) -> list[dict]:
        """The trial's iterations with this result's, unless it re-ran one already measured (after a restore)."""
        rows = self._iterations(trial)
        iteration = int(result.get(trial_results.ITERATION, 0))
        if all(r["iteration"] != iteration for r in rows):  # a re-run after a restore replaces no first run
            lifetime = float(result.get(trial_results.LIFETIME_STEPS, float("nan")))
            before = rows[-1].get("env_steps_lifetime", 0.0) if rows else 0.0
            steps = float(result.get(trial_results.STEPS, float("nan")))
            rows.append(
                {
                    "iteration": iteration,
                    trial_results.SINCE_RESTORE: int(result.get(trial_results.SINCE_RESTORE, iteration)),
                    trial_results.TIME: float(result.get(trial_results.TIME, float("nan"))),
                    # as trial_results.steps_sampled counts them: the runners' count, else the lifetime's growth
                    "env_steps_sampled": steps if steps == steps else lifetime - before,
                    "env_steps_lifetime": lifetime,
                }
            )
        return rows

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        # Tune's own stop at the cap ends a trial without on_trial_result: its last iteration arrives here.
        if result:
            self._add(trial, result)
        super().on_trial_complete(tune_controller, trial, result)

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        rows = self._add(trial, result)
        if done(self.space, pd.DataFrame(rows)):
            return TrialScheduler.STOP
        if self.racing and self._race(tune_controller, trial):
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def _race(self, tune_controller, trial) -> bool:
        """Is ``trial`` out of the race: raced out before (the log says so), or now against the incumbent?"""
        name = _name(trial)
        log = race.read(self.experiment_dir) if self.experiment_dir else {}
        if name in log.get("eliminated", {}):
            return True
        incumbent = self.incumbent(tune_controller.get_trials(), exclude=trial)
        if incumbent is None:
            return False
        evidence = race.judge(
            pd.DataFrame(self._iterations(trial)),
            incumbent[1],
            warmup_iterations=self.space.warmup_iterations,
            min_measured=self.space.min_measured_iterations,
            margin=self.space.race_margin,
        )
        if evidence is None:
            return False
        evidence = {**evidence, "incumbent": incumbent[0], "at_s": time.time()}
        self._raced_out[trial.trial_id] = evidence
        if self.experiment_dir is not None:
            race.append(self.experiment_dir, {"raced_out": name, "evidence": evidence})
        return True

    def incumbent(self, trials, exclude=None) -> tuple[str, pd.DataFrame] | None:
        """``fastest`` among Tune's ``trials`` but ``exclude``, each as far as it has measured."""
        out = race.read(self.experiment_dir).get("eliminated", {}) if self.experiment_dir else {}
        rows = {_name(t): pd.DataFrame(self._iterations(t)) for t in trials if t is not exclude and _named(t)}
        return fastest(self.space, rows, raced_out=out)

    def raced_out(self, trial_id: str) -> dict | None:
        """Once per trial: the evidence that raced it out (``race.judge``'s, plus the incumbent), else None."""
        return self._raced_out.pop(trial_id, None)

    def out_of_reach(self, trial_id: str) -> dict | None:
        """Once per trial, as soon as it can be told: the precision target its noise puts beyond the cap
        (``stats.precision_out_of_reach``'s figures), else None."""
        if trial_id in self._told or trial_id not in self._rows:
            return None
        outlook = stats.precision_out_of_reach(
            pd.DataFrame(self._rows[trial_id]),
            cap=self.space.iterations,
            warmup_iterations=self.space.warmup_iterations,
            precision=self.space.precision,
            min_measured=self.space.min_measured_iterations,
            asynchronous=asynchronous(self.space.algorithm),
        )
        if outlook:
            self._told.add(trial_id)
        return outlook

    def choose_trial_to_run(self, tune_controller):
        # ``on_trial_add`` cannot stop a trial (Tune files it by status after the call): check it here, once.
        for trial in list(tune_controller.get_trials()):
            if trial.status not in ("PENDING", "PAUSED") or trial.trial_id in self._checked:
                continue
            self._checked.add(trial.trial_id)
            if done(self.space, pd.DataFrame(self._iterations(trial))) or (
                self.racing and _named(trial) and self._race(tune_controller, trial)
            ):
                logger.info("%s: its results already end it; not run again", trial)
                tune_controller.stop_trial(trial)
        return super().choose_trial_to_run(tune_controller)


def _named(trial) -> bool:
    """Has Tune given the trial its directory (and so its name) yet?"""
    return trial.storage is not None and trial.storage.trial_dir_name is not None


def _name(trial) -> str:
    return Path(trial.path).name


class PrecisionStopper(Stopper):
    """0.1's stopper, as experiments made before 0.2 pickled it into Tune's state; it stops nothing itself.

    Tune restores a resumed experiment's stopper from that state, so the class
    must exist at the path ``parallel_tune.core.legacy`` maps 0.1's to; such a
    sweep's trials stop by ``SweepScheduler`` like any other.
    """

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return False
