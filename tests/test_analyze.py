"""The analyze command: every file written, bad input in one line, damaged experiments kept, on real sweeps."""

import io
import shutil

import pytest

from parallel_tune import analyze
from parallel_tune.analysis.load import read_table
from parallel_tune.core import files
from parallel_tune.core.tables import write_table

from .conftest import ROOT, run_cli

SMOKE = ROOT / "tests" / "data" / "smoke_experiment"
TRIALS = ["ppo[num_env_runners=1,num_envs_per_env_runner=1]", "ppo[num_env_runners=1,num_envs_per_env_runner=2]"]


def test_analysis_of_a_committed_experiment_writes_every_file(tmp_path):
    copy = tmp_path / "smoke"
    shutil.copytree(SMOKE, copy)
    result = analyze.analyze_experiment(copy, stream=io.StringIO())
    for name in ("iterations", "trials", "telemetry", "summary"):
        assert not read_table(result.out_dir / files.table(name))[0].empty
    assert (result.out_dir / files.CEILING).exists() and (result.out_dir / files.DASHBOARD).stat().st_size > 20_000
    text = result.report.read_text()
    for section in ("## Results", "## Recommendation", "## Why scaling stops", "## Against the raw environment"):
        assert section in text
    summary, meta = read_table(result.out_dir / files.table("summary"))
    assert meta["space"]["name"] == "smoke" and meta["versions"]["ray"] == "2.60.0" and "amdahl" in meta
    assert {"busy_cores_mean", "limited_by", "iterations_completed"} <= set(summary.columns), "the per-config table"


@pytest.mark.parametrize("experiment", sorted((ROOT / "benchmarks" / "results").glob("*/analysis")))
def test_every_committed_analysis_reproduces_its_report(experiment, tmp_path):
    result = analyze.analyze_experiment(experiment.parent, out_dir=tmp_path / "a", stream=io.StringIO())
    assert result.report.read_text() == (experiment / files.REPORT).read_text()


def test_analyze_missing_directory(tmp_path, capsys):
    assert analyze.main([str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_analyze_directory_without_experiment(tmp_path, capsys):
    assert analyze.main([str(tmp_path)]) == 2
    assert "holds no Tune experiment" in capsys.readouterr().err


@pytest.mark.ray
def test_a_truncated_trial_file_is_reported_not_dropped(smoke_experiment, tmp_path):
    copy = tmp_path / "exp"
    shutil.copytree(smoke_experiment, copy)
    shutil.rmtree(copy / "analysis")
    victim = copy / TRIALS[1]
    for f in ("progress.csv", "result.json"):
        data = (victim / f).read_bytes()
        (victim / f).write_bytes(data[: len(data) // 3])
    result = analyze.analyze_experiment(copy)
    trials = result.experiment.trials
    assert len(trials) == 2, "a damaged trial still counts"
    assert trials.set_index("trial_name").loc[TRIALS[0], "iterations_completed"] == 3


@pytest.mark.ray
def test_a_corrupt_ceiling_costs_only_the_ceiling_section(smoke_experiment, tmp_path):
    copy = tmp_path / "exp"
    shutil.copytree(smoke_experiment, copy)
    (copy / "ceiling.parquet").write_bytes(b"not parquet")
    result = analyze.analyze_experiment(copy)
    assert len(result.experiment.trials) == 2
    assert any("ceiling.parquet is not a readable Parquet file" in p for p in result.experiment.problems)
    text = result.report.read_text()
    assert "## Against the raw environment ceiling" not in text and "## Problems reading the experiment" in text


@pytest.mark.ray
def test_analyze_refuses_a_ceiling_of_another_environment(smoke_experiment, tmp_path):
    df, meta = read_table(smoke_experiment / "ceiling.parquet")
    other = write_table(df, tmp_path / "hopper.parquet", {**meta, "env": "Hopper-v5"})
    proc = run_cli(
        "parallel_tune.analyze", str(smoke_experiment), "--out", str(tmp_path / "a"), "--ceiling", str(other)
    )
    assert proc.returncode == 2 and "measured Hopper-v5, but the experiment ran HalfCheetah-v5" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.ray
def test_analyze_cli_on_the_real_sweep(smoke_experiment, tmp_path):
    proc = run_cli("parallel_tune.analyze", str(smoke_experiment), "--out", str(tmp_path / "a"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "a" / "report.md").exists() and "2 configs" in proc.stdout


def test_the_module_is_the_python_api(tmp_path):
    import parallel_tune

    result = parallel_tune.analyze(SMOKE, out_dir=tmp_path / "a", stream=io.StringIO())
    assert len(result.experiment.trials) == 2 and result.report.exists()
    assert list(result.summary["label"]) == ["1r x 1e", "1r x 2e"] and "limited_by" in result.found.scaled
