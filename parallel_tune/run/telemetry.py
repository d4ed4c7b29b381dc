"""What the hardware did while each trial ran.

``Sampler`` polls psutil (and NVML where there is a driver) in a background
thread; ``TelemetryCallback`` is the thin Tune callback that starts one per
trial, tags samples with the trial's current iteration, adds per-iteration
summaries to the trial's results (so they show in TensorBoard next to RLlib's
metrics) and writes ``telemetry.parquet`` into the trial's directory.

Tune callbacks run in the driver, so the driver's node is sampled in a
thread there; every other node a trial's bundles were placed on (the trial
reports where, ``parallel_tune.run.probe``) gets a ``NodeSampler``: a Ray actor
pinned to that node that reserves no CPU, started with the trial's first
result (iteration 1, warm-up) and stopped with the trial. Every sample
carries its node's id, IP and core count. Trials run one at a time by
default, so the CPU time of a node's Ray worker processes is the running
trial's.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from parallel_tune.core.files import TELEMETRY
from parallel_tune.core.tables import PLACEMENT_KEY, TELEMETRY_KEY

logger = logging.getLogger(__name__)


class _Gpus:
    """NVML handles; ``available`` is False (and said once) without a driver."""

    def __init__(self, nvml=None):
        self.nvml = nvml
        self.handles: list[Any] = []
        self.available = False
        self.reason = ""
        try:
            if self.nvml is None:
                import pynvml

                self.nvml = pynvml
            self.nvml.nvmlInit()
            count = self.nvml.nvmlDeviceGetCount()
            self.handles = [self.nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self.available = True
        except Exception as exc:  # no driver, no library, no GPU: never fail a trial
            self.reason = f"{type(exc).__name__}: {exc}"

    def read(self) -> dict[str, float]:
        row: dict[str, float] = {}
        for i, h in enumerate(self.handles):
            util = self.nvml.nvmlDeviceGetUtilizationRates(h)
            mem = self.nvml.nvmlDeviceGetMemoryInfo(h)
            row[f"gpu{i}_util_pct"] = float(util.gpu)
            row[f"gpu{i}_mem_used_mb"] = mem.used / 2**20
            try:
                row[f"gpu{i}_power_w"] = self.nvml.nvmlDeviceGetPowerUsage(h) / 1000.0
            except Exception:  # some boards do not report power
                row[f"gpu{i}_power_w"] = float("nan")
        return row

    def close(self) -> None:
        if self.available:
            with contextlib.suppress(Exception):
                self.nvml.nvmlShutdown()


class RayWorkers:
    """CPU seconds used so far by this node's busy Ray worker processes (``ray::...``).

    A scan reads every process's command line; this one remembers the
    processes that are not Ray workers (a worker starts as ``default_worker.py``
    and renames itself ``ray::IDLE``, then ``ray::<task>``), so later samples
    read only the workers: the sampler's own CPU cost stays small on a machine
    that training keeps busy.
    """

    def __init__(self):
        self._not_ray: set[psutil.Process] = set()  # hashed by pid and start time: pid reuse is safe

    def cpu_s(self) -> float:
        """CPU seconds used so far by Ray's worker processes (the trial's, not the machine's other load)."""
        total = 0.0
        for proc in psutil.process_iter():
            if proc in self._not_ray:
                continue
            try:
                with proc.oneshot():
                    cmd = proc.cmdline()
                    if not cmd or not cmd[0].startswith("ray::"):
                        if not any("default_worker" in part for part in cmd):
                            self._not_ray.add(proc)
                        continue
                    if not cmd[0].startswith("ray::IDLE"):
                        times = proc.cpu_times()
                        total += times.user + times.system
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        if len(self._not_ray) > 4096:  # forget processes that have exited
            self._not_ray &= set(psutil.process_iter())
        return total


class Sampler:
    """Samples the machine every ``interval_s`` seconds in a daemon thread."""

    def __init__(self, interval_s: float = 1.0, nvml=None, clock=time.time, node_id: str = "", node_ip: str = ""):
        self.interval_s = interval_s
        self.clock = clock
        self.node = {"node_id": node_id, "node_ip": node_ip, "node_cores": psutil.cpu_count(logical=True)}
        self.iteration = 0
        self.rows: list[dict[str, Any]] = []
        self.errors = 0
        self.gpus = _Gpus(nvml)
        if not self.gpus.available:
            logger.info("telemetry: GPUs unavailable (%s); recording CPU only", self.gpus.reason)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._ray_workers = RayWorkers()
        psutil.cpu_percent(percpu=True)  # prime: the first call has no interval
        psutil.cpu_times_percent()
        self._last = time.monotonic()

    #: psutil's CPU % covers the time since the previous call; over a few ms it reads 0 %.
    MIN_WINDOW_S = 0.1

    def sample(self) -> dict[str, Any]:
        """One sample; waits out a minimum window first, since psutil's percentages over ~0 s read 0 %."""
        time.sleep(max(self.MIN_WINDOW_S - (time.monotonic() - self._last), 0.0))
        per_core = psutil.cpu_percent(percpu=True)
        # CPU time the hypervisor gave other tenants: where the kernel reports it (Linux), noise named, not hidden.
        steal = getattr(psutil.cpu_times_percent(), "steal", float("nan"))
        self._last = time.monotonic()
        mem = psutil.virtual_memory()
        row: dict[str, Any] = {
            **self.node,
            "timestamp_s": self.clock(),
            "iteration": self.iteration,  # the training iteration running when sampled
            "cpu_util_pct": sum(per_core) / max(len(per_core), 1),
            "busy_cores": sum(1 for p in per_core if p >= 50.0),
            "load_avg_1m": psutil.getloadavg()[0],
            "cpu_steal_pct": float(steal),
            "mem_used_mb": (mem.total - mem.available) / 2**20,
            "ray_workers_cpu_s": self._ray_workers.cpu_s(),
        }
        row.update({f"cpu{i}_util_pct": p for i, p in enumerate(per_core)})
        row["gpu_available"] = self.gpus.available
        if self.gpus.available:
            row.update(self.gpus.read())
        return row

    def record(self) -> None:
        """Take one sample now; a failure is logged once and never raised."""
        try:
            row = self.sample()
        except Exception:
            self.errors += 1
            if self.errors == 1:
                logger.warning("telemetry: sampling failed; the trial goes on", exc_info=True)
            return
        with self._lock:
            self.rows.append(row)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.record()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="parallel_tune-telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, with one last sample so even a short trial has a record."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, 2 * self.interval_s))
        self.record()
        self.gpus.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def frame(self) -> pd.DataFrame:
        with self._lock:
            return pd.DataFrame(self.rows)

    def summary(self, since: int = 0) -> dict[str, float]:
        """Mean/peak over rows[since:]: what goes into the trial's results."""
        with self._lock:
            rows = self.rows[since:]
        if not rows:
            return {}
        df = pd.DataFrame(rows)
        out = {
            "cpu_util_pct_mean": float(df["cpu_util_pct"].mean()),
            "cpu_util_pct_peak": float(df["cpu_util_pct"].max()),
            "busy_cores_mean": float(df["busy_cores"].mean()),
            "mem_used_mb_peak": float(df["mem_used_mb"].max()),
            "samples": float(len(df)),
        }
        util = [c for c in df.columns if c.startswith("gpu") and c.endswith("_util_pct")]
        mem = [c for c in df.columns if c.startswith("gpu") and c.endswith("_mem_used_mb")]
        if util:
            out["gpu_util_pct_mean"] = float(df[util].mean(axis=1).mean())
            out["gpu_mem_used_mb_peak"] = float(df[mem].max(axis=1).max())
        return out


class NodeSampler:
    """A ``Sampler`` in a process on another node: the body of the Ray actor ``TelemetryCallback`` pins there."""

    def __init__(self, interval_s: float, node_id: str, node_ip: str):
        self.sampler = Sampler(interval_s, node_id=node_id, node_ip=node_ip)
        self.sampler.start()

    def set_iteration(self, iteration: int) -> None:
        self.sampler.iteration = iteration

    def finish(self) -> list[dict[str, Any]]:
        self.sampler.stop()
        return list(self.sampler.rows)


def _start_node_sampler(interval_s: float, node_id: str, node_ip: str):
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # No CPU reserved: it takes nothing from the trial's placement group. Sent by value,
    # so the node needs no parallel_tune installed.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    actor = ray.remote(num_cpus=0)(NodeSampler).options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
        name=None,
    )
    return actor.remote(interval_s, node_id, node_ip)


def _local_node() -> tuple[str, str]:
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address()
    except Exception:  # no Ray: a sampler driven directly
        pass
    return "", ""


def _trial_dir(trial) -> Path:
    """The trial's directory under the storage path (``local_path`` is a staging copy)."""
    return Path(trial.path)


try:
    from ray.tune import Callback as _TuneCallback
except ImportError:  # the sampler stays usable without Ray
    _TuneCallback = object


class TelemetryCallback(_TuneCallback):
    """One ``Sampler`` per running trial; thin by design (Tune calls it in the driver)."""

    def __init__(self, interval_s: float = 1.0, nvml=None):
        self.interval_s = interval_s
        self.nvml = nvml
        self._samplers: dict[str, Sampler] = {}
        self._seen: dict[str, int] = {}
        self._remote: dict[str, dict[str, Any]] = {}  # trial id -> node id -> NodeSampler actor

    def __getstate__(self):  # Tune pickles callbacks into its experiment state; threads do not pickle
        return {"interval_s": self.interval_s, "nvml": None, "_samplers": {}, "_seen": {}, "_remote": {}}

    def on_trial_start(self, iteration, trials, trial, **info):
        self._finish(trial)  # a restarted trial starts a fresh record
        node_id, node_ip = _local_node()
        sampler = Sampler(self.interval_s, nvml=self.nvml, node_id=node_id, node_ip=node_ip)
        sampler.iteration = int((trial.last_result or {}).get("training_iteration", 0)) + 1
        self._samplers[trial.trial_id] = sampler
        self._seen[trial.trial_id] = 0
        sampler.start()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        sampler = self._samplers.get(trial.trial_id)
        if sampler is None:
            return
        if len(sampler.rows) == self._seen[trial.trial_id]:
            sampler.record()  # an iteration shorter than the interval still gets a sample
        sampler.iteration = int(result.get("training_iteration", sampler.iteration)) + 1
        self._sample_other_nodes(trial, result, sampler)
        n = len(sampler.rows)
        summary = sampler.summary(since=self._seen[trial.trial_id])
        self._seen[trial.trial_id] = n
        if summary:
            result[TELEMETRY_KEY] = summary

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._finish(trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._finish(trial)

    def on_experiment_end(self, trials, **info):
        for trial in trials:
            self._finish(trial)

    def _sample_other_nodes(self, trial, result: dict, sampler: Sampler) -> None:
        """Start a ``NodeSampler`` on every node of the trial's bundles but this one; tell them the iteration."""

        remote = self._remote.setdefault(trial.trial_id, {})
        if PLACEMENT_KEY in result and not remote:
            import json

            for entry in json.loads(result[PLACEMENT_KEY]):
                node = entry.get("node_id", "")
                if node and node != sampler.node["node_id"] and node not in remote:
                    try:
                        remote[node] = _start_node_sampler(self.interval_s, node, entry.get("node_ip", ""))
                    except Exception:
                        logger.warning("telemetry: cannot sample node %s; the trial goes on", node, exc_info=True)
        for actor in remote.values():
            actor.set_iteration.remote(sampler.iteration)

    def _collect_other_nodes(self, trial) -> list[dict[str, Any]]:
        import ray

        rows: list[dict[str, Any]] = []
        for node, actor in self._remote.pop(trial.trial_id, {}).items():
            try:
                rows += ray.get(actor.finish.remote(), timeout=30)
            except Exception as exc:  # a lost node: keep what the others sampled
                logger.warning("telemetry: node %s gave no samples (%s)", node, type(exc).__name__)
            finally:
                ray.kill(actor)
        return rows

    def _finish(self, trial) -> None:
        sampler = self._samplers.pop(trial.trial_id, None)
        self._seen.pop(trial.trial_id, None)
        if sampler is None:
            return
        sampler.stop()
        frame = sampler.frame()
        others = self._collect_other_nodes(trial) if self._remote.get(trial.trial_id) else []
        if others:
            frame = pd.concat([frame, pd.DataFrame(others)], ignore_index=True)
        if frame.empty:
            return
        frame.insert(0, "trial_id", trial.trial_id)
        path = _trial_dir(trial) / TELEMETRY
        if path.exists():  # a resumed trial: keep what the earlier run sampled
            frame = pd.concat([pd.read_parquet(path), frame], ignore_index=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
