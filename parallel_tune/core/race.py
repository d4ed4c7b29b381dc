"""Racing the configs to the fastest (``--goal fastest``): the rule, the order, the log, and an offline replay.

A race (Maron & Moore's Hoeffding races, Birattari's F-Race) stops measuring
a config as soon as it is clearly slower than the best one so far, instead of
measuring every config to the precision target. The rule, in env steps per
second over a trial's measured iterations (warm-up excluded, as everywhere):

    eliminate C once  C has at least ``min_measured`` measured iterations, and
                      the upper end of the bootstrap 95 % interval of C's median
                      < (1 - margin) x the incumbent's median

The incumbent is the fastest config, by median, among those measured to the
end (to the precision target or the cap); a config that ends faster becomes
the incumbent. The interval is ``stats.bootstrap_ci``, the one the precision
rule, the report and the comparison state their numbers with. Configs run
fastest-predicted first (``order``), so the incumbent is strong early.

The sweep's scheduler (``parallel_tune.run.stopping``) applies ``judge`` as
results arrive and logs each decision in ``race.jsonl``; ``replay`` applies the
same rule to iteration streams already measured (a test replays every
committed experiment). Pure numpy and pandas, no Ray.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parallel_tune.core import jsonlines, stats
from parallel_tune.core.files import RACE
from parallel_tune.core.spaces import (
    DEFAULT_MARGIN,
    ENVS_PER_RUNNER,
    RUNNERS,
    concurrent_processes,
    sampling_processes,
)

#: Policy inference costs about as much as one env step per forward pass in RLlib's env runners, and a runner's
#: envs share one forward pass: the cost model's share of a step's time that envs per runner amortise.
INFERENCE_PER_STEP = 1.0


def steps_per_s(iterations: pd.DataFrame, warmup_iterations: int) -> np.ndarray:
    """Env steps per second of each measured iteration (``env_steps_sampled`` / ``time_this_iter_s``)."""
    kstep = stats.cost(stats.measured(iterations, warmup_iterations), asynchronous=True).to_numpy(float)
    return 1000.0 / kstep[~np.isnan(kstep)]


def judge(
    candidate: pd.DataFrame,
    incumbent: pd.DataFrame,
    *,
    warmup_iterations: int,
    min_measured: int,
    margin: float,
) -> dict[str, Any] | None:
    """The evidence that ``candidate`` is out of the race against ``incumbent`` (each one trial's iteration
    rows), or None while it is not (or cannot be judged yet: under ``min_measured`` measured iterations).

    Evidence: the iteration judged, the candidate's measured iterations, its
    median env steps/s and interval, and the incumbent's median.
    """
    mine = steps_per_s(candidate, warmup_iterations)
    theirs = steps_per_s(incumbent, warmup_iterations)
    if len(mine) < max(min_measured, 2) or not len(theirs):
        return None
    low, high = stats.bootstrap_ci(mine)
    best = float(np.median(theirs))
    if not high < (1 - margin) * best:
        return None
    return {
        "iteration": int(candidate["iteration"].max()),
        "measured": len(mine),
        "steps_per_s": float(np.median(mine)),
        "steps_per_s_ci_low": low,
        "steps_per_s_ci_high": high,
        "incumbent_steps_per_s": best,
    }


def predicted_speed(config: dict[str, Any], cpus: float, ceiling: dict[int, float] | None = None) -> float:
    """A config's expected env steps/s, up to a common factor: only the order matters.

    With a raw-environment ceiling (env steps/s of the bare env at each number
    of processes): the ceiling at the config's sampling processes. Without
    one: the sampling processes, scaled down where the config keeps more
    processes busy than ``cpus`` (``spaces.concurrent_processes``). Either way
    times the share of a step that is the env's rather than policy inference,
    which a runner's envs share: envs / (envs + ``INFERENCE_PER_STEP``).
    """
    runners = int(config.get(RUNNERS, 0) or 0)
    envs = int(config.get(ENVS_PER_RUNNER, 1) or 1)
    width = int(sampling_processes(runners))
    if ceiling and width in ceiling:
        raw = float(ceiling[width])
    else:
        busy = concurrent_processes(config)
        raw = width * min(1.0, float(cpus) / busy) if busy else float(width)
    return raw * envs / (envs + INFERENCE_PER_STEP)


def order(
    points: list[dict[str, Any]],
    full_configs: list[dict[str, Any]],
    *,
    cpus: float,
    ceiling: dict[int, float] | None = None,
) -> list[int]:
    """Indices of ``points`` fastest-predicted first (``predicted_speed`` of each one's ``full_configs`` entry);
    ties keep the grid's order."""
    speed = [predicted_speed(c, cpus, ceiling) for c in full_configs]
    return sorted(range(len(points)), key=lambda i: (-speed[i], i))


def basis(full_configs: list[dict[str, Any]], ceiling: dict[int, float] | None) -> str:
    """What the order was predicted from: the measured ceiling where it covers every width, else the cost model."""
    widths = {int(sampling_processes(int(c.get(RUNNERS, 0) or 0))) for c in full_configs}
    return "the raw-environment ceiling" if ceiling and widths <= set(ceiling) else "a cost model"


def replay(
    streams: list[tuple[str, pd.DataFrame]],
    *,
    cap: int,
    warmup_iterations: int,
    precision: float | None,
    min_measured: int,
    margin: float = DEFAULT_MARGIN,
) -> pd.DataFrame:
    """The race over iteration streams already measured, run one config at a time in the order given.

    ``streams``: (label, that config's iteration rows as measured to its end,
    with ``iteration``, ``time_this_iter_s``, ``env_steps_sampled``). Each
    stream is cut where the race would have stopped it (eliminated, or ended
    by ``stats.trial_done``). Returns one row per config, in race order:
    ``label``, ``outcome`` (winner, measured, eliminated), ``iterations``
    (run in the race), ``iterations_full`` (in the stream), ``trial_s`` and
    ``trial_s_full`` (their summed iteration times), ``steps_per_s`` (median
    over what the race measured), ``incumbent`` (the label it was judged
    against, if eliminated).
    """
    rows, incumbent, best = [], None, -np.inf
    for label, stream in streams:
        stream = stream.sort_values("iteration").reset_index(drop=True)
        cut, outcome, against = len(stream), "measured", None
        for k in range(1, len(stream) + 1):
            seen = stream.iloc[:k]
            if stats.trial_done(
                seen, cap=cap, warmup_iterations=warmup_iterations, precision=precision, min_measured=min_measured
            ):
                cut = k
                break
            if incumbent is not None and judge(
                seen, incumbent[1], warmup_iterations=warmup_iterations, min_measured=min_measured, margin=margin
            ):
                cut, outcome, against = k, "eliminated", incumbent[0]
                break
        seen = stream.iloc[:cut]
        speed = float(np.median(steps_per_s(seen, warmup_iterations))) if cut else float("nan")
        if outcome == "measured" and speed > best:
            incumbent, best = (label, seen), speed
        rows.append(
            {
                "label": label,
                "outcome": outcome,
                "iterations": cut,
                "iterations_full": len(stream),
                "trial_s": float(seen["time_this_iter_s"].sum()),
                "trial_s_full": float(stream["time_this_iter_s"].sum()),
                "steps_per_s": speed,
                "incumbent": against,
            }
        )
    out = pd.DataFrame(rows)
    if incumbent is not None:
        out.loc[out["label"] == incumbent[0], "outcome"] = "winner"
    return out


def winner(streams: dict[str, pd.DataFrame], warmup_iterations: int) -> str | None:
    """The fastest config by median env steps/s over every measured iteration: the full grid's answer."""
    medians = {k: np.median(steps_per_s(v, warmup_iterations)) for k, v in streams.items()}
    medians = {k: v for k, v in medians.items() if v == v}
    return max(medians, key=medians.get) if medians else None


def read(experiment_dir: Path) -> dict[str, Any]:
    """The race's log (``race.jsonl``) as one dict: {} for a sweep that did not race.

    Each line is an event, later ones adding to earlier ones: the start
    (``goal``, ``margin``, ``predicted_by``, ``order``, ``started_at_s``),
    one per config raced out (``raced_out``: its name, and ``evidence``:
    ``judge``'s, plus ``incumbent`` and ``at_s``), and the end (``winner``,
    ``finished_at_s``). A line cut short by a kill is skipped.
    """
    log: dict[str, Any] = {}
    for event in jsonlines.read(Path(experiment_dir) / RACE):
        if "raced_out" in event:
            log.setdefault("eliminated", {})[event["raced_out"]] = event.get("evidence", {})
        else:
            log.update(event)
    if log:
        log.setdefault("eliminated", {})
    return log


def append(experiment_dir: Path, event: dict[str, Any]) -> None:
    """Add one event to the race's log, on a line of its own (``read`` skips one a kill cut short)."""
    jsonlines.append(Path(experiment_dir) / RACE, event)
