"""The only path from an experiment directory to DataFrames, and the only place older tables are migrated.

``load`` reads a Tune experiment (through Ray's own ``ExperimentAnalysis``
for its trials, and each trial's ``result.json`` through
``parallel_tune.core.trial_results``) or the ``analysis/`` tables a previous
analysis wrote (committed results keep only those), and returns the same
``Experiment`` either way. ``write_tables`` stores its tables as Parquet
with the experiment record inside each file's schema metadata. Result keys
are read through RLlib's constants, and renames are absorbed here.

Nothing measured is dropped: a trial whose result file is missing or cut
short keeps its row (with a line in ``problems``); where a restore ran an
iteration again, the first complete run is kept and the trial's
``iterations_rerun`` says how many re-runs were set aside.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parallel_tune.core import files, race, spaces, trial_results
from parallel_tune.core.errors import UsageError
from parallel_tune.core.record import NOT_RECORDED, ExperimentRecord, RecordError, resumes
from parallel_tune.core.record import read as read_record
from parallel_tune.core.tables import (
    NOT_STARTED,
    PLACEMENT_KEY,
    REPORTED_AT,
    SKIPPED,
    TELEMETRY_KEY,
    TableError,
    write_table,
)
from parallel_tune.core.tables import read_table as _read_table

logger = logging.getLogger(__name__)

RLLIB_TIMER_EMA_COEFF = 0.01


class ResultsError(UsageError):
    """An experiment directory or table that cannot be read."""


@dataclass
class Experiment:
    """One experiment as tables, with the record of what produced it.

    ``iterations``: one row per trial-iteration; ``trials``: one per config
    (skipped and never-started ones too); ``telemetry``: one per hardware
    sample; ``drift``: the baseline (and a race's winner) re-measured at the
    end, per iteration (empty without a drift check); ``race``: a race's log
    (``parallel_tune.core.race``; {} for a sweep that did not race);
    ``resumed_at_s``: when each ``--resume`` started ([] for a sweep that ran
    in one go). Layouts in ``load_experiment``.
    """

    iterations: pd.DataFrame
    trials: pd.DataFrame
    telemetry: pd.DataFrame
    record: ExperimentRecord
    experiment_dir: Path
    problems: list[str] = field(default_factory=list)
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    race: dict[str, Any] = field(default_factory=dict)
    resumed_at_s: list[float] = field(default_factory=list)

    @property
    def grid_keys(self) -> list[str]:
        return self.record.grid_keys

    @property
    def config_keys(self) -> list[str]:
        return self.record.config_keys

    @property
    def cores(self) -> int:
        """Real cores the trials ran on: this machine's for a local Ray, every node's through ``--address``.

        A local Ray can be told of more logical CPUs than the machine has cores
        (``--num-cpus``); the machine's cores are what the processes shared. On a
        cluster each node counts its own cores (nodes simulated on one host, as in
        the tests, each count that host's).
        """
        machine, cluster = self.record.machine, self.record.cluster
        if self.record.on_cluster:
            nodes = cluster.get("nodes") or []
            if nodes:
                return int(sum(n.get("logical_cores") or n.get("resources", {}).get("CPU", 0) for n in nodes))
            return int(cluster.get("resources", {}).get("CPU") or machine.get("logical_cores") or 1)
        return int(machine.get("logical_cores") or 1)

    @property
    def physical_cores(self) -> int:
        """Physical cores the trials ran on (as ``cores``, without hyperthreads): what concurrent processes fit."""
        machine, cluster = self.record.machine, self.record.cluster
        if self.record.on_cluster and cluster.get("nodes"):
            return int(sum(n.get("physical_cores") or n.get("logical_cores") or 0 for n in cluster["nodes"]))
        return int(machine.get("physical_cores") or self.cores)

    def metadata(self) -> dict[str, Any]:
        """What every table written from this experiment carries: the record, where it was read, its problems."""
        out = {**self.record.to_dict(), "experiment_dir": str(self.experiment_dir), "problems": self.problems}
        if self.resumed_at_s:
            out["resumed_at_s"] = self.resumed_at_s
        return {**out, "race": self.race} if self.race else out


def read_table(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One Parquet table and its metadata; ``ResultsError`` (one line) where it cannot be read."""
    try:
        return _read_table(path)
    except TableError as exc:
        raise ResultsError(str(exc)) from None


def _column_map() -> dict[str, str]:
    """Tune/RLlib flat result key -> our column name (units in the name)."""
    from ray.rllib.utils.metrics import (
        CONNECTOR_PIPELINE_TIMER,
        ENV_RUNNER_RESULTS,
        ENV_RUNNER_SAMPLING_TIMER,
        ENV_STEP_TIMER,
        ENV_TO_MODULE_CONNECTOR,
        EPISODE_RETURN_MEAN,
        LEARNER_UPDATE_TIMER,
        MODULE_TO_ENV_CONNECTOR,
        NUM_ENV_STEPS_SAMPLED,
        NUM_ENV_STEPS_SAMPLED_LIFETIME,
        RLMODULE_INFERENCE_TIMER,
        SYNCH_WORKER_WEIGHTS_TIMER,
        TIMERS,
    )

    er = ENV_RUNNER_RESULTS
    return {
        trial_results.ITERATION: "iteration",
        # 1 on the first iteration after a restore: warm-up is counted from it again.
        trial_results.SINCE_RESTORE: "iterations_since_restore",
        trial_results.TIME: "time_this_iter_s",
        "time_total_s": "time_total_s",
        "timestamp": "timestamp_s",
        REPORTED_AT: REPORTED_AT,
        "node_ip": "node_ip",
        PLACEMENT_KEY: "placement_json",
        "num_training_step_calls_per_iteration": "training_steps_per_iteration",
        f"{er}/{NUM_ENV_STEPS_SAMPLED}": "env_steps_sampled",
        f"{er}/{NUM_ENV_STEPS_SAMPLED_LIFETIME}": "env_steps_sampled_lifetime",
        f"{er}/{EPISODE_RETURN_MEAN}": "episode_return_mean",
        # Iteration timers: RLlib reports an EMA (coefficient 0.01) of them.
        f"{TIMERS}/{ENV_RUNNER_SAMPLING_TIMER}": "sampling_ema_s",
        f"{TIMERS}/{LEARNER_UPDATE_TIMER}": "learner_update_ema_s",
        f"{TIMERS}/{SYNCH_WORKER_WEIGHTS_TIMER}": "weight_sync_ema_s",
        f"{TIMERS}/synch_env_connectors": "env_connector_sync_ema_s",
        # Per env step, inside the env runners (EMA over recent steps, mean over runners).
        f"{er}/{ENV_STEP_TIMER}": "env_step_per_step_s",
        f"{er}/{RLMODULE_INFERENCE_TIMER}": "inference_per_step_s",
        f"{er}/{ENV_TO_MODULE_CONNECTOR}/{CONNECTOR_PIPELINE_TIMER}": "env_to_module_per_step_s",
        f"{er}/{MODULE_TO_ENV_CONNECTOR}/{CONNECTOR_PIPELINE_TIMER}": "module_to_env_per_step_s",
        # Asynchronous algorithms (APPO, IMPALA): the learner thread's time per update, and its wait for samples.
        "learners/__all_modules__/learner_thread_update_timer": "learner_thread_update_s",
        "learners/__all_modules__/learner_thread_in_queue_wait_timer": "learner_thread_wait_s",
    }


#: EMA timer column -> per-iteration column recovered from it.
_UNSMOOTH = {
    "sampling_ema_s": "sampling_s",
    "learner_update_ema_s": "learner_update_s",
    "weight_sync_ema_s": "weight_sync_s",
    "env_connector_sync_ema_s": "env_connector_sync_s",
}


def unsmooth_ema(ema: pd.Series, coeff: float = RLLIB_TIMER_EMA_COEFF) -> pd.Series:
    """Recover per-iteration values from RLlib's EMA timer series.

    RLlib reports ``timers/*`` as ``v_t = (1 - a) v_(t-1) + a x_t`` with
    ``a = 0.01`` and ``v_1 = x_1``: after ten iterations the reported value is
    still ~90 % the (warm-up) first. Inverting gives ``x_t`` exactly when one
    value is pushed per iteration (``num_training_step_calls_per_iteration``
    is 1 for PPO). Values that come out negative (a restored trial whose EMA
    restarted) are NaN.
    """
    values = ema.to_numpy(dtype=float)
    out = np.full_like(values, np.nan)
    if len(values):
        out[0] = values[0]
        out[1:] = (values[1:] - (1 - coeff) * values[:-1]) / coeff
    out[out < 0] = np.nan
    return pd.Series(out, index=ema.index)


def read_ceiling(experiment: Experiment, path: Path | None = None) -> tuple[pd.DataFrame | None, str]:
    """The raw environment ceiling for ``experiment``: (table or None, a problem line or "").

    ``path`` (a table from ``python -m parallel_tune.ceiling``) must be
    readable and measured on the experiment's environment, or this raises:
    the user asked for it. The experiment's own ``ceiling.parquet`` being
    unreadable only costs the report its ceiling section, and says so.
    """
    env = experiment.record.space.env if experiment.record.space else None
    if path is not None:
        table, meta = read_table(Path(path))
        if env and meta.get("env") and meta["env"] != env:
            raise ResultsError(f"{path} measured {meta['env']}, but the experiment ran {env}")
        if not {"processes", "env_steps_per_s"} <= set(table.columns):
            raise ResultsError(f"{path} is not a ceiling table (no processes / env_steps_per_s columns)")
        return table, ""
    own = experiment.experiment_dir / files.CEILING
    if not own.exists():
        return None, ""
    try:
        return read_table(own)[0], ""
    except ResultsError as exc:
        return None, f"{exc}; the report has no ceiling comparison"


def load(path: Path | str) -> Experiment:
    """An experiment from its Tune directory, or from its ``analysis/`` tables alone.

    Committed results (``benchmarks/results/<name>/``) keep only the record
    and ``analysis/``; they re-analyse from the tables, with the record stored
    inside them.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise ResultsError(f"experiment directory {path} does not exist")
    if list(path.glob(files.TUNE_STATE_GLOB)):
        return load_experiment(path)
    for tables in (path / files.ANALYSIS_DIR, path):
        if (tables / files.table("iterations")).exists():
            return load_analysis(tables)
    raise ResultsError(f"{path} holds no Tune experiment (no experiment_state-*.json) and no analysis tables")


def load_analysis(analysis_dir: Path) -> Experiment:
    """The tables ``write_tables`` wrote, with the record stored in them, migrated to this version's layout."""
    analysis_dir = Path(analysis_dir)
    iterations, metadata = read_table(analysis_dir / files.table("iterations"))
    trials = read_table(analysis_dir / files.table("trials"))[0]
    telemetry_path = analysis_dir / files.table("telemetry")
    telemetry = read_table(telemetry_path)[0] if telemetry_path.exists() else pd.DataFrame()
    drift_path = analysis_dir / files.table(files.DRIFT)
    drift = read_table(drift_path)[0] if drift_path.exists() else pd.DataFrame()
    try:
        record = ExperimentRecord.from_dict(metadata, where=str(analysis_dir / files.table("iterations")))
    except RecordError as exc:
        raise ResultsError(str(exc)) from None
    experiment_dir = analysis_dir.parent if analysis_dir.name == files.ANALYSIS_DIR else analysis_dir
    experiment = Experiment(
        iterations, trials, telemetry, record, experiment_dir, list(metadata.get("problems", [])), drift
    )
    experiment.race = dict(metadata.get("race") or {})
    experiment.resumed_at_s = [float(t) for t in metadata.get("resumed_at_s") or []]
    return _migrate(experiment)


def _migrate(experiment: Experiment) -> Experiment:
    """Tables written by older versions, brought to this version's columns; a no-op on current ones.

    Before labels were kept, a config's ``label`` is built from its grid
    values; before ASYNC envs were counted, ``busy_processes`` from its
    config (and ``concurrent_processes``); before placements were recorded, none; before clusters were
    sampled per node, telemetry is the one machine's, with its cores; before
    the drift table kept every grid key, a missing one is the baseline's (the
    check then always ran the baseline).
    """
    record, grid_keys = experiment.record, experiment.grid_keys
    space = record.space
    for df in (experiment.iterations, experiment.trials, experiment.drift):
        if not df.empty and "label" not in df:
            df.insert(df.columns.get_loc("trial_name") + 1, "label", df.apply(lambda r: spaces.label(r, grid_keys), 1))
    trials = experiment.trials
    fixed = space.full_config({}) if space else dict(spaces.RLLIB_DEFAULTS)
    for col, count in (
        ("busy_processes", spaces.busy_processes),
        ("concurrent_processes", spaces.concurrent_processes),
    ):
        if not trials.empty and col not in trials:
            trials[col] = [
                count({**fixed, **{k: r[k] for k in experiment.config_keys if k in r}}) for _, r in trials.iterrows()
            ]
    for col, default in (("placement", ""), ("bundle_nodes", ""), ("nodes_used", 0)):
        if not trials.empty and col not in trials:
            trials[col] = default
    telemetry = experiment.telemetry
    if not telemetry.empty:
        cores = record.machine.get("logical_cores", np.nan)
        for col, default in (("node_id", ""), ("node_ip", ""), ("node_cores", cores)):
            telemetry[col] = telemetry[col].fillna(default) if col in telemetry else default
    drift = experiment.drift
    if not drift.empty and space is not None:
        base = space.full_config(space.baseline_config())
        for k in experiment.config_keys:
            if k not in drift:
                drift[k] = base.get(k)
    return experiment


def _open_analysis(experiment_dir: Path):
    from ray.tune import ExperimentAnalysis

    from parallel_tune.core.legacy import old_module_names

    try:
        with old_module_names():  # trials of an experiment made before 0.2 pickled their namer at its old path
            return ExperimentAnalysis(str(experiment_dir))
    except Exception as exc:
        raise ResultsError(
            f"cannot read the Tune experiment in {experiment_dir}: {type(exc).__name__}: {exc}"
        ) from None


def _error_text(trial_dir: Path) -> str:
    path = trial_dir / "error.txt"
    if not path.exists():
        return ""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _reservation(trial) -> tuple[float, float, float]:
    """(CPUs, GPUs, CPUs of the processes that sample) of the trial's placement group."""
    bundles = trial.placement_group_factory.bundles
    cpus = sum(b.get("CPU", 0) for b in bundles)
    gpus = sum(b.get("GPU", 0) for b in bundles)
    return float(cpus), float(gpus), spaces.sampling_cpus(trial.config, float(bundles[0].get("CPU", 1)))


def load_experiment(experiment_dir: Path | str, *, space: spaces.SearchSpace | None = None) -> Experiment:
    """Read a sweep's Tune experiment.

    Returns ``Experiment``'s tables, keyed by ``trial_name`` and the config
    columns (``Experiment.config_keys``), each with the config's ``label``:

    - ``iterations``: per trial-iteration, Tune's and RLlib's result keys
      under our column names (``_column_map``), RLlib's EMA timers inverted
      to per-iteration seconds, the per-iteration telemetry summaries, and
      ``total_envs`` (and ``seed``, in a learning check); each iteration's first complete run only;
    - ``trials``: per trial (a learning check's replicates of a config share
      its ``trial_name``, told apart by ``trial_id`` and ``seed``), status, error, iterations_completed,
      iterations_rerun, cpus_reserved, gpus_reserved, busy_processes,
      concurrent_processes, sampling_cpus, node_ip, path, placement, bundle_nodes, nodes_used and
      total_envs, with the record's planned configs that have no trial
      (``SKIPPED``: they could not fit; ``NOT_STARTED``: the sweep stopped first);
    - ``telemetry``: per sample, the trial's ``telemetry.parquet``.

    A trial whose files are missing or cut short keeps its row and gets a
    line in ``problems``. ``space`` stands in for a directory without a
    record (the drift check's, which has its sweep's config columns).
    """
    experiment_dir = Path(experiment_dir).expanduser().resolve()
    try:
        record = read_record(experiment_dir)
    except RecordError as exc:
        raise ResultsError(str(exc)) from None
    analysis = _open_analysis(experiment_dir)
    if record is None:  # the drift check's (it has its sweep's space), or a Tune experiment made without us
        record = ExperimentRecord(space=space) if space is not None else _inferred_record(analysis, experiment_dir)
    experiment = Experiment(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), record, experiment_dir)
    keys, grid_keys = experiment.config_keys, experiment.grid_keys
    learning = bool(record.space) and record.space.learning
    iter_rows, trial_rows, telemetry = [], [], []
    for trial in sorted(analysis.trials, key=lambda t: t.trial_id):
        config = {k: trial.config.get(k, spaces.RLLIB_DEFAULTS.get(k)) for k in keys}
        name = files.trial_name(config, grid_keys, trial.trainable_name)
        part, rerun = _iterations(Path(trial.path), name, experiment.problems)
        placement = part.pop("placement_json").dropna()
        for k, v in reversed(config.items()):
            part.insert(0, k, v)
        part.insert(0, "label", spaces.label(config, grid_keys))
        part.insert(0, "trial_name", name)
        part.insert(0, "trial_id", trial.trial_id)
        seeded = {"seed": trial.config.get("seed")} if learning else {}  # a replicate of a learning check
        if seeded:
            part.insert(len(config) + 3, "seed", seeded["seed"])
        iter_rows.append(part)
        samples = _telemetry(Path(trial.path), name, experiment.problems)
        if samples is not None:
            telemetry.append(samples)
        row = _trial_row(trial, name, config, part, grid_keys)
        trial_rows.append({**row, **seeded, "iterations_rerun": rerun, **_placement(placement)})
    for entry in record.skipped:
        why = "; ".join(filter(None, [entry.skip_reason, entry.hint]))
        trial_rows.append(_unrun_row(entry.config, entry.cpus, entry.gpus, SKIPPED, why, record, keys, grid_keys))
    seen = {r["trial_name"] for r in trial_rows}
    for entry in record.plan:
        why = "the sweep stopped before it started"
        row = _unrun_row(entry.config, entry.cpus, entry.gpus, NOT_STARTED, why, record, keys, grid_keys)
        if row["trial_name"] not in seen:
            trial_rows.append(row)
    experiment.iterations = _with_total_envs(pd.concat(iter_rows, ignore_index=True) if iter_rows else pd.DataFrame())
    experiment.trials = _with_total_envs(pd.DataFrame(trial_rows))
    experiment.telemetry = pd.concat(telemetry, ignore_index=True) if telemetry else pd.DataFrame()
    experiment.race = race.read(experiment_dir)
    experiment.resumed_at_s = resumes(experiment_dir)
    if (experiment_dir / files.DRIFT).is_dir():
        try:
            again = load_experiment(experiment_dir / files.DRIFT, space=record.space)
            experiment.drift = again.iterations
            experiment.problems += [f"drift check: {p}" for p in again.problems]
        except ResultsError as exc:
            experiment.problems.append(f"the drift check cannot be read ({exc}); no drift is reported")
    return _migrate(experiment)


def _inferred_record(analysis, experiment_dir: Path) -> ExperimentRecord:
    """The record of a Tune experiment made without parallel_tune, from what its trials and results say.

    The grid is the settings whose values differ between the trials (the
    trials' own configs); the space's fixed settings are those they share; the
    algorithm is the trials' trainable; iterations, host and date come from the
    result rows, the Ray version from a checkpoint's metadata. What none of
    them says is ``NOT_RECORDED``.
    """
    trials = sorted(analysis.trials, key=lambda t: t.trial_id)
    if not trials:
        raise ResultsError(f"{experiment_dir} holds a Tune experiment without trials")
    configs = [dict(t.config) for t in trials]
    keys = list(dict.fromkeys(k for c in configs for k in c))
    distinct = {
        k: list({json.dumps(c.get(k), sort_keys=True, default=str): c.get(k) for c in configs}.values()) for k in keys
    }
    grid = {k: values for k, values in distinct.items() if len(values) > 1}
    if not grid:  # one config: its runners say who sampled
        grid = {spaces.RUNNERS: [configs[0].get(spaces.RUNNERS, spaces.RLLIB_DEFAULTS[spaces.RUNNERS])]}
    shared = {k: v for k, v in configs[0].items() if k not in grid and k != "env"}
    rows = [trial_results.read(Path(t.path))[0] for t in trials]
    iterations = max((int(r[trial_results.ITERATION].max()) for r in rows if len(r)), default=1)
    first = next((r.iloc[0] for r in rows if len(r)), pd.Series(dtype=object))
    algorithm = str(trials[0].trainable_name).upper()
    env = configs[0].get("env")
    space = spaces.SearchSpace(
        name=Path(experiment_dir).name,
        env=str(env) if env else NOT_RECORDED,
        iterations=iterations,
        ppo=json.loads(json.dumps(shared, default=str)),
        grid=grid,
        warmup_iterations=1 if iterations > 1 else 0,
        algorithm=algorithm if algorithm in spaces.ALGORITHMS else "PPO",
        description="a Tune experiment made without parallel_tune: its grid and settings read from its trials",
        source=str(experiment_dir),
    )
    return ExperimentRecord(
        space=space,
        algorithm={"name": algorithm},
        versions={"ray": _ray_version(trials) or NOT_RECORDED},
        machine={
            "hostname": str(first.get("hostname", NOT_RECORDED)),
            "date_utc": str(first.get("date", NOT_RECORDED)),
            "cpu_model": NOT_RECORDED,
        },
    )


def _ray_version(trials) -> str | None:
    """The Ray version a checkpoint of the experiment's trials was written with (RLlib keeps it there)."""
    for trial in trials:
        for meta in sorted(Path(trial.path).glob("checkpoint_*/rllib_checkpoint.json")):
            try:
                return json.loads(meta.read_text()).get("ray_version")
            except (OSError, ValueError):
                continue
    return None


def _iterations(trial_dir: Path, name: str, problems: list[str]) -> tuple[pd.DataFrame, int]:
    """One trial's results under our column names, one row per iteration (its first complete run), and how many
    later runs of an iteration (after a restore) were set aside."""
    df, problem = trial_results.read(trial_dir)
    if problem:
        problems.append(f"{name}: {problem}")
    df, rerun = trial_results.first_runs(df)
    if df.empty or trial_results.ITERATION not in df:
        if not problem:
            problems.append(f"{name}: no readable results in {trial_dir} (missing or truncated result files)")
        df = pd.DataFrame(columns=[trial_results.ITERATION])
    df = df.reset_index(drop=True)
    part = pd.DataFrame({ours: df[theirs] if theirs in df else float("nan") for theirs, ours in _column_map().items()})
    part["env_steps_sampled"] = trial_results.steps_sampled(df).to_numpy() if len(df) else []
    # The EMA is inverted only where one training step is one iteration (PPO); an asynchronous algorithm runs
    # thousands of steps an iteration, and its timers are not one iteration's time.
    once = bool(len(part)) and part["training_steps_per_iteration"].fillna(1).le(1).all()
    for ema, raw in _UNSMOOTH.items():
        part[raw] = unsmooth_ema(part[ema].astype(float)).to_numpy() if once else float("nan")
    prefix = f"{TELEMETRY_KEY}/"
    for c in (c for c in df.columns if c.startswith(prefix)):
        part[c.removeprefix(prefix)] = df[c]
    return part, rerun


def _telemetry(trial_dir: Path, name: str, problems: list[str]) -> pd.DataFrame | None:
    path = trial_dir / files.TELEMETRY
    if not path.exists():
        return None
    try:
        samples = pd.read_parquet(path)
    except Exception as exc:
        problems.append(f"{name}: telemetry file unreadable ({type(exc).__name__}); skipped")
        return None
    samples.insert(1, "trial_name", name)
    return samples


def _unrun_row(
    point: dict, cpus: float, gpus: float, status: str, why: str, record: ExperimentRecord, keys, grid_keys
) -> dict:
    """A planned config without a trial (skipped, or never started), from its record entry."""
    full = record.space.full_config(point) if record.space else {**spaces.RLLIB_DEFAULTS, **point}
    config = {k: full.get(k) for k in keys}
    return {
        "trial_id": "",
        "trial_name": files.trial_name(config, grid_keys, record.space.algorithm if record.space else "PPO"),
        "label": spaces.label(config, grid_keys),
        **config,
        "status": status,
        "error": why,
        "iterations_completed": 0,
        "iterations_rerun": 0,
        "cpus_reserved": float(cpus),
        "gpus_reserved": float(gpus),
        "busy_processes": spaces.busy_processes(full),
        "concurrent_processes": spaces.concurrent_processes(
            full, overlapping=bool(record.space) and spaces.asynchronous(record.space.algorithm)
        ),
        "sampling_cpus": float("nan"),
        "node_ip": "",
        "path": "",
        **_placement(pd.Series(dtype=object)),
    }


def _trial_row(trial, name: str, config: dict[str, Any], part: pd.DataFrame, grid_keys: list[str]) -> dict[str, Any]:
    cpus, gpus, sampling_cpus = _reservation(trial)
    error = _error_text(Path(trial.path)) if trial.status != "TERMINATED" else ""
    # A trial whose actor died with its node can be saved as still RUNNING; its error file says otherwise.
    status = "ERROR" if error else trial.status
    return {
        "trial_id": trial.trial_id,
        "trial_name": name,
        "label": spaces.label(config, grid_keys),
        **config,
        "status": status,
        "error": error,
        "iterations_completed": int(part["iteration"].max()) if len(part) else 0,
        "cpus_reserved": cpus,
        "gpus_reserved": gpus,
        "busy_processes": spaces.busy_processes(trial.config),
        "concurrent_processes": spaces.concurrent_processes(
            trial.config, overlapping=spaces.asynchronous(trial.trainable_name)
        ),
        "sampling_cpus": sampling_cpus,
        "node_ip": part["node_ip"].dropna().iloc[-1] if part["node_ip"].notna().any() else "",
        "path": str(trial.path),
    }


def _placement(recorded: pd.Series) -> dict[str, Any]:
    """The trial's bundles by node, as the trial reported them (``parallel_tune.run.probe``).

    ``placement``: 'main and runner 1 on node a1b2c3, runners 2-3 on node d4e5f6';
    ``bundle_nodes``: the JSON record; ``nodes_used``: distinct nodes (0: not recorded).
    """
    if recorded.empty:
        return {"placement": "", "bundle_nodes": "", "nodes_used": 0}
    entries = json.loads(recorded.iloc[-1])
    return {
        "placement": where(entries),
        "bundle_nodes": recorded.iloc[-1],
        "nodes_used": len({e.get("node_id") for e in entries}),
    }


def where(entries: list[dict]) -> str:
    """``main and runner 1 on node a1b2c3, runners 2-3 on node d4e5f6``: a trial's bundles by node.

    ``entries``: one dict per bundle with ``role`` (``main``, ``runner 2``, ...)
    and ``node_id``, as ``parallel_tune.run.probe`` records them.
    """
    by_node: dict[str, list[str]] = {}
    for e in entries:
        by_node.setdefault(str(e.get("node_id", ""))[:6] or "?", []).append(str(e.get("role", "?")))
    return ", ".join(f"{_roles(roles)} on node {node}" for node, roles in by_node.items())


def _roles(roles: list[str]) -> str:
    """['main', 'runner 1', 'runner 2', 'runner 3'] -> 'main and runners 1-3'."""
    parts, numbered = [], {}
    for role in roles:
        kind, _, number = role.partition(" ")
        if number.isdigit():
            numbered.setdefault(kind, []).append(int(number))
        else:
            parts.append(role)
    for kind, numbers in numbered.items():
        runs, start = [], numbers[0]
        for prev, cur in zip(numbers, [*numbers[1:], None], strict=True):
            if cur != prev + 1:
                runs.append(f"{start}" if start == prev else f"{start}-{prev}")
                start = cur
        plural = len(numbers) > 1
        parts.append(f"{kind}{'s' if plural else ''} {', '.join(runs)}")
    return " and ".join(parts)


def _with_total_envs(df: pd.DataFrame) -> pd.DataFrame:
    if not df.empty:
        runners = df[spaces.RUNNERS].fillna(0).astype(int)
        df["total_envs"] = spaces.total_envs(runners, df[spaces.ENVS_PER_RUNNER].fillna(1).astype(int))
    return df


def write_tables(experiment: Experiment, out_dir: Path) -> dict[str, Path]:
    """``iterations``, ``trials``, ``telemetry`` (and ``drift``) as Parquet in ``out_dir``, the record inside."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {"iterations": experiment.iterations, "trials": experiment.trials, "telemetry": experiment.telemetry}
    if not experiment.drift.empty:
        tables[files.DRIFT] = experiment.drift
    meta = experiment.metadata()
    return {name: write_table(df, out_dir / files.table(name), meta) for name, df in tables.items()}
