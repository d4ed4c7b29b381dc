"""Trial building: the one adapter from a ``SearchSpace`` to RLlib's PPOConfig and Tune's grid.

Resource requests come from RLlib itself (``PPO.default_resource_request``),
so what the sweep checks against the cluster is exactly the placement group
Tune will ask for: 1 bundle for the main process (plus its local learner), one
per env runner, one per remote learner.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from parallel_tune.core.errors import first_line
from parallel_tune.core.record import jsonable
from parallel_tune.core.spaces import SearchSpace, SpaceError

#: The RLlib algorithm every trial runs.
ALGORITHM = "PPO"


@dataclass(frozen=True)
class Reservation:
    """What one trial's placement group reserves."""

    bundles: tuple[dict[str, float], ...]
    strategy: str

    @property
    def cpus(self) -> float:
        return sum(b.get("CPU", 0.0) for b in self.bundles)

    @property
    def gpus(self) -> float:
        return sum(b.get("GPU", 0.0) for b in self.bundles)


def config_dict(space: SearchSpace, point: dict[str, Any]) -> dict[str, Any]:
    """The flat RLlib config dict of one trial (fixed settings + grid point).

    Runners and envs per runner are always explicit, so every trial's recorded
    config says how many processes sampled, even where the space left RLlib's default.
    """
    return {"env": space.env, **space.full_config(point), "placement_strategy": space.placement_strategy}


def rllib_defaults() -> dict[str, Any]:
    """Every PPOConfig setting with RLlib's default: what a space leaves unset runs with."""
    from ray.rllib.algorithms.ppo import PPOConfig

    return PPOConfig().to_dict()


def _known_keys() -> set[str]:
    return set(rllib_defaults())


def check_keys(space: SearchSpace) -> None:
    """Fail on a setting PPOConfig does not have (e.g. the old ``num_workers``)."""
    known = _known_keys()
    for section, keys in (("ppo", space.ppo), ("grid", space.grid)):
        for key in keys:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise SpaceError(f"{space.source or space.name}: {section}.{key} is not a PPOConfig setting{hint}")


def quiet_notices() -> None:
    """Take RLlib's once-per-process notice that PPO runs on its new API stack (the only one this package uses),
    so that it does not open every sweep's output."""
    from ray.util import log_once

    log_once("PPO_on_new_api_stack")


def build_config(space: SearchSpace, point: dict[str, Any]):
    """A validated ``PPOConfig`` for one grid point."""
    from ray.rllib.algorithms.ppo import PPOConfig

    quiet_notices()
    config = PPOConfig().update_from_dict(config_dict(space, point))
    try:
        config.validate()
    except Exception as exc:  # RLlib raises ValueError and its own error types
        raise SpaceError(f"{space.source or space.name}: RLlib rejects {point}: {first_line(exc)}") from None
    return config


def resolved_config(space: SearchSpace, point: dict[str, Any]) -> dict[str, Any]:
    """One grid point's whole RLlib config as it runs, RLlib's defaults resolved, as JSON data (for the record)."""
    return jsonable(build_config(space, point).to_dict())


def reservation(space: SearchSpace, point: dict[str, Any]) -> Reservation:
    """The placement group RLlib will request for this grid point."""
    from ray.rllib.algorithms.ppo import PPO

    pgf = PPO.default_resource_request(build_config(space, point))
    bundles = tuple({k: float(v) for k, v in b.items() if v} for b in pgf.bundles)
    return Reservation(bundles=bundles, strategy=pgf.strategy)


def param_space(space: SearchSpace) -> dict[str, Any]:
    """Tune's param space: fixed settings, one ``tune.grid_search`` per grid key."""
    from ray import tune

    base = config_dict(space, {})
    return {**base, **{k: tune.grid_search(list(v)) for k, v in space.grid.items()}}
