"""Every name a sweep writes, from one place."""

from parallel_tune.core import files


def test_trial_names_are_deterministic_and_follow_the_grid_keys():
    config = {"num_env_runners": 4, "num_envs_per_env_runner": 2, "lr": 0.001}
    assert files.trial_name(config, ["num_env_runners", "num_envs_per_env_runner"]) == (
        "ppo[num_env_runners=4,num_envs_per_env_runner=2]"
    )
    assert files.trial_name(config, ["lr", "num_env_runners"]) == "ppo[lr=0.001,num_env_runners=4]"


def test_table_files_are_parquet():
    assert files.table("iterations") == "iterations.parquet"
    assert files.table(files.DRIFT) == "drift.parquet"
