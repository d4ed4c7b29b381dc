"""The only path from a Tune experiment directory to DataFrames.

``load_experiment`` reads the experiment through Ray's own
``ExperimentAnalysis`` and returns three tidy tables; ``write_tables`` stores
them as Parquet with the run's provenance inside each file's schema metadata
(key ``parallel_tune``). Result keys are read through RLlib's constants, and
renames are absorbed here and nowhere else.

A trial whose result files are missing or truncated is kept (with what could
be read and a note in ``problems``), never silently dropped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from parallel_tune import SCHEMA_VERSION, UsageError, files, manifest, spaces
from parallel_tune.metrics import NOT_STARTED, SKIPPED, unsmooth_ema
from parallel_tune.placement import where
from parallel_tune.probe import PLACEMENT_KEY

META_KEY = b"parallel_tune"
logger = logging.getLogger(__name__)


class ResultsError(UsageError):
    """An experiment directory or table that cannot be read."""


@dataclass
class Experiment:
    """iterations: one row per trial-iteration; trials: one per config (skipped too); telemetry: one per sample."""

    iterations: pd.DataFrame
    trials: pd.DataFrame
    telemetry: pd.DataFrame
    metadata: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)  # the baseline re-measured at the end, per iteration

    @property
    def grid_keys(self) -> list[str]:
        return list(self.metadata.get("space", {}).get("grid", {})) or list(spaces.RLLIB_DEFAULTS)

    @property
    def config_keys(self) -> list[str]:
        return spaces.config_keys(self.grid_keys)


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
        "training_iteration": "iteration",
        # 1 on the first iteration after a restore: warm-up is counted from it again.
        "iterations_since_restore": "iterations_since_restore",
        "time_this_iter_s": "time_this_iter_s",
        "time_total_s": "time_total_s",
        "timestamp": "timestamp_s",
        "reported_at_s": "reported_at_s",  # stamped by parallel_tune.progress: when the result reached the driver
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
    }


#: EMA timer column -> per-iteration column recovered from it.
_UNSMOOTH = {
    "sampling_ema_s": "sampling_s",
    "learner_update_ema_s": "learner_update_s",
    "weight_sync_ema_s": "weight_sync_s",
    "env_connector_sync_ema_s": "env_connector_sync_s",
}


def read_ceiling(experiment: Experiment, path: Path | None = None) -> tuple[pd.DataFrame | None, str]:
    """The raw environment ceiling for ``experiment``: (table or None, a problem line or "").

    ``path`` (a table from ``python -m parallel_tune.ceiling``) must be
    readable and measured on the experiment's environment, or this raises:
    the user asked for it. The experiment's own ``ceiling.parquet`` being
    unreadable only costs the report its ceiling section, and says so.
    """
    env = experiment.metadata.get("space", {}).get("env")
    if path is not None:
        table, meta = read_table(Path(path))
        if env and meta.get("env") and meta["env"] != env:
            raise ResultsError(f"{path} measured {meta['env']}, but the experiment ran {env}")
        if not {"processes", "env_steps_per_s"} <= set(table.columns):
            raise ResultsError(f"{path} is not a ceiling table (no processes / env_steps_per_s columns)")
        return table, ""
    own = Path(experiment.metadata.get("experiment_dir", "")) / files.CEILING
    if not own.exists():
        return None, ""
    try:
        return read_table(own)[0], ""
    except ResultsError as exc:
        return None, f"{exc}; the report has no ceiling comparison"


def load(path: Path | str) -> Experiment:
    """An experiment from its Tune directory, or from its ``analysis/`` tables alone.

    Committed results (``benchmarks/results/<name>/``) keep only the manifest
    and ``analysis/``; they re-analyse from the tables, with the provenance
    stored inside them.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise ResultsError(f"experiment directory {path} does not exist")
    if list(path.glob("experiment_state-*.json")):
        return load_experiment(path)
    for tables in (path / files.ANALYSIS_DIR, path):
        if (tables / files.table("iterations")).exists():
            return load_analysis(tables)
    raise ResultsError(f"{path} holds no Tune experiment (no experiment_state-*.json) and no analysis tables")


def load_analysis(analysis_dir: Path) -> Experiment:
    """The three tables ``write_tables`` wrote, with the provenance stored in them."""
    analysis_dir = Path(analysis_dir)
    iterations, metadata = read_table(analysis_dir / files.table("iterations"))
    trials = read_table(analysis_dir / files.table("trials"))[0]
    telemetry_path = analysis_dir / files.table("telemetry")
    telemetry = read_table(telemetry_path)[0] if telemetry_path.exists() else pd.DataFrame()
    problems = list(metadata.pop("problems", []))
    experiment_dir = analysis_dir.parent if analysis_dir.name == files.ANALYSIS_DIR else analysis_dir
    metadata = {**metadata, "experiment_dir": str(experiment_dir)}
    drift_path = analysis_dir / files.table(files.DRIFT)
    drift = read_table(drift_path)[0] if drift_path.exists() else pd.DataFrame()
    return Experiment(iterations, trials, telemetry, metadata, problems, drift)


def _open_analysis(experiment_dir: Path):
    from ray.tune import ExperimentAnalysis

    if not Path(experiment_dir).is_dir():
        raise ResultsError(f"experiment directory {experiment_dir} does not exist")
    if not list(Path(experiment_dir).glob("experiment_state-*.json")):
        raise ResultsError(f"{experiment_dir} holds no Tune experiment (no experiment_state-*.json)")
    try:
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


def load_experiment(experiment_dir: Path | str, *, space: dict[str, Any] | None = None) -> Experiment:
    """Read a sweep's Tune experiment through Ray's ``ExperimentAnalysis``.

    Returns the three tables of ``Experiment``, keyed by ``trial_name`` and the
    config columns (``Experiment.config_keys``): per iteration, Tune's and
    RLlib's result keys under our column names (``_column_map``) with RLlib's
    EMA timers inverted to per-iteration seconds and the per-iteration
    telemetry summaries; per config, status, error, reservation and where it
    ran, with the manifest's planned configs that have no trial (``SKIPPED``:
    they could not fit; ``NOT_STARTED``: the sweep stopped first); per
    telemetry sample, the trial's ``telemetry.parquet``. A trial whose files are missing or truncated
    keeps its row and gets a line in ``problems``. ``space`` stands in for a
    directory without a manifest (the drift check's, which has its sweep's
    config columns).
    """
    experiment_dir = Path(experiment_dir).expanduser().resolve()
    record = manifest.read(experiment_dir) or manifest.Manifest(space=space or {})
    analysis = _open_analysis(experiment_dir)
    metadata = {
        "schema_version": SCHEMA_VERSION,
        "experiment_dir": str(experiment_dir),
        "space": record.space,
        "machine": record.machine,
        "command": record.command,
        "options": record.options,
    }
    experiment = Experiment(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), metadata)
    keys, grid_keys = experiment.config_keys, experiment.grid_keys
    frames = analysis.trial_dataframes
    iter_rows, trial_rows, telemetry = [], [], []
    for trial in sorted(analysis.trials, key=lambda t: t.trial_id):
        config = {k: trial.config.get(k, spaces.RLLIB_DEFAULTS.get(k)) for k in keys}
        name = files.trial_name(config, grid_keys)
        part = _iterations(frames.get(trial.trial_id), name, experiment.problems, Path(trial.path))
        placement = part.pop("placement_json").dropna()
        for k, v in reversed(config.items()):
            part.insert(0, k, v)
        part.insert(0, "label", spaces.label(config, grid_keys))
        part.insert(0, "trial_name", name)
        part.insert(0, "trial_id", trial.trial_id)
        iter_rows.append(part)
        samples = _telemetry(Path(trial.path), name, experiment.problems)
        if samples is not None:
            telemetry.append(samples)
        trial_rows.append({**_trial_row(trial, name, config, part, grid_keys), **_placement(placement)})
    for entry in record.skipped:
        why = "; ".join(filter(None, [entry.get("reason"), entry.get("hint")]))
        trial_rows.append(_unrun_row(entry, SKIPPED, why, record.space, keys, grid_keys))
    seen = {r["trial_name"] for r in trial_rows}
    for entry in record.planned:
        row = _unrun_row(entry, NOT_STARTED, "the sweep stopped before it started", record.space, keys, grid_keys)
        if row["trial_name"] not in seen:
            trial_rows.append(row)
    experiment.iterations = _with_total_envs(pd.concat(iter_rows, ignore_index=True) if iter_rows else pd.DataFrame())
    experiment.trials = _with_total_envs(pd.DataFrame(trial_rows))
    experiment.telemetry = pd.concat(telemetry, ignore_index=True) if telemetry else pd.DataFrame()
    if (experiment_dir / files.DRIFT).is_dir():
        try:
            again = load_experiment(experiment_dir / files.DRIFT, space=record.space)
            experiment.drift = again.iterations
            experiment.problems += [f"drift check: {p}" for p in again.problems]
        except ResultsError as exc:
            experiment.problems.append(f"the drift check cannot be read ({exc}); no drift is reported")
    return experiment


def _iterations(df: pd.DataFrame | None, name: str, problems: list[str], trial_dir: Path) -> pd.DataFrame:
    """One trial's results under our column names, one row per iteration (the latest where repeated)."""
    if df is None or df.empty or "training_iteration" not in df:
        problems.append(f"{name}: no readable results in {trial_dir} (missing or truncated result files)")
        df = pd.DataFrame(columns=["training_iteration"])
    part = pd.DataFrame({ours: df[theirs] if theirs in df else float("nan") for theirs, ours in _column_map().items()})
    part = part.dropna(subset=["iteration"]).sort_values("iteration")
    part = part.drop_duplicates("iteration", keep="last")
    for ema, raw in _UNSMOOTH.items():
        part[raw] = unsmooth_ema(part[ema].astype(float)).to_numpy() if len(part) else []
    for c in (c for c in df.columns if c.startswith("telemetry/")):
        part[c.split("/", 1)[1]] = df.loc[part.index, c]
    return part


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


def _unrun_row(entry: dict, status: str, why: str, space: dict, keys: list[str], grid_keys: list[str]) -> dict:
    """A planned config without a trial (skipped, or never started), from its manifest entry."""
    full = {**spaces.RLLIB_DEFAULTS, **space.get("ppo", {}), **entry["config"]}
    config = {k: full.get(k) for k in keys}
    return {
        "trial_id": "",
        "trial_name": files.trial_name(config, grid_keys),
        "label": spaces.label(config, grid_keys),
        **config,
        "status": status,
        "error": why,
        "iterations_completed": 0,
        "cpus_reserved": float(entry.get("cpus", 0)),
        "gpus_reserved": float(entry.get("gpus", 0)),
        "busy_processes": spaces.busy_processes(full),
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
        "sampling_cpus": sampling_cpus,
        "node_ip": part["node_ip"].dropna().iloc[-1] if part["node_ip"].notna().any() else "",
        "path": str(trial.path),
    }


def _placement(recorded: pd.Series) -> dict[str, Any]:
    """The trial's bundles by node, as the trial reported them (``parallel_tune.probe``).

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


def _with_total_envs(df: pd.DataFrame) -> pd.DataFrame:
    if not df.empty:
        runners = df[spaces.RUNNERS].fillna(0).astype(int)
        df["total_envs"] = spaces.total_envs(runners, df[spaces.ENVS_PER_RUNNER].fillna(1).astype(int))
    return df


def write_table(df: pd.DataFrame, path: Path, metadata: dict[str, Any]) -> Path:
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps(metadata, default=str).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def read_table(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise ResultsError(f"{path} is not a readable Parquet file ({type(exc).__name__})") from None
    raw = (table.schema.metadata or {}).get(META_KEY)
    return table.to_pandas(), json.loads(raw) if raw else {}


def write_tables(experiment: Experiment, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {"iterations": experiment.iterations, "trials": experiment.trials, "telemetry": experiment.telemetry}
    if not experiment.drift.empty:
        tables[files.DRIFT] = experiment.drift
    meta = {**experiment.metadata, "problems": experiment.problems}
    return {name: write_table(df, out_dir / files.table(name), meta) for name, df in tables.items()}
