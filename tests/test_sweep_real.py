"""A real smoke sweep through the CLI: Ray, RLlib PPO, MuJoCo HalfCheetah-v5."""

import json
import shutil

import pandas as pd
import pytest

from parallel_tune import SCHEMA_VERSION, analyze, sweep
from parallel_tune.results import load_experiment, read_table, write_table

from .conftest import run_cli

pytestmark = pytest.mark.ray
TRIALS = ["ppo[num_env_runners=1,num_envs_per_env_runner=1]", "ppo[num_env_runners=1,num_envs_per_env_runner=2]"]


def test_every_trial_finished_its_iterations_and_wrote_its_files(smoke_experiment):
    for name in TRIALS:
        d = smoke_experiment / name
        assert (d / "result.json").stat().st_size > 0 and (d / "progress.csv").exists()
        assert list(d.glob("events.out.tfevents.*")), "TensorBoard events per trial"
        assert list(d.glob("checkpoint_*")), "at least the final checkpoint"
        assert (d / "telemetry.parquet").exists()
        progress = pd.read_csv(d / "progress.csv")
        assert list(progress["training_iteration"]) == [1, 2, 3]
        assert (progress["env_runners/num_env_steps_sampled"] >= 256).all()
    manifest = json.loads((smoke_experiment / "parallel_tune.json").read_text())
    assert manifest["machine"]["versions"]["ray"] == "2.60.0"
    assert manifest["space"]["ppo"]["train_batch_size"] == 256 and manifest["skipped"] == []


def test_loader_agrees_with_rays_experiment_analysis(smoke_experiment):
    from ray.tune import ExperimentAnalysis

    ours = load_experiment(smoke_experiment)
    theirs = ExperimentAnalysis(str(smoke_experiment))
    assert len(ours.trials) == len(theirs.trials) == 2
    for trial_id, df in theirs.trial_dataframes.items():
        mine = ours.iterations[ours.iterations["trial_id"] == trial_id].sort_values("iteration")
        assert list(mine["iteration"]) == list(df["training_iteration"])
        assert mine["time_this_iter_s"].to_numpy() == pytest.approx(df["time_this_iter_s"].to_numpy())
        assert mine["env_steps_sampled"].to_numpy() == pytest.approx(df["env_runners/num_env_steps_sampled"].to_numpy())
    last = theirs.dataframe().set_index("trial_id")
    trials = ours.trials.set_index("trial_id")
    for trial_id in last.index:
        assert trials.loc[trial_id, "iterations_completed"] == last.loc[trial_id, "training_iteration"]
        assert trials.loc[trial_id, "cpus_reserved"] == 2.0


def test_recovered_timers_add_up_to_the_iteration(smoke_experiment):
    it = load_experiment(smoke_experiment).iterations
    parts = it[["sampling_s", "learner_update_s", "weight_sync_s"]].sum(axis=1)
    assert (parts > 0).all()
    assert (parts <= it["time_this_iter_s"] * 1.05 + 0.01).all()


def test_telemetry_reached_results_and_tensorboard(smoke_experiment):
    for name in TRIALS:
        progress = pd.read_csv(smoke_experiment / name / "progress.csv")
        assert progress["telemetry/cpu_util_pct_mean"].between(0, 100).all()
        tel = pd.read_parquet(smoke_experiment / name / "telemetry.parquet")
        assert len(tel) >= 3 and not tel["gpu_available"].any()
        assert tel["cpu_util_pct"].max() > 5, "a PPO trial keeps at least one core busy"
        assert tel["ray_workers_cpu_s"].iloc[-1] > tel["ray_workers_cpu_s"].iloc[0]


def test_analysis_wrote_tables_report_and_dashboard(smoke_experiment):
    out = smoke_experiment / "analysis"
    for table in ("iterations", "trials", "telemetry", "summary"):
        df, meta = read_table(out / f"{table}.parquet")
        assert not df.empty and meta["schema_version"] == SCHEMA_VERSION
        assert meta["machine"]["versions"]["torch"].startswith("2.13.0")
    summary = read_table(out / "summary.parquet")[0]
    assert sorted(summary["num_envs_per_env_runner"]) == [1, 2]
    assert (summary["n_measured"] == 2).all() and (summary["env_steps_per_s"] > 0).all()
    text = (out / "report.md").read_text()
    assert "1r x 1e" in text and "1r x 2e" in text and "## Why scaling stops" in text and "## Hardware use" in text
    # --ceiling measured the bare environment first, at the one width the smoke configs sample with.
    ceiling = read_table(smoke_experiment / "ceiling.parquet")[0]
    assert list(ceiling["processes"]) == [1]
    assert summary["ceiling_fraction_pct"].between(0.1, 100).all(), summary["ceiling_fraction_pct"]
    assert "## Against the raw environment ceiling" in text and "% of the raw environment ceiling at 1" in text
    assert (out / "dashboard.png").stat().st_size > 20_000


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


def test_a_corrupt_ceiling_costs_only_the_ceiling_section(smoke_experiment, tmp_path):
    copy = tmp_path / "exp"
    shutil.copytree(smoke_experiment, copy)
    (copy / "ceiling.parquet").write_bytes(b"not parquet")
    result = analyze.analyze_experiment(copy)
    assert len(result.experiment.trials) == 2
    assert any("ceiling.parquet is not a readable Parquet file" in p for p in result.experiment.problems)
    text = result.report.read_text()
    assert "## Against the raw environment ceiling" not in text and "## Problems reading the experiment" in text


def test_analyze_refuses_a_ceiling_of_another_environment(smoke_experiment, tmp_path):
    df, meta = read_table(smoke_experiment / "ceiling.parquet")
    other = write_table(df, tmp_path / "hopper.parquet", {**meta, "env": "Hopper-v5"})
    proc = run_cli(
        "parallel_tune.analyze", str(smoke_experiment), "--out", str(tmp_path / "a"), "--ceiling", str(other)
    )
    assert proc.returncode == 2 and "measured Hopper-v5, but the experiment ran HalfCheetah-v5" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_an_existing_experiment_is_never_overwritten(smoke_experiment, capsys):
    before = sorted(p.name for p in smoke_experiment.iterdir())
    code = sweep.main(
        ["--space", "smoke", "--storage-path", str(smoke_experiment.parent), "--name", smoke_experiment.name]
    )
    assert code == 2 and "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in smoke_experiment.iterdir()) == before


def test_analyze_cli_on_the_real_sweep(smoke_experiment, tmp_path):
    proc = run_cli("parallel_tune.analyze", str(smoke_experiment), "--out", str(tmp_path / "a"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "a" / "report.md").exists() and "2 configs" in proc.stdout


def test_notebook_runs_on_the_real_sweep(smoke_experiment, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    from .conftest import ROOT

    monkeypatch.setenv("PARALLEL_TUNE_ANALYSIS", str(smoke_experiment / "analysis"))
    nb = nbformat.read(ROOT / "notebooks" / "scaling_analysis.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for o in outputs)
    assert not any(o.get("output_type") == "error" for o in outputs)
    assert any("ceiling_fraction_pct" in str(o.get("data", {})) for o in outputs), "the ceiling table is shown"
    assert any("ideal_time_per_iter_s" in str(o.get("data", {})) for o in outputs), "the loss budget is shown"
