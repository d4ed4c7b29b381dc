"""The raw environment ceiling, measured for real: Ray actors stepping HalfCheetah-v5."""

import pytest

from parallel_tune.analysis.load import read_table

from .conftest import ROOT, run_cli

pytestmark = pytest.mark.ray
QUICK = ["--duration", "0.5", "--warmup", "0.2", "--num-cpus", "2"]


def test_ceiling_on_one_and_two_processes_writes_a_valid_table(tmp_path):
    out = tmp_path / "ceiling.parquet"
    proc = run_cli("parallel_tune.ceiling", "--processes", "1,2", "--out", str(out), *QUICK)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    table, meta = read_table(out)
    assert list(table["processes"]) == [1, 2]
    assert (table["distinct_pids"] == table["processes"]).all(), "each width runs in that many processes"
    # The bare MuJoCo HalfCheetah steps thousands of times a second per core (11,000 on the reference host).
    assert (table["env_steps_per_s_per_process"] > 500).all(), table.to_string()
    assert list(table["env_steps_per_s"]) == pytest.approx(
        list(table["env_steps_per_s_per_process"] * table["processes"])
    )
    assert (table["env_steps_per_s_per_process_min"] <= table["env_steps_per_s_per_process_max"]).all()
    assert table["process_cpu_pct_mean"].between(20, 110).all(), "a stepper keeps its core busy"
    assert meta["env"] == "HalfCheetah-v5" and meta["kind"] == "ceiling" and meta["skipped"] == []
    assert meta["versions"]["mujoco"] and meta["machine"]["logical_cores"] >= 1
    assert "2 processes" in proc.stdout


def test_ceiling_refuses_bad_input_with_one_line(tmp_path):
    existing = tmp_path / "taken.parquet"
    existing.write_bytes(b"x")
    cases = [
        (["--processes", "1,,2"], "expected comma-separated integers"),
        (["--processes", "0"], "values must be >= 1"),
        (["--out", str(existing)], "already exists"),
        (["--out", str(tmp_path / "no" / "such" / "c.parquet")], "does not exist"),
        (["--env", "NoSuchEnv-v0"], "unknown environment"),
        (["--space", "nope"], "unknown search space"),
        (["--duration", "0"], "--duration must be > 0"),
    ]
    for args, message in cases:
        proc = run_cli("parallel_tune.ceiling", *args)
        assert proc.returncode == 2, (args, proc.stderr[-2000:])
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert existing.read_bytes() == b"x"


def test_a_width_that_cannot_fit_is_refused_up_front(tmp_path):
    out = tmp_path / "c.parquet"
    proc = run_cli("parallel_tune.ceiling", "--processes", "3", "--out", str(out), *QUICK, timeout=120)
    assert proc.returncode == 2 and "no width fits" in proc.stderr and "3 CPU" in proc.stderr, proc.stderr[-2000:]
    assert not out.exists()


def test_the_ceiling_steps_a_config_files_registered_env_with_its_env_config(tmp_path):
    out = tmp_path / "mine.parquet"
    config = ROOT / "examples" / "my_training.py"
    proc = run_cli("parallel_tune.ceiling", "--config", str(config), "--processes", "1", "--out", str(out), *QUICK)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    table, meta = read_table(out)
    assert meta["env"] == "my_cheetah" and list(table["processes"]) == [1] and table["env_steps_per_s"].iloc[0] > 500
