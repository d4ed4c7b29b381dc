"""The other parallelism knobs: --set/--grid, labels, vectorize mode, remote learners, the user's own env."""

import pytest

from parallel_tune import spaces, sweep
from parallel_tune.results import load_experiment, read_table

from .conftest import run_cli


@pytest.mark.parametrize(
    "text, many, expected",
    [
        ("num_epochs=5", False, ("num_epochs", 5)),
        ("lr=3e-4", False, ("lr", 3e-4)),
        ("gym_env_vectorize_mode=async", False, ("gym_env_vectorize_mode", "async")),
        ("_model_config={fcnet_hiddens: [64, 64]}", False, ("_model_config", {"fcnet_hiddens": [64, 64]})),
        ("num_learners=0,1,2", True, ("num_learners", [0, 1, 2])),
        ("gym_env_vectorize_mode=sync, async", True, ("gym_env_vectorize_mode", ["sync", "async"])),
    ],
)
def test_set_and_grid_values_read_like_a_space_file(text, many, expected):
    assert spaces.parse_assignment(text, option="--grid" if many else "--set", many=many) == expected


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "num_epochs"], "--set: expected key=value"),
        (["--set", "=3"], "--set: expected key=value"),
        (["--grid", "num_learners=0,,1"], "--grid: an empty value"),
        (["--grid", "num_learners=1,1"], "num_learners lists a value twice"),
        (["--set", "num_workers=2"], "ppo.num_workers is not a PPOConfig setting; did you mean"),
        (["--grid", "num_wrokers=1,2"], "grid.num_wrokers is not a PPOConfig setting"),
        (["--grid", "gym_env_vectorize_mode=SYNC"], "RLlib rejects"),
        (["--set", "num_env_runners=two"], "ppo.num_env_runners values must be integers >= 0"),
        (["--env", "tests.nope:TinyReach-v0"], "unknown environment 'tests.nope:TinyReach-v0': ModuleNotFoundError"),
        (["--env", "tests.tiny_env:Nope-v0"], "unknown environment 'tests.tiny_env:Nope-v0'"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(capsys, argv, message):
    assert sweep.main(["--space", "smoke", *argv, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_set_fixes_an_axis_and_grid_adds_one(capsys):
    argv = ["--space", "smoke", "--set", "num_envs_per_env_runner=4", "--grid", "gym_env_vectorize_mode=sync,async"]
    assert sweep.main([*argv, "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "ppo[" in line]
    assert len(lines) == 2 and "ppo[num_env_runners=1,gym_env_vectorize_mode=async]" in lines[1]
    space = spaces.load("smoke").with_overrides(
        settings={"num_envs_per_env_runner": 4}, axes={"gym_env_vectorize_mode": ["sync", "async"]}
    )
    assert space.ppo["num_envs_per_env_runner"] == 4 and "num_envs_per_env_runner" not in space.grid
    assert space.baseline == {"num_env_runners": 1}, "a baseline key that left the grid is dropped"


@pytest.mark.parametrize(
    "config, keys, label",
    [
        (
            {"num_env_runners": 4, "num_envs_per_env_runner": 2},
            ["num_env_runners", "num_envs_per_env_runner"],
            "4r x 2e",
        ),
        (
            {"num_env_runners": 1, "num_envs_per_env_runner": 8, "gym_env_vectorize_mode": "async"},
            ["num_envs_per_env_runner", "gym_env_vectorize_mode"],
            "1r x 8e async",
        ),
        (
            {"num_env_runners": 1, "num_envs_per_env_runner": 1, "num_learners": 2},
            ["num_learners"],
            "1r x 1e 2 learners",
        ),
        (
            {"num_env_runners": 8, "num_gpus_per_learner": 1},
            ["num_env_runners", "num_gpus_per_learner"],
            "8r x 1e GPU learner",
        ),
        ({"num_env_runners": 1, "lr": 0.001}, ["lr"], "1r x 1e lr=0.001"),
    ],
)
def test_labels_name_every_axis(config, keys, label):
    assert spaces.label(config, keys) == label


@pytest.mark.parametrize(
    "config, processes",
    [
        ({"num_env_runners": 2, "num_envs_per_env_runner": 4}, 3),
        ({"num_env_runners": 2, "num_envs_per_env_runner": 4, "gym_env_vectorize_mode": "async"}, 11),
        ({"num_env_runners": 0, "num_envs_per_env_runner": 4, "gym_env_vectorize_mode": "async"}, 5),
        ({"num_env_runners": 1, "num_learners": 2}, 4),
    ],
)
def test_busy_processes_count_async_envs_and_remote_learners(config, processes):
    assert spaces.busy_processes(config) == processes


@pytest.mark.parametrize("name", ["vectorize", "learners", "gpu_learner"])
def test_the_new_spaces_dry_run_with_a_gpu(capsys, name):
    assert sweep.main(["--space", name, "--dry-run", "--num-cpus", "18", "--num-gpus", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("ppo[") == len(spaces.load(name, cpus=18).configs()) and "SKIP" not in out


@pytest.mark.ray
def test_async_vectorisation_runs_and_is_labelled(tmp_path):
    args = ["--space", "smoke", "--envs-per-runner", "2", "--grid", "gym_env_vectorize_mode=sync,async"]
    proc = run_cli("parallel_tune.sweep", *args, "--storage-path", str(tmp_path), "--name", "v")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # The console is the plan, the experiment's directory and our progress lines: no Tune banner among them.
    assert f"experiment: {(tmp_path / 'v').resolve()}\nsweep done" in proc.stdout and "[trial 1/2]" in proc.stderr
    console = proc.stdout + proc.stderr
    assert "Configuration for experiment" not in console and "driver_artifacts" not in console
    trials = load_experiment(tmp_path / "v").trials.set_index("gym_env_vectorize_mode")
    assert list(trials["label"].sort_index()) == ["1r x 2e async", "1r x 2e sync"]
    assert trials.loc["async", "busy_processes"] == 4 and trials.loc["sync", "busy_processes"] == 2
    assert (trials["iterations_completed"] == 3).all()
    report = (tmp_path / "v" / "analysis" / "report.md").read_text()
    assert "| 1r x 2e async |" in report and "| 1r x 2e sync |" in report
    summary = read_table(tmp_path / "v" / "analysis" / "summary.parquet")[0]
    assert set(summary["gym_env_vectorize_mode"]) == {"sync", "async"} and summary["limited_by"].notna().all()


@pytest.mark.ray
def test_a_remote_learner_and_the_users_own_env(tmp_path):
    # The learners space, shrunk from the CLI: a local and a remote learner on 1 runner (3 CPUs: Ray told of 3),
    # stepping the tiny env the tests ship, with its raw ceiling.
    small = ["--set", "train_batch_size=256", "--set", "minibatch_size=128", "--set", "num_epochs=1"]
    args = ["--space", "learners", "--grid", "num_learners=0,1", "--iterations", "3", "--num-cpus", "3", *small]
    args += ["--env", "tests.tiny_env:TinyReach-v0", "--ceiling", "0.5"]
    proc = run_cli("parallel_tune.sweep", *args, "--storage-path", str(tmp_path), "--name", "l")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    experiment = load_experiment(tmp_path / "l")
    trials = experiment.trials.set_index("num_learners")
    assert list(trials["cpus_reserved"]) == [2.0, 3.0] and (trials["status"] == "TERMINATED").all()
    assert list(trials["label"]) == ["1r x 1e 0 learners", "1r x 1e 1 learner"]
    assert experiment.metadata["space"]["env"] == "tests.tiny_env:TinyReach-v0"
    assert (experiment.iterations["env_steps_sampled"] >= 256).all()
    ceiling = read_table(tmp_path / "l" / "ceiling.parquet")[0]
    assert list(ceiling["processes"]) == [1] and ceiling["env_steps_per_s"].iloc[0] > 1000
    report = (tmp_path / "l" / "analysis" / "report.md").read_text()
    assert "| 1r x 1e 1 learner |" in report
