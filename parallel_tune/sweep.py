"""Run a search space as a Ray Tune experiment, one trial per parallelism config, then analyse it.

    python -m parallel_tune.sweep --space runners_only
    python -m parallel_tune.sweep --space grid12 --runners 1,2,4 --dry-run
    python -m parallel_tune.sweep --resume ~/ray_results/runners_only_2026-11-24_10-00-00

A thin command over ``run_sweep`` and ``resume_sweep``: the run wing
(``parallel_tune.run.experiment``) runs the trials, the analysis wing
(``parallel_tune.analyze``) writes the tables, report and dashboard.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parallel_tune.core import spaces
from parallel_tune.core.errors import UsageError
from parallel_tune.core.spaces import SearchSpace
from parallel_tune.run import cluster, experiment
from parallel_tune.run import plan as planning
from parallel_tune.run.experiment import DEFAULT_STORAGE, DRIFT_CHECK_ABOVE, Interrupted, SweepError, SweepOptions
from parallel_tune.run.placement import total


@dataclass
class SweepResult:
    """A finished sweep: where it lives, what was planned, which trials finished or failed, and its report."""

    experiment_dir: Path
    plan: planning.Plan
    errored: list[str]
    finished: list[str]
    report: Path | None = None


def run_sweep(
    space: SearchSpace,
    options: SweepOptions | None = None,
    *,
    analyze: bool = True,
    argv: list[str] | None = None,
    callbacks: list[Any] | None = None,
    stream=None,
) -> SweepResult:
    """Plan, check and run a sweep (``parallel_tune.run.experiment.start``), then analyse it unless ``analyze`` is
    False. Raises ``Interrupted`` when trials were left unfinished (nothing measured is lost)."""
    outcome = experiment.start(space, options or SweepOptions(), argv=argv, callbacks=callbacks, stream=stream)
    return _analysed(outcome, analyze, stream or sys.stdout)


def resume_sweep(
    experiment_dir: Path,
    options: SweepOptions | None = None,
    *,
    analyze: bool = True,
    requested: SearchSpace | None = None,
    stream=None,
) -> SweepResult:
    """Continue an interrupted sweep as its record says it started (``parallel_tune.run.experiment.resume``), then
    analyse the whole experiment."""
    outcome = experiment.resume(experiment_dir, options or SweepOptions(), requested=requested, stream=stream)
    return _analysed(outcome, analyze, stream or sys.stdout)


def _analysed(outcome: experiment.Outcome, analyze: bool, stream) -> SweepResult:
    result = SweepResult(outcome.experiment_dir, outcome.plan, outcome.errored, outcome.finished)
    if analyze:
        from parallel_tune.analyze import analyze_experiment

        result.report = analyze_experiment(outcome.experiment_dir, stream=stream).report
        print(f"report: {result.report}", file=stream)
    print(f"browse the trials: tensorboard --logdir {outcome.experiment_dir}", file=stream)
    return result


def options_from(args: argparse.Namespace) -> SweepOptions:
    """The run options the flags ask for; each ``SweepOptions`` field is the flag of the same name."""
    return SweepOptions(
        storage_path=Path(args.storage_path),
        name=args.name,
        address=args.address,
        num_cpus=args.num_cpus,
        num_gpus=args.num_gpus,
        max_concurrent=args.max_concurrent,
        strict=args.strict,
        telemetry=not args.no_telemetry,
        telemetry_interval_s=args.telemetry_interval,
        ceiling_s=args.ceiling,
        retry_errored=args.retry_errored,
        max_failures=args.max_failures,
        drift_check=False if args.no_drift_check else None,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m parallel_tune.sweep",
        description="Sweep RLlib PPO parallelism settings as Ray Tune trials.",
    )
    p.add_argument("--space", help="space name in search_spaces/ or a YAML path (default runners_only)")
    p.add_argument("--runners", help="num_env_runners values, e.g. '1,2,4' (replaces the space's)")
    p.add_argument("--envs-per-runner", help="num_envs_per_env_runner values, e.g. '1,2'")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fix a PPOConfig setting, e.g. num_epochs=5 (repeatable; takes the key out of the grid)",
    )
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="grid a PPOConfig setting, e.g. gym_env_vectorize_mode=sync,async (repeatable; replaces its values)",
    )
    p.add_argument("--iterations", type=int, help="training iterations per config (with --precision: the cap)")
    p.add_argument(
        "--precision",
        type=float,
        metavar="P",
        help="stop a trial once its 95 %% interval of time per iteration is within +-P of the median (e.g. 0.05)",
    )
    p.add_argument("--env", help="gymnasium environment id (default: the space's)")
    p.add_argument("--storage-path", default=str(DEFAULT_STORAGE), help="Tune storage path (default %(default)s)")
    p.add_argument("--name", help="experiment name (default: <space>_<date>)")
    p.add_argument("--address", help="connect to this Ray cluster instead of starting a local one")
    p.add_argument("--num-cpus", type=int, help="logical CPUs for a local Ray (default: all usable)")
    p.add_argument("--num-gpus", type=int, help="GPUs for a local Ray (default: all visible)")
    p.add_argument("--max-concurrent", type=int, default=1, help="trials at once (default 1: clean timings)")
    p.add_argument("--strict", action="store_true", help="refuse the sweep if any config cannot fit")
    p.add_argument("--no-telemetry", action="store_true", help="do not sample CPU/GPU during trials")
    p.add_argument("--telemetry-interval", type=float, default=1.0, help="seconds between samples")
    p.add_argument("--no-analyze", action="store_true", help="skip the analysis at the end")
    p.add_argument(
        "--no-drift-check",
        action="store_true",
        help=f"do not re-measure the baseline at the end (default: on above {DRIFT_CHECK_ABOVE} configs)",
    )
    p.add_argument(
        "--ceiling",
        nargs="?",
        type=float,
        const=5.0,
        metavar="SECONDS",
        help="first measure the bare environment's step rate at each width (default 5 s per width)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the trials and their reservations; run nothing")
    p.add_argument("--resume", metavar="EXPERIMENT_DIR", help="continue an interrupted sweep in this directory")
    p.add_argument("--retry-errored", action="store_true", help="with --resume: run errored trials again")
    p.add_argument(
        "--max-failures",
        type=int,
        default=0,
        help="retry a trial that fails (a lost node, a dead actor) this many times (default 0: record it as failed)",
    )
    return p


_SPACE_FLAGS = ("space", "runners", "envs_per_runner", "iterations", "env", "precision", "set", "grid")


def resolve_space(args: argparse.Namespace, cpus: int | None) -> SearchSpace:
    """The space the flags ask for; ``cpus`` resolves grids that depend on the machine."""
    space = spaces.load(args.space or "runners_only", cpus=cpus)
    most = spaces.MAX_COUNTS
    runners = (
        spaces.parse_int_list(args.runners, option="--runners", minimum=0, maximum=most[spaces.RUNNERS])
        if args.runners
        else None
    )
    envs = (
        spaces.parse_int_list(
            args.envs_per_runner, option="--envs-per-runner", minimum=1, maximum=most[spaces.ENVS_PER_RUNNER]
        )
        if args.envs_per_runner
        else None
    )
    if args.iterations is not None and args.iterations < 1:
        raise SweepError(f"--iterations must be >= 1, got {args.iterations}")
    if args.iterations is not None and args.iterations > spaces.MAX_ITERATIONS:
        raise SweepError(
            f"--iterations: {args.iterations} is more than any sweep runs; at most {spaces.MAX_ITERATIONS:,}"
        )
    if args.precision is not None and not 0 < args.precision <= 1:
        raise SweepError(
            f"--precision must be in (0, 1], a fraction of the median (0.05 is +-5 %), got {args.precision:g}"
        )
    settings = dict(spaces.parse_assignment(a, option="--set", many=False) for a in args.set)
    axes = dict(spaces.parse_assignment(a, option="--grid", many=True) for a in args.grid)
    space = space.with_overrides(
        runners=runners,
        envs_per_runner=envs,
        iterations=args.iterations,
        env=args.env,
        precision=args.precision,
        settings=settings,
        axes=axes,
    )
    if settings or axes:  # checked like a space file's keys, whatever the command then does
        from parallel_tune.run.trial import check_keys

        check_keys(space)
    return space


def _run(args: argparse.Namespace, argv: list[str], options: SweepOptions) -> int:
    if args.ceiling is not None and args.resume:
        raise SweepError("--ceiling runs before a sweep's first trial; it cannot be added on --resume")
    if args.resume:
        requested = None
        if any(getattr(args, f) not in (None, []) for f in _SPACE_FLAGS):  # resolved as the stored space was
            nodes = cluster.nodes(options.address, options.num_cpus, options.num_gpus)
            requested = resolve_space(args, int(total(nodes).get("CPU", 1)))
        resumed = resume_sweep(Path(args.resume), options, requested=requested, analyze=not args.no_analyze)
        return 1 if resumed.errored else 0

    nodes = cluster.nodes(options.address, options.num_cpus, options.num_gpus)
    space = resolve_space(args, int(total(nodes).get("CPU", 1)))
    cluster.check_env(space.env)
    from parallel_tune.run.trial import check_keys

    check_keys(space)
    if args.dry_run:
        planned = planning.build(space, nodes, local=not options.address)
        print(planned.describe())
        if args.ceiling:
            print(
                f"first: the raw {space.env} ceiling at {planned.sampling_widths()} processes, {args.ceiling:g} s each"
            )
        return 0
    argv = ["python", "-m", "parallel_tune.sweep", *argv]
    result = run_sweep(space, options, analyze=not args.no_analyze, argv=argv)
    return 1 if result.errored else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed one usage line
        return int(exc.code or 0)
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    # Tune's own console output (a banner, and a TensorBoard path into Ray's session directory rather than the
    # experiment) would sit between our progress lines; its legacy reporter at verbose=0 prints nothing.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    try:
        return _run(args, argv, options_from(args).check())
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(str(exc), file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted; if an experiment directory was printed above, resume it with --resume DIR", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
