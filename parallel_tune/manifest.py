"""``parallel_tune.json``: what a sweep planned, written before its first trial.

The one owner of the file's format. A sweep writes it; ``--resume`` reads the
space and the plan back from it (so a resumed sweep runs and is analysed with
exactly the settings it started with); the loader reads the skipped configs,
the space and the machine from it. The format::

    {"space":   {"name", "source", "description", **SearchSpace.settings()},
     "command": the argv that started the sweep,
     "planned": [{"config": grid point, "cpus", "gpus"}, ...],   every config, skipped ones too
     "skipped": [{"config", "cpus", "gpus", "reason", "hint"}, ...],   hint: how to run it anyway, or null
     "machine": parallel_tune.machine.describe(cluster resources),
     "options": {"telemetry": bool, "telemetry_interval_s": float}}
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from parallel_tune import UsageError, spaces
from parallel_tune.files import MANIFEST
from parallel_tune.placement import Bundle
from parallel_tune.plan import Plan, PlannedTrial
from parallel_tune.spaces import SearchSpace

_SPACE_FIELDS = ("env", "iterations", "warmup_iterations", "ppo", "grid", "baseline", "placement_strategy")


class ManifestError(UsageError):
    """A manifest that cannot be read back."""


@dataclass
class Manifest:
    space: dict[str, Any]
    command: list[str] | None = None
    planned: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, plan: Plan, *, command: list[str] | None, machine: dict[str, Any], **options: Any) -> Manifest:
        space = plan.space
        return cls(
            space={"name": space.name, "source": space.source, "description": space.description, **space.settings()},
            command=command,
            planned=[{"config": t.config, "cpus": t.cpus, "gpus": t.gpus} for t in plan.trials],
            skipped=[
                {"config": t.config, "cpus": t.cpus, "gpus": t.gpus, "reason": t.skip_reason, "hint": t.hint}
                for t in plan.skipped
            ],
            machine=machine,
            options=options,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def search_space(self) -> SearchSpace:
        """The space exactly as the sweep ran it (machine-dependent grids already resolved)."""
        stored = self.space
        try:
            data = {k: stored[k] for k in _SPACE_FIELDS if k in stored}
            data["checkpoint_frequency"] = int(stored.get("checkpoint_frequency", 0))
            data["description"] = stored.get("description", "")
            return spaces.from_dict(data, name=stored["name"], source=stored.get("source", ""))
        except (KeyError, spaces.SpaceError) as exc:
            raise ManifestError(f"{MANIFEST} records no usable space ({exc})") from None

    def plan(self, nodes: list[Bundle]) -> Plan:
        """The plan as it was made; a resumed run is judged against it, not re-planned."""
        skipped = {_key(s["config"]): s for s in self.skipped}
        trials = []
        for t in self.planned:
            why = skipped.get(_key(t["config"]), {})
            trials.append(
                PlannedTrial(t["config"], float(t["cpus"]), float(t["gpus"]), (), why.get("reason"), why.get("hint"))
            )
        return Plan(space=self.search_space(), nodes=nodes, trials=trials)

    @property
    def grid_keys(self) -> list[str]:
        return list(self.space.get("grid", {}))


def _key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def write(experiment_dir: Path, manifest: Manifest) -> Path:
    path = Path(experiment_dir) / MANIFEST
    if path.exists():
        raise ManifestError(f"{path} already exists; results are never overwritten")
    path.write_text(json.dumps(manifest.to_dict(), indent=2, default=str))
    return path


def read(experiment_dir: Path) -> Manifest | None:
    """The experiment's manifest; ``None`` when it has none (a plain Tune experiment)."""
    path = Path(experiment_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not isinstance(data.get("space"), dict):
            raise ValueError("no 'space' mapping")
        return Manifest(
            space=data["space"],
            command=data.get("command"),
            planned=list(data.get("planned", [])),
            skipped=list(data.get("skipped", [])),
            machine=dict(data.get("machine") or {}),
            options=dict(data.get("options") or {}),
        )
    except (OSError, ValueError, TypeError) as exc:
        raise ManifestError(f"{path} is corrupt ({exc}); it records the sweep's space and skipped configs") from None


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
