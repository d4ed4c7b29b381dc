"""The sampler and the Tune callback, driven directly with a small fake trial.

The only fake is NVML's GPU handle: CI has no GPU.
"""

import logging
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pandas as pd
import psutil

from parallel_tune.run import telemetry


class FakeNvml:
    """pynvml's surface, one GPU at 37 % busy, 1.5 GiB used, 123 W."""

    def __init__(self, fail_util=False):
        self.fail_util = fail_util
        self.shutdown = False

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        self.shutdown = True

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, i):
        return f"handle{i}"

    def nvmlDeviceGetUtilizationRates(self, h):
        if self.fail_util:
            raise RuntimeError("GPU fell off the bus")
        return SimpleNamespace(gpu=37, memory=10)

    def nvmlDeviceGetMemoryInfo(self, h):
        return SimpleNamespace(used=1536 * 2**20, total=80 * 2**30)

    def nvmlDeviceGetPowerUsage(self, h):
        return 123_000


class NoDriver:
    def nvmlInit(self):
        raise OSError("NVML Shared Library Not Found")


def fake_trial(path, trial_id="t1", last_result=None):
    return SimpleNamespace(trial_id=trial_id, path=str(path), last_result=last_result or {})


def test_gpu_values_from_the_nvml_handle():
    sampler = telemetry.Sampler(nvml=FakeNvml())
    row = sampler.sample()
    assert row["gpu_available"] is True
    assert row["gpu0_util_pct"] == 37.0
    assert row["gpu0_mem_used_mb"] == 1536.0
    assert row["gpu0_power_w"] == 123.0


def test_cpu_values_are_plausible_and_no_gpu_is_said_once(caplog):
    caplog.set_level(logging.INFO, logger="parallel_tune.run.telemetry")
    sampler = telemetry.Sampler(nvml=NoDriver())
    time.sleep(0.2)
    row = sampler.sample()
    for _ in range(3):
        sampler.record()
    assert row["gpu_available"] is False and not any(k.startswith("gpu0") for k in row)
    assert 0.0 <= row["cpu_util_pct"] <= 100.0
    cores = [k for k in row if k.startswith("cpu") and k[3].isdigit()]
    assert len(cores) >= 1 and all(0.0 <= row[k] <= 100.0 for k in cores)
    assert row["mem_used_mb"] > 0 and row["load_avg_1m"] >= 0
    assert 0.0 <= row["cpu_steal_pct"] <= 100.0, "Linux reports the time other tenants took"
    said = [r.getMessage() for r in caplog.records if "GPUs unavailable" in r.getMessage()]
    assert len(said) == 1 and "NVML Shared Library Not Found" in said[0], caplog.text


def _named_process(argv0: str, code: str) -> subprocess.Popen:
    """A real process whose command line starts with ``argv0``, as Ray's workers rename themselves."""
    return subprocess.Popen(["bash", "-c", f'exec -a "{argv0}" {sys.executable} -c "{code}"'])


def test_ray_worker_cpu_counts_busy_workers_and_remembers_the_rest():
    busy = _named_process("ray::PPO.train", "import time; t = time.time()\nwhile time.time() - t < 3: pass")
    idle = _named_process("ray::IDLE", "import time; time.sleep(3)")
    try:
        workers = telemetry.RayWorkers()
        time.sleep(0.3)
        first = workers.cpu_s()
        time.sleep(1.0)
        grown = workers.cpu_s() - first
        assert 0.5 < grown < 1.5, f"one busy worker adds about a CPU second per second, got {grown}"
        mine = psutil.Process()
        assert mine in workers._not_ray, "pytest itself is not a Ray worker, and is not read again"
        assert not any(p.pid in (busy.pid, idle.pid) for p in workers._not_ray)
    finally:
        for p in (busy, idle):
            p.kill()
            p.wait()


def test_sampler_thread_stops_and_leaves_nothing_running():
    nvml = FakeNvml()
    sampler = telemetry.Sampler(interval_s=0.02, nvml=nvml)
    sampler.start()
    time.sleep(0.15)
    sampler.stop()
    assert not sampler.running
    assert not [t for t in threading.enumerate() if t.name == "parallel_tune-telemetry"]
    assert len(sampler.rows) >= 3 and nvml.shutdown


def test_a_sampling_error_is_logged_and_sampling_goes_on(caplog):
    sampler = telemetry.Sampler(interval_s=0.01, nvml=FakeNvml(fail_util=True))
    sampler.start()
    time.sleep(0.1)
    sampler.stop()
    assert sampler.errors >= 2 and not sampler.running
    assert "sampling failed" in caplog.text


def test_callback_writes_parquet_and_adds_summaries(tmp_path):
    cb = telemetry.TelemetryCallback(interval_s=0.02, nvml=FakeNvml())
    trial = fake_trial(tmp_path)
    cb.on_trial_start(iteration=0, trials=[trial], trial=trial)
    time.sleep(0.1)
    result = {"training_iteration": 1}
    cb.on_trial_result(iteration=1, trials=[trial], trial=trial, result=result)
    assert result["telemetry"]["gpu_util_pct_mean"] == 37.0
    assert result["telemetry"]["gpu_mem_used_mb_peak"] == 1536.0
    assert 0 <= result["telemetry"]["cpu_util_pct_mean"] <= 100
    cb.on_trial_complete(iteration=2, trials=[trial], trial=trial)
    df = pd.read_parquet(tmp_path / "telemetry.parquet")
    assert (df["trial_id"] == "t1").all()
    assert set(df["iteration"]) <= {1, 2} and 1 in set(df["iteration"])
    assert not [t for t in threading.enumerate() if t.name == "parallel_tune-telemetry"]


def test_callback_stops_on_error_and_a_restart_appends(tmp_path):
    cb = telemetry.TelemetryCallback(interval_s=0.02, nvml=NoDriver())
    trial = fake_trial(tmp_path)
    cb.on_trial_start(iteration=0, trials=[trial], trial=trial)
    cb.on_trial_error(iteration=1, trials=[trial], trial=trial)
    first = len(pd.read_parquet(tmp_path / "telemetry.parquet"))
    assert first >= 1
    resumed = fake_trial(tmp_path, last_result={"training_iteration": 2})
    cb.on_trial_start(iteration=0, trials=[resumed], trial=resumed)
    cb.on_experiment_end(trials=[resumed])
    df = pd.read_parquet(tmp_path / "telemetry.parquet")
    assert len(df) > first and df["iteration"].iloc[-1] == 3


def test_callback_pickles_without_its_threads():
    import pickle

    cb = telemetry.TelemetryCallback(interval_s=0.5)
    cb._samplers["x"] = telemetry.Sampler(nvml=NoDriver())
    restored = pickle.loads(pickle.dumps(cb))
    assert restored.interval_s == 0.5 and restored._samplers == {}
