"""Interrupted sweeps resume and lose nothing: real Ray, real PPO, tiny configs."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from parallel_tune import metrics, sweep
from parallel_tune.results import load_experiment

from .conftest import ROOT, run_cli

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


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_interrupted_sweep_resumes_without_rerunning_finished_trials(tmp_path, sig):
    stopped = interrupt_after_first_trial(tmp_path, "exp", sig)
    experiment = tmp_path / "exp"
    first_rows = pd.read_csv(experiment / FIRST / "progress.csv")
    assert list(first_rows["training_iteration"]) == [1, 2, 3]
    if sig == signal.SIGINT:
        assert stopped.returncode == 130, stopped.stdout[-3000:]
        assert f"python -m parallel_tune.sweep --resume {experiment}" in stopped.stdout

    resumed = run_cli("parallel_tune.sweep", "--resume", str(experiment))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]

    assert pd.read_csv(experiment / FIRST / "progress.csv").equals(first_rows), "the finished trial was re-run"
    loaded = load_experiment(experiment)
    assert len(loaded.trials) == 3 and (loaded.trials["status"] == "TERMINATED").all()
    assert (loaded.trials["iterations_completed"] == 3).all()
    assert (loaded.iterations.groupby("trial_name")["iteration"].apply(sorted).map(list) == [[1, 2, 3]] * 3).all()
    assert "analysis: 3 configs" in resumed.stdout


def test_a_continued_trial_recounts_its_warmup_after_the_restore(tmp_path):
    # The smoke space checkpoints every iteration, so the interrupted trial continues from its
    # last checkpoint instead of starting over; 40 tiny iterations outlast the interruption.
    args = ["--space", "smoke", "--envs-per-runner", "1", "--iterations", "40", "--no-analyze"]
    stopped = interrupt(args, tmp_path, "exp", signal.SIGINT, when=lambda line: "iter 3/40" in line)
    assert stopped.returncode == 130, stopped.stdout[-3000:]
    resumed = run_cli("parallel_tune.sweep", "--resume", str(tmp_path / "exp"))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]

    it = load_experiment(tmp_path / "exp").iterations
    assert list(it["iteration"]) == list(range(1, 41))
    restored = metrics.restarts(it)
    assert len(restored) == 1, it[["iteration", "iterations_since_restore"]].to_string()
    after = int(restored["restored_after_iteration"].iloc[0])
    assert 3 <= after < 40
    kept = set(metrics.measured(it, warmup_iterations=1)["iteration"])
    assert 1 not in kept and after + 1 not in kept and kept == set(range(2, 41)) - {after + 1}
    report = (tmp_path / "exp" / "analysis" / "report.md").read_text()
    assert f"continued from its checkpoint after iteration {after}" in report


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
