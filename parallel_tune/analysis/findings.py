"""Every metric of one experiment, computed once: what the report, the dashboard and compare draw from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from parallel_tune.analysis import diagnosis, learning, metrics, racing
from parallel_tune.analysis.table import per_config
from parallel_tune.core import spaces
from parallel_tune.core.stats import cost, iterations_needed, measured, ratio_of_medians
from parallel_tune.core.tables import UNRUN

#: Runner counts above the smallest that Amdahl's law is fitted over: one point fits any serial fraction exactly.
MIN_FIT_WIDTHS = 2

if TYPE_CHECKING:  # the loader reads Tune's directories through Ray; the findings only need its tables
    from parallel_tune.analysis.load import Experiment


@dataclass
class Findings:
    """``configs``: the per-config table (``analysis.table.per_config``), every config; ``scaled``: its measured
    rows with speedup, efficiency, the loss budget and the verdict (``metrics.scaling``, ``diagnosis.diagnose``)."""

    configs: pd.DataFrame
    scaled: pd.DataFrame
    runner_slice: pd.DataFrame = field(default_factory=pd.DataFrame)
    fit: dict = field(default_factory=lambda: {"points": 0})
    recommendation: dict = field(default_factory=dict)
    by_node: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)
    restarts: pd.DataFrame = field(default_factory=pd.DataFrame)
    ceiling: pd.DataFrame | None = None
    cores: int = 0
    precision: float | None = None
    drift: dict = field(default_factory=dict)
    harness: dict = field(default_factory=dict)
    asynchronous: bool = False  # APPO, IMPALA: time-boxed iterations, judged per 1,000 env steps
    algorithm: str = "PPO"  # what the report and the dashboard name
    race: dict = field(default_factory=dict)  # a race's outcome (racing.outcomes); {} for a sweep that did not race
    learning: pd.DataFrame = field(default_factory=pd.DataFrame)  # learning.learning's table, with a learning check
    target_return: float | None = None
    curves: dict = field(default_factory=dict)  # learning.curves by "env_steps" and by "train_s", with a learning check


def of(experiment: Experiment, ceiling: pd.DataFrame | None = None) -> Findings:
    """All metric tables of one experiment (pure: no files)."""
    space = experiment.record.space
    found = findings(
        experiment.iterations,
        experiment.trials,
        experiment.telemetry,
        config_keys=experiment.config_keys,
        baseline=space.baseline_config() if space else {},
        warmup_iterations=space.warmup_iterations if space else 1,
        cores=experiment.cores,
        physical_cores=experiment.physical_cores,
        cluster=experiment.record.on_cluster,
        precision=space.precision if space else None,
        drift_iterations=experiment.drift,
        started_at_s=experiment.record.options.get("started_at_s"),
        resumed_at_s=experiment.resumed_at_s,
        ceiling=ceiling,
        asynchronous=spaces.asynchronous(space.algorithm) if space else False,
    )
    found.algorithm = space.algorithm if space else "PPO"
    if experiment.race and space is not None and not found.scaled.empty:
        found.race = racing.outcomes(
            found.scaled,
            experiment.iterations,
            experiment.race,
            config_keys=experiment.config_keys,
            warmup_iterations=space.warmup_iterations,
            cap=space.iterations,
            precision=space.precision,
            drift_iterations=experiment.drift,
            asynchronous=found.asynchronous,
        )
        out = found.race.get("configs", pd.DataFrame())
        raced_out = set(out.loc[out["outcome"] == "raced out", "trial_name"]) if len(out) else set()
        found.scaled["raced_out"] = found.scaled["trial_name"].isin(raced_out)
    if space is not None and space.learning and not found.scaled.empty:
        base = found.scaled.loc[found.scaled["is_baseline"], "trial_name"]
        found.target_return = space.target_return
        found.learning = learning.learning(
            experiment.iterations,
            baseline=str(base.iloc[0]) if len(base) else "",
            target_return=space.target_return,
        )
        found.recommendation = metrics.recommend(found.scaled, learned=found.learning)
        found.curves = {by: learning.curves(experiment.iterations, by=by) for by in ("env_steps", "train_s")}
    return found


def findings(
    iterations: pd.DataFrame,
    trials: pd.DataFrame,
    telemetry: pd.DataFrame,
    *,
    config_keys: list[str],
    baseline: dict,
    warmup_iterations: int,
    cores: int,
    physical_cores: int | None = None,
    cluster: bool = False,
    ceiling: pd.DataFrame | None = None,
    precision: float | None = None,
    drift_iterations: pd.DataFrame | None = None,
    started_at_s: float | None = None,
    resumed_at_s: list[float] | tuple = (),
    asynchronous: bool = False,
) -> Findings:
    """Every metric over one experiment's tables (``analysis.load.Experiment``'s).

    ``cores``: the real (logical) cores of the node(s) the sweep ran on, which
    the diagnosis and the misconfiguration checks judge the configs against
    (``cluster``: a Ray cluster's nodes, each load judged against its own node);
    ``physical_cores`` (default ``cores``): what a config's concurrent processes
    must fit. Amdahl's fit and Karp-Flatt leave out every config whose
    processes did not fit the physical cores, whatever its verdict: its
    speedup says how many processes shared a core, not how RLlib scales; they
    fit only where ``MIN_FIT_WIDTHS`` runner counts above the smallest remain.
    ``precision``: the sweep's target; adds ``precision_reached`` and
    ``iterations_needed`` (measured iterations that target needs at the
    config's noise, ``stats.iterations_needed``) per config.
    ``drift_iterations``: the baseline re-measured at the end (same columns as
    ``iterations``); ``drift`` compares it with the same config's own trial
    (``ratio_of_medians`` plus its ``label`` and ``is_baseline``).
    ``started_at_s``, ``resumed_at_s``: when the sweep started and each of its
    resumes did, for ``harness_time``; each
    measured config then gets its ``startup_s``. ``asynchronous`` (APPO,
    IMPALA): iterations are time-boxed, so every time is judged per 1,000 env
    steps, and the verdicts come from ``diagnosis.asynchronous_limits``.
    """
    configs = per_config(
        iterations,
        trials,
        telemetry,
        config_keys=config_keys,
        warmup_iterations=warmup_iterations,
        asynchronous=asynchronous,
    )
    by_node = metrics.telemetry_by_node(telemetry)
    warnings = (
        metrics.misconfigurations(configs, logical_cores=cores, by_node=by_node, cluster=cluster)
        if not configs.empty
        else []
    )
    empty = Findings(
        configs,
        pd.DataFrame(),
        by_node=by_node,
        warnings=warnings,
        ceiling=ceiling,
        cores=cores,
        asynchronous=asynchronous,
    )
    if configs.empty or not configs["measured"].any():
        return empty
    ran = configs[configs["measured"] & ~configs["status"].isin(UNRUN)]
    scaled = metrics.scaling(
        ran,
        baseline,
        group_keys=config_keys,
        iterations=iterations,
        warmup_iterations=warmup_iterations,
        asynchronous=asynchronous,
    )
    if ceiling is not None and not ceiling.empty:
        scaled = metrics.ceiling_fraction(scaled, ceiling)
    scaled = diagnosis.diagnose(
        scaled,
        cores=cores,
        physical_cores=physical_cores,
        iterations=iterations,
        config_keys=config_keys,
        warmup_iterations=warmup_iterations,
        asynchronous=asynchronous,
    )
    time_col = "time_per_kstep_s" if asynchronous else "time_per_iter_s"
    runner_slice = metrics.runner_scaling(scaled[~scaled["cores_oversubscribed"]], time_col=time_col)
    if precision is not None:
        scaled["precision_reached"] = scaled["rel_half_width"] <= precision
        times = measured(iterations, warmup_iterations)
        times = times.assign(_cost=cost(times, asynchronous=asynchronous))
        own = [times[metrics.same_config(times, r, config_keys)]["_cost"] for _, r in scaled.iterrows()]
        scaled["iterations_needed"] = [iterations_needed(t, precision=precision) for t in own]
    stamped = "reported_at_s" in iterations and iterations["reported_at_s"].notna().all()
    timing = metrics.harness_time(iterations, started_at_s=started_at_s, resumed_at_s=resumed_at_s) if stamped else {}
    if timing:
        scaled = scaled.merge(timing["trials"], on="trial_name", how="left")
    widths = int((runner_slice["width"] > 1).sum()) if len(runner_slice) else 0
    fit = (
        metrics.amdahl_fit(runner_slice["width"], runner_slice["slice_speedup"])
        if widths >= MIN_FIT_WIDTHS
        else {"points": widths}
    )
    return Findings(
        configs=configs,
        scaled=scaled,
        runner_slice=runner_slice,
        fit=fit,
        recommendation=metrics.recommend(scaled),
        by_node=by_node,
        warnings=warnings,
        restarts=metrics.restarts(iterations),
        ceiling=ceiling,
        cores=cores,
        precision=precision,
        drift=drift(
            scaled,
            iterations,
            drift_iterations,
            config_keys=config_keys,
            warmup_iterations=warmup_iterations,
            asynchronous=asynchronous,
        ),
        harness=timing,
        asynchronous=asynchronous,
    )


def drift(
    scaled: pd.DataFrame,
    iterations: pd.DataFrame,
    again: pd.DataFrame | None,
    *,
    config_keys: list[str],
    warmup_iterations: int,
    asynchronous: bool = False,
) -> dict:
    """The config the drift check ran again (the baseline where it ran, else its first row's) against its own
    trial's times; {} without a drift check. ``ratio_of_medians`` of the times (``stats.cost``: per 1,000 env
    steps for an ``asynchronous`` algorithm), plus the config's ``label`` and ``is_baseline``."""
    if again is None or again.empty:
        return {}
    base = scaled[scaled["is_baseline"]] if "is_baseline" in scaled else scaled.iloc[:0]
    rows = again[metrics.same_config(again, base.iloc[0], config_keys)] if len(base) else again.iloc[:0]
    point = {k: (rows if len(rows) else again).iloc[0][k] for k in config_keys}
    again = again[metrics.same_config(again, point, config_keys)]
    mine = measured(iterations, warmup_iterations)
    moved = ratio_of_medians(
        cost(mine[metrics.same_config(mine, point, config_keys)], asynchronous=asynchronous),
        cost(measured(again, warmup_iterations), asynchronous=asynchronous),
    )
    row = scaled[metrics.same_config(scaled, point, config_keys)]
    moved["label"] = str(row["label"].iloc[0]) if len(row) else str(again.iloc[0].get("label", ""))
    moved["is_baseline"] = bool(row["is_baseline"].any())
    return moved
