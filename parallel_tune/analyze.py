"""Turn a Tune experiment into Parquet tables, a Markdown report and a dashboard.

    python -m parallel_tune.analyze ~/ray_results/runners_only_2026-11-24_10-00-00

Writes ``<experiment>/analysis/``: iterations.parquet, trials.parquet,
telemetry.parquet, summary.parquet, ceiling.parquet (when the sweep measured
the raw environment ceiling, or ``--ceiling`` names one), report.md,
dashboard.png. Re-running on an experiment that grew (a resumed sweep)
rewrites them from the whole experiment and says what changed; nothing outside
``analysis/`` is touched.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from parallel_tune import metrics, report
from parallel_tune.results import (
    Experiment,
    ResultsError,
    load_experiment,
    read_ceiling,
    read_table,
    write_table,
    write_tables,
)


@dataclass
class Analysis:
    out_dir: Path
    report: Path
    dashboard: Path | None
    summary: pd.DataFrame
    experiment: Experiment


def compute(experiment: Experiment, ceiling: pd.DataFrame | None = None) -> dict:
    """All metric tables for one experiment (pure: no files)."""
    space = experiment.metadata.get("space", {})
    keys = experiment.grid_keys or ["num_env_runners", "num_envs_per_env_runner"]
    warmup = int(space.get("warmup_iterations", 1))
    it = experiment.iterations
    ran = (
        experiment.trials[experiment.trials["status"] != "SKIPPED"]
        if not experiment.trials.empty
        else experiment.trials
    )
    summary = metrics.summarize(it, group_keys=keys, warmup_iterations=warmup) if not it.empty else pd.DataFrame()
    if summary.empty:
        scaled, runner_slice, fit, rec = summary, summary, {"points": 0}, {}
    else:
        scaled = metrics.scaling(summary, ran, space.get("baseline", {}), group_keys=keys)
        if ceiling is not None and not ceiling.empty:
            scaled = metrics.ceiling_fraction(scaled, ceiling)
        runner_slice = metrics.runner_scaling(scaled) if "num_env_runners" in scaled else scaled.iloc[0:0]
        fit = (
            metrics.amdahl_fit(runner_slice["width"], runner_slice["slice_speedup"])
            if len(runner_slice) > 1
            else {"points": 0}
        )
        rec = metrics.recommend(scaled)
    usage = metrics.telemetry_summary(experiment.telemetry)
    cores = int(experiment.metadata.get("machine", {}).get("logical_cores") or 1)
    warnings = (
        metrics.misconfigurations(experiment.trials, usage, logical_cores=cores) if not experiment.trials.empty else []
    )
    return {
        "scaled": scaled,
        "runner_slice": runner_slice,
        "fit": fit,
        "recommendation": rec,
        "usage": usage,
        "warnings": warnings,
        "restarts": metrics.restarts(it) if not it.empty else pd.DataFrame(),
    }


def analyze_experiment(
    experiment_dir: Path | str, *, out_dir: Path | None = None, ceiling: Path | None = None, stream=None
) -> Analysis:
    """``ceiling``: a table from ``python -m parallel_tune.ceiling`` (default: the sweep's own, if it ran one)."""
    stream = stream or sys.stdout
    experiment_dir = Path(experiment_dir).expanduser().resolve()
    experiment = load_experiment(experiment_dir)
    ceiling_table, problem = read_ceiling(experiment, ceiling)
    if problem:
        experiment.problems.append(problem)
    out_dir = Path(out_dir) if out_dir else experiment_dir / "analysis"
    before = _previous_trial_count(out_dir)
    m = compute(experiment, ceiling_table)

    write_tables(experiment, out_dir)
    write_table(m["scaled"], out_dir / "summary.parquet", {**experiment.metadata, "amdahl": m["fit"]})
    if ceiling_table is not None:  # so analysis/ alone has everything the notebook draws
        write_table(ceiling_table, out_dir / "ceiling.parquet", experiment.metadata)
    space = experiment.metadata.get("space", {})
    machine = experiment.metadata.get("machine", {})
    dash = None
    if not m["scaled"].empty:
        dash = report.dashboard(
            m["scaled"],
            fit=m["fit"],
            usage=m["usage"],
            trials=experiment.trials,
            path=out_dir / "dashboard.png",
            title=f"{space.get('name', '')}: {space.get('env', '')}, {machine.get('cpu_model', '')}",
            ceiling=ceiling_table,
        )
    text = report.render_markdown(
        scaled=m["scaled"],
        trials=experiment.trials,
        metadata=experiment.metadata,
        fit=m["fit"],
        runner_slice=m["runner_slice"],
        recommendation=m["recommendation"],
        usage=m["usage"],
        warnings=m["warnings"],
        problems=experiment.problems,
        restarts=m["restarts"],
        ceiling=ceiling_table,
    )
    report_path = out_dir / "report.md"
    report_path.write_text(text)
    n = len(experiment.trials)
    status = experiment.trials["status"].value_counts().to_dict() if n else {}
    change = f" (was {before})" if before is not None and before != n else ""
    print(f"analysis: {n} configs{change} {status}; tables, report and dashboard in {out_dir}", file=stream)
    for p in experiment.problems:
        print(f"  problem: {p}", file=stream)
    return Analysis(out_dir, report_path, dash, m["scaled"], experiment)


def _previous_trial_count(out_dir: Path) -> int | None:
    path = out_dir / "trials.parquet"
    if not path.exists():
        return None
    try:
        return len(read_table(path)[0])
    except ResultsError:
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m parallel_tune.analyze", description=__doc__.splitlines()[0])
    p.add_argument("experiment_dir", help="a Tune experiment directory written by parallel_tune.sweep")
    p.add_argument("--out", help="where to write (default: <experiment_dir>/analysis)")
    p.add_argument("--ceiling", help="a ceiling table from python -m parallel_tune.ceiling (default: the sweep's own)")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        result = analyze_experiment(
            args.experiment_dir,
            out_dir=Path(args.out) if args.out else None,
            ceiling=Path(args.ceiling) if args.ceiling else None,
        )
    except ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {result.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
