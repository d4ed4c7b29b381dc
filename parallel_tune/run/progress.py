"""One line per iteration: which trial of how many, iteration, elapsed, ETA.

It also stamps every result with ``reported_at_s``, when it reached the
driver (Tune's own ``timestamp`` is whole seconds): the harness's own time
between measurements is measured from it.
"""

from __future__ import annotations

import sys
import time

from ray.tune import Callback

from parallel_tune.core.stats import PRECISION_HELP
from parallel_tune.core.tables import REPORTED_AT


def _hms(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressCallback(Callback):
    """Prints progress to stderr.

    The ETA assumes later trials take as long per iteration as every
    iteration so far (a resumed sweep's earlier trials included), and (``adaptive``:
    a precision target stops trials early) as many iterations as the finished
    trials needed on average; before any finished, the cap. ``done_before``:
    trials a resumed sweep had already finished, so its trials keep their numbers.
    ``env_steps``: a training budget; a trial is then expected to run as many
    iterations as the budget takes at its own env steps per iteration.
    ``scheduler``: the sweep's ``SweepScheduler``, which says as soon as a
    trial's noise puts the precision target beyond the cap, and when a race
    stops a trial; both are printed.
    """

    def __init__(
        self,
        total_trials: int,
        iterations: int,
        stream=None,
        adaptive: bool = False,
        done_before: int = 0,
        scheduler=None,
        env_steps: int | None = None,
    ):
        self.total_trials = total_trials
        self.done_before = done_before
        self.scheduler = scheduler
        self.env_steps = env_steps
        self.iterations = iterations
        self.adaptive = adaptive
        self.stream = stream
        self._started = time.monotonic()
        self._order: dict[str, int] = {}
        self._iter_s: list[float] = []
        self._needed: list[int] = []

    def __getstate__(self):  # Tune pickles callbacks into its experiment state
        state = dict(self.__dict__)
        state["stream"] = None
        return state

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    def _index(self, trial) -> int:
        return self._order.setdefault(trial.trial_id, self.done_before + len(self._order) + 1)

    def on_trial_start(self, iteration, trials, trial, **info):
        self._print(f"[trial {self._index(trial)}/{self.total_trials}] {trial} started")

    def expected_iterations(self) -> float:
        """Iterations a trial is expected to run: the cap, or what finished trials needed (adaptive)."""
        if self.adaptive and self._needed:
            return sum(self._needed) / len(self._needed)
        return float(self.iterations)

    def _seconds_per_iteration(self, trials) -> float:
        """The mean iteration time so far, over the iterations seen here and those of trials a resumed sweep
        finished before (from their last results): a resume's ETA is not the first config's alone."""
        total, count = sum(self._iter_s), len(self._iter_s)
        for t in trials:
            last = t.last_result or {}
            if t.trial_id not in self._order and last.get("time_total_s") and last.get("training_iteration"):
                total, count = total + float(last["time_total_s"]), count + int(last["training_iteration"])
        return total / count

    def on_trial_result(self, iteration, trials, trial, result, **info):
        result[REPORTED_AT] = time.time()
        done_iters = result.get("training_iteration", 0)
        self._iter_s.append(result.get("time_this_iter_s", 0.0))
        finished = sum(1 for t in trials if t.status in ("TERMINATED", "ERROR"))
        expected = self.expected_iterations()
        steps = result.get("env_runners", {}).get("num_env_steps_sampled") or result.get(
            "env_runners/num_env_steps_sampled"
        )
        if self.env_steps and steps:  # the budget, at this trial's env steps per iteration
            expected = min(expected, float(-(-self.env_steps // int(steps))))
        later = max(self.total_trials - finished - 1, 0) * expected
        remaining_iters = later + max(expected - done_iters, 1 if done_iters < self.iterations else 0)
        mean = self._seconds_per_iteration(trials)
        elapsed = time.monotonic() - self._started
        self._print(
            f"[trial {self._index(trial)}/{self.total_trials}] {trial} "
            f"iter {done_iters}/{self.iterations} {result.get('time_this_iter_s', 0.0):.2f} s/iter "
            f"elapsed {_hms(elapsed)} eta {_hms(max(remaining_iters, 0) * mean)}"
        )
        outlook = self.scheduler.out_of_reach(trial.trial_id) if self.scheduler is not None else None
        if outlook:
            target = 100 * self.scheduler.space.precision
            self._print(
                f"[trial {self._index(trial)}/{self.total_trials}] {trial}: ±{target:g} % "
                f"is out of reach within {self.iterations} iterations: ±{100 * outlook['half_width']:.1f} % after "
                f"{outlook['measured']} measured, about {outlook['needed']} needed ({outlook['possible']} allowed); "
                f"it runs to the cap. What helps: {PRECISION_HELP}."
            )
        out = self.scheduler.raced_out(trial.trial_id) if self.scheduler is not None else None
        if out:
            self._print(
                f"[trial {self._index(trial)}/{self.total_trials}] {trial} raced out after iteration "
                f"{out['iteration']}: at best {out['steps_per_s_ci_high']:,.0f} env steps/s (95 % CI "
                f"{out['steps_per_s_ci_low']:,.0f}-{out['steps_per_s_ci_high']:,.0f}), below {out['incumbent']}'s "
                f"{out['incumbent_steps_per_s']:,.0f} by more than the margin"
            )

    def on_trial_complete(self, iteration, trials, trial, **info):
        if trial.trial_id not in self._order:  # never started here: a resumed trial whose own results end it
            self._print(f"{trial}: its results already end it; not run again")
            return
        self._needed.append(int((trial.last_result or {}).get("training_iteration", self.iterations)))
        self._print(f"[trial {self._index(trial)}/{self.total_trials}] {trial} finished")

    def on_trial_error(self, iteration, trials, trial, **info):
        self._print(f"[trial {self._index(trial)}/{self.total_trials}] {trial} FAILED (see {trial.path})")
