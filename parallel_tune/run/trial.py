"""Trial building: the one adapter from a ``SearchSpace`` (and a user's config file) to RLlib's config and Tune's grid.

A trial's config is, in order: the user's ``AlgorithmConfig`` (``--config``)
or the space's algorithm's defaults; the space's fixed settings (from which a
user's own settings were taken out when the space was resolved, and to which
``--set`` was added); the grid point. Resource requests come from RLlib itself
(``Algorithm.default_resource_request``), so what the sweep checks against
the cluster is exactly the placement group Tune will ask for: 1 bundle for the
main process (plus its local learner), one per env runner, one per remote
learner.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from parallel_tune.core.errors import first_line
from parallel_tune.core.record import jsonable
from parallel_tune.core.spaces import SearchSpace, SpaceError

if TYPE_CHECKING:
    from parallel_tune.run.user import UserConfig


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


#: Where RLlib keeps each algorithm's class. Imported directly: Tune's registry imports every RLlib algorithm
#: (DreamerV3's makes a debugging env at import, with warnings on stderr).
_CLASSES = {
    "PPO": "ray.rllib.algorithms.ppo",
    "APPO": "ray.rllib.algorithms.appo",
    "IMPALA": "ray.rllib.algorithms.impala",
}


def algorithm_class(name: str):
    """RLlib's algorithm class by its name (PPO, APPO, IMPALA)."""
    import importlib

    return getattr(importlib.import_module(_CLASSES[name]), name)


def config_dict(space: SearchSpace, point: dict[str, Any], user: UserConfig | None = None) -> dict[str, Any]:
    """The flat RLlib config dict of one trial: the user's whole config (or the space's env), the fixed
    settings, the grid point.

    Runners and envs per runner are always explicit, so every trial's recorded
    config says how many processes sampled, even where the space left RLlib's default.
    """
    if user is None:
        return {"env": space.env, **space.full_config(point), "placement_strategy": space.placement_strategy}
    return {**user.config.to_dict(), **space.ppo, **point, "placement_strategy": space.placement_strategy}


def rllib_defaults(algorithm: str = "PPO") -> dict[str, Any]:
    """Every setting of ``algorithm``'s config with RLlib's default: what a space leaves unset runs with."""
    return algorithm_class(algorithm).get_default_config().to_dict()


def check_keys(space: SearchSpace) -> None:
    """Fail on a setting the algorithm's config does not have (e.g. the old ``num_workers``)."""
    known = set(rllib_defaults(space.algorithm))
    for section, keys in (("ppo", space.ppo), ("grid", space.grid)):
        for key in keys:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise SpaceError(
                    f"{space.source or space.name}: {section}.{key} is not a {space.algorithm}Config setting{hint}"
                )


def quiet_notices(algorithm: str = "PPO") -> None:
    """Take RLlib's once-per-process notice that the algorithm runs on its new API stack (the only one this
    package uses), so that it does not open every sweep's output."""
    from ray.util import log_once

    log_once(f"{algorithm}_on_new_api_stack")


def build_config(space: SearchSpace, point: dict[str, Any], user: UserConfig | None = None):
    """A validated ``AlgorithmConfig`` for one grid point."""
    quiet_notices(space.algorithm)
    if user is None:
        config = algorithm_class(space.algorithm).get_default_config().update_from_dict(config_dict(space, point))
    else:
        changes = {**space.ppo, **point, "placement_strategy": space.placement_strategy}
        config = user.config.copy(copy_frozen=False).update_from_dict(changes)
    try:
        config.validate()
    except Exception as exc:  # RLlib raises ValueError and its own error types
        raise SpaceError(f"{space.source or space.name}: RLlib rejects {point}: {first_line(exc)}") from None
    return config


def resolved_config(space: SearchSpace, point: dict[str, Any], user: UserConfig | None = None) -> dict[str, Any]:
    """One grid point's whole RLlib config as it runs, RLlib's defaults resolved, as JSON data (for the record)."""
    return jsonable(build_config(space, point, user).to_dict())


def reservation(space: SearchSpace, point: dict[str, Any], user: UserConfig | None = None) -> Reservation:
    """The placement group RLlib will request for this grid point."""
    pgf = algorithm_class(space.algorithm).default_resource_request(build_config(space, point, user))
    bundles = tuple({k: float(v) for k, v in b.items() if v} for b in pgf.bundles)
    return Reservation(bundles=bundles, strategy=pgf.strategy)


def param_space(space: SearchSpace, user: UserConfig | None = None) -> dict[str, Any]:
    """Tune's param space: the trial config without a grid point, one ``tune.grid_search`` per grid key, and for
    a learning check one over the replicates' seeds (RLlib's ``seed``)."""
    from ray import tune

    base = config_dict(space, {}, user)
    seeds = {"seed": tune.grid_search(space.replicate_seeds())} if space.learning else {}
    return {**base, **{k: tune.grid_search(list(v)) for k, v in space.grid.items()}, **seeds}
