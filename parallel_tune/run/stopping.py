"""When a trial has been measured enough, and never running a finished trial again: one Tune scheduler.

``SweepScheduler`` keeps Tune's first-in-first-out order and decides two
things from each trial's own iterations, by ``parallel_tune.core.stats.trial_done``
(the rule the report states): a running trial stops at the space's cap or,
with a precision target, as soon as its measured iterations (warm-up
excluded, counted again after a restore, at least ``min_measured_iterations``)
give a median whose bootstrap 95 % interval is within +-precision of it; and a
trial about to start whose results already end it is stopped instead.

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
from pathlib import Path

import pandas as pd
from ray.tune import Stopper
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from parallel_tune.core import stats, trial_results
from parallel_tune.core.spaces import SearchSpace, asynchronous

logger = logging.getLogger(__name__)


def done(space: SearchSpace, iterations: pd.DataFrame) -> bool:
    """Do a trial's iterations (``trial_results.timings``' columns) end it by ``space``'s cap or precision?"""
    return stats.trial_done(
        iterations,
        cap=space.iterations,
        warmup_iterations=space.warmup_iterations,
        precision=space.precision,
        min_measured=space.min_measured_iterations,
        asynchronous=asynchronous(space.algorithm),
    )


def finished(space: SearchSpace, trial_dir: Path) -> bool:
    """Do this trial's own results (its ``result.json``) end it?"""
    return done(space, trial_results.timings(trial_dir))


class SweepScheduler(FIFOScheduler):
    """FIFO scheduling that stops a trial when its iterations end it, and never starts a finished one."""

    def __init__(self, space: SearchSpace):
        super().__init__()
        self.space = space
        self._rows: dict[str, list[dict]] = {}
        self._checked: set[str] = set()
        self._told: set[str] = set()

    def __getstate__(self):  # Tune pickles its config; what a sweep measured is read again from disk
        return {**self.__dict__, "_rows": {}, "_checked": set(), "_told": set()}

    def _iterations(self, trial) -> list[dict]:
        """The trial's first runs of each iteration: from its results on disk the first time, then as reported.

        A trial Tune has not yet given a directory has no results to read.
        """
        if trial.trial_id not in self._rows:
            named = trial.storage is not None and trial.storage.trial_dir_name is not None
            known = trial_results.timings(Path(trial.path)) if named else pd.DataFrame()
            self._rows[trial.trial_id] = known.to_dict("records")
        return self._rows[trial.trial_id]

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
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
        return TrialScheduler.STOP if done(self.space, pd.DataFrame(rows)) else TrialScheduler.CONTINUE

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
            if done(self.space, pd.DataFrame(self._iterations(trial))):
                logger.info("%s: its results already end it; not run again", trial)
                tune_controller.stop_trial(trial)
        return super().choose_trial_to_run(tune_controller)


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
