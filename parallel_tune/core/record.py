"""``parallel_tune.json``: the experiment record, written before a sweep's first trial.

The one reader and writer of an experiment's JSON. A sweep writes it;
``--resume`` rebuilds the space and the plan from it (so a resumed sweep
runs, stops and is analysed exactly as it started); the loader reads it and
stores it inside every table it writes. Older formats are migrated here, on
reading, and nowhere else. The format (``SCHEMA_VERSION`` 2)::

    {"schema_version": 2,
     "space":     SearchSpace.to_record(): every field of the space as it ran (machine grids resolved),
     "algorithm": {"name": "PPO", "config": the RLlib config every trial shares, RLlib's defaults resolved;
                   a trial's own is it updated with its grid point},
     "plan":      [{"config": grid point, "cpus", "gpus", "skip_reason", "hint"}, ...]   every config, skipped too,
     "command":   the argv that started the sweep,
     "versions":  parallel_tune.core.machine.versions(),
     "machine":   the driver's machine (parallel_tune.core.machine.describe()),
     "cluster":   {"address": None or the --address, "resources": {"CPU", "GPU"}, "nodes": [every node's hardware]},
     "options":   {"telemetry": bool, "telemetry_interval_s": float, "started_at_s": float}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parallel_tune.core import jsonlines, spaces
from parallel_tune.core.errors import UsageError
from parallel_tune.core.files import RECORD, RESUMES
from parallel_tune.core.spaces import SearchSpace

SCHEMA_VERSION = 2
#: What a record (and a report) says where it truly does not know: an experiment made without parallel_tune.
NOT_RECORDED = "not recorded"


class RecordError(UsageError):
    """An experiment record that cannot be read back."""


@dataclass
class PlannedConfig:
    """One grid point as planned: what it reserves, and where it could not fit, why (and how to run it anyway)."""

    config: dict[str, Any]
    cpus: float
    gpus: float
    skip_reason: str | None = None
    hint: str | None = None


@dataclass
class ExperimentRecord:
    """What an experiment ran, where and how: enough to resume it and to understand it without its code.

    ``space`` is None for a Tune experiment parallel_tune did not write.
    """

    space: SearchSpace | None
    plan: list[PlannedConfig] = field(default_factory=list)
    algorithm: dict[str, Any] = field(default_factory=dict)
    command: list[str] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def grid_keys(self) -> list[str]:
        """The space's grid keys; for an experiment without a space, RLlib's two parallelism settings."""
        return list(self.space.grid) if self.space and self.space.grid else list(spaces.RLLIB_DEFAULTS)

    @property
    def config_keys(self) -> list[str]:
        return spaces.config_keys(self.grid_keys)

    @property
    def skipped(self) -> list[PlannedConfig]:
        return [p for p in self.plan if p.skip_reason]

    @property
    def on_cluster(self) -> bool:
        """Joined a running Ray cluster (``--address``) rather than starting Ray on this machine."""
        return bool(self.cluster.get("address"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "space": self.space.to_record() if self.space else None,
            "algorithm": jsonable(self.algorithm),
            "plan": [vars(p).copy() for p in self.plan],
            "command": self.command,
            "versions": self.versions,
            "machine": self.machine,
            "cluster": self.cluster,
            "options": self.options,
        }

    @classmethod
    def from_dict(cls, data: Any, *, where: str = RECORD) -> ExperimentRecord:
        """A record from its JSON, migrated from any older schema; ``RecordError`` names what is wrong."""
        if not isinstance(data, dict):
            raise RecordError(f"{where} is corrupt (not a mapping)")
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise RecordError(
                f"{where} has schema version {version!r}; this parallel_tune reads up to {SCHEMA_VERSION}: upgrade it"
            )
        if version < 2:
            data = _from_schema_1(data)
        try:
            space = SearchSpace.from_record(data["space"]) if data.get("space") else None
            plan = [PlannedConfig(**p) for p in data.get("plan") or []]
        except (spaces.SpaceError, TypeError, KeyError) as exc:
            raise RecordError(f"{where} records no usable space or plan ({exc})") from None
        return cls(
            space=space,
            plan=plan,
            algorithm=dict(data.get("algorithm") or {}),
            command=data.get("command"),
            versions=dict(data.get("versions") or {}),
            machine=dict(data.get("machine") or {}),
            cluster=dict(data.get("cluster") or {}),
            options=dict(data.get("options") or {}),
        )


def _from_schema_1(data: dict[str, Any]) -> dict[str, Any]:
    """0.1's manifest (and the metadata of its tables): versions and the cluster inside ``machine``, the plan as
    ``planned`` plus ``skipped``, the address among ``options``, older still no telemetry interval recorded."""
    machine = dict(data.get("machine") or {})
    options = dict(data.get("options") or {})
    command = data.get("command")
    why = {json.dumps(s["config"], sort_keys=True, default=str): s for s in data.get("skipped") or []}
    plan = []
    for entry in data.get("planned") or []:
        skipped = why.get(json.dumps(entry["config"], sort_keys=True, default=str), {})
        plan.append(
            {
                "config": entry["config"],
                "cpus": float(entry.get("cpus", 0)),
                "gpus": float(entry.get("gpus", 0)),
                "skip_reason": skipped.get("reason"),
                "hint": skipped.get("hint"),
            }
        )
    if "telemetry_interval_s" not in options and command:
        given = "--telemetry-interval" in command[:-1]
        options["telemetry_interval_s"] = float(command[command.index("--telemetry-interval") + 1]) if given else 1.0
    space = data.get("space") or None
    if space is not None and not {"env", "iterations", "ppo", "grid"} <= set(space):
        space = None  # a table written for a bare Tune experiment: no space was recorded
    return {
        "space": space,
        "algorithm": {"name": "PPO"},  # 0.1 ran PPO only and did not record its resolved config
        "plan": plan,
        "command": command,
        "versions": machine.pop("versions", {}),
        "cluster": {
            "address": options.pop("address", None),
            "resources": machine.pop("ray_cluster_resources", {}),
            "nodes": machine.pop("nodes", []),
        },
        "machine": machine,
        "options": options,
    }


def write(experiment_dir: Path, record: ExperimentRecord) -> Path:
    """Write the record; never over an existing one (results are never overwritten)."""
    path = Path(experiment_dir) / RECORD
    if path.exists():
        raise RecordError(f"{path} already exists; results are never overwritten")
    path.write_text(json.dumps(record.to_dict(), indent=2, default=str))
    return path


def read(experiment_dir: Path) -> ExperimentRecord | None:
    """The experiment's record; ``None`` when it has none (a Tune experiment parallel_tune did not write)."""
    path = Path(experiment_dir) / RECORD
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RecordError(f"{path} is corrupt ({exc}); it records the sweep's space and plan") from None
    if not isinstance(data, dict) or not isinstance(data.get("space"), dict):
        raise RecordError(f"{path} is corrupt (no 'space' mapping); it records the sweep's space and plan")
    return ExperimentRecord.from_dict(data, where=str(path))


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


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: a class or function by its import path, anything else unknown by its repr."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, type) or callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"
    return repr(value)


def note_resume(experiment_dir: Path, at_s: float) -> None:
    """Log that a ``--resume`` started at ``at_s`` (epoch seconds), so that the time the sweep stood still between
    its interruption and the resume is not counted as harness time. One JSON line each, appended."""
    jsonlines.append(Path(experiment_dir) / RESUMES, {"resumed_at_s": at_s})


def resumes(experiment_dir: Path) -> list[float]:
    """When each resume of the experiment started, in order ([] for one that ran in one go; a cut line skipped)."""
    events = jsonlines.read(Path(experiment_dir) / RESUMES)
    return sorted(float(e["resumed_at_s"]) for e in events if isinstance(e.get("resumed_at_s"), int | float))
