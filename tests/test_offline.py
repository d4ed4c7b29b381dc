"""The analysis half without Ray: the loader, the metrics and the report on committed experiments.

``tests/data/smoke_experiment`` is a real smoke sweep (Tune's files, telemetry,
manifest; checkpoints removed); ``benchmarks/results/envs_only_2core`` holds a
real 2-core sweep's analysis tables.
"""

import io
import json
import shutil

import pandas as pd
import pytest

from parallel_tune import analyze, files, metrics, report
from parallel_tune.results import load_experiment, read_table

from .conftest import ROOT

SMOKE = ROOT / "tests" / "data" / "smoke_experiment"
ENVS_ONLY = ROOT / "benchmarks" / "results" / "envs_only_2core" / "analysis"


def test_the_loader_reads_a_committed_experiment_without_starting_ray():
    import ray

    e = load_experiment(SMOKE)
    assert not ray.is_initialized()
    assert list(e.trials["trial_name"]) == [
        "ppo[num_env_runners=1,num_envs_per_env_runner=1]",
        "ppo[num_env_runners=1,num_envs_per_env_runner=2]",
    ]
    assert list(e.trials["total_envs"]) == [1, 2] and (e.trials["cpus_reserved"] == 2.0).all()
    assert (e.trials["status"] == "TERMINATED").all() and e.problems == []
    assert e.iterations.groupby("trial_name")["iteration"].apply(list).tolist() == [[1, 2, 3], [1, 2, 3]]
    parts = e.iterations[["sampling_s", "learner_update_s", "weight_sync_s"]].sum(axis=1)
    assert (parts > 0).all() and (parts <= e.iterations["time_this_iter_s"] * 1.05 + 0.01).all()
    assert set(e.telemetry["trial_name"]) == set(e.trials["trial_name"])
    assert e.config_keys == ["num_env_runners", "num_envs_per_env_runner"]


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


def envs_only_findings():
    iterations, meta = read_table(ENVS_ONLY / files.table("iterations"))
    trials = read_table(ENVS_ONLY / files.table("trials"))[0]
    telemetry = read_table(ENVS_ONLY / files.table("telemetry"))[0]
    found = metrics.findings(
        iterations,
        trials,
        telemetry,
        config_keys=["num_env_runners", "num_envs_per_env_runner"],
        baseline=meta["space"]["baseline"],
        warmup_iterations=meta["space"]["warmup_iterations"],
        cores=meta["machine"]["logical_cores"],
    )
    return found, trials, meta


def test_the_committed_envs_only_report_is_reproduced_from_its_tables():
    found, trials, meta = envs_only_findings()
    scaled = found.scaled.set_index("num_envs_per_env_runner")
    # The README's table: 1r x 1e 20.49 s, 1r x 16e 5.22 s and 3.92x.
    assert scaled.loc[1, "time_per_iter_s"] == pytest.approx(20.49, abs=0.005)
    assert scaled.loc[16, "time_per_iter_s"] == pytest.approx(5.22, abs=0.005)
    assert scaled.loc[16, "speedup"] == pytest.approx(3.92, abs=0.005)
    assert found.recommendation["fastest"]["num_envs_per_env_runner"] == 16
    text = report.render_markdown(found, trials, meta, [])
    assert "| 1r x 16e | 16 | 1 | 5.22 [" in text and "24.5 %" in text and "392.1 %" in text
    assert "Excellent > 70 %, Good 60-70 %, Acceptable 50-60 %, Poor < 50 %" in text


def test_every_report_section_is_a_function_of_the_findings(tmp_path):
    found, trials, meta = envs_only_findings()
    assert report.results_section(found, 1)[0] == "## Results"
    assert report.recommendation_section(found)[0] == "## Recommendation"
    assert report.why_section(found)[0] == "## Why scaling stops"
    assert report.ceiling_section(found) == [], "no ceiling was measured for this sweep"
    hardware = report.hardware_section(found, trials, 0.5)
    assert "Sampled every 0.5 s on every node" in "\n".join(hardware)
    assert report.failed_section(trials) == []
    assert report.problems_section(["x"]) == ["## Problems reading the experiment", "", "- x", ""]
    path = report.dashboard(found, trials, path=tmp_path / "d.png", title="envs_only")
    assert path.stat().st_size > 20_000


def test_the_rating_legend_follows_the_bands():
    assert report.rating_legend() == "Excellent > 70 %, Good 60-70 %, Acceptable 50-60 %, Poor < 50 %"


COMMITTED = sorted(p.parent.parent for p in (ROOT / "benchmarks" / "results").glob("*/analysis/iterations.parquet"))


@pytest.mark.parametrize("experiment", COMMITTED, ids=[p.name for p in COMMITTED])
def test_every_committed_experiment_gets_a_verdict_a_budget_and_advice(experiment, tmp_path):
    from parallel_tune import diagnosis
    from parallel_tune.results import load

    found = analyze.compute(load(experiment))
    scaled = found.scaled
    assert len(scaled) >= 2 and scaled["limited_by"].isin(list(diagnosis.LIMITS)).all()
    assert (scaled["limited_by"] == "baseline").sum() == 1
    lost = scaled[list(diagnosis.LOSS_PARTS.values())].sum(axis=1)
    assert lost.to_numpy() == pytest.approx(scaled["lost_time_s"].to_numpy(), abs=1e-9)
    assert scaled["advice"].str.len().gt(20).all()
    text = report.render_markdown(found, load(experiment).trials, load(experiment).metadata, [])
    assert "## Where the lost speedup went" in text
    assert text.count("limited by `") + text.count("limited by the CPU cores") >= len(scaled) - 1


@pytest.mark.parametrize(
    "metadata, expected",
    [
        ({"options": {"telemetry_interval_s": 0.25}, "command": ["x"]}, 0.25),
        ({"command": ["python", "-m", "parallel_tune.sweep", "--telemetry-interval", "2"]}, 2.0),
        ({"command": ["python", "-m", "parallel_tune.sweep"]}, 1.0),
        ({}, None),
    ],
)
def test_the_report_states_the_interval_the_sweep_sampled_at(metadata, expected):
    assert report.telemetry_interval_s(metadata) == expected


def test_the_report_puts_the_cpu_and_gpu_learner_side_by_side():
    from parallel_tune.metrics import Findings

    scaled = pd.DataFrame(
        {
            "trial_name": ["c", "g"],
            "label": ["4r x 1e CPU learner", "4r x 1e GPU learner"],
            "num_env_runners": [4, 4],
            "num_envs_per_env_runner": [1, 1],
            "num_gpus_per_learner": [0, 1],
            "learner_update_s": [5.92, 5.84],
            "time_per_iter_s": [22.3, 20.5],
        }
    )
    usage = pd.DataFrame({"trial_name": ["c", "g"], "gpu_util_pct_mean": [float("nan"), 19.0]})
    lines = report.learner_device_section(Findings(scaled, usage=usage), pd.DataFrame())
    assert lines[0] == "## CPU learner or GPU learner"
    assert "4r x 1e: learner update 5.92 s on the CPU, 5.84 s on the GPU (1.01x): the GPU did not change" in lines[2]
    assert "the GPU was 19 % busy on average" in lines[2]


def test_the_drift_check_is_read_with_its_sweeps_config_columns(tmp_path):
    # A grid key beyond runners and envs (num_epochs here) must tell the drift check's config apart too;
    # the drift directory has no manifest of its own.
    copy = tmp_path / "smoke"
    shutil.copytree(SMOKE, copy)
    record = json.loads((copy / files.MANIFEST).read_text())
    record["space"]["grid"]["num_epochs"] = [1]
    (copy / files.MANIFEST).write_text(json.dumps(record))
    shutil.copytree(SMOKE, copy / files.DRIFT, ignore=shutil.ignore_patterns(files.MANIFEST))
    e = load_experiment(copy)
    assert e.config_keys == ["num_env_runners", "num_envs_per_env_runner", "num_epochs"]
    assert set(e.config_keys) <= set(e.drift.columns) and (e.drift["num_epochs"] == 1).all()
    assert e.problems == []


def test_a_stopped_sweep_lists_the_configs_it_never_started(tmp_path):
    # The smoke sweep's manifest planned a third config that never ran: the sweep was stopped first.
    copy = tmp_path / "smoke"
    shutil.copytree(SMOKE, copy)
    record = json.loads((copy / files.MANIFEST).read_text())
    third = {"num_env_runners": 1, "num_envs_per_env_runner": 3}
    record["planned"].append({"config": third, "cpus": 2.0, "gpus": 0.0})
    (copy / files.MANIFEST).write_text(json.dumps(record))
    trials = load_experiment(copy).trials.set_index("label")
    assert trials.loc["1r x 3e", "status"] == metrics.NOT_STARTED and trials.loc["1r x 3e", "cpus_reserved"] == 2.0
    assert (trials.drop(index="1r x 3e")["status"] == "TERMINATED").all(), "each trial once, none twice"
    result = analyze.analyze_experiment(copy, stream=io.StringIO())
    summary = read_table(result.out_dir / files.table("summary"))[0]
    assert list(summary["label"]) == ["1r x 1e", "1r x 2e"], "measured configs only"
    text = result.report.read_text()
    assert "| ppo[num_env_runners=1,num_envs_per_env_runner=3] | NOT_STARTED | 0 | the sweep stopped before" in text
    assert "stopped before 1 of 3 configs finished" in text
    assert f"`python -m parallel_tune.sweep --resume {copy.resolve()}` measures the rest" in text


def test_the_notebook_shows_the_verdicts_on_a_committed_core_bound_sweep(monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    analysis = ROOT / "benchmarks" / "results" / "runners_only_oversubscribed_2core" / "analysis"
    monkeypatch.setenv("PARALLEL_TUNE_ANALYSIS", str(analysis))
    nb = nbformat.read(ROOT / "notebooks" / "scaling_analysis.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not any(o.get("output_type") == "error" for o in outputs)
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "'points': 1} | left out (core-bound): ['3r x 1e']" in text, "Amdahl leaves the core-bound config out"
    markdown = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    assert "- **3r x 1e** (`cpu_cores`): Its processes reserving 4 CPUs share 2 cores" in markdown
    assert "- **2r x 1e** (`learner`)" in markdown
