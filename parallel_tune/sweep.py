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
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parallel_tune import spaces
from parallel_tune.placement import why_unschedulable
from parallel_tune.results import CEILING_FILE, MANIFEST, ResultsError, read_manifest
from parallel_tune.spaces import SearchSpace, SpaceError

DEFAULT_STORAGE = Path("~/ray_results").expanduser()  # Tune's own default


class SweepError(Exception):
    """Bad input or an impossible request: one line for the user, exit status 2."""


class Interrupted(Exception):
    """The sweep stopped early (Ctrl-C); everything measured so far is on disk."""

    def __init__(self, experiment_dir: Path, finished: int, left: int):
        self.experiment_dir = experiment_dir
        super().__init__(
            f"sweep interrupted: {finished} trial(s) finished, {left} left. Resume with:\n"
            f"  python -m parallel_tune.sweep --resume {experiment_dir}"
        )


def _never_started(planned: Plan, results) -> int:
    return max(len(planned.runnable) - len(results), 0)


@dataclass
class PlannedTrial:
    config: dict[str, Any]
    cpus: float
    gpus: float
    bundles: tuple[dict[str, float], ...]
    skip_reason: str | None = None

    @property
    def name(self) -> str:
        from parallel_tune.ppo import trial_name

        return trial_name(self.config, list(self.config))


@dataclass
class Plan:
    space: SearchSpace
    nodes: list[dict[str, float]]
    trials: list[PlannedTrial] = field(default_factory=list)

    @property
    def runnable(self) -> list[PlannedTrial]:
        return [t for t in self.trials if t.skip_reason is None]

    @property
    def skipped(self) -> list[PlannedTrial]:
        return [t for t in self.trials if t.skip_reason is not None]

    def describe(self) -> str:
        total = {k: sum(n.get(k, 0.0) for n in self.nodes) for k in ("CPU", "GPU")}
        lines = [
            f"space {self.space.name}: {len(self.trials)} configs, {self.space.iterations} iterations each "
            f"({self.space.warmup_iterations} warm-up), env {self.space.env}",
            f"cluster: {len(self.nodes)} node(s), {total['CPU']:g} CPUs, {total['GPU']:g} GPUs; "
            f"placement {self.space.placement_strategy}",
        ]
        width = max(len(t.name) for t in self.trials)
        for i, t in enumerate(self.trials, 1):
            status = "run" if t.skip_reason is None else f"SKIP: {t.skip_reason}"
            lines.append(f"  {i:>2}. {t.name:<{width}}  {t.cpus:>4g} CPU {t.gpus:>3g} GPU  {status}")
        return "\n".join(lines)


def plan(space: SearchSpace, nodes: list[dict[str, float]]) -> Plan:
    """Every config with its reservation and, where it cannot fit, why."""
    from parallel_tune.ppo import reservation

    result = Plan(space=space, nodes=nodes)
    for point in space.configs():
        res = reservation(space, point)
        reason = why_unschedulable(res.bundles, res.strategy, nodes)
        result.trials.append(PlannedTrial(point, res.cpus, res.gpus, res.bundles, reason))
    return result


def check_env(env_id: str) -> None:
    import gymnasium

    try:
        gymnasium.spec(env_id)
    except Exception as exc:
        raise SweepError(f"unknown environment {env_id!r}: {exc}") from None


def local_nodes(num_cpus: int | None, num_gpus: int | None) -> list[dict[str, float]]:
    """What ``ray.init`` would start with here, without starting it."""
    from parallel_tune.machine import gpu_models, usable_cpus

    cpus = num_cpus if num_cpus is not None else usable_cpus()
    gpus = num_gpus if num_gpus is not None else len(gpu_models())
    return [{"CPU": float(cpus), "GPU": float(gpus)}]


def cluster_nodes() -> list[dict[str, float]]:
    import ray

    return [
        {k: float(v) for k, v in n["Resources"].items() if k in ("CPU", "GPU")} for n in ray.nodes() if n.get("Alive")
    ]


def init_ray(address: str | None, num_cpus: int | None, num_gpus: int | None) -> None:
    import ray

    # Save Tune's experiment state every second (a small JSON write in the driver,
    # outside any timed iteration) so even a SIGKILL loses at most the running trial.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address:
        try:
            ray.init(address=address, **kwargs)
        except Exception as exc:
            raise SweepError(f"cannot connect to the Ray cluster at {address!r}: {exc}") from None
    else:
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, **kwargs)


@dataclass
class SweepResult:
    experiment_dir: Path
    plan: Plan
    errored: list[str]
    finished: list[str]


def _manifest(space: SearchSpace, planned: Plan, argv: list[str] | None) -> dict[str, Any]:
    from parallel_tune.machine import describe

    return {
        "space": {"name": space.name, "source": space.source, "description": space.description, **space.settings()},
        "command": argv,
        "skipped": [
            {"config": t.config, "cpus": t.cpus, "gpus": t.gpus, "reason": t.skip_reason} for t in planned.skipped
        ],
        "planned": [{"config": t.config, "cpus": t.cpus, "gpus": t.gpus} for t in planned.trials],
        "machine": describe({k: v for k, v in _total(planned.nodes).items()}),
    }


def _total(nodes: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for n in nodes:
        for k, v in n.items():
            out[k] = out.get(k, 0.0) + v
    return out


def run_sweep(
    space: SearchSpace,
    *,
    storage_path: Path = DEFAULT_STORAGE,
    name: str | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    max_concurrent: int = 1,
    strict: bool = False,
    telemetry: bool = True,
    telemetry_interval_s: float = 1.0,
    analyze: bool = True,
    ceiling_s: float | None = None,
    argv: list[str] | None = None,
    callbacks: list[Any] | None = None,
    stream=None,
) -> SweepResult:
    """Plan, check and run a sweep; returns where the experiment lives.

    ``ceiling_s``: first measure the raw environment ceiling (that many
    seconds per width, at every width the runnable configs sample with) into
    ``<experiment>/ceiling.parquet``. ``callbacks`` are extra Tune callbacks
    (the benchmarks time iterations from the driver's side with one).
    """
    stream = stream or sys.stdout
    from ray import tune
    from ray.rllib.algorithms.ppo import PPO

    from parallel_tune import ppo
    from parallel_tune.progress import ProgressCallback

    name = name or f"{space.name}_{dt.datetime.now():%Y-%m-%d_%H-%M-%S}"
    experiment_dir = Path(storage_path).expanduser().resolve() / name
    if experiment_dir.exists():
        raise SweepError(
            f"experiment {experiment_dir} already exists; pick another --name (results are never overwritten)"
        )

    init_ray(address, num_cpus, num_gpus)
    planned = plan(space, cluster_nodes())
    print(planned.describe(), file=stream)
    if planned.skipped and strict:
        first = planned.skipped[0]
        raise SweepError(
            f"{len(planned.skipped)} config(s) cannot fit this cluster (--strict): {first.name} {first.skip_reason}"
        )
    if not planned.runnable:
        raise SweepError("no config of this space fits this cluster; see the SKIP lines above")
    for t in planned.skipped:
        print(f"skipping {t.name}: {t.skip_reason}", file=stream)

    run_space = space if not planned.skipped else _only(space, planned.runnable)
    experiment_dir.mkdir(parents=True)
    (experiment_dir / MANIFEST).write_text(json.dumps(_manifest(space, planned, argv), indent=2, default=str))

    if ceiling_s:
        from parallel_tune import ceiling

        widths = ceiling.sampling_processes([t.config for t in planned.runnable])
        print(f"ceiling: the bare {space.env} at {widths} processes, {ceiling_s:g} s each", file=stream)
        try:
            ceiling.run(
                space.env,
                widths,
                experiment_dir / CEILING_FILE,
                duration_s=ceiling_s,
                strategy=space.placement_strategy,
                stream=stream,
            )
        except ceiling.CeilingError as exc:
            raise SweepError(str(exc)) from None

    grid_keys = list(space.grid)
    tune_callbacks: list[Any] = [ProgressCallback(len(planned.runnable), space.iterations), *(callbacks or [])]
    if telemetry:
        from parallel_tune.telemetry import TelemetryCallback

        tune_callbacks.insert(0, TelemetryCallback(interval_s=telemetry_interval_s))

    def _name(trial) -> str:
        return ppo.trial_name(trial.config, grid_keys)

    tuner = tune.Tuner(
        PPO,
        param_space=ppo.param_space(run_space),
        tune_config=tune.TuneConfig(
            max_concurrent_trials=max_concurrent,
            trial_name_creator=_name,
            trial_dirname_creator=_name,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(Path(storage_path).expanduser().resolve()),
            stop={"training_iteration": space.iterations},
            callbacks=tune_callbacks,
            checkpoint_config=tune.CheckpointConfig(
                checkpoint_frequency=space.checkpoint_frequency, checkpoint_at_end=True
            ),
            failure_config=tune.FailureConfig(max_failures=0),
            verbose=0,
        ),
    )
    results = tuner.fit()
    return _finish(experiment_dir, planned, results, analyze, stream)


def resume_sweep(
    experiment_dir: Path,
    *,
    requested: SearchSpace | None = None,
    retry_errored: bool = False,
    address: str | None = None,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    analyze: bool = True,
    stream=None,
) -> SweepResult:
    """Continue an interrupted sweep with Tune's own restore.

    Finished trials are never re-run. The trial that was running continues
    from its last checkpoint; with no checkpoint yet (spaces checkpoint only at
    the end unless ``checkpoint_frequency`` is set) it starts over from
    iteration 1, so its timings are whole. A continued trial's first iteration
    after the restore pays actor start-up again; the analysis keeps the latest
    row per iteration. Errored trials restart only with ``retry_errored``.
    (Tune's RESTART resume type is not used: with Ray 2.60 it created a second
    trial directory and then stalled.)
    """
    stream = stream or sys.stdout
    from ray import tune
    from ray.rllib.algorithms.ppo import PPO
    from ray.tune import ResumeConfig

    experiment_dir = Path(experiment_dir).expanduser().resolve()
    if not experiment_dir.is_dir():
        raise SweepError(f"--resume: {experiment_dir} does not exist")
    if not (experiment_dir / MANIFEST).exists() or not tune.Tuner.can_restore(str(experiment_dir)):
        raise SweepError(f"--resume: {experiment_dir} holds no parallel_tune experiment to resume")
    try:
        manifest = read_manifest(experiment_dir)
    except ResultsError as exc:
        raise SweepError(f"--resume: {exc}") from None
    stored = manifest["space"]
    if requested is not None:
        diff = settings_diff(stored, requested.settings())
        if diff:
            raise SweepError(f"--resume: the space differs from the one this experiment ran with: {diff}")
    kind = ResumeConfig.ResumeType
    resume_config = ResumeConfig(
        unfinished=kind.RESUME,
        errored=kind.RESTART if retry_errored else kind.SKIP,
    )
    init_ray(address, num_cpus, num_gpus)
    space = spaces.from_dict(
        {k: stored[k] for k in ("env", "iterations", "warmup_iterations", "ppo", "grid", "placement_strategy")},
        name=stored["name"],
    )
    # What the sweep planned and skipped is on record; the resumed run is judged against that.
    reasons = {json.dumps(s["config"], sort_keys=True): s["reason"] for s in manifest.get("skipped", [])}
    planned = Plan(space=space, nodes=cluster_nodes())
    for t in manifest["planned"]:
        reason = reasons.get(json.dumps(t["config"], sort_keys=True))
        planned.trials.append(PlannedTrial(t["config"], t["cpus"], t["gpus"], (), reason))
    print(f"resuming {experiment_dir} (errored trials: {'retry' if retry_errored else 'keep as failed'})")
    tuner = tune.Tuner.restore(str(experiment_dir), trainable=PPO, _resume_config=resume_config)
    results = tuner.fit()
    return _finish(experiment_dir, planned, results, analyze, stream)


def settings_diff(stored: dict[str, Any], current: dict[str, Any]) -> str:
    """'grid.num_env_runners: [1, 2] -> [1, 4]; iterations: 3 -> 5' for what differs."""
    out = []
    for key, value in current.items():
        old = stored.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            for sub in sorted(set(value) | set(old)):
                if value.get(sub) != old.get(sub):
                    out.append(f"{key}.{sub}: {old.get(sub)!r} -> {value.get(sub)!r}")
        elif json.loads(json.dumps(old)) != json.loads(json.dumps(value)):
            out.append(f"{key}: {old!r} -> {value!r}")
    return "; ".join(out)


def _only(space: SearchSpace, runnable: list[PlannedTrial]) -> SearchSpace:
    """The space restricted to the configs that fit; must stay a grid."""
    from dataclasses import replace

    grid = {k: [v for v in vals if any(t.config[k] == v for t in runnable)] for k, vals in space.grid.items()}
    restricted = replace(space, grid=grid)
    if len(restricted.configs()) != len(runnable):
        raise SweepError(
            "the configs that fit this cluster do not form a grid; narrow the space "
            "(e.g. --runners) so every remaining combination fits"
        )
    return restricted


def _finish(experiment_dir: Path, planned: Plan, results, analyze: bool, stream) -> SweepResult:
    errored, finished, unfinished = [], [], []
    for r in results:
        label = Path(r.path).name
        if r.error:
            errored.append(label)
        elif (r.metrics or {}).get("training_iteration", 0) < planned.space.iterations:
            unfinished.append(label)
        else:
            finished.append(label)
    if unfinished:
        raise Interrupted(experiment_dir, len(finished), len(unfinished) + _never_started(planned, results))
    print(
        f"sweep done: {len(finished)} finished, {len(errored)} failed, {len(planned.skipped)} skipped; "
        f"results in {experiment_dir}",
        file=stream,
    )
    for label in errored:
        print(f"  failed: {label}", file=stream)
    if analyze:
        from parallel_tune.analyze import analyze_experiment

        out = analyze_experiment(experiment_dir, stream=stream)
        print(f"report: {out.report}", file=stream)
    print(f"browse the trials: tensorboard --logdir {experiment_dir}", file=stream)
    return SweepResult(experiment_dir, planned, errored, finished)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m parallel_tune.sweep",
        description="Sweep RLlib PPO parallelism settings as Ray Tune trials.",
    )
    p.add_argument("--space", help="space name in search_spaces/ or a YAML path (default runners_only)")
    p.add_argument("--runners", help="num_env_runners values, e.g. '1,2,4' (replaces the space's)")
    p.add_argument("--envs-per-runner", help="num_envs_per_env_runner values, e.g. '1,2'")
    p.add_argument("--iterations", type=int, help="training iterations per config")
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
    return p


def resolve_space(args: argparse.Namespace, cpus: int | None) -> SearchSpace:
    space = spaces.load(args.space or "runners_only", cpus=cpus)
    runners = spaces.parse_int_list(args.runners, option="--runners", minimum=0) if args.runners else None
    envs = (
        spaces.parse_int_list(args.envs_per_runner, option="--envs-per-runner", minimum=1)
        if args.envs_per_runner
        else None
    )
    if args.iterations is not None and args.iterations < 1:
        raise SpaceError(f"--iterations must be >= 1, got {args.iterations}")
    return space.with_overrides(runners=runners, envs_per_runner=envs, iterations=args.iterations, env=args.env)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed one usage line
        return int(exc.code or 0)
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    try:
        for flag in ("num_cpus", "num_gpus"):
            value = getattr(args, flag)
            if value is not None and value < 0:
                raise SweepError(f"--{flag.replace('_', '-')} must be >= 0, got {value}")
        if args.max_concurrent < 1:
            raise SweepError(f"--max-concurrent must be >= 1, got {args.max_concurrent}")
        if args.telemetry_interval <= 0:
            raise SweepError("--telemetry-interval must be > 0")
        if args.ceiling is not None and args.ceiling <= 0:
            raise SweepError(f"--ceiling must be a positive number of seconds, got {args.ceiling:g}")
        if args.ceiling is not None and args.resume:
            raise SweepError("--ceiling runs before a sweep's first trial; it cannot be added on --resume")
        if args.resume:
            overrides = (args.space, args.runners, args.envs_per_runner, args.iterations, args.env)
            requested = None
            if any(v is not None for v in overrides):  # compared with the stored space, so resolved the same way
                if args.address:
                    init_ray(args.address, None, None)
                nodes = cluster_nodes() if args.address else local_nodes(args.num_cpus, args.num_gpus)
                requested = resolve_space(args, int(_total(nodes).get("CPU", 1)))
            result = resume_sweep(
                Path(args.resume),
                requested=requested,
                retry_errored=args.retry_errored,
                address=args.address,
                num_cpus=args.num_cpus,
                num_gpus=args.num_gpus,
                analyze=not args.no_analyze,
            )
            return 1 if result.errored else 0
        if args.address:
            init_ray(args.address, None, None)
            nodes = cluster_nodes()
        else:
            nodes = local_nodes(args.num_cpus, args.num_gpus)
        cpus = int(_total(nodes).get("CPU", 1))
        space = resolve_space(args, cpus)
        check_env(space.env)
        from parallel_tune.ppo import check_keys

        check_keys(space)
        if args.dry_run:
            planned = plan(space, nodes)
            print(planned.describe())
            if args.ceiling:
                from parallel_tune.ceiling import sampling_processes

                widths = sampling_processes([t.config for t in planned.runnable])
                print(f"first: the raw {space.env} ceiling at {widths} processes, {args.ceiling:g} s each")
            return 0
        result = run_sweep(
            space,
            storage_path=Path(args.storage_path),
            name=args.name,
            address=args.address,
            num_cpus=args.num_cpus,
            num_gpus=args.num_gpus,
            max_concurrent=args.max_concurrent,
            strict=args.strict,
            telemetry=not args.no_telemetry,
            telemetry_interval_s=args.telemetry_interval,
            analyze=not args.no_analyze,
            ceiling_s=args.ceiling,
            argv=["python", "-m", "parallel_tune.sweep", *argv],
        )
    except (SpaceError, SweepError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(str(exc), file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted; if an experiment directory was printed above, resume it with --resume DIR", file=sys.stderr)
        return 130
    return 1 if result.errored else 0


if __name__ == "__main__":
    sys.exit(main())
