"""The same training with APPO: python -m parallel_tune.sweep --config examples/my_training_appo.py --num-cpus 3

APPO samples and learns at once: its learner (one remote learner by default, 1 CPU) runs beside the env
runners, so one runner needs 3 CPUs. Its iterations are time-boxed (``min_time_s_per_iteration``) rather than
a fixed batch; parallel_tune measures it by env steps sampled per second.
"""

import gymnasium as gym
from ray.rllib.algorithms.appo import APPOConfig
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
    APPOConfig()
    .environment("my_cheetah", env_config={"ctrl_cost_weight": 0.05, "max_episode_steps": 500})
    .training(lr=1e-4, gamma=0.98, train_batch_size=1024)
    .rl_module(model_config={"fcnet_hiddens": [128, 128]})
    .reporting(min_time_s_per_iteration=5)
)
