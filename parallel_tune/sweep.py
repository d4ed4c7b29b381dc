"""Run a search space as a Ray Tune experiment, one trial per parallelism config, then analyse it.

    python -m parallel_tune.sweep --config my_training.py --space runners_only     # your own training
    python -m parallel_tune.sweep --space runners_only
    python -m parallel_tune.sweep --space grid12 --runners 1,2,4 --dry-run
    python -m parallel_tune.sweep --resume ~/ray_results/runners_only_2026-11-24_10-00-00

From Python, the module is callable: ``parallel_tune.sweep(config, space="runners_only", runners=[1, 2, 4])``
returns the analysed experiment. A thin command over ``run_sweep`` and ``resume_sweep``: the run wing
(``parallel_tune.run.experiment``) runs the trials, the analysis wing (``parallel_tune.analyze``) writes
the tables, report and dashboard.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
from dataclasses import dataclass, fields, replace
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
    """A finished sweep: where it lives, what was planned, which trials finished or failed, and its analysis."""

    experiment_dir: Path
    plan: planning.Plan
    errored: list[str]
    finished: list[str]
    analysis: Any = None  # parallel_tune.analyze.Analysis: the tables, findings, report and dashboard

    @property
    def report(self) -> Path | None:
        return self.analysis.report if self.analysis is not None else None


def run_sweep(
    space: SearchSpace,
    options: SweepOptions | None = None,
    *,
    user=None,
    analyze: bool = True,
    argv: list[str] | None = None,
    callbacks: list[Any] | None = None,
    stream=None,
) -> SweepResult:
    """Plan, check and run a sweep (``parallel_tune.run.experiment.start``) of ``space``, every trial starting
    from ``user``'s config if given, then analyse it unless ``analyze`` is False. Raises ``Interrupted`` when
    trials were left unfinished (nothing measured is lost)."""
    options = options or SweepOptions()
    outcome = experiment.start(space, options, user=user, argv=argv, callbacks=callbacks, stream=stream)
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

        result.analysis = analyze_experiment(outcome.experiment_dir, stream=stream)
        print(f"report: {result.report}", file=stream)
    print(f"browse the trials: tensorboard --logdir {outcome.experiment_dir}", file=stream)
    return result


def sweep(
    config=None,
    *,
    space: str | SearchSpace = "runners_only",
    runners: list[int] | None = None,
    envs_per_runner: list[int] | None = None,
    iterations: int | None = None,
    precision: float | None = None,
    env: str | None = None,
    settings: dict[str, Any] | None = None,
    grid: dict[str, list[Any]] | None = None,
    goal: str | None = None,
    race_margin: float | None = None,
    seeds: int | None = None,
    env_steps: int | None = None,
    target_return: float | None = None,
    dry_run: bool = False,
    analyze: bool = True,
    stream=None,
    **options: Any,
):
    """The Python way in: sweep ``config`` (an RLlib ``AlgorithmConfig``, or ``"FILE.py[:NAME]"``; None: the
    space's own algorithm and settings) over ``space``.

    The other arguments are the CLI's flags, as Python values (``runners=[1, 2, 4]``,
    ``settings={"lr": 1e-3}`` for ``--set``, ``grid={...}`` for ``--grid``), and any ``SweepOptions`` field
    (``storage_path``, ``name``, ``address``, ``num_cpus``, ``ceiling_s``...). Returns the plan
    (``dry_run``), or the ``SweepResult``, whose ``analysis`` holds the experiment's tables and findings.
    """
    known = {f.name for f in fields(SweepOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise SweepError(f"parallel_tune.sweep() got an unknown option {unknown[0]!r}; options: {', '.join(known)}")
    run_options = SweepOptions(**{k: Path(v) if k == "storage_path" else v for k, v in options.items()}).check()
    user = _user(config)
    address = cluster.address(run_options.address)
    nodes = cluster.nodes(address, run_options.num_cpus, run_options.num_gpus)
    chosen, origin = resolve(
        space,
        cpus=int(total(nodes).get("CPU", 1)),
        user=user,
        runners=runners,
        envs_per_runner=envs_per_runner,
        iterations=iterations,
        precision=precision,
        env=env,
        settings=settings,
        grid=grid,
        goal=goal,
        race_margin=race_margin,
        seeds=seeds,
        env_steps=env_steps,
        target_return=target_return,
    )
    _check(chosen, user)
    if dry_run:
        planned = planning.build(chosen, nodes, local=not address, user=user)
        print(_describe(planned, origin, user), file=stream or sys.stdout)
        return planned
    return run_sweep(chosen, run_options, user=user, analyze=analyze, stream=stream)


def _user(config):
    """A ``run.user.UserConfig`` from a file spec or an ``AlgorithmConfig`` made in Python; None for None."""
    if config is None:
        return None
    from parallel_tune.run import user

    if isinstance(config, str | Path):
        return user.load(str(config))
    if not user._is_config(config):
        raise SweepError(f"config must be an RLlib AlgorithmConfig or 'FILE.py[:NAME]', got {type(config).__name__}")
    return user.UserConfig(Path("<python>"), "config", "", config, settings=user._set_by(config))


#: The space's fields a flag (and ``sweep()``'s argument of the same name) replaces when given.
REPLACED_FIELDS = ("goal", "race_margin", "seeds", "env_steps", "target_return")


def resolve(
    space: str | SearchSpace,
    *,
    cpus: int | None,
    user=None,
    runners: list[int] | None = None,
    envs_per_runner: list[int] | None = None,
    iterations: int | None = None,
    precision: float | None = None,
    env: str | None = None,
    settings: dict[str, Any] | None = None,
    grid: dict[str, list[Any]] | None = None,
    **replaced: Any,
) -> tuple[SearchSpace, dict[str, str]]:
    """The space to run, and where each fixed setting comes from ("your config", "the space", "--set").

    ``space``: a name, a YAML path or a ``SearchSpace``; ``cpus`` resolves grids
    that depend on the machine. With a ``user`` config, the algorithm, env and
    every setting the user's file set are the user's: the space's fixed
    settings apply only where the file left them unset, and ``settings``
    (``--set``) apply on top of both. ``replaced``: any of ``REPLACED_FIELDS``
    (their flags), replacing the space's where not None.
    """
    unknown = sorted(set(replaced) - set(REPLACED_FIELDS))
    if unknown:
        raise SweepError(f"unknown setting {unknown[0]!r}; these replace the space's: {', '.join(REPLACED_FIELDS)}")
    loaded = space if isinstance(space, SearchSpace) else spaces.load(space or "runners_only", cpus=cpus)
    settings = dict(settings or {})
    origin = {k: "the space" for k in loaded.ppo}
    if user is not None:
        mine, theirs, written_for = user.settings, user.config.to_dict(), loaded.algorithm
        lendable = set(theirs) if written_for == user.algorithm else spaces.PARALLELISM_KEYS
        kept = {k: v for k, v in loaded.ppo.items() if k not in mine and k in lendable}
        # Runners and envs per runner the grid does not vary are the file's: the space states them as fixed.
        counts = {k: theirs[k] for k in spaces.RLLIB_DEFAULTS if k not in loaded.grid}
        ppo = {**kept, **counts}
        loaded = spaces.validate(replace(loaded, ppo=ppo, env=user.env, algorithm=user.algorithm))
        origin = {
            **{k: "your config" for k in mine if k not in loaded.grid},
            **{k: "the space" for k in kept},
            **{
                k: f"the space, left out (for {written_for}, your config is {user.algorithm})"
                for k in set(origin) - set(kept)
                if k not in mine
            },
        }
    origin.update({k: "--set" for k in settings})
    resolved = loaded.with_overrides(
        runners=runners,
        envs_per_runner=envs_per_runner,
        iterations=iterations,
        env=env,
        precision=precision,
        settings=settings,
        axes=grid,
        **{k: v for k, v in replaced.items() if v is not None},
    )
    if settings or grid:  # checked like a space file's keys, whatever the command then does
        from parallel_tune.run.trial import check_keys

        check_keys(resolved)
    return resolved, origin


def _check(space: SearchSpace, user) -> None:
    """Refuse what would fail in every trial, before Ray starts one: an env that cannot be made, unknown keys."""
    from parallel_tune.run.trial import check_keys

    cluster.check_env(space.env, dict(user.config.env_config or {}) if user is not None else None)
    check_keys(space)
    batch = space.ppo.get("train_batch_size", user.config.train_batch_size if user is not None else None)
    if space.env_steps and batch and not spaces.asynchronous(space.algorithm):
        needed = -(-space.env_steps // int(batch))
        if needed > space.iterations:
            raise SweepError(
                f"--env-steps {space.env_steps:,} takes about {needed:,} iterations of train_batch_size {batch}; the "
                f"cap is {space.iterations}: raise --iterations to at least {needed:,}"
            )


def _describe(planned: planning.Plan, origin: dict[str, str], user) -> str:
    """The plan, then which side each fixed setting came from."""
    lines = [planned.describe()]
    space = planned.space
    if space.learning:
        budget = f", each to {space.env_steps:,} env steps" if space.env_steps else ""
        seeds = ", ".join(map(str, space.replicate_seeds()))
        trials = len(planned.runnable) * space.seeds
        k = space.checkpoint_every
        every = f"; a checkpoint every {'iteration' if k == 1 else f'{k} iterations'}" if k else ""
        lines.append(
            f"learning check: {space.seeds} replicate(s) of each config ({trials} trials), seeds {seeds}{budget}{every}"
        )
    if planned.space.goal == "fastest" and len(planned.runnable) > 1:
        ranked = experiment.race_order(planned)
        lines.append(
            f"race (--goal fastest, margin {100 * planned.space.race_margin:g} %), fastest predicted first by "
            f"{ranked['predicted_by']} (--ceiling: by the measured ceiling): {', '.join(ranked['names'])}"
        )
    if user is not None:
        lines.append(f"config: {user.algorithm} from {user.spec} (sha256 {user.sha256[:12] or 'n/a'})")
    by_side: dict[str, list[str]] = {}
    for key, side in origin.items():
        by_side.setdefault(side, []).append(key)
    for side in sorted(
        by_side,
        key=lambda x: (
            ("your config", "the space", "--set").index(x) if x in ("your config", "the space", "--set") else 3
        ),
    ):
        lines.append(f"settings from {side}: {', '.join(sorted(by_side[side]))}")
    return "\n".join(lines)


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
        description="Sweep the parallelism settings of RLlib's PPO, APPO or IMPALA as Ray Tune trials.",
    )
    p.add_argument(
        "--config",
        metavar="FILE.py[:NAME]",
        help="your RLlib AlgorithmConfig: the file's `config` (or NAME: a variable, or a function returning one)",
    )
    p.add_argument("--space", help="space name in search_spaces/ or a YAML path (default runners_only)")
    p.add_argument("--runners", help="num_env_runners values, e.g. '1,2,4' (replaces the space's)")
    p.add_argument("--envs-per-runner", help="num_envs_per_env_runner values, e.g. '1,2'")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fix a setting, e.g. num_epochs=5 (repeatable; takes the key out of the grid; over --config's)",
    )
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="grid a setting, e.g. gym_env_vectorize_mode=sync,async (repeatable; replaces its values)",
    )
    p.add_argument("--iterations", type=int, help="training iterations per config (with --precision: the cap)")
    p.add_argument(
        "--precision",
        type=float,
        metavar="P",
        help="stop a trial once its 95 %% interval of time per iteration is within +-P of the median (e.g. 0.05)",
    )
    p.add_argument(
        "--goal",
        metavar="GOAL",
        help="curve (default): measure every config; fastest: race them, stopping each as soon as it is clearly "
        "slower than the fastest so far",
    )
    p.add_argument(
        "--race-margin",
        type=float,
        metavar="M",
        help=f"with --goal fastest: stop a config once its best case is M below the fastest (default "
        f"{spaces.DEFAULT_MARGIN:g}: 3 %%)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="a learning check: run every config N times, seeded 1000 apart, and compare their returns",
    )
    p.add_argument(
        "--env-steps",
        type=int,
        metavar="S",
        help="a training budget: stop each trial at S sampled env steps (--iterations stays the cap)",
    )
    p.add_argument(
        "--target-return",
        type=float,
        metavar="R",
        help="with a learning check: report the env steps and wall time each config takes to reach return R",
    )
    p.add_argument("--env", help="environment id (default: the --config file's, else the space's)")
    p.add_argument("--storage-path", default=str(DEFAULT_STORAGE), help="Tune storage path (default %(default)s)")
    p.add_argument("--name", help="experiment name (default: <space>_<date>)")
    p.add_argument(
        "--address", help="join this Ray cluster (default: RAY_ADDRESS if set, as under `ray job submit`; else local)"
    )
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


_SPACE_FLAGS = (
    "space",
    "runners",
    "envs_per_runner",
    "iterations",
    "env",
    "precision",
    "set",
    "grid",
    "config",
    "goal",
    "race_margin",
    "seeds",
    "env_steps",
    "target_return",
)


def resolve_space(args: argparse.Namespace, cpus: int | None, user=None) -> SearchSpace:
    """The space the flags ask for; ``cpus`` resolves grids that depend on the machine."""
    return _resolve_args(args, cpus, user)[0]


def _resolve_args(args: argparse.Namespace, cpus: int | None, user=None) -> tuple[SearchSpace, dict[str, str]]:
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
    return resolve(
        args.space or "runners_only",
        cpus=cpus,
        user=user,
        runners=runners,
        envs_per_runner=envs,
        iterations=args.iterations,
        precision=args.precision,
        env=args.env,
        settings=dict(spaces.parse_assignment(a, option="--set", many=False) for a in args.set),
        grid=dict(spaces.parse_assignment(a, option="--grid", many=True) for a in args.grid),
        goal=_goal(args.goal),
        race_margin=args.race_margin,
        seeds=args.seeds,
        env_steps=args.env_steps,
        target_return=args.target_return,
    )


def _goal(text: str | None) -> str | None:
    if text is None:
        return None
    if text.lower() not in spaces.GOALS:
        raise SweepError(f"--goal: unknown goal {text!r}; goals: {', '.join(spaces.GOALS)}")
    return text.lower()


def _run(args: argparse.Namespace, argv: list[str], options: SweepOptions) -> int:
    if args.ceiling is not None and args.resume:
        raise SweepError("--ceiling runs before a sweep's first trial; it cannot be added on --resume")
    address = cluster.address(options.address)
    if args.resume:
        requested = None
        if any(getattr(args, f) not in (None, []) for f in _SPACE_FLAGS):  # resolved as the stored space was
            nodes = cluster.nodes(address, options.num_cpus, options.num_gpus)
            requested = resolve_space(args, int(total(nodes).get("CPU", 1)), _user(args.config))
        resumed = resume_sweep(Path(args.resume), options, requested=requested, analyze=not args.no_analyze)
        return 1 if resumed.errored else 0

    user = _user(args.config)
    nodes = cluster.nodes(address, options.num_cpus, options.num_gpus)
    space, origin = _resolve_args(args, int(total(nodes).get("CPU", 1)), user)
    _check(space, user)
    if args.dry_run:
        planned = planning.build(space, nodes, local=not address, user=user)
        print(_describe(planned, origin, user))
        if args.ceiling:
            print(
                f"first: the raw {space.env} ceiling at {planned.sampling_widths()} processes, {args.ceiling:g} s each"
            )
        return 0
    argv = ["python", "-m", "parallel_tune.sweep", *argv]
    result = run_sweep(space, options, user=user, analyze=not args.no_analyze, argv=argv)
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


class _Command(types.ModuleType):
    """The module is the Python API too: ``parallel_tune.sweep(config, space=...)`` calls ``sweep``."""

    def __call__(self, *args: Any, **kwargs: Any):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _Command

if __name__ == "__main__":
    sys.exit(main())
