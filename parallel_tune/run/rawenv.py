"""The raw environment ceiling: how fast the bare environment steps with N processes.

No RLlib: N Ray actors (1 CPU each, in one placement group laid out like a
trial's) each make the environment and step it with random actions. They all
warm up first, then all count steps over the same window, so the widths'
figures are directly comparable with a sweep's env steps/s at the same number
of sampling processes. The gap between the two is what RLlib adds per step
(policy inference, connectors, collection), not physics.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import ray

from parallel_tune.core.errors import UsageError
from parallel_tune.core.machine import describe, versions
from parallel_tune.core.record import SCHEMA_VERSION
from parallel_tune.core.tables import write_table
from parallel_tune.run import cluster
from parallel_tune.run.placement import why_unschedulable


class CeilingError(UsageError):
    """Bad input for a ceiling run, or a width that failed."""


@ray.remote(num_cpus=1)
class _Stepper:
    """One process stepping one environment with random actions."""

    def __init__(self, env_id: str, seed: int, env_config: dict | None = None):
        from parallel_tune.run.cluster import make_env

        self.env = make_env(env_id, env_config)  # a registered creator with its env_config, as a runner makes it
        self.env.action_space.seed(seed)
        self.env.reset(seed=seed)

    def where(self) -> tuple[int, str]:
        """(pid, node id): every width's processes are distinct, and their nodes are recorded."""
        return os.getpid(), ray.get_runtime_context().get_node_id()

    def _step_for(self, seconds: float) -> int:
        env, steps = self.env, 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            for _ in range(100):  # check the clock every 100 steps, not every step
                _, _, terminated, truncated, _ = env.step(env.action_space.sample())
                steps += 1
                if terminated or truncated:
                    env.reset()
        return steps

    def run(self, start_at: float, warmup_s: float, duration_s: float) -> dict[str, float]:
        """Warm up, then count steps over ``duration_s``; all actors start at ``start_at`` (wall clock)."""
        time.sleep(max(start_at - time.time(), 0.0))
        self._step_for(warmup_s)
        cpu0, t0 = time.process_time(), time.perf_counter()
        steps = self._step_for(duration_s)
        elapsed = time.perf_counter() - t0
        return {"steps": steps, "elapsed_s": elapsed, "cpu_pct": 100 * (time.process_time() - cpu0) / elapsed}


def measure_width(
    env_id: str,
    processes: int,
    *,
    duration_s: float,
    warmup_s: float,
    strategy: str,
    seed: int = 0,
    env_config: dict | None = None,
):
    """One row of the ceiling table: ``processes`` steppers at once."""
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    # Nodes need no parallel_tune installed: the stepper, and how it makes the env, go by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.cloudpickle.register_pickle_by_value(cluster)
    pg = placement_group([{"CPU": 1.0}] * processes, strategy=strategy)
    actors = []
    try:
        ray.get(pg.ready(), timeout=120)
        actors = [
            _Stepper.options(
                scheduling_strategy=PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=i)
            ).remote(env_id, seed + i, env_config)
            for i in range(processes)
        ]
        where = ray.get([a.where.remote() for a in actors], timeout=300)  # every env is made before the clock starts
        start_at = time.time() + 0.5
        runs = ray.get([a.run.remote(start_at, warmup_s, duration_s) for a in actors])
    except (ray.exceptions.RayError, TimeoutError) as exc:  # GetTimeoutError is a TimeoutError too
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:300]
        raise CeilingError(f"the ceiling at {processes} processes failed: {first}") from None
    finally:
        for a in actors:
            ray.kill(a)
        remove_placement_group(pg)
    per_process = [r["steps"] / r["elapsed_s"] for r in runs]
    return {
        "processes": processes,
        "env_steps_per_s": sum(per_process),
        "env_steps_per_s_per_process": sum(per_process) / processes,
        "env_steps_per_s_per_process_min": min(per_process),
        "env_steps_per_s_per_process_max": max(per_process),
        "process_cpu_pct_mean": sum(r["cpu_pct"] for r in runs) / processes,
        "distinct_pids": len({pid for pid, _ in where}),
        "nodes": len({node for _, node in where}),
        "node_ids": ",".join(node[:6] for _, node in where),
        "duration_s": duration_s,
        "warmup_s": warmup_s,
    }


def measure(
    env_id: str,
    widths: list[int],
    *,
    duration_s: float = 5.0,
    warmup_s: float = 1.0,
    strategy: str = "PACK",
    stream=None,
    env_config: dict | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The ceiling at each width that fits the running Ray cluster, and why any width was left out."""
    stream = stream or sys.stdout
    nodes = cluster.cluster_nodes()
    rows, skipped = [], []
    for i, width in enumerate(sorted(set(widths)), 1):
        reason = why_unschedulable([{"CPU": 1.0}] * width, strategy, nodes)
        if reason:
            skipped.append(f"{width} processes: {reason}")
            print(f"ceiling: skipping {width} processes: {reason}", file=stream)
            continue
        t0 = time.perf_counter()
        row = measure_width(
            env_id, width, duration_s=duration_s, warmup_s=warmup_s, strategy=strategy, env_config=env_config
        )
        rows.append({"env": env_id, **row})
        print(
            f"ceiling [{i}/{len(set(widths))}] {width:>3} processes: {row['env_steps_per_s']:>10,.0f} steps/s "
            f"({row['env_steps_per_s_per_process']:,.0f} per process, {row['process_cpu_pct_mean']:.0f} % CPU each; "
            f"{time.perf_counter() - t0:.1f} s)",
            file=stream,
            flush=True,
        )
    return pd.DataFrame(rows), skipped


def metadata(env_id: str, strategy: str, skipped: list[str]) -> dict[str, Any]:
    """What produced the table: stored in the Parquet file's schema metadata."""
    resources = {k: float(v) for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "ceiling",
        "env": env_id,
        "placement_strategy": strategy,
        "skipped": skipped,
        "machine": {**describe(), "ray_cluster_resources": resources},
        "versions": versions(),
    }


def run(
    env_id: str,
    widths: list[int],
    out: Path,
    *,
    duration_s: float = 5.0,
    warmup_s: float = 1.0,
    strategy: str = "PACK",
    stream=None,
    env_config: dict | None = None,
) -> pd.DataFrame:
    """Measure and write ``out`` (never over an existing file). Ray must be initialised. ``env_config``: what a
    registered env creator is called with (a ``--config`` file's)."""
    out = Path(out)
    if out.exists():
        raise CeilingError(f"{out} already exists; results are never overwritten")
    table, skipped = measure(
        env_id,
        widths,
        duration_s=duration_s,
        warmup_s=warmup_s,
        strategy=strategy,
        stream=stream,
        env_config=env_config,
    )
    if table.empty:
        raise CeilingError(f"no width fits this cluster: {'; '.join(skipped)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, out, metadata(env_id, strategy, skipped))
    return table
