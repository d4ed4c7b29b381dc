"""When a trial has been measured enough: a Tune stopper over its reported results.

Without a precision target every trial runs the space's ``iterations``. With
one, a trial stops as soon as its measured iterations (warm-up excluded,
counted again after a restore, at least ``min_measured_iterations``) give a
median whose bootstrap 95 % interval is within +-precision of it
(``metrics.precise_enough``, the same computation the report states);
``iterations`` stays the cap.
"""

from __future__ import annotations

from ray.tune import Stopper

from parallel_tune import metrics
from parallel_tune.spaces import SearchSpace


class PrecisionStopper(Stopper):
    def __init__(self, space: SearchSpace):
        self.iterations = space.iterations
        self.warmup = space.warmup_iterations
        self.precision = space.precision
        self.min_measured = space.min_measured_iterations
        self._times: dict[str, list[float]] = {}

    def __call__(self, trial_id: str, result: dict) -> bool:
        iteration = int(result.get("training_iteration", 0))
        if iteration >= self.iterations:
            return True
        if self.precision is None:
            return False
        since = int(result.get("iterations_since_restore", iteration))
        times = self._times.setdefault(trial_id, [])
        if iteration > self.warmup and since > self.warmup:  # as metrics.measured counts them
            times.append(float(result["time_this_iter_s"]))
        return metrics.precise_enough(times, precision=self.precision, min_measured=self.min_measured)

    def stop_all(self) -> bool:
        return False


def done(space: SearchSpace, result) -> bool:
    """Did a trial of a finished ``tuner.fit()`` end as the stopper meant (its cap, or precise enough)?

    ``result``: a ``ray.tune.Result``. False for one cut short (Ctrl-C): the sweep is then interrupted.
    """
    if (result.metrics or {}).get("training_iteration", 0) >= space.iterations:
        return True
    df = result.metrics_dataframe
    if space.precision is None or df is None or "time_this_iter_s" not in df:
        return False
    times = metrics.measured(df.rename(columns={"training_iteration": "iteration"}), space.warmup_iterations)
    return metrics.precise_enough(
        times["time_this_iter_s"].to_numpy(float), precision=space.precision, min_measured=space.min_measured_iterations
    )
