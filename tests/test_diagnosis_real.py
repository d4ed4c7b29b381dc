"""A real sweep with more runners than cores: the report must blame the cores, not RLlib."""

import os

import pytest

from parallel_tune.results import read_table

from .conftest import run_cli

pytestmark = pytest.mark.ray


def test_more_runners_than_cores_is_diagnosed_as_core_bound(tmp_path):
    # 3 runners + the main process on a 2-core machine, with Ray told of 4 CPUs.
    cores = len(os.sched_getaffinity(0))
    if cores > 2:
        pytest.skip("needs a machine with at most 2 cores to oversubscribe with 3 runners")
    args = ["--space", "smoke", "--runners", "1,3", "--envs-per-runner", "1", "--num-cpus", "4"]
    args += ["--iterations", "12", "--telemetry-interval", "0.25", "--storage-path", str(tmp_path), "--name", "x"]
    proc = run_cli("parallel_tune.sweep", *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = read_table(tmp_path / "x" / "analysis" / "summary.parquet")[0].set_index("num_env_runners")
    assert summary.loc[1, "limited_by"] == "baseline"
    wide = summary.loc[3]
    assert wide["limited_by"] == "cpu_cores", summary[["limited_by", "step_cost_ratio", "busy_cores_mean"]]
    assert wide["step_cost_ratio"] > 1.2 and wide["cpus_reserved"] == 4.0
    assert wide["lost_time_s"] > 0
    text = (tmp_path / "x" / "analysis" / "report.md").read_text()
    assert "3r x 1e:" in text and "limited by the CPU cores" in text
    assert "Left out of the fit: 3r x 1e" in text
