"""The raw environment ceiling's probe, for real: Ray actors stepping HalfCheetah-v5 with random actions."""

import time

import pytest

from parallel_tune.run import rawenv

pytestmark = pytest.mark.ray


@pytest.fixture
def local_ray():
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


def test_an_env_that_fails_in_the_actors_is_one_error_not_a_traceback(local_ray):
    with pytest.raises(rawenv.CeilingError, match="ceiling at 1 processes failed: .*NoSuchEnv"):
        rawenv.measure_width("NoSuchEnv-v0", 1, duration_s=0.2, warmup_s=0.1, strategy="PACK")
    # The placement group is given back (asynchronously): the whole cluster is free again.
    deadline = time.monotonic() + 30
    while local_ray.available_resources().get("CPU") != local_ray.cluster_resources().get("CPU"):
        assert time.monotonic() < deadline, local_ray.available_resources()
        time.sleep(0.2)


def test_a_width_the_cluster_cannot_hold_is_skipped_and_said(local_ray, tmp_path):
    import io

    table, skipped = rawenv.measure("HalfCheetah-v5", [1, 3], duration_s=0.3, warmup_s=0.1, stream=io.StringIO())
    assert list(table["processes"]) == [1] and table["env_steps_per_s"].iloc[0] > 500
    assert skipped == ["3 processes: needs 3 CPU, the cluster has 2 CPU"]
