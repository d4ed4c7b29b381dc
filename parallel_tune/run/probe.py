"""Where a trial's bundles ran, reported by the trial itself.

Tune's callbacks run in the driver and cannot see which node holds which
bundle of a trial's placement group; the trial's own process can. Every
trial is RLlib's algorithm with one addition (``measured``): when it logs a
result, after the iteration is timed, it adds its placement under
``PLACEMENT_KEY`` as JSON, looked up once: one entry per bundle with its role
(``main``, ``runner 1``, ..., ``learner 1``), node id, node IP and resources.
The analysis loader turns it into ``trials.parquet``'s ``placement`` column and the
report's "where each trial ran". (Not an RLlib callback in the config: Tune
stores a trial's config as JSON, and a resumed trial got a string back.)
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any

from parallel_tune.core.tables import PLACEMENT_KEY


@functools.cache
def measured(algorithm: str = "PPO"):
    """RLlib's ``algorithm`` (PPO, APPO, IMPALA), whose results also say where the trial's bundles ran: the
    trainable every sweep runs.

    Defined in a function so Ray sends the class by value: a cluster's nodes
    need no parallel_tune installed.
    """
    from ray import cloudpickle

    from parallel_tune.run.trial import algorithm_class

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # _placement goes along, by value too
    base = algorithm_class(algorithm)

    class Measured(base):
        def log_result(self, result: dict) -> None:
            cached = getattr(self, "_parallel_tune_placement", None)
            if cached is None:
                cached = self._parallel_tune_placement = json.dumps(_placement(self.config))
            result[PLACEMENT_KEY] = cached
            super().log_result(result)

    Measured.__name__ = Measured.__qualname__ = algorithm  # Tune's logs and names say PPO, as RLlib's do
    return Measured


def bundle_roles(num_bundles: int, num_env_runners: int, num_learners: int) -> list[str]:
    """RLlib's bundle order: the main process, each env runner, (evaluation), each remote learner."""
    roles = ["main", *(f"runner {i}" for i in range(1, num_env_runners + 1))]
    learners = [f"learner {i}" for i in range(1, num_learners + 1)]
    middle = max(num_bundles - len(roles) - len(learners), 0)
    return [*roles, *(["other"] * middle), *learners][:num_bundles]


def _placement(config) -> list[dict[str, Any]]:
    import ray
    from ray.util.placement_group import get_current_placement_group, placement_group_table

    pg = get_current_placement_group()
    if pg is None:  # not in a placement group (a bare algo.train() loop)
        node = ray.get_runtime_context().get_node_id()
        return [{"bundle": 0, "role": "main", "node_id": node, "node_ip": _ips().get(node, "")}]
    table = placement_group_table(pg)
    bundles = table.get("bundles", {})
    nodes = table.get("bundles_to_node_id", {})
    roles = bundle_roles(len(bundles), int(config.num_env_runners or 0), int(config.num_learners or 0))
    ips = _ips()
    return [
        {
            "bundle": int(i),
            "role": roles[int(i)],
            "node_id": nodes.get(i, ""),
            "node_ip": ips.get(nodes.get(i, ""), ""),
            **{k: float(v) for k, v in bundles[i].items()},
        }
        for i in sorted(bundles, key=int)
    ]


def _ips() -> dict[str, str]:
    import ray

    return {n["NodeID"]: n.get("NodeManagerAddress", "") for n in ray.nodes()}
