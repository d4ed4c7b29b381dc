"""A user's own training, as parallel_tune measures it: python -m parallel_tune.sweep --config examples/my_training.py

An RLlib config built in Python, with an environment made by a creator registered under a name of its own and
configured through ``env_config``, and a model size of its own. Everything here is what you would write to
train; parallel_tune only varies the parallelism settings its search space sweeps (env runners, envs per
runner, ...) and fills in what this file leaves unset.
"""

import gymnasium as gym
from ray.rllib.algorithms.ppo import PPOConfig
from ray.tune.registry import register_env


def make_cheetah(env_config):
    """HalfCheetah with this project's control cost and episode length, taken from ``env_config``."""
    return gym.make(
        "HalfCheetah-v5",
        ctrl_cost_weight=env_config.get("ctrl_cost_weight", 0.1),
        max_episode_steps=env_config.get("max_episode_steps", 1000),
    )


register_env("my_cheetah", make_cheetah)

config = (
    PPOConfig()
    .environment("my_cheetah", env_config={"ctrl_cost_weight": 0.05, "max_episode_steps": 500})
    .training(lr=1e-4, gamma=0.98, train_batch_size=4096, minibatch_size=512, num_epochs=4)
    .rl_module(model_config={"fcnet_hiddens": [128, 128]})
)
