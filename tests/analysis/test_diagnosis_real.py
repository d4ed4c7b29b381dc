"""Real sweeps: more runners than cores must be blamed on the cores, not RLlib; precision stops what is steady."""

import os

import pytest

from parallel_tune.analysis.load import read_table

from ..conftest import run_cli

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
    # Facts first: 3 runners sampling at once on 2 saturated cores, whatever the noise did to the step cost.
    assert wide["limited_by"] == "cpu_cores", summary[["limited_by", "step_cost_ratio", "busy_cores_mean"]]
    assert wide["concurrent_processes"] == 3 and wide["cores_oversubscribed"] and wide["cores_saturated"]
    assert wide["cpus_reserved"] == 4.0 and wide["lost_time_s"] > 0
    text = (tmp_path / "x" / "analysis" / "report.md").read_text()
    assert "3r x 1e:" in text and "limited by the CPU cores" in text
    assert "No Amdahl fit" in text and "Left out of the fit: 3r x 1e" in text and "**Amdahl's law**" not in text


def test_a_precision_target_stops_stable_configs_early_and_the_baseline_is_rechecked(tmp_path):
    # 4 configs (more than 3: the drift check is on), a loose target that tiny batches reach in a few iterations.
    args = ["--space", "smoke", "--envs-per-runner", "1,2,3,4", "--iterations", "15", "--precision", "0.5"]
    proc = run_cli("parallel_tune.sweep", *args, "--storage-path", str(tmp_path), "--name", "p")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "drift check: ppo[num_env_runners=1,num_envs_per_env_runner=1] again, 4 iterations" in proc.stdout
    trials = read_table(tmp_path / "p" / "analysis" / "trials.parquet")[0]
    assert (trials["status"] == "TERMINATED").all()
    assert (trials["iterations_completed"] >= 4).all(), "never before warm-up + 3 measured iterations"
    assert (trials["iterations_completed"] < 15).any(), trials[["trial_name", "iterations_completed"]]
    summary = read_table(tmp_path / "p" / "analysis" / "summary.parquet")[0]
    assert (summary["precision_reached"] | (summary["n_measured"] == 14)).all()
    drift = read_table(tmp_path / "p" / "analysis" / "drift.parquet")[0]
    assert list(drift["iteration"]) == [1, 2, 3, 4]
    text = (tmp_path / "p" / "analysis" / "report.md").read_text()
    assert "Precision asked: ±50 %" in text and "## How long each config was measured" in text
    assert "re-measured at the end of the sweep (3 iterations)" in text
    assert "The sweep took" in text and "start-up" in text
