"""What produced a result: versions, the machine, its GPUs (NVML's handle faked, since CI has no GPU)."""

import pytest

from parallel_tune.core import machine

from ..run.test_telemetry import FakeNvml, NoDriver


class Named(FakeNvml):
    """Two GPUs; NVML returns names as bytes on some versions, str on others."""

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetName(self, h):
        return b"NVIDIA H100" if h == "handle0" else "NVIDIA H200"


class NameFails(Named):
    def nvmlDeviceGetName(self, h):
        raise RuntimeError("NVML_ERROR_GPU_IS_LOST")


@pytest.mark.parametrize(
    "nvml, expected",
    [(NoDriver(), []), (Named(), ["NVIDIA H100", "NVIDIA H200"]), (NameFails(), [])],
    ids=["no-driver", "two-gpus", "name-fails"],
)
def test_machine_gpu_models(nvml, expected):
    assert machine.gpu_models(nvml) == expected


def test_the_versions_results_are_comparable_under():
    versions = machine.versions()
    assert versions["ray"] == "2.60.0" and versions["torch"].startswith("2.13.0")
    assert set(machine.PACKAGES) <= set(versions) and versions["python"].count(".") == 2


def test_the_machine_says_its_cores_and_when():
    described = machine.describe()
    assert described["logical_cores"] >= described["physical_cores"] >= 1
    assert described["usable_cpus"] >= 1 and described["date_utc"].endswith("+00:00")
    assert "versions" not in described, "the record keeps versions beside the machine"
