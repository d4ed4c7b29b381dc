"""What produced a result: versions, CPU, GPU. Stored in the experiment record, and so with every table.

Scaling numbers are only comparable between runs with the same versions on
the same hardware. No Ray: a cluster's nodes run ``hardware`` themselves.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
from importlib import metadata

import psutil

PACKAGES = ("ray", "gymnasium", "mujoco", "torch", "numpy", "pandas", "pyarrow", "parallel_tune")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cpus() -> int:
    """CPUs this process may run on (cgroup/affinity aware, like Ray's own count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def gpu_models(nvml=None) -> list[str]:
    """Names of the NVIDIA GPUs NVML sees; empty where there is no driver."""
    try:
        if nvml is None:
            import pynvml as nvml
        nvml.nvmlInit()
    except Exception:
        return []
    try:
        names = []
        for i in range(nvml.nvmlDeviceGetCount()):
            name = nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i))
            names.append(name.decode() if isinstance(name, bytes) else str(name))
        return names
    except Exception:
        return []
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()


def hardware() -> dict:
    """This machine's CPUs, memory and GPUs: what a node contributes to a cluster."""
    gpus = gpu_models()
    return {
        "hostname": platform.node(),
        "cpu_model": cpu_model(),
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cpus": usable_cpus(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpu_models": gpus,
        "gpu_count": len(gpus),
    }


def describe() -> dict:
    """The driver's machine, when: the ``machine`` of the experiment record (the cluster's nodes are its own)."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return {"date_utc": now, "platform": platform.platform(), **hardware()}
