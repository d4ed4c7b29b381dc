"""The report's sections, each a function of the findings (and the record), on committed real sweeps."""

import pandas as pd
import pytest

from parallel_tune.analysis import diagnosis, findings, report
from parallel_tune.analysis.findings import Findings
from parallel_tune.analysis.load import load

from ..conftest import ROOT

ENVS_ONLY = ROOT / "benchmarks" / "results" / "envs_only_2core"
COMMITTED = sorted(p.parent.parent for p in (ROOT / "benchmarks" / "results").glob("*/analysis/iterations.parquet"))


def envs_only():
    experiment = load(ENVS_ONLY)
    return findings.of(experiment), experiment


def test_the_committed_envs_only_report_is_reproduced_from_its_tables():
    found, experiment = envs_only()
    scaled = found.scaled.set_index("num_envs_per_env_runner")
    # The README's table: 1r x 1e 20.49 s, 1r x 16e 5.22 s and 3.92x.
    assert scaled.loc[1, "time_per_iter_s"] == pytest.approx(20.49, abs=0.005)
    assert scaled.loc[16, "time_per_iter_s"] == pytest.approx(5.22, abs=0.005)
    assert scaled.loc[16, "speedup"] == pytest.approx(3.92, abs=0.005)
    assert found.recommendation["fastest"]["num_envs_per_env_runner"] == 16
    text = report.render_markdown(found, experiment.record)
    assert text == (ENVS_ONLY / "analysis" / "report.md").read_text(), "the committed report, to the byte"
    assert "| 1r x 16e | 16 | 1 | 5.22 [" in text and "24.5 %" in text and "392.1 %" in text
    assert "Excellent > 70 %, Good 60-70 %, Acceptable 50-60 %, Poor < 50 %" in text


def test_every_report_section_is_a_function_of_the_findings():
    found, experiment = envs_only()
    assert report.results_section(found, 1)[0] == "## Results"
    assert report.recommendation_section(found)[0] == "## Recommendation"
    assert report.why_section(found)[0] == "## Why scaling stops"
    assert report.ceiling_section(found) == [], "no ceiling was measured for this sweep"
    hardware = report.hardware_section(found, 0.5)
    assert "Sampled every 0.5 s on every node" in "\n".join(hardware)
    assert report.failed_section(found.configs) == []
    assert report.problems_section(["x"]) == ["## Problems reading the experiment", "", "- x", ""]
    header = report.header_section(experiment.record, "d.png")
    assert header[0] == "# Scaling report: envs_only" and "ray 2.60.0" in header[2]


def test_the_rating_legend_follows_the_bands():
    assert report.rating_legend() == "Excellent > 70 %, Good 60-70 %, Acceptable 50-60 %, Poor < 50 %"


@pytest.mark.parametrize("experiment", COMMITTED, ids=[p.name for p in COMMITTED])
def test_every_committed_experiment_gets_a_verdict_a_budget_and_advice(experiment):
    loaded = load(experiment)
    found = findings.of(loaded)
    scaled = found.scaled
    assert len(scaled) >= 2 and scaled["limited_by"].isin(list(diagnosis.LIMITS)).all()
    assert (scaled["limited_by"] == "baseline").sum() == 1
    lost = scaled[list(diagnosis.LOSS_PARTS.values())].sum(axis=1)
    assert lost.to_numpy() == pytest.approx(scaled["lost_time_s"].to_numpy(), abs=1e-9)
    assert scaled["advice"].str.len().gt(20).all()
    text = report.render_markdown(found, loaded.record)
    assert "## Where the lost speedup went" in text
    said = ("limited by `", "limited by the CPU cores", ": `mixed`", "cannot tell")
    assert sum(text.count(s) for s in said) >= len(scaled) - 1, "a verdict sentence for every config"


def test_the_report_puts_the_cpu_and_gpu_learner_side_by_side():
    scaled = pd.DataFrame(
        {
            "trial_name": ["c", "g"],
            "label": ["4r x 1e CPU learner", "4r x 1e GPU learner"],
            "num_env_runners": [4, 4],
            "num_envs_per_env_runner": [1, 1],
            "num_gpus_per_learner": [0, 1],
            "learner_update_s": [5.92, 5.84],
            "time_per_iter_s": [22.3, 20.5],
            "gpu_util_pct_mean": [float("nan"), 19.0],
        }
    )
    lines = report.learner_device_section(Findings(scaled, scaled))
    assert lines[0] == "## CPU learner or GPU learner"
    assert "4r x 1e: learner update 5.92 s on the CPU, 5.84 s on the GPU (1.01x): the GPU did not change" in lines[2]
    assert "the GPU was 19 % busy on average" in lines[2]
