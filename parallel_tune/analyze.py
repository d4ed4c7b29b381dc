"""Turn a sweep's experiment into Parquet tables, a Markdown report and a dashboard.

    python -m parallel_tune.analyze ~/ray_results/runners_only_2026-11-24_10-00-00

Writes ``<experiment>/analysis/``: iterations.parquet, trials.parquet,
telemetry.parquet, summary.parquet (the per-config table with every metric),
ceiling.parquet (when the sweep measured the raw environment ceiling, or
``--ceiling`` names one), report.md, dashboard.png. Re-running on an
experiment that grew (a resumed sweep) rewrites them from the whole
experiment and says what changed; nothing outside ``analysis/`` is touched.
A directory that keeps only ``analysis/`` (committed results) is re-analysed
from its own tables. From Python, the module is callable: ``parallel_tune.analyze(path)`` returns the
``Analysis`` (its ``experiment``'s tables, its ``found`` metrics, the report's path).
"""

from __future__ import annotations

import argparse
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from parallel_tune.analysis import dashboard, findings, report
from parallel_tune.analysis.findings import Findings
from parallel_tune.analysis.load import Experiment, ResultsError, load, read_ceiling, read_table, write_tables
from parallel_tune.core import files
from parallel_tune.core.errors import UsageError
from parallel_tune.core.tables import write_table


@dataclass
class Analysis:
    out_dir: Path
    report: Path
    dashboard: Path | None
    found: Findings
    experiment: Experiment

    @property
    def summary(self) -> pd.DataFrame:
        """The measured configs with every metric: what ``summary.parquet`` holds."""
        return self.found.scaled


def analyze_experiment(
    experiment_dir: Path | str, *, out_dir: Path | None = None, ceiling: Path | None = None, stream=None
) -> Analysis:
    """``ceiling``: a table from ``python -m parallel_tune.ceiling`` (default: the sweep's own, if it ran one)."""
    stream = stream or sys.stdout
    experiment_dir = Path(experiment_dir).expanduser().resolve()
    experiment = load(experiment_dir)
    ceiling_table, problem = read_ceiling(experiment, ceiling)
    if problem:
        experiment.problems.append(problem)
    out_dir = Path(out_dir) if out_dir else experiment_dir / files.ANALYSIS_DIR
    before = _previous_trial_count(out_dir)
    found = findings.of(experiment, ceiling_table)

    write_tables(experiment, out_dir)
    write_table(found.scaled, out_dir / files.table("summary"), {**experiment.metadata(), "amdahl": found.fit})
    if not found.learning.empty:  # a learning check: one row per config, its final returns against the baseline's
        write_table(found.learning, out_dir / files.table("learning"), experiment.metadata())
    if ceiling_table is not None:  # so analysis/ alone has everything the notebook draws
        write_table(ceiling_table, out_dir / files.CEILING, experiment.metadata())
    space, machine = experiment.record.space, experiment.record.machine
    dash = None
    if not found.scaled.empty:
        dash = dashboard.dashboard(
            found,
            path=out_dir / files.DASHBOARD,
            title=f"{space.name if space else ''}: {space.env if space else ''}, {machine.get('cpu_model', '')}",
        )
    report_path = out_dir / files.REPORT
    report_path.write_text(
        report.render_markdown(
            found, experiment.record, problems=experiment.problems, experiment_dir=str(experiment.experiment_dir)
        )
    )
    n = len(experiment.trials)
    status = experiment.trials["status"].value_counts().to_dict() if n else {}
    change = f" (was {before})" if before is not None and before != n else ""
    configs = experiment.trials["trial_name"].nunique() if n else 0
    count = f"{configs} config{'s' * (configs != 1)}" + (f" ({n} trials: replicates)" if configs != n else "")
    print(f"analysis: {count}{change} {status}; tables, report and dashboard in {out_dir}", file=stream)
    for p in experiment.problems:
        print(f"  problem: {p}", file=stream)
    return Analysis(out_dir, report_path, dash, found, experiment)


def _previous_trial_count(out_dir: Path) -> int | None:
    path = out_dir / files.table("trials")
    if not path.exists():
        return None
    try:
        return len(read_table(path)[0])
    except ResultsError:
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m parallel_tune.analyze", description=__doc__.splitlines()[0])
    p.add_argument(
        "experiment_dir", help="a Tune experiment directory written by parallel_tune.sweep, or one with analysis/ only"
    )
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
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {result.report}")
    return 0


class _Command(types.ModuleType):
    """The module is the Python API too: ``parallel_tune.analyze(path)`` calls ``analyze_experiment``."""

    def __call__(self, experiment_dir, **kwargs):
        return analyze_experiment(experiment_dir, **kwargs)


sys.modules[__name__].__class__ = _Command

if __name__ == "__main__":
    sys.exit(main())
