"""The PPO adapter against RLlib's own config and resource logic (imports RLlib, starts no Ray)."""

import pytest

from parallel_tune.core import files, spaces
from parallel_tune.core.spaces import SpaceError
from parallel_tune.run import trial as ppo


@pytest.mark.parametrize("runners", [0, 1, 2, 16])
def test_trial_reserves_one_cpu_for_main_plus_one_per_runner(runners):
    space = spaces.load("runners_only")
    res = ppo.reservation(space, {"num_env_runners": runners, "num_envs_per_env_runner": 1})
    assert res.cpus == 1 + runners and res.gpus == 0 and res.strategy == "PACK"


def test_envs_per_runner_add_no_cpus():
    space = spaces.load("envs_only")
    assert {ppo.reservation(space, c).cpus for c in space.configs()} == {2.0}


def test_gpu_learner_space_puts_a_cpu_and_a_gpu_learner_side_by_side():
    space = spaces.load("gpu_learner")
    gpu = ppo.reservation(space, {"num_env_runners": 4, "num_gpus_per_learner": 1})
    assert gpu.gpus == 1 and gpu.cpus == 1 + 4 + 1
    assert {"CPU": 1.0, "GPU": 1.0} in gpu.bundles
    cpu = ppo.reservation(space, {"num_env_runners": 4, "num_gpus_per_learner": 0})
    assert cpu.gpus == 0 and cpu.cpus == 1 + 4 + 1, "the same remote learner, on a CPU"
    assert space.baseline_config() == {"num_env_runners": 4, "num_gpus_per_learner": 0}


def test_learners_space_adds_a_bundle_per_remote_learner():
    space = spaces.load("learners")
    assert [ppo.reservation(space, c).cpus for c in space.configs()] == [2.0, 3.0, 4.0]


def test_config_carries_the_space_settings():
    space = spaces.load("smoke")
    config = ppo.build_config(space, {"num_env_runners": 1, "num_envs_per_env_runner": 2})
    assert (config.env, config.num_envs_per_env_runner, config.train_batch_size) == ("HalfCheetah-v5", 2, 256)
    assert config.lambda_ == 0.95 and config.model_config["fcnet_hiddens"] == [32, 32]


def test_old_rllib_names_are_refused_with_a_hint():
    space = spaces.from_dict(
        {"env": "HalfCheetah-v5", "iterations": 2, "ppo": {"num_workers": 2}, "grid": {"num_env_runners": [1]}},
        name="old",
    )
    with pytest.raises(SpaceError, match="ppo.num_workers is not a PPOConfig setting"):
        ppo.check_keys(space)


def test_param_space_is_a_tune_grid_and_names_are_deterministic():
    space = spaces.load("grid12")
    ps = ppo.param_space(space)
    assert ps["num_env_runners"] == {"grid_search": [1, 2, 4, 8]}
    assert ps["train_batch_size"] == 16384 and ps["env"] == "HalfCheetah-v5"
    name = files.trial_name({"num_env_runners": 4, "num_envs_per_env_runner": 2, "lr": 1}, list(space.grid))
    assert name == "ppo[num_env_runners=4,num_envs_per_env_runner=2]"


def test_the_parallelism_defaults_are_rllibs():
    from ray.rllib.algorithms.ppo import PPOConfig

    defaults = PPOConfig().to_dict()
    assert {k: defaults[k] for k in spaces.RLLIB_DEFAULTS} == spaces.RLLIB_DEFAULTS


def test_runners_fixed_under_ppo_are_reserved_and_recorded():
    space = spaces.from_dict(
        {
            "env": "HalfCheetah-v5",
            "iterations": 2,
            "ppo": {"num_env_runners": 3, "num_cpus_for_main_process": 1},
            "grid": {"num_envs_per_env_runner": [1, 2]},
        },
        name="fixed",
    )
    assert {ppo.reservation(space, c).cpus for c in space.configs()} == {4.0}
    assert ppo.param_space(space)["num_env_runners"] == 3
    # A space that sets neither still records how many processes sampled: RLlib's default.
    bare = spaces.from_dict({"env": "HalfCheetah-v5", "iterations": 2, "ppo": {}, "grid": {"lr": [1e-3]}}, name="b")
    assert ppo.config_dict(bare, {"lr": 1e-3})["num_env_runners"] == spaces.RLLIB_DEFAULTS["num_env_runners"]
