"""The loader without Ray: committed experiments, older formats, re-run iterations and stopped sweeps.

``tests/data/smoke_experiment`` is a real smoke sweep (Tune's files, telemetry,
record; checkpoints removed); ``tests/data/interrupted_before_move`` a real
sweep killed while its second trial was pending, written by 0.1 (before the
package had ``core/``, ``run/`` and ``analysis/``); ``benchmarks/results/*``
hold real 2-core sweeps' analysis tables, some written before labels,
placements and per-node telemetry were kept.
"""

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from parallel_tune import analyze
from parallel_tune.analysis.load import load, load_experiment, read_table, unsmooth_ema
from parallel_tune.core import files
from parallel_tune.core.tables import NOT_STARTED

from ..conftest import ROOT

SMOKE = ROOT / "tests" / "data" / "smoke_experiment"
BEFORE_MOVE = ROOT / "tests" / "data" / "interrupted_before_move"
ENVS_ONLY = ROOT / "benchmarks" / "results" / "envs_only_2core"
FIRST = "ppo[num_env_runners=1,num_envs_per_env_runner=1]"


def test_the_loader_reads_a_committed_experiment_without_starting_ray():
    import ray

    e = load_experiment(SMOKE)
    assert not ray.is_initialized()
    assert list(e.trials["trial_name"]) == [FIRST, "ppo[num_env_runners=1,num_envs_per_env_runner=2]"]
    assert list(e.trials["total_envs"]) == [1, 2] and (e.trials["cpus_reserved"] == 2.0).all()
    assert (e.trials["status"] == "TERMINATED").all() and e.problems == []
    assert (e.trials["iterations_rerun"] == 0).all()
    assert e.iterations.groupby("trial_name")["iteration"].apply(list).tolist() == [[1, 2, 3], [1, 2, 3]]
    parts = e.iterations[["sampling_s", "learner_update_s", "weight_sync_s"]].sum(axis=1)
    assert (parts > 0).all() and (parts <= e.iterations["time_this_iter_s"] * 1.05 + 0.01).all()
    assert set(e.telemetry["trial_name"]) == set(e.trials["trial_name"])
    assert e.config_keys == ["num_env_runners", "num_envs_per_env_runner"]
    assert e.record.space.name == "smoke" and e.record.versions["ray"] == "2.60.0"


def test_loading_the_analysis_tables_imports_no_ray():
    code = (
        "import sys; from parallel_tune.analysis.load import load; "
        f"e = load({str(ENVS_ONLY)!r}); assert len(e.trials) == 5; "
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_experiment_made_before_the_move_still_loads_and_analyses(tmp_path):
    # Its trials pickled their name creator at 0.1's module paths (parallel_tune.files).
    copy = tmp_path / "old"
    shutil.copytree(BEFORE_MOVE, copy)
    e = load_experiment(copy)
    statuses = e.trials.set_index("trial_name")["status"].to_dict()
    assert statuses == {FIRST: "TERMINATED", "ppo[num_env_runners=1,num_envs_per_env_runner=2]": "PENDING"}
    assert e.record.space.name == "smoke" and e.record.schema_version == 2, "migrated on reading"
    result = analyze.analyze_experiment(copy, stream=io.StringIO())
    assert "The sweep stopped before 1 of 2 configs finished" in result.report.read_text()
    assert "parallel_tune.files" not in sys.modules, "the old names are gone once the experiment is read"


def test_tables_written_before_labels_placements_and_node_telemetry_are_migrated():
    e = load(ENVS_ONLY)
    assert list(e.trials["label"]) == ["1r x 1e", "1r x 2e", "1r x 4e", "1r x 8e", "1r x 16e"]
    assert "label" in e.iterations and e.iterations["label"].notna().all()
    assert list(e.trials["busy_processes"]) == [2] * 5
    assert (e.trials["placement"] == "").all() and (e.trials["nodes_used"] == 0).all()
    assert (e.telemetry["node_id"] == "").all() and (e.telemetry["node_cores"] == 2).all()
    assert e.record.cluster["resources"] == {"CPU": 2.0} and e.cores == 2


def test_a_drift_table_without_every_grid_key_takes_the_baselines():
    e = load(ROOT / "benchmarks" / "results" / "vectorize_2core")
    assert set(e.config_keys) <= set(e.drift.columns)


def test_the_drift_check_is_read_with_its_sweeps_config_columns(tmp_path):
    # A grid key beyond runners and envs (num_epochs here) must tell the drift check's config apart too;
    # the drift directory has no record of its own.
    copy = tmp_path / "smoke"
    shutil.copytree(SMOKE, copy)
    record = json.loads((copy / files.RECORD).read_text())
    record["space"]["grid"]["num_epochs"] = [record["space"]["ppo"].pop("num_epochs")]
    (copy / files.RECORD).write_text(json.dumps(record))
    shutil.copytree(SMOKE, copy / files.DRIFT, ignore=shutil.ignore_patterns(files.RECORD))
    e = load_experiment(copy)
    assert e.config_keys == ["num_env_runners", "num_envs_per_env_runner", "num_epochs"]
    assert set(e.config_keys) <= set(e.drift.columns) and (e.drift["num_epochs"] == 1).all()
    assert e.problems == []


def test_a_stopped_sweep_lists_the_configs_it_never_started(tmp_path):
    # The smoke sweep's record planned a third config that never ran: the sweep was stopped first.
    copy = tmp_path / "smoke"
    shutil.copytree(SMOKE, copy)
    record = json.loads((copy / files.RECORD).read_text())
    third = {"num_env_runners": 1, "num_envs_per_env_runner": 3}
    record["planned"].append({"config": third, "cpus": 2.0, "gpus": 0.0})
    (copy / files.RECORD).write_text(json.dumps(record))
    trials = load_experiment(copy).trials.set_index("label")
    assert trials.loc["1r x 3e", "status"] == NOT_STARTED and trials.loc["1r x 3e", "cpus_reserved"] == 2.0
    assert (trials.drop(index="1r x 3e")["status"] == "TERMINATED").all(), "each trial once, none twice"
    result = analyze.analyze_experiment(copy, stream=io.StringIO())
    summary = read_table(result.out_dir / files.table("summary"))[0]
    assert list(summary["label"]) == ["1r x 1e", "1r x 2e"], "measured configs only"
    text = result.report.read_text()
    assert "| ppo[num_env_runners=1,num_envs_per_env_runner=3] | NOT_STARTED | 0 | the sweep stopped before" in text
    assert "stopped before 1 of 3 configs finished" in text
    assert f"`python -m parallel_tune.sweep --resume {copy.resolve()}` measures the rest" in text


def test_a_rerun_iteration_never_replaces_the_measured_one(tmp_path):
    # A sweep killed after iteration 3's result was written but before its checkpoint: the restore ran
    # iteration 3 again in a new process (a warm-up, 9.9 s here). The first run stays the measurement.
    copy = tmp_path / "smoke"
    shutil.copytree(SMOKE, copy)
    results = copy / FIRST / files.RESULTS
    lines = results.read_text().splitlines()
    rerun = json.loads(lines[2])
    rerun.update(time_this_iter_s=9.9, iterations_since_restore=1, pid=rerun["pid"] + 1)
    results.write_text("\n".join([*lines, json.dumps(rerun)]) + "\n")
    e = load_experiment(copy)
    mine = e.iterations[e.iterations["trial_name"] == FIRST]
    assert list(mine["iteration"]) == [1, 2, 3]
    assert mine["time_this_iter_s"].iloc[2] == json.loads(lines[2])["time_this_iter_s"] != 9.9
    assert e.trials.set_index("trial_name").loc[FIRST, "iterations_rerun"] == 1
    report = analyze.analyze_experiment(copy, stream=io.StringIO()).report.read_text()
    assert f"- {FIRST}: 1 iteration(s) ran again after a restore; the first complete run of each is" in report


def test_a_line_cut_short_is_said_and_the_rest_kept(tmp_path):
    copy = tmp_path / "smoke"
    shutil.copytree(SMOKE, copy)
    results = copy / FIRST / files.RESULTS
    text = results.read_text()
    results.write_text(text[: len(text) - 200])  # the last line cut in the middle, as by a kill
    e = load_experiment(copy)
    assert list(e.iterations[e.iterations["trial_name"] == FIRST]["iteration"]) == [1, 2]
    assert any("1 unreadable line(s)" in p for p in e.problems)


def test_unsmooth_ema_inverts_rllib_timers():
    raw = np.array([5.0, 1.0, 1.2, 0.9, 1.1])
    ema = [raw[0]]
    for x in raw[1:]:
        ema.append(0.99 * ema[-1] + 0.01 * x)
    assert unsmooth_ema(pd.Series(ema)).to_numpy() == pytest.approx(raw, rel=1e-9)
    # The reported EMA is still dominated by the warm-up value:
    assert ema[-1] > 4.8


PLAIN = ROOT / "tests" / "data" / "plain_tune_experiment"


def test_a_tune_experiment_made_without_us_gets_its_grid_and_header_from_its_trials(tmp_path):
    # Written by hand: Tuner("PPO", param_space={... "num_envs_per_env_runner": tune.grid_search([1, 2]) ...}).
    e = load_experiment(PLAIN)
    space = e.record.space
    assert e.grid_keys == ["num_envs_per_env_runner"] and space.grid == {"num_envs_per_env_runner": [1, 2]}
    assert (space.env, space.algorithm, space.iterations, space.ppo["train_batch_size"]) == (
        "HalfCheetah-v5",
        "PPO",
        4,
        256,
    )
    assert e.record.versions["ray"] == "2.60.0", "from the checkpoint's metadata"
    assert list(e.trials["label"]) == ["1r x 1e", "1r x 2e"] and (e.trials["status"] == "TERMINATED").all()
    copy = tmp_path / "plain"
    shutil.copytree(PLAIN, copy)
    header = analyze.analyze_experiment(copy, stream=io.StringIO()).report.read_text().splitlines()[2]
    assert header.startswith("HalfCheetah-v5, PPO train_batch_size 256, 4 iterations per config")
    assert "?" not in header and "torch not recorded" in header and "Machine (" in header
