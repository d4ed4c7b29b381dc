"""Run a search space as a Ray Tune experiment: one trial per parallelism config.

    python -m parallel_tune.sweep --space runners_only
    python -m parallel_tune.sweep --space grid12 --runners 1,2,4 --dry-run

Trials run one at a time by default so their timings do not share cores.
Each trial is RLlib's PPO Trainable in the placement group its config asks
for. Configs whose placement group cannot fit the cluster are skipped (and
recorded) instead of left PENDING forever; ``--strict`` refuses the sweep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from parallel_tune import UsageError, cluster, manifest, spaces
from parallel_tune import plan as planning
from parallel_tune.files import CEILING, DRIFT, MANIFEST, trial_name
from parallel_tune.placement import total
from parallel_tune.plan import Plan
from parallel_tune.spaces import SearchSpace

DEFAULT_STORAGE = Path("~/ray_results").expanduser()  # Tune's own default
#: A sweep of more configs than this re-measures its baseline at the end (--no-drift-check skips it).
DRIFT_CHECK_ABOVE = 3


class SweepError(UsageError):
    """Bad input for a sweep or a resume."""


class Interrupted(Exception):
    """The sweep stopped early (Ctrl-C); everything measured so far is on disk."""

    def __init__(self, experiment_dir: Path, finished: int, left: int):
        self.experiment_dir = experiment_dir
        super().__init__(
            f"sweep interrupted: {finished} trial(s) finished, {left} left. Resume with:\n"
            f"  python -m parallel_tune.sweep --resume {experiment_dir}"
        )


@dataclass(frozen=True)
class SweepOptions:
    """How to run (or resume) a sweep; each field is one CLI flag of the same name."""

    storage_path: Path = DEFAULT_STORAGE
    name: str | None = None
    address: str | None = None
    num_cpus: int | None = None
    num_gpus: int | None = None
    max_concurrent: int = 1
    strict: bool = False
    telemetry: bool = True
    telemetry_interval_s: float = 1.0
    analyze: bool = True
    ceiling_s: float | None = None
    retry_errored: bool = False
    max_failures: int = 0
    drift_check: bool | None = None  # None: when more than DRIFT_CHECK_ABOVE configs run

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SweepOptions:
        values = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
        values["storage_path"] = Path(values["storage_path"])
        return cls(
            **values,
            telemetry=not args.no_telemetry,
            telemetry_interval_s=args.telemetry_interval,
            analyze=not args.no_analyze,
            ceiling_s=args.ceiling,
            drift_check=False if args.no_drift_check else None,
        )

    def check(self) -> SweepOptions:
        for flag in ("num_cpus", "num_gpus"):
            value = getattr(self, flag)
            if value is not None and value < 0:
                raise SweepError(f"--{flag.replace('_', '-')} must be >= 0, got {value}")
        if self.max_concurrent < 1:
            raise SweepError(f"--max-concurrent must be >= 1, got {self.max_concurrent}")
        if self.telemetry_interval_s <= 0:
            raise SweepError("--telemetry-interval must be > 0")
        if self.ceiling_s is not None and self.ceiling_s <= 0:
            raise SweepError(f"--ceiling must be a positive number of seconds, got {self.ceiling_s:g}")
        if self.max_failures < 0:
            raise SweepError(f"--max-failures must be >= 0, got {self.max_failures}")
        return self


@dataclass
class SweepResult:
    experiment_dir: Path
    plan: Plan
    errored: list[str]
    finished: list[str]


def run_sweep(
    space: SearchSpace,
    options: SweepOptions = SweepOptions(),
    *,
    argv: list[str] | None = None,
    callbacks: list[Any] | None = None,
    stream=None,
) -> SweepResult:
    """Plan, check and run a sweep; returns where the experiment lives.

    The plan is checked against the cluster before Ray starts (a local sweep)
    or trials launch (a cluster). ``options.ceiling_s``: first measure the raw
    environment ceiling (that many seconds per width, at every width the
    runnable configs sample with) into ``<experiment>/ceiling.parquet``.
    ``callbacks`` are extra Tune callbacks (the benchmarks time iterations from
    the driver's side with one).
    """
    stream = stream or sys.stdout
    name = options.name or f"{space.name}_{dt.datetime.now():%Y-%m-%d_%H-%M-%S}"
    experiment_dir = Path(options.storage_path).expanduser().resolve() / name
    if experiment_dir.exists():
        raise SweepError(
            f"experiment {experiment_dir} already exists; pick another --name (results are never overwritten)"
        )

    nodes = cluster.nodes(options.address, options.num_cpus, options.num_gpus)
    planned = planning.build(space, nodes, local=not options.address)
    print(planned.describe(), file=stream)
    planned.check(strict=options.strict)
    run_space = planned.runnable_space()

    _create(experiment_dir)
    cluster.init_ray(options.address, options.num_cpus, options.num_gpus)
    from parallel_tune.machine import describe

    started_at_s = time.time()
    record = manifest.Manifest.of(
        planned,
        command=argv,
        machine=describe(total(cluster.cluster_nodes()), cluster.node_hardware(local=not options.address)),
        telemetry=options.telemetry,
        telemetry_interval_s=options.telemetry_interval_s,
        address=options.address,
        started_at_s=started_at_s,
    )
    manifest.write(experiment_dir, record)
    print(f"experiment: {experiment_dir}", file=stream)

    if options.ceiling_s:
        _measure_ceiling(planned, experiment_dir, options.ceiling_s, stream)

    tune_callbacks = _callbacks(options, len(planned.runnable), space, extra=callbacks)
    results = _tuner(run_space, experiment_dir.parent, name, options, tune_callbacks, list(space.grid)).fit()
    _maybe_recheck_baseline(planned, results, experiment_dir, options, stream)
    return _finish(experiment_dir, planned, results, options.analyze, stream)


def _callbacks(options: SweepOptions, trials: int, space: SearchSpace, extra: list[Any] | None = None) -> list[Any]:
    """Telemetry (unless switched off), progress, then any extra Tune callbacks."""
    from parallel_tune.progress import ProgressCallback

    out: list[Any] = [ProgressCallback(trials, space.iterations, adaptive=space.precision is not None), *(extra or [])]
    if options.telemetry:
        from parallel_tune.telemetry import TelemetryCallback

        out.insert(0, TelemetryCallback(interval_s=options.telemetry_interval_s))
    return out


def _maybe_recheck_baseline(planned: Plan, results, experiment_dir: Path, options: SweepOptions, stream) -> None:
    wanted = options.drift_check if options.drift_check is not None else len(planned.runnable) > DRIFT_CHECK_ABOVE
    from parallel_tune.stopping import done

    ended = all(r.error or done(planned.space, r) for r in results)
    if wanted and ended and not (experiment_dir / DRIFT).exists():
        _recheck_baseline(planned, experiment_dir, options, stream)


def _tuner(space: SearchSpace, storage: Path, name: str, options: SweepOptions, callbacks: list, grid_keys: list[str]):
    """One Tune trial per config of ``space``, named by the sweep's grid keys, stopped by ``PrecisionStopper``."""
    from ray import tune

    from parallel_tune import ppo
    from parallel_tune.probe import measured_ppo
    from parallel_tune.stopping import PrecisionStopper

    def _name(trial) -> str:
        return trial_name(trial.config, grid_keys)

    return tune.Tuner(
        measured_ppo(),
        param_space=ppo.param_space(space),
        tune_config=tune.TuneConfig(
            max_concurrent_trials=options.max_concurrent,
            trial_name_creator=_name,
            trial_dirname_creator=_name,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(storage),
            stop=PrecisionStopper(space),
            callbacks=callbacks,
            checkpoint_config=tune.CheckpointConfig(
                checkpoint_frequency=space.checkpoint_frequency, checkpoint_at_end=True
            ),
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            verbose=0,
        ),
    )


def _recheck_baseline(planned: Plan, experiment_dir: Path, options: SweepOptions, stream) -> None:
    """Run the baseline config (or its stand-in) again, briefly, into ``<experiment>/drift``: did the machine's
    speed move?

    Warm-up plus ``min_measured_iterations`` iterations of the same settings;
    the analysis compares its times with the baseline trial's.
    """
    space = planned.space
    point = space.reference_config([t.config for t in planned.runnable])
    iterations = space.warmup_iterations + space.min_measured_iterations
    again = replace(space, grid={k: [v] for k, v in point.items()}, iterations=iterations, precision=None)
    print(f"drift check: {trial_name(point, list(point))} again, {iterations} iterations", file=stream)
    callbacks = _callbacks(options, 1, again)
    _tuner(again, experiment_dir, DRIFT, replace(options, max_concurrent=1), callbacks, list(space.grid)).fit()


def _create(experiment_dir: Path) -> None:
    """Make the experiment directory, or say in one line why it cannot be written."""
    try:
        experiment_dir.mkdir(parents=True)
        probe = experiment_dir / ".parallel_tune_write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise SweepError(
            f"--storage-path: cannot write {experiment_dir}: {exc.strerror or exc}; pick a directory you can write "
            "(on a cluster, one every node can reach)"
        ) from None


def _measure_ceiling(planned: Plan, experiment_dir: Path, seconds: float, stream) -> None:
    from parallel_tune import ceiling

    space, widths = planned.space, planned.sampling_widths()
    print(f"ceiling: the bare {space.env} at {widths} processes, {seconds:g} s each", file=stream)
    ceiling.run(
        space.env,
        widths,
        experiment_dir / CEILING,
        duration_s=seconds,
        strategy=space.placement_strategy,
        stream=stream,
    )


def resume_sweep(
    experiment_dir: Path,
    options: SweepOptions = SweepOptions(),
    *,
    requested: SearchSpace | None = None,
    stream=None,
) -> SweepResult:
    """Continue an interrupted sweep with Tune's own restore.

    Finished trials are never re-run. The trial that was running continues
    from its last checkpoint; with no checkpoint yet (spaces checkpoint only at
    the end unless ``checkpoint_frequency`` is set) it starts over from
    iteration 1, so its timings are whole. A continued trial's first iteration
    after the restore pays actor start-up again; the analysis keeps the latest
    row per iteration. Errored trials restart only with ``retry_errored``.
    The space and plan are the manifest's, so the resumed sweep is analysed
    exactly as it started. (Tune's RESTART resume type is not used for
    unfinished trials: with Ray 2.60 it created a second trial directory and
    then stalled.)
    """
    stream = stream or sys.stdout
    experiment_dir = Path(experiment_dir).expanduser().resolve()
    if not experiment_dir.is_dir():
        raise SweepError(f"--resume: {experiment_dir} does not exist")
    if not (experiment_dir / MANIFEST).exists():
        raise SweepError(f"--resume: {experiment_dir} holds no parallel_tune experiment to resume")
    from ray import tune
    from ray.tune import ResumeConfig

    if not tune.Tuner.can_restore(str(experiment_dir)):
        raise SweepError(f"--resume: {experiment_dir} holds no parallel_tune experiment to resume")
    try:
        stored = manifest.read(experiment_dir)
        if requested is not None:
            diff = manifest.settings_diff(stored.space, requested.settings())
            if diff:
                raise SweepError(f"--resume: the space differs from the one this experiment ran with: {diff}")
        cluster.init_ray(options.address, options.num_cpus, options.num_gpus)
        planned = stored.plan(cluster.cluster_nodes())
        recorded = {k: stored.options[k] for k in ("telemetry", "telemetry_interval_s") if k in stored.options}
        options = replace(options, **recorded)  # the drift check samples as the sweep did
    except manifest.ManifestError as exc:
        raise SweepError(f"--resume: {exc}") from None
    kind = ResumeConfig.ResumeType
    resume_config = ResumeConfig(
        unfinished=kind.RESUME,
        errored=kind.RESTART if options.retry_errored else kind.SKIP,
    )
    from parallel_tune.probe import measured_ppo

    errored = "retry" if options.retry_errored else "keep as failed"
    print(f"resuming {experiment_dir} (errored trials: {errored})", file=stream)
    tuner = tune.Tuner.restore(str(experiment_dir), trainable=measured_ppo(), _resume_config=resume_config)
    results = tuner.fit()
    _maybe_recheck_baseline(planned, results, experiment_dir, options, stream)
    return _finish(experiment_dir, planned, results, options.analyze, stream)


def _finish(experiment_dir: Path, planned: Plan, results, analyze: bool, stream) -> SweepResult:
    from parallel_tune.stopping import done

    errored, finished, unfinished = [], [], []
    for r in results:
        label = Path(r.path).name
        if r.error:
            errored.append(label)
        elif not done(planned.space, r):
            unfinished.append(label)
        else:
            finished.append(label)
    if unfinished:
        never_started = max(len(planned.runnable) - len(results), 0)
        raise Interrupted(experiment_dir, len(finished), len(unfinished) + never_started)
    print(
        f"sweep done: {len(finished)} finished, {len(errored)} failed, {len(planned.skipped)} skipped; "
        f"results in {experiment_dir}",
        file=stream,
    )
    for label in errored:
        print(f"  failed: {label}", file=stream)
    lost = _lost_nodes(planned)
    if lost:
        print(f"  nodes that left the cluster during the sweep: {', '.join(lost)}", file=stream)
    if analyze:
        from parallel_tune.analyze import analyze_experiment

        out = analyze_experiment(experiment_dir, stream=stream)
        print(f"report: {out.report}", file=stream)
    print(f"browse the trials: tensorboard --logdir {experiment_dir}", file=stream)
    return SweepResult(experiment_dir, planned, errored, finished)


def _lost_nodes(planned: Plan) -> list[str]:
    """Nodes alive when the sweep was planned and gone now: the likely cause of failed trials on a cluster."""
    import ray

    if not ray.is_initialized() or len(planned.nodes) < 2:
        return []
    alive = [n for n in ray.nodes() if n.get("Alive")]
    if len(alive) >= len(planned.nodes):
        return []
    dead = [n for n in ray.nodes() if not n.get("Alive")]
    return [f"node {n['NodeID'][:6]} ({n.get('NodeManagerAddress', '?')})" for n in dead]


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
    runners = spaces.parse_int_list(args.runners, option="--runners", minimum=0) if args.runners else None
    envs = (
        spaces.parse_int_list(args.envs_per_runner, option="--envs-per-runner", minimum=1)
        if args.envs_per_runner
        else None
    )
    if args.iterations is not None and args.iterations < 1:
        raise SweepError(f"--iterations must be >= 1, got {args.iterations}")
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
        from parallel_tune.ppo import check_keys

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
        return 1 if resume_sweep(Path(args.resume), options, requested=requested).errored else 0

    nodes = cluster.nodes(options.address, options.num_cpus, options.num_gpus)
    space = resolve_space(args, int(total(nodes).get("CPU", 1)))
    cluster.check_env(space.env)
    from parallel_tune.ppo import check_keys

    check_keys(space)
    if args.dry_run:
        planned = planning.build(space, nodes, local=not options.address)
        print(planned.describe())
        if args.ceiling:
            print(
                f"first: the raw {space.env} ceiling at {planned.sampling_widths()} processes, {args.ceiling:g} s each"
            )
        return 0
    result = run_sweep(space, options, argv=["python", "-m", "parallel_tune.sweep", *argv])
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
        return _run(args, argv, SweepOptions.from_args(args).check())
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
