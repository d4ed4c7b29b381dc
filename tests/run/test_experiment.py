"""Interrupted sweeps resume and lose nothing: real Ray, real PPO, tiny configs.

Killed with SIGKILL (the whole process group, as a crash would), stopped with
Ctrl-C, killed in the second between a trial's last result and Tune's next
state save, made by the package before 0.2: every one resumes, never runs a
finished trial again, and keeps every row it measured.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from ray.tune import Callback

from parallel_tune import sweep
from parallel_tune.analysis import metrics
from parallel_tune.analysis.load import load_experiment, read_table
from parallel_tune.core import files, race

from ..conftest import ROOT, run_cli

pytestmark = pytest.mark.ray
THREE = ["--space", "smoke", "--envs-per-runner", "1,2,4", "--no-analyze"]
FIRST = "ppo[num_env_runners=1,num_envs_per_env_runner=1]"


def interrupt_after_first_trial(storage, name, sig) -> subprocess.CompletedProcess:
    return interrupt(THREE, storage, name, sig, when=lambda line: "[trial 1/3]" in line and "finished" in line)


def interrupt(args, storage, name, sig, *, when) -> subprocess.CompletedProcess:
    """Start a sweep and send ``sig`` once a progress line satisfies ``when``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "parallel_tune.sweep", *args, "--storage-path", str(storage), "--name", name],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if when(line.rstrip()):
            time.sleep(2.5)  # past Tune's 1 s experiment-state save
            # SIGINT goes to the driver alone (Tune stops gracefully); SIGKILL takes the driver's
            # whole process group, like a crash. A global `ray stop` would also kill this pytest
            # process's own Ray session.
            if sig == signal.SIGKILL:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
            break
    out, _ = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines) + out, "")


def test_a_stopped_sweep_resumes_without_rerunning_finished_trials(tmp_path):
    stopped = interrupt_after_first_trial(tmp_path, "exp", signal.SIGINT)
    experiment = tmp_path / "exp"
    first_rows = pd.read_csv(experiment / FIRST / "progress.csv")
    assert list(first_rows["training_iteration"]) == [1, 2, 3]
    assert stopped.returncode == 130, stopped.stdout[-3000:]
    assert f"python -m parallel_tune.sweep --resume {experiment}" in stopped.stdout

    resumed = run_cli("parallel_tune.sweep", "--resume", str(experiment))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]

    assert pd.read_csv(experiment / FIRST / "progress.csv").equals(first_rows), "the finished trial was re-run"
    loaded = load_experiment(experiment)
    assert len(loaded.trials) == 3 and (loaded.trials["status"] == "TERMINATED").all()
    assert (loaded.trials["iterations_completed"] == 3).all()
    assert (loaded.iterations.groupby("trial_name")["iteration"].apply(sorted).map(list) == [[1, 2, 3]] * 3).all()
    assert (loaded.trials["iterations_rerun"] == 0).all()
    assert "analysis: 3 configs" in resumed.stdout
    # The resume is logged, so the time the sweep stood still counts as neither start-up nor harness.
    (resumed_at,) = loaded.resumed_at_s
    assert loaded.iterations.loc[loaded.iterations["trial_name"] == FIRST, "reported_at_s"].max() < resumed_at
    assert (
        "from its last result before an interruption to the resume"
        in (experiment / "analysis" / "report.md").read_text()
    )


def test_a_killed_precision_sweep_resumes_and_stops_by_precision(tmp_path):
    # Three configs at +-30 %, capped at 12 iterations, killed (the whole process group) after the first finished.
    args = ["--space", "smoke", "--envs-per-runner", "1,2,4", "--precision", "0.3", "--iterations", "12"]
    interrupt(args, tmp_path, "exp", signal.SIGKILL, when=lambda line: "[trial 1/3]" in line and "finished" in line)
    experiment = tmp_path / "exp"
    first = {f: (experiment / FIRST / f).read_bytes() for f in (files.RESULTS, "progress.csv")}

    resumed = run_cli("parallel_tune.sweep", "--resume", str(experiment))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert {f: (experiment / FIRST / f).read_bytes() for f in first} == first, "the first trial's results untouched"
    trials = load_experiment(experiment).trials
    assert len(trials) == 3 and (trials["status"] == "TERMINATED").all() and (trials["iterations_rerun"] == 0).all()
    summary = read_table(experiment / "analysis" / "summary.parquet")[0]
    assert summary["precision_reached"].all() and (summary["rel_half_width"] <= 0.3).all()
    assert (trials["iterations_completed"] < 12).all(), "stopped by the precision rule, not the cap"
    assert "analysis: 3 configs" in resumed.stdout and (experiment / "analysis" / "report.md").exists()


class KillAfterFinalResult(Callback):
    """Kills the sweep (its whole process group) right after a trial's final result reached the experiment
    directory, and before Tune saved the experiment state that calls the trial TERMINATED: the window a resume
    must handle.

    Tune's loggers write into the driver's staging directory, and Tune copies it to the experiment directory
    after each save of its state (every second here): a copy that ends after the trial's last result is written
    leaves the results complete beside a state that says RUNNING. That copy is made here, then the kill.
    """

    def __init__(self, final_iteration: int):
        self.final_iteration = final_iteration

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result["training_iteration"] >= self.final_iteration:
            for name in (files.RESULTS, "progress.csv"):
                shutil.copy(os.path.join(trial.local_path, name), os.path.join(trial.path, name))
            os.killpg(os.getpgrp(), signal.SIGKILL)


def test_a_trial_killed_after_its_final_result_is_not_run_again(tmp_path):
    code = (
        "from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback\n"
        "from parallel_tune import sweep\n"
        "from parallel_tune.core import spaces\n"
        "from parallel_tune.run.experiment import SweepOptions\n"
        "from tests.run.test_experiment import KillAfterFinalResult\n"
        "space = spaces.load('smoke').with_overrides(envs_per_runner=[1, 2])\n"
        "# Tune's own loggers first, so the final result is on disk when the sweep dies.\n"
        "loggers = [CSVLoggerCallback(), JsonLoggerCallback(), TBXLoggerCallback()]\n"
        f"options = SweepOptions(storage_path={str(tmp_path)!r}, name='exp')\n"
        "sweep.run_sweep(space, options, callbacks=[*loggers, KillAfterFinalResult(space.iterations)], analyze=False)\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, start_new_session=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-2000:] + killed.stderr[-2000:]
    experiment = tmp_path / "exp"
    results = (experiment / FIRST / files.RESULTS).read_bytes()
    assert [json.loads(line)["training_iteration"] for line in results.splitlines()] == [1, 2, 3]
    state = json.loads(next(experiment.glob(files.TUNE_STATE_GLOB)).read_text())
    saved = {json.loads(t)["trial_id"]: json.loads(t)["status"] for t, _ in state["trial_data"]}
    assert "TERMINATED" not in saved.values(), f"Tune's state lags the results: {saved}"

    resumed = run_cli("parallel_tune.sweep", "--resume", str(experiment))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert (experiment / FIRST / files.RESULTS).read_bytes() == results, "the finished trial ran again"
    loaded = load_experiment(experiment)
    assert (loaded.trials["status"] == "TERMINATED").all() and (loaded.trials["iterations_rerun"] == 0).all()
    assert loaded.iterations.groupby("trial_name")["iteration"].apply(list).tolist() == [[1, 2, 3], [1, 2, 3]]


def test_an_experiment_made_before_the_move_resumes(tmp_path):
    # Made by 0.1 (tuner.pkl and Tune's state pickled classes at parallel_tune.telemetry, .stopping, .files),
    # killed while its second trial was pending.
    experiment = tmp_path / "old"
    shutil.copytree(ROOT / "tests" / "data" / "interrupted_before_move", experiment)
    first = (experiment / FIRST / files.RESULTS).read_bytes()
    resumed = run_cli("parallel_tune.sweep", "--resume", str(experiment))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "[trial 2/2]" in resumed.stderr, "the finished trial keeps its number"
    assert (experiment / FIRST / files.RESULTS).read_bytes() == first
    loaded = load_experiment(experiment)
    assert (loaded.trials["status"] == "TERMINATED").all() and (loaded.trials["iterations_completed"] == 3).all()
    assert "analysis: 2 configs" in resumed.stdout


def test_a_continued_trial_recounts_its_warmup_after_the_restore(tmp_path):
    # The smoke space checkpoints every iteration, so the interrupted trial continues from its
    # last checkpoint instead of starting over; 40 tiny iterations outlast the interruption.
    args = ["--space", "smoke", "--envs-per-runner", "1", "--iterations", "40", "--no-analyze"]
    stopped = interrupt(args, tmp_path, "exp", signal.SIGINT, when=lambda line: "iter 3/40" in line)
    assert stopped.returncode == 130, stopped.stdout[-3000:]
    resumed = run_cli("parallel_tune.sweep", "--resume", str(tmp_path / "exp"))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]

    loaded = load_experiment(tmp_path / "exp")
    it = loaded.iterations
    assert list(it["iteration"]) == list(range(1, 41))
    restored = metrics.restarts(it)
    assert len(restored) == 1, it[["iteration", "iterations_since_restore"]].to_string()
    after = int(restored["restored_after_iteration"].iloc[0])
    assert 3 <= after < 40
    # The first iteration after the restore is a new process's warm-up: excluded, unless it ran an iteration
    # whose result the interrupted run had already written (then that first run is kept, the re-run set aside).
    rerun = int(loaded.trials["iterations_rerun"].iloc[0])
    assert rerun in (0, 1)
    kept = set(metrics.measured(it, warmup_iterations=1)["iteration"])
    assert kept == set(range(2, 41)) - (set() if rerun else {after + 1})
    report = (tmp_path / "exp" / "analysis" / "report.md").read_text()
    assert f"continued from its checkpoint after iteration {after}" in report
    if rerun:
        assert "1 iteration(s) ran again after a restore; the first complete run of each is the measurement" in report


def test_a_config_whose_env_cannot_be_created_fails_and_the_others_finish(tmp_path):
    bad = tmp_path / "bad_env.yaml"
    space = yaml.safe_load((ROOT / "search_spaces" / "smoke.yaml").read_text())
    # The second config's environment id cannot be made: its env runner fails at start-up. The
    # runners are fixed under ppo, not in the grid: the analysis still knows who sampled.
    space["grid"] = {"env": ["HalfCheetah-v5", "NoSuchEnv-v0"]}
    space["ppo"]["num_env_runners"] = 1
    del space["baseline"]
    bad.write_text(yaml.safe_dump(space))
    proc = run_cli("parallel_tune.sweep", "--space", str(bad), "--storage-path", str(tmp_path), "--name", "exp")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 finished, 1 failed" in proc.stdout
    trials = load_experiment(tmp_path / "exp").trials
    assert sorted(trials["status"]) == ["ERROR", "TERMINATED"]
    assert trials.set_index("status").loc["ERROR", "error"]
    assert list(trials["num_env_runners"]) == [1, 1] and list(trials["total_envs"]) == [1, 1]
    report = (tmp_path / "exp" / "analysis" / "report.md").read_text()
    assert "## Failed, skipped or unfinished configs" in report and "ERROR" in report
    assert "| 1r x 1e env=HalfCheetah-v5 | 1 | 1 |" in report


def test_resume_refuses_a_directory_without_experiment(tmp_path, capsys):
    assert sweep.main(["--resume", str(tmp_path)]) == 2
    assert "holds no parallel_tune experiment" in capsys.readouterr().err
    assert sweep.main(["--resume", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_resume_refuses_a_different_space(smoke_experiment, capsys):
    assert sweep.main(["--resume", str(smoke_experiment), "--space", "smoke", "--iterations", "5"]) == 2
    err = capsys.readouterr().err
    assert "the space differs" in err and "iterations: 3 -> 5" in err
    # A space whose grid comes from the machine is resolved on this machine before comparing.
    assert sweep.main(["--resume", str(smoke_experiment), "--space", "throughput"]) == 2
    err = capsys.readouterr().err
    assert "the space differs" in err and "grid.num_envs_per_env_runner: [1, 2] -> [1, 2, 4, 8, 16]" in err


def test_a_race_killed_and_resumed_finishes_with_the_same_winner(tmp_path):
    # Killed (the whole process group) while the second config runs, before the race could judge it: the resumed
    # race finds the incumbent again from the first trial's results on disk and races the second one out.
    # Iterations of about 2 s at 1 env per runner leave the kill, 2.5 s after the first, well before the fourth.
    # No precision target: a config ends at the cap of 8 or raced out, whatever the machine's noise.
    args = ["--space", "smoke", "--envs-per-runner", "1,16", "--goal", "fastest", "--iterations", "8"]
    args += ["--set", "train_batch_size=2048", "--set", "minibatch_size=1024"]
    args += ["--no-drift-check", "--no-analyze"]
    one, sixteen = (
        "ppo[num_env_runners=1,num_envs_per_env_runner=1]",
        "ppo[num_env_runners=1,num_envs_per_env_runner=16]",
    )
    killed = interrupt(args, tmp_path, "race", signal.SIGKILL, when=lambda line: f"[trial 2/2] {one} iter 1/" in line)
    experiment = tmp_path / "race"
    assert f"[trial 1/2] {sixteen} finished" in killed.stdout and "raced out" not in killed.stdout
    order = race.read(experiment)["order"]

    resumed = run_cli("parallel_tune.sweep", "--resume", str(experiment))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    log = race.read(experiment)
    assert log["winner"] == sixteen and set(log["eliminated"]) == {one} and log["order"] == order
    trials = load_experiment(experiment).trials.set_index("trial_name")
    assert trials.loc[one, "iterations_completed"] < 8, "raced out, not run to the cap"
    assert f"{one} raced out after iteration" in resumed.stderr
