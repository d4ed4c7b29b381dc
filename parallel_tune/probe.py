"""Where a trial's bundles ran, reported by the trial itself.

Tune's callbacks run in the driver and cannot see which node holds which
bundle of a trial's placement group; the trial's own process can. RLlib calls
``record_placement`` after every training iteration (PPOConfig's
``callbacks_on_train_result``); the first call looks its placement group up
once and every result then carries it under ``PLACEMENT_KEY`` as JSON: one
entry per bundle with its role (``main``, ``runner 1``, ..., ``learner 1``),
node id, node IP and resources. The loader turns it into ``trials.parquet``'s
``placement`` column and the report's "where each trial ran".
"""

from __future__ import annotations

import json
from typing import Any

PLACEMENT_KEY = "parallel_tune_placement"


def send_by_value() -> None:
    """Pickle this module's hook by value into every trial: a cluster's nodes need no parallel_tune installed.

    Called wherever a trial's config is sent: a new sweep and a resumed one.
    """
    import sys

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def bundle_roles(num_bundles: int, num_env_runners: int, num_learners: int) -> list[str]:
    """RLlib's bundle order: the main process, each env runner, (evaluation), each remote learner."""
    roles = ["main", *(f"runner {i}" for i in range(1, num_env_runners + 1))]
    learners = [f"learner {i}" for i in range(1, num_learners + 1)]
    middle = max(num_bundles - len(roles) - len(learners), 0)
    return [*roles, *(["other"] * middle), *learners][:num_bundles]


def record_placement(algorithm=None, metrics_logger=None, result: dict | None = None, **kwargs: Any) -> None:
    """RLlib's ``on_train_result`` hook: add the trial's placement to its result."""
    if result is None or algorithm is None:
        return
    cached = getattr(algorithm, "_parallel_tune_placement", None)
    if cached is None:
        cached = json.dumps(_placement(algorithm.config))
        algorithm._parallel_tune_placement = cached
    result[PLACEMENT_KEY] = cached


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
