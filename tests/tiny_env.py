"""A tiny gymnasium environment shipped with the tests: ``--env tests.tiny_env:TinyReach-v0``.

Importing the module registers it, as gymnasium's module-prefixed ids expect.
"""

import gymnasium as gym
import numpy as np


class TinyReach(gym.Env):
    """Move a point on a line towards 0; 50 steps an episode."""

    observation_space = gym.spaces.Box(-10.0, 10.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = float(self.np_random.uniform(-5, 5)), 0
        return self._obs(), {}

    def step(self, action):
        self.x = float(np.clip(self.x + float(np.asarray(action).reshape(-1)[0]), -10, 10))
        self.t += 1
        return self._obs(), -abs(self.x), False, self.t >= 50, {}

    def _obs(self):
        return np.array([self.x, self.t / 50], dtype=np.float32)


gym.register(id="TinyReach-v0", entry_point=TinyReach)
