"""A sweep as one Tune experiment: start it, resume it, and re-measure the baseline at its end.

One Tune trial per parallelism config, one at a time by default so timings
never share cores, each RLlib's PPO in the placement group its config asks
for (``parallel_tune.run.trial``). The plan is checked against the cluster
first: a config that cannot fit is skipped and recorded instead of left
PENDING forever (``--strict`` refuses the sweep). The experiment record is
written before the first trial; ``resume`` rebuilds everything from it.

A race (``goal: fastest``) runs the configs fastest-predicted first (Tune's
``BasicVariantGenerator`` with the points in that order), stops the clearly
slower ones (``SweepScheduler``), and re-measures its winner beside the
baseline at the end.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from parallel_tune.core import race
from parallel_tune.core import record as records
from parallel_tune.core.errors import UsageError
from parallel_tune.core.files import ANALYSIS_DIR, CEILING, DRIFT, RECORD, trial_name
from parallel_tune.core.spaces import SearchSpace
from parallel_tune.run import cluster
from parallel_tune.run import plan as planning
from parallel_tune.run.placement import total
from parallel_tune.run.plan import Plan

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
    """How to run (or resume) a sweep; each field is one ``python -m parallel_tune.sweep`` flag of the same name."""

    storage_path: Path = DEFAULT_STORAGE
    name: str | None = None
    address: str | None = None
    num_cpus: int | None = None
    num_gpus: int | None = None
    max_concurrent: int = 1
    strict: bool = False
    telemetry: bool = True
    telemetry_interval_s: float = 1.0
    ceiling_s: float | None = None
    retry_errored: bool = False
    max_failures: int = 0
    drift_check: bool | None = None  # None: when more than DRIFT_CHECK_ABOVE configs run

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
class Outcome:
    """Where the experiment lives, what was planned, and which trials finished or failed."""

    experiment_dir: Path
    plan: Plan
    errored: list[str]
    finished: list[str]


def start(
    space: SearchSpace,
    options: SweepOptions = SweepOptions(),
    *,
    user=None,
    argv: list[str] | None = None,
    callbacks: list[Any] | None = None,
    stream=None,
) -> Outcome:
    """Plan, check and run a sweep.

    The plan is checked against the cluster before Ray starts (a local sweep)
    or trials launch (a cluster). ``user``: the ``run.user.UserConfig`` every
    trial starts from (``--config``), if any. ``options.ceiling_s``: first
    measure the raw environment ceiling (that many seconds per width, at every
    width the runnable configs sample with) into ``<experiment>/ceiling.parquet``.
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

    address = cluster.address(options.address)
    nodes = cluster.nodes(address, options.num_cpus, options.num_gpus)
    planned = planning.build(space, nodes, local=not address, user=user)
    print(planned.describe(), file=stream)
    planned.check(strict=options.strict)
    run_space = planned.runnable_space()

    _create(experiment_dir)
    cluster.init_ray(address, options.num_cpus, options.num_gpus)
    records.write(experiment_dir, _record(planned, argv, replace(options, address=address), user))
    print(f"experiment: {experiment_dir}", file=stream)

    if options.ceiling_s:
        _measure_ceiling(planned, experiment_dir, options.ceiling_s, stream, user)

    from parallel_tune.run.stopping import SweepScheduler

    points = _race_order(planned, experiment_dir, stream) if space.goal == "fastest" else None
    scheduler = SweepScheduler(run_space, experiment_dir)
    tune_callbacks = _callbacks(options, space, len(planned.runnable) * space.seeds, scheduler, extra=callbacks)
    tuner = _tuner(
        run_space, experiment_dir.parent, name, options, tune_callbacks, list(space.grid), scheduler, user, points
    )
    results = tuner.fit()
    _maybe_recheck_baseline(planned, results, experiment_dir, options, stream, user)
    return _finish(experiment_dir, planned, results, stream)


def race_order(planned: Plan, ceiling: dict[int, float] | None = None) -> dict[str, Any]:
    """The runnable grid points fastest-predicted first (``race.order``): {"points", "names", "predicted",
    "predicted_by"}."""
    space = planned.space
    points = [t.config for t in planned.runnable]
    full = [space.full_config(p) for p in points]
    cpus = float(total(planned.nodes).get("CPU", 1))
    ranked = race.order(points, full, cpus=cpus, ceiling=ceiling)
    return {
        "points": [points[i] for i in ranked],
        "names": [trial_name(points[i], list(space.grid), space.algorithm) for i in ranked],
        "predicted": [race.predicted_speed(full[i], cpus, ceiling) for i in ranked],
        "predicted_by": race.basis(full, ceiling),
    }


def _race_order(planned: Plan, experiment_dir: Path, stream) -> list[dict[str, Any]]:
    """``race_order`` from the ceiling measured just before (if any), logged in ``race.jsonl`` and said."""
    import pandas as pd

    ceiling = None
    if (experiment_dir / CEILING).exists():
        raw = pd.read_parquet(experiment_dir / CEILING)
        ceiling = dict(zip(raw["processes"].astype(int), raw["env_steps_per_s"].astype(float), strict=True))
    ranked = race_order(planned, ceiling)
    space = planned.space
    race.append(
        experiment_dir,
        {
            "goal": space.goal,
            "margin": space.race_margin,
            "predicted_by": ranked["predicted_by"],
            "order": [{"trial": n, "predicted": v} for n, v in zip(ranked["names"], ranked["predicted"], strict=True)],
            "started_at_s": time.time(),
        },
    )
    print(
        f"race: {len(ranked['points'])} configs, fastest predicted first by {ranked['predicted_by']}: "
        f"{', '.join(ranked['names'])}; a config stops as soon as its best case is "
        f"{100 * space.race_margin:g} % or more below the fastest so far",
        file=stream,
    )
    return ranked["points"]


def _record(planned: Plan, argv: list[str] | None, options: SweepOptions, user=None) -> records.ExperimentRecord:
    """What the sweep is about to run, where: its space, plan, resolved RLlib config (and the user's file it
    came from), versions and machine."""
    from parallel_tune.core import machine
    from parallel_tune.run.trial import resolved_config

    space = planned.space
    point = space.reference_config([t.config for t in planned.runnable])
    local = not options.address
    algorithm = {"name": space.algorithm, "reference_point": point, "config": resolved_config(space, point, user)}
    if user is not None:
        algorithm["config_file"] = user.record()
    return records.ExperimentRecord(
        space=space,
        plan=planned.to_record(),
        algorithm=algorithm,
        command=argv,
        versions=machine.versions(),
        machine=machine.describe(),
        cluster={
            "address": options.address,
            "resources": total(cluster.cluster_nodes()),
            "nodes": cluster.node_hardware(local=local),
        },
        options={
            "telemetry": options.telemetry,
            "telemetry_interval_s": options.telemetry_interval_s,
            "started_at_s": time.time(),
        },
    )


def _callbacks(
    options: SweepOptions,
    space: SearchSpace,
    trials: int,
    scheduler,
    *,
    done_before: int = 0,
    extra: list[Any] | None = None,
) -> list[Any]:
    """Telemetry (unless switched off), progress (told by ``scheduler`` what noise puts out of reach), then any extra
    Tune callbacks."""
    from parallel_tune.run.progress import ProgressCallback

    adaptive = space.precision is not None
    progress = ProgressCallback(
        trials,
        space.iterations,
        adaptive=adaptive,
        done_before=done_before,
        scheduler=scheduler,
        env_steps=space.env_steps,
    )
    out: list[Any] = [progress, *(extra or [])]
    if options.telemetry:
        from parallel_tune.run.telemetry import TelemetryCallback

        out.insert(0, TelemetryCallback(interval_s=options.telemetry_interval_s))
    return out


def _ended(space: SearchSpace, results, experiment_dir: Path) -> tuple[list[str], list[str], list[str]]:
    """(errored, finished, unfinished) trial directory names, finished judged by each trial's own results, or
    raced out (``race.jsonl``)."""
    from parallel_tune.run.stopping import finished

    raced_out = race.read(experiment_dir).get("eliminated", {})
    errored, done, unfinished = [], [], []
    for r in results:
        name = Path(r.path).name
        if r.error:
            errored.append(name)
        elif name in raced_out or finished(space, Path(r.path)):
            done.append(name)
        else:
            unfinished.append(name)
    return errored, done, unfinished


def _maybe_recheck_baseline(
    planned: Plan, results, experiment_dir: Path, options: SweepOptions, stream, user=None
) -> None:
    wanted = options.drift_check if options.drift_check is not None else len(planned.runnable) > DRIFT_CHECK_ABOVE
    racing = planned.space.goal == "fastest"
    if _ended(planned.space, results, experiment_dir)[2] or (experiment_dir / DRIFT).exists():
        return
    winner = _race_done(planned, results, experiment_dir, stream) if racing else None
    if wanted or (racing and options.drift_check is None):
        _recheck_baseline(planned, experiment_dir, options, stream, user, winner)


def _race_done(planned: Plan, results, experiment_dir: Path, stream) -> dict[str, Any] | None:
    """Name the race's winner (``stopping.fastest``), log it and when the race ended; its grid point, or None
    where no config was measured to its end."""
    from parallel_tune.core import trial_results
    from parallel_tune.run.stopping import fastest

    log = race.read(experiment_dir)
    done = {Path(r.path).name: r for r in results if not r.error}
    measured = {name: trial_results.timings(Path(r.path)) for name, r in done.items()}
    best = fastest(planned.space, measured, raced_out=log.get("eliminated", {}))
    race.append(experiment_dir, {"winner": best[0] if best else None, "finished_at_s": time.time()})
    if best is None:
        print("race: no config was measured to its end; no winner", file=stream)
        return None
    print(f"race: {best[0]} wins; {len(log.get('eliminated', {}))} config(s) raced out", file=stream)
    return {k: done[best[0]].config[k] for k in planned.space.grid}


def _tuner(
    space: SearchSpace,
    storage: Path,
    name: str,
    options: SweepOptions,
    callbacks: list,
    grid_keys: list[str],
    scheduler,
    user=None,
    points: list[dict[str, Any]] | None = None,
):
    """One Tune trial per config of ``space`` (starting from ``user``'s config, if any), named by the sweep's grid
    keys, scheduled by ``scheduler`` (the sweep's ``SweepScheduler``); ``points``: the grid points in the order
    to run them (Tune's grid order without)."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from parallel_tune.run import trial
    from parallel_tune.run.probe import measured

    named_by = [*grid_keys, *(["seed"] if space.learning else [])]  # a learning check's replicates by their seed
    ordered = {}
    if points is not None:  # each preset point replaces one sample and fixes every grid key: one trial each
        ordered = {
            "search_alg": BasicVariantGenerator(points_to_evaluate=points, max_concurrent=options.max_concurrent),
            "num_samples": len(points),
        }
    return tune.Tuner(
        measured(space.algorithm),
        param_space=trial.param_space(space, user),
        tune_config=tune.TuneConfig(
            max_concurrent_trials=None if ordered else options.max_concurrent,
            trial_name_creator=_namer(named_by, space.algorithm),
            trial_dirname_creator=_namer(named_by, space.algorithm),
            scheduler=scheduler,
            **ordered,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(storage),
            # The cap, as plain data: Tune pickles its stopper into the experiment state. SweepScheduler stops
            # by the precision target and the cap alike.
            stop={"training_iteration": space.iterations},
            callbacks=callbacks,
            checkpoint_config=tune.CheckpointConfig(
                checkpoint_frequency=space.checkpoint_every, checkpoint_at_end=True
            ),
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            verbose=0,
        ),
    )


def _namer(grid_keys: list[str], algorithm: str):
    def name(trial) -> str:
        return trial_name(trial.config, grid_keys, algorithm)

    return name


def _recheck_baseline(
    planned: Plan, experiment_dir: Path, options: SweepOptions, stream, user=None, winner: dict | None = None
) -> None:
    """Run the baseline config (or its stand-in), and a race's ``winner``, again, briefly, into
    ``<experiment>/drift``: did the machine's speed move, and does the winner still win?

    Warm-up plus ``min_measured_iterations`` iterations of the same settings;
    the analysis compares its times with the same config's trial.
    """
    space = planned.space
    point = space.reference_config([t.config for t in planned.runnable])
    points = [point, *([winner] if winner and winner != point else [])]
    iterations = space.warmup_iterations + space.min_measured_iterations
    grid = {k: list(dict.fromkeys(p[k] for p in points)) for k in point}
    again = replace(
        space,
        grid=grid,
        iterations=iterations,
        precision=None,
        goal="curve",
        seeds=1,
        env_steps=None,
        target_return=None,
    )
    names = " and ".join(trial_name(p, list(p), space.algorithm) for p in points)
    print(f"drift check: {names} again, {iterations} iterations each", file=stream)
    from parallel_tune.run.stopping import SweepScheduler

    scheduler = SweepScheduler(again)
    callbacks = _callbacks(options, again, len(points), scheduler)
    once = replace(options, max_concurrent=1)
    _tuner(again, experiment_dir, DRIFT, once, callbacks, list(space.grid), scheduler, user, points).fit()


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


def _measure_ceiling(planned: Plan, experiment_dir: Path, seconds: float, stream, user=None) -> None:
    from parallel_tune.run import rawenv

    space, widths = planned.space, planned.sampling_widths()
    print(f"ceiling: the bare {space.env} at {widths} processes, {seconds:g} s each", file=stream)
    rawenv.run(
        space.env,
        widths,
        experiment_dir / CEILING,
        duration_s=seconds,
        strategy=space.placement_strategy,
        stream=stream,
        env_config=dict(user.config.env_config or {}) if user is not None else None,
    )


def resume(
    experiment_dir: Path,
    options: SweepOptions = SweepOptions(),
    *,
    requested: SearchSpace | None = None,
    stream=None,
) -> Outcome:
    """Continue an interrupted sweep with Tune's own restore, as the record says it started.

    Finished trials are never re-run: neither those Tune's state calls
    TERMINATED nor those whose own results already end them (``SweepScheduler``).
    The trial that was running continues from its last checkpoint; with no
    checkpoint yet (spaces checkpoint only at the end unless
    ``checkpoint_frequency`` is set or the sweep is a learning check) it
    starts over from iteration 1. The
    first run of every iteration stays the measurement (the loader keeps it),
    and a continued trial counts its warm-up again after the restore. Errored
    trials restart only with ``retry_errored``. The space, plan, precision
    target and telemetry are the record's; a sweep of a user's ``--config``
    file runs the file again first (its env registrations are what the
    trials make), and refuses if the file changed since. (Tune's RESTART resume type is not
    used for unfinished trials: with Ray 2.60 it created a second trial
    directory and then stalled.)
    """
    stream = stream or sys.stdout
    experiment_dir = Path(experiment_dir).expanduser().resolve()
    if not experiment_dir.is_dir():
        raise SweepError(f"--resume: {experiment_dir} does not exist")
    if not (experiment_dir / RECORD).exists():
        raise SweepError(f"--resume: {experiment_dir} holds no parallel_tune experiment to resume")
    from ray import tune
    from ray.tune import ResumeConfig

    from parallel_tune.core.legacy import old_module_names

    if not tune.Tuner.can_restore(str(experiment_dir)):
        raise SweepError(f"--resume: {experiment_dir} holds no parallel_tune experiment to resume")
    try:
        stored = records.read(experiment_dir)
        if requested is not None:
            diff = records.settings_diff(stored.space.settings(), requested.settings())
            if diff:
                raise SweepError(f"--resume: the space differs from the one this experiment ran with: {diff}")
        user = _user_config_again(stored)
        cluster.init_ray(cluster.address(options.address), options.num_cpus, options.num_gpus)
        planned = Plan.from_record(stored, cluster.cluster_nodes())
        recorded = {k: stored.options[k] for k in ("telemetry", "telemetry_interval_s") if k in stored.options}
        options = replace(options, **recorded)  # telemetry and the drift check sample as the sweep did
    except records.RecordError as exc:
        raise SweepError(f"--resume: {exc}") from None
    kind = ResumeConfig.ResumeType
    resume_config = ResumeConfig(
        unfinished=kind.RESUME,
        errored=kind.RESTART if options.retry_errored else kind.SKIP,
    )
    from parallel_tune.run.probe import measured
    from parallel_tune.run.stopping import SweepScheduler, finished
    from parallel_tune.run.trial import quiet_notices

    errored = "retry" if options.retry_errored else "keep as failed"
    print(f"resuming {experiment_dir} (errored trials: {errored})", file=stream)
    records.note_resume(experiment_dir, time.time())  # the time it stood still is not the harness's
    space = planned.space
    trial_dirs = [d for d in experiment_dir.iterdir() if d.is_dir() and d.name not in (DRIFT, ANALYSIS_DIR)]
    done_before = sum(finished(space, d) for d in trial_dirs)
    quiet_notices(space.algorithm)
    trainable = measured(space.algorithm)
    with old_module_names():  # an experiment made before 0.2 pickled classes at their old paths
        tuner = tune.Tuner.restore(str(experiment_dir), trainable=trainable, _resume_config=resume_config)
        # Tune restores the callbacks, scheduler and names it pickled at the sweep's start; these are rebuilt from
        # the record instead, so a resumed sweep schedules, stops, samples and numbers its trials as the record
        # says (and as this version does). Tuner.restore takes no RunConfig: the restored one is set here.
        restored = tuner._local_tuner
        scheduler = SweepScheduler(space, experiment_dir)
        restored._run_config.callbacks = _callbacks(
            options, space, len(planned.runnable) * space.seeds, scheduler, done_before=done_before
        )
        restored._tune_config.scheduler = scheduler
        results = tuner.fit()
    _maybe_recheck_baseline(planned, results, experiment_dir, options, stream, user)
    return _finish(experiment_dir, planned, results, stream)


def _user_config_again(record: records.ExperimentRecord):
    """The ``--config`` file the sweep started from, run again, if it had one; it must be unchanged."""
    source = record.algorithm.get("config_file")
    if not source:
        return None
    from parallel_tune.run import user

    path = Path(source["file"])
    if not path.is_file():
        raise SweepError(f"--resume: the sweep's --config file {path} is gone; put it back to resume")
    if user.digest(path) != source["sha256"]:
        raise SweepError(
            f"--resume: {path} changed since the sweep started (sha256 {source['sha256'][:12]}...); restore it, "
            "or start a new sweep with the file as it is now"
        )
    return user.load(f"{path}:{source['name']}")


def _finish(experiment_dir: Path, planned: Plan, results, stream) -> Outcome:
    errored, finished, unfinished = _ended(planned.space, results, experiment_dir)
    if unfinished:
        never_started = max(len(planned.runnable) * planned.space.seeds - len(results), 0)
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
    return Outcome(experiment_dir, planned, errored, finished)


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
