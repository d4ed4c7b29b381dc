"""Your own training file (``--config FILE.py[:NAME]``): what it sets is kept, what is wrong with it is one line."""

import pytest

from parallel_tune import sweep
from parallel_tune.run import user

from ..conftest import ROOT

EXAMPLE = ROOT / "examples" / "my_training.py"
APPO = ROOT / "examples" / "my_training_appo.py"


def write(tmp_path, text, name="training.py"):
    path = tmp_path / name
    path.write_text(text)
    return path


PPO_CONFIG = "from ray.rllib.algorithms.ppo import PPOConfig\n"


@pytest.mark.parametrize(
    "text, spec, message",
    [
        (None, "absent.py", "absent.py does not exist"),
        ("x = 1\n", "training.txt", "is not a Python file"),
        ("def broken(:\n", "training.py", "is not valid Python (line 1"),
        ("raise RuntimeError('no GPU here')\n", "training.py", "raised RuntimeError: no GPU here"),
        ("import sys\nsys.exit(3)\n", "training.py", "raised SystemExit: 3"),
        (PPO_CONFIG + "ppo = PPOConfig()\n", "training.py", "defines no 'config'; it defines ppo"),
        (PPO_CONFIG + "config = PPOConfig()\n", "training.py:other", "defines no 'other'"),
        ("config = {'lr': 1e-3}\n", "training.py", "is a dict, not an RLlib AlgorithmConfig"),
        ("def config():\n    raise ValueError('bad')\n", "training.py", "config() raised ValueError: bad"),
        (
            "from ray.rllib.algorithms.sac import SACConfig\nconfig = SACConfig()\n",
            "training.py",
            "configures SAC; parallel_tune sweeps PPO, APPO, IMPALA",
        ),
        (PPO_CONFIG + "config = PPOConfig().environment('NoSuchEnv-v9')\n", "training.py", "unknown environment"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_it_and_exit_2(tmp_path, capsys, text, spec, message):
    import ray

    if text is not None:
        write(tmp_path, text, name=spec.split(":")[0])
    assert sweep.main(["--config", str(tmp_path / spec), "--space", "smoke", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not ray.is_initialized(), "refused before Ray started"


def test_a_function_or_another_name_gives_the_config(tmp_path):
    path = write(tmp_path, PPO_CONFIG + "def make():\n    return PPOConfig().training(lr=5e-4)\n")
    loaded = user.load(f"{path}:make")
    assert loaded.algorithm == "PPO" and loaded.settings["lr"] == 5e-4 and loaded.name == "make"
    assert len(loaded.sha256) == 64 and loaded.record()["file"] == str(path)


def test_what_the_file_sets_is_kept_and_the_space_fills_the_rest(capsys):
    assert sweep.main(["--config", str(EXAMPLE), "--space", "smoke", "--set", "num_epochs=2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "space smoke: 2 configs, 3 iterations each (1 warm-up), env my_cheetah" in out
    assert f"config: PPO from {EXAMPLE}:config" in out
    line = {s.split(":")[0]: s.split(": ", 1)[1] for s in out.splitlines() if s.startswith("settings from")}
    assert "env_config" in line["settings from your config"] and "_model_config" in line["settings from your config"]
    assert "lr" in line["settings from your config"] and "lr" not in line["settings from the space"]
    assert "num_cpus_for_main_process" in line["settings from the space"]
    assert line["settings from --set"] == "num_epochs"


def test_a_space_for_another_algorithm_lends_only_its_parallelism_settings(capsys):
    assert sweep.main(["--config", str(APPO), "--space", "smoke", "--num-cpus", "3", "--dry-run"]) == 0
    out = capsys.readouterr().out
    # APPO's learner runs beside the runners: 3 CPUs for one runner.
    assert "appo[num_env_runners=1,num_envs_per_env_runner=1]     3 CPU" in out
    assert "settings from the space, left out (for PPO, your config is APPO): lambda, minibatch_size, num_epochs" in out


def test_the_python_api_plans_like_the_command(capsys):
    planned = sweep.sweep(str(EXAMPLE), space="smoke", runners=[1], envs_per_runner=[1, 4], dry_run=True)
    assert [t.name for t in planned.trials] == [
        "ppo[num_env_runners=1,num_envs_per_env_runner=1]",
        "ppo[num_env_runners=1,num_envs_per_env_runner=4]",
    ]
    import parallel_tune

    again = parallel_tune.sweep(str(EXAMPLE), space="smoke", dry_run=True)  # the module itself is callable
    assert len(again.trials) == 2 and again.space.env == "my_cheetah" and again.space.algorithm == "PPO"
    with pytest.raises(sweep.SweepError, match="unknown option 'storage'"):
        parallel_tune.sweep(space="smoke", storage="/tmp", dry_run=True)
