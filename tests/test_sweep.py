"""The sweep command: bad input refused in one line, dry runs, every knob, and a real smoke sweep.

The real sweep (Ray, RLlib PPO, MuJoCo HalfCheetah-v5) runs once per session
(``conftest.smoke_experiment``); interrupted and resumed sweeps are in
``run/test_experiment.py``.
"""

import json
import signal
import time

import pandas as pd
import pytest

from parallel_tune import sweep
from parallel_tune.analysis.load import load_experiment, read_table
from parallel_tune.core import race, spaces
from parallel_tune.core.record import SCHEMA_VERSION

from .conftest import ROOT, run_cli

TRIALS = ["ppo[num_env_runners=1,num_envs_per_env_runner=1]", "ppo[num_env_runners=1,num_envs_per_env_runner=2]"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--space", "nope"], "unknown search space 'nope'; known spaces:"),
        (["--space", "smoke", "--runners", "1,x"], "--runners: 'x' is not an integer"),
        (["--space", "smoke", "--runners", "-1"], "--runners: values must be >= 0"),
        (["--space", "smoke", "--envs-per-runner", "0"], "--envs-per-runner: values must be >= 1"),
        (["--space", "smoke", "--iterations", "0"], "--iterations must be >= 1, got 0"),
        (["--space", "smoke", "--env", "NoSuchEnv-v0"], "unknown environment 'NoSuchEnv-v0'"),
        (["--space", "/nonexistent/space.yaml"], "does not exist"),
        (["--space", "smoke", "--num-cpus", "-2"], "--num-cpus must be >= 0"),
        (["--space", "smoke", "--max-concurrent", "0"], "--max-concurrent must be >= 1"),
        (["--space", "smoke", "--max-failures", "-1"], "--max-failures must be >= 0"),
        (["--space", "smoke", "--goal", "quickest"], "--goal: unknown goal 'quickest'; goals: curve, fastest"),
        (["--space", "smoke", "--goal", "fastest", "--race-margin", "-0.1"], "'race_margin' is a fraction"),
        (["--space", "smoke", "--goal", "fastest", "--race-margin", "5"], "in [0, 0.5] (0.03 is 3 %), got 5.0"),
        (
            ["--space", "smoke", "--goal", "fastest", "--envs-per-runner", "4"],
            "goal 'fastest' races configs against each other; the grid has only one",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    assert sweep.main([*argv, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unreadable_space_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    assert sweep.main(["--space", str(bad), "--dry-run"]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--runners", "99999999999999999999"], "--runners: 99999999999999999999 is more than any machine or Ray"),
        (["--envs-per-runner", "1,100001"], "--envs-per-runner: 100001 is more than any machine or Ray cluster"),
        (["--iterations", "10000000000"], "--iterations: 10000000000 is more than any sweep runs"),
        (["--grid", "num_learners=0,99999"], "num_learners=99999 is more than any machine or Ray cluster holds"),
        (["--set", "num_env_runners=1000000"], "num_env_runners=1000000 is more than any machine or Ray cluster"),
    ],
)
def test_absurd_counts_are_refused_at_once(capsys, argv, message):
    started = time.perf_counter()
    assert sweep.main(["--space", "smoke", *argv, "--dry-run"]) == 2
    assert time.perf_counter() - started < 5, "refused before anything is built for each runner"
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "at most" in err and err.count("\n") == 1, err


def test_the_largest_count_allowed_still_plans(capsys):
    # 100,000 runners: planned (and skipped on this machine) without exhausting memory.
    assert sweep.main(["--space", "smoke", "--runners", "100000", "--dry-run"]) == 0
    assert "SKIP: needs 100001 CPU" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--precision", "0"], "--precision must be in (0, 1]"),
        (["--precision", "-0.05"], "--precision must be in (0, 1]"),
        (["--precision", "1.5"], "--precision must be in (0, 1]"),
        (["--precision", "0.05", "--iterations", "3"], "'min_measured_iterations' must be between 2 and"),
    ],
)
def test_bad_precision_is_one_line_and_exit_2(capsys, argv, message):
    assert sweep.main(["--space", "runners_only", "--runners", "1", *argv, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


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
        (["--seeds", "0"], "'seeds' is how many replicates of each config, in [1, 1000]; got 0"),
        (["--seeds", "5000"], "in [1, 1000]; got 5000"),
        (["--env-steps", "-5"], "'env_steps' is a training budget in env steps"),
        (["--target-return", "100"], "'target_return' needs a learning check"),
        (["--seeds", "2", "--goal", "fastest"], "a race stops configs early"),
        (["--seeds", "2", "--set", "seed=5"], "seeds its replicates from the space's 'seed'"),
        (["--env-steps", "20000"], "takes about 79 iterations of train_batch_size 256; the cap is 3"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(capsys, argv, message):
    assert sweep.main(["--space", "smoke", *argv, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


@pytest.mark.parametrize("name", spaces.known_spaces())
def test_dry_run_prints_every_shipped_space(capsys, name):
    # 16 runners need 17 CPUs (1 main + 16): on a 16-core host ask Ray for more logical CPUs.
    assert sweep.main(["--space", name, "--dry-run", "--num-cpus", "18", "--num-gpus", "1"]) == 0
    out = capsys.readouterr().out
    space = spaces.load(name, cpus=18)
    assert out.count("ppo[") == len(space.configs())
    assert "SKIP" not in out


def test_dry_run_on_two_cores_marks_what_cannot_fit(capsys):
    assert sweep.main(["--space", "runners_only", "--runners", "0,1,2", "--dry-run", "--num-cpus", "2"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "ppo[" in line]
    assert [("SKIP" in line) for line in lines] == [False, False, True]
    assert "needs 3 CPU, the cluster has 2 CPU" in lines[2]


def test_strict_refuses_before_starting_anything(tmp_path, capsys):
    code = sweep.main(
        [
            "--space",
            "runners_only",
            "--runners",
            "1,2",
            "--num-cpus",
            "2",
            "--strict",
            "--storage-path",
            str(tmp_path),
            "--name",
            "x",
        ]
    )
    assert code == 2
    assert "cannot fit this cluster (--strict)" in capsys.readouterr().err


@pytest.mark.parametrize("storage", ["/proc/nope", "/dev/null/x"])
def test_a_storage_path_that_cannot_be_written_is_refused_before_ray_starts(capsys, storage):
    import ray

    assert sweep.main(["--space", "smoke", "--storage-path", storage, "--name", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --storage-path: cannot write") and err.count("\n") == 1, err
    assert not ray.is_initialized()


def test_a_dry_run_opens_with_the_plan_not_rllibs_notices():
    proc = run_cli("parallel_tune.sweep", "--space", "smoke", "--dry-run", timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("space smoke: 2 configs") and "new API stack" not in proc.stdout + proc.stderr


def test_a_learning_check_dry_run_says_its_seeds_and_budget(capsys):
    argv = ["--space", "smoke", "--seeds", "3", "--env-steps", "2048", "--iterations", "10", "--dry-run"]
    assert sweep.main(argv) == 0
    out = capsys.readouterr().out
    said = "learning check: 3 replicate(s) of each config (6 trials), seeds 0, 1000, 2000, each to 2,048 env steps"
    assert said + "; a checkpoint every iteration" in out, "smoke's own checkpoint frequency"


def test_a_race_dry_run_says_the_order_it_will_run_in(capsys):
    assert sweep.main(["--space", "envs_only", "--goal", "fastest", "--race-margin", "0.05", "--dry-run"]) == 0
    out = capsys.readouterr().out
    order = out.split("race (--goal fastest, margin 5 %), fastest predicted first by a cost model")[1]
    assert order.index("num_envs_per_env_runner=16]") < order.index("num_envs_per_env_runner=1]")


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


@pytest.mark.parametrize("name", ["vectorize", "learners", "gpu_learner"])
def test_the_new_spaces_dry_run_with_a_gpu(capsys, name):
    assert sweep.main(["--space", name, "--dry-run", "--num-cpus", "18", "--num-gpus", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("ppo[") == len(spaces.load(name, cpus=18).configs()) and "SKIP" not in out


@pytest.mark.ray
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
    record = json.loads((smoke_experiment / "parallel_tune.json").read_text())
    assert record["schema_version"] == SCHEMA_VERSION and record["versions"]["ray"] == "2.60.0"
    assert record["space"]["ppo"]["train_batch_size"] == 256
    assert [p["skip_reason"] for p in record["plan"]] == [None, None]
    # The RLlib config as it ran, RLlib's defaults resolved: an experiment is understood without its code.
    resolved = record["algorithm"]["config"]
    assert record["algorithm"]["name"] == "PPO" and resolved["train_batch_size"] == 256
    assert resolved["lambda"] == 0.95 and resolved["gamma"] == 0.99 and len(resolved) > 100


@pytest.mark.ray
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


@pytest.mark.ray
def test_recovered_timers_add_up_to_the_iteration(smoke_experiment):
    it = load_experiment(smoke_experiment).iterations
    parts = it[["sampling_s", "learner_update_s", "weight_sync_s"]].sum(axis=1)
    assert (parts > 0).all()
    assert (parts <= it["time_this_iter_s"] * 1.05 + 0.01).all()


@pytest.mark.ray
def test_telemetry_reached_results_and_tensorboard(smoke_experiment):
    for name in TRIALS:
        progress = pd.read_csv(smoke_experiment / name / "progress.csv")
        assert progress["telemetry/cpu_util_pct_mean"].between(0, 100).all()
        tel = pd.read_parquet(smoke_experiment / name / "telemetry.parquet")
        assert len(tel) >= 3 and not tel["gpu_available"].any()
        assert tel["cpu_util_pct"].max() > 5, "a PPO trial keeps at least one core busy"
        assert tel["ray_workers_cpu_s"].iloc[-1] > tel["ray_workers_cpu_s"].iloc[0]


@pytest.mark.ray
def test_analysis_wrote_tables_report_and_dashboard(smoke_experiment):
    out = smoke_experiment / "analysis"
    for table in ("iterations", "trials", "telemetry", "summary"):
        df, meta = read_table(out / f"{table}.parquet")
        assert not df.empty and meta["schema_version"] == SCHEMA_VERSION
        assert meta["versions"]["torch"].startswith("2.13.0")
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


@pytest.mark.ray
def test_an_existing_experiment_is_never_overwritten(smoke_experiment, capsys):
    before = sorted(p.name for p in smoke_experiment.iterdir())
    code = sweep.main(
        ["--space", "smoke", "--storage-path", str(smoke_experiment.parent), "--name", smoke_experiment.name]
    )
    assert code == 2 and "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in smoke_experiment.iterdir()) == before


@pytest.mark.ray
def test_notebook_runs_on_the_real_sweep(smoke_experiment, monkeypatch):
    from .test_notebook import execute_notebook

    text, markdown = execute_notebook(smoke_experiment, monkeypatch)
    assert "smoke" in text and "- **1r x 2e**" in markdown, "the loss budget's verdicts are shown"


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
    assert experiment.record.space.env == "tests.tiny_env:TinyReach-v0"
    assert (experiment.iterations["env_steps_sampled"] >= 256).all()
    ceiling = read_table(tmp_path / "l" / "ceiling.parquet")[0]
    assert list(ceiling["processes"]) == [1] and ceiling["env_steps_per_s"].iloc[0] > 1000
    report = (tmp_path / "l" / "analysis" / "report.md").read_text()
    assert "| 1r x 1e 1 learner |" in report


EXAMPLES = ROOT / "examples"
TINY = ["--set", "train_batch_size=256", "--set", "minibatch_size=128", "--set", "num_epochs=1"]


def user_settings_kept(experiment_dir, algorithm: str) -> list[dict]:
    """Every trial's stored config, checked for the example file's env, env_config and model."""
    configs = [json.loads(p.read_text()) for p in sorted(experiment_dir.glob(f"{algorithm.lower()}[[]*]/params.json"))]
    assert configs, f"no {algorithm} trial wrote its config"
    for config in configs:
        assert config["env"] == "my_cheetah"
        assert config["env_config"] == {"ctrl_cost_weight": 0.05, "max_episode_steps": 500}
        assert config["_model_config"]["fcnet_hiddens"] == [128, 128] and config["gamma"] == 0.98
    return configs


@pytest.mark.ray
def test_a_users_own_training_file_is_swept_with_its_env_and_model(tmp_path):
    config = EXAMPLES / "my_training.py"
    proc = run_cli(
        "parallel_tune.sweep",
        *["--config", str(config), "--space", "smoke", *TINY, "--ceiling", "0.5"],
        *["--storage-path", str(tmp_path), "--name", "mine"],
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    configs = user_settings_kept(tmp_path / "mine", "PPO")
    assert len(configs) == 2 and {c["train_batch_size"] for c in configs} == {256}, "--set applies on top"
    record = json.loads((tmp_path / "mine" / "parallel_tune.json").read_text())
    source = record["algorithm"]["config_file"]
    assert source["file"] == str(config) and len(source["sha256"]) == 64 and "env_config" in source["settings"]
    assert record["space"]["env"] == "my_cheetah" and record["algorithm"]["config"]["env"] == "my_cheetah"
    # The raw ceiling stepped the user's env, made by its registered creator with its env_config.
    ceiling, meta = read_table(tmp_path / "mine" / "ceiling.parquet")
    assert meta["env"] == "my_cheetah" and ceiling["env_steps_per_s"].iloc[0] > 500
    assert "my_cheetah, PPO train_batch_size 256" in (tmp_path / "mine" / "analysis" / "report.md").read_text()


@pytest.mark.ray
def test_the_same_training_with_appo_is_measured_per_1000_env_steps(tmp_path):
    # APPO's learner runs beside its runner: 3 CPUs for one runner (Ray told of 3 on 2 cores); 2 s iterations.
    args = ["--config", str(EXAMPLES / "my_training_appo.py"), "--space", "smoke", "--num-cpus", "3"]
    args += ["--set", "min_time_s_per_iteration=2", "--iterations", "6", "--envs-per-runner", "1,2"]
    proc = run_cli("parallel_tune.sweep", *args, "--storage-path", str(tmp_path), "--name", "appo")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[trial 1/2] appo[num_env_runners=1,num_envs_per_env_runner=1] started" in proc.stderr
    user_settings_kept(tmp_path / "appo", "APPO")
    experiment = load_experiment(tmp_path / "appo")
    assert experiment.record.space.algorithm == "APPO" and (experiment.trials["status"] == "TERMINATED").all()
    assert (experiment.trials["concurrent_processes"] == 2).all(), "the runner and the learner work at once"
    summary = read_table(tmp_path / "appo" / "analysis" / "summary.parquet")[0].set_index("label")
    assert (summary["time_per_kstep_s"] > 0).all() and (summary["learner_busy_pct"].between(0, 100)).all()
    base = summary.loc["1r x 1e"]
    speedup = base["time_per_kstep_s"] / summary.loc["1r x 2e", "time_per_kstep_s"]
    assert summary.loc["1r x 2e", "speedup"] == pytest.approx(speedup), "speedup is the throughput ratio"
    assert summary["lost_env_step_s"].isna().all(), "an asynchronous iteration is not split into parts"
    text = (tmp_path / "appo" / "analysis" / "report.md").read_text()
    assert "my_cheetah, APPO" in text and "s/1k steps [95 % CI]" in text and "learner busy" in text


@pytest.mark.ray
def test_a_race_stops_the_slow_config_early_and_names_the_fastest(tmp_path):
    # envs_only at 1 and 16 envs per runner, a batch small enough for seconds: 16 envs are predicted faster and
    # run first; 1 env is raced out as soon as its warm-up and 3 measured iterations are in. No precision target,
    # which a steady config could reach in those same 3 iterations: each config ends at the cap or raced out.
    args = ["--space", "envs_only", "--envs-per-runner", "1,16", "--goal", "fastest"]
    args += ["--iterations", "12", "--set", "train_batch_size=1024", "--set", "minibatch_size=256"]
    args += ["--set", "num_epochs=1", "--storage-path", str(tmp_path), "--name", "race"]
    proc = run_cli("parallel_tune.sweep", *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    one, sixteen = (
        "ppo[num_env_runners=1,num_envs_per_env_runner=1]",
        "ppo[num_env_runners=1,num_envs_per_env_runner=16]",
    )
    assert f"[trial 1/2] {sixteen} started" in proc.stderr and f"{one} raced out after iteration 4" in proc.stderr
    trials = load_experiment(tmp_path / "race").trials.set_index("trial_name")
    assert trials.loc[one, "iterations_completed"] == 4, "stopped well before the cap of 12"
    log = race.read(tmp_path / "race")
    assert log["winner"] == sixteen and set(log["eliminated"]) == {one}
    assert log["eliminated"][one]["steps_per_s_ci_high"] < 0.97 * log["eliminated"][one]["incumbent_steps_per_s"]
    # The winner was re-measured beside the baseline, and the report says what was raced out, and why.
    drift = load_experiment(tmp_path / "race" / "drift").trials
    assert sorted(drift["num_envs_per_env_runner"]) == [1, 16]
    text = (tmp_path / "race" / "analysis" / "report.md").read_text()
    assert "## The race (--goal fastest): 1r x 16e" in text and "| 1r x 1e | raced out after iteration 4 | 4 |" in text
    assert "The winner, re-measured at the end" in text and "1r x 1e †" in text


@pytest.mark.ray
def test_a_learning_check_runs_every_config_per_seed_and_pools_them(tmp_path):
    # 2 configs x 2 seeds, each trained to 2,048 env steps (8 iterations of 256): 4 trials, 2 summary rows. Killed
    # (SIGKILL, the whole process group) in the middle of its third trial and resumed: the budget still holds.
    from tests.run.test_experiment import interrupt

    args = ["--space", "smoke", "--seeds", "2", "--env-steps", "2048", "--iterations", "12", "--target-return", "-400"]
    killed = interrupt(
        args, tmp_path, "seeds", signal.SIGKILL, when=lambda line: "[trial 3/4]" in line and "iter 5/" in line
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-3000:]
    proc = run_cli("parallel_tune.sweep", "--resume", str(tmp_path / "seeds"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[trial 4/4]" in proc.stderr and "analysis: 2 configs (4 trials: replicates)" in proc.stdout
    experiment = load_experiment(tmp_path / "seeds")
    trials = experiment.trials
    assert len(trials) == 4 and sorted(trials["seed"]) == [0, 0, 1000, 1000]
    assert (trials["iterations_completed"] == 8).all(), "stopped at the budget, before the cap of 12"
    # The trial killed mid-run continued from a checkpoint or started over; either way it sampled its budget once.
    lifetime = experiment.iterations.groupby("trial_id")["env_steps_sampled_lifetime"].max()
    assert (lifetime == 2048).all() and len(experiment.resumed_at_s) == 1
    params = [json.loads(p.read_text()) for p in (tmp_path / "seeds").glob("ppo[[]*seed=*]/params.json")]
    assert sorted(p["seed"] for p in params) == [0, 0, 1000, 1000], "each trial recorded its seed"
    summary = read_table(tmp_path / "seeds" / "analysis" / "summary.parquet")[0]
    assert len(summary) == 2 and (summary["replicates"] == 2).all()
    assert sorted(summary["n_measured"]) in ([14, 14], [13, 14]), "at most the restored run's first iteration set aside"
    learned = read_table(tmp_path / "seeds" / "analysis" / "learning.parquet")[0]
    assert len(learned) == 2 and (learned["runs"] == 2).all() and "baseline" in set(learned["verdict"])
    text = (tmp_path / "seeds" / "analysis" / "report.md").read_text()
    assert "## Learning: does the faster config learn as well? (2 seeds per config)" in text
    assert "Fastest that learns as well as the baseline" in text and "reached -400" in text
