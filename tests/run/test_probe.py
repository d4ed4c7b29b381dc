"""Where a trial's bundles ran: the roles of RLlib's bundles, in RLlib's order."""

import pytest

from parallel_tune.run.probe import bundle_roles


@pytest.mark.parametrize(
    "bundles, runners, learners, roles",
    [
        (1, 0, 0, ["main"]),
        (3, 2, 0, ["main", "runner 1", "runner 2"]),
        (4, 2, 1, ["main", "runner 1", "runner 2", "learner 1"]),
        (5, 2, 1, ["main", "runner 1", "runner 2", "other", "learner 1"]),
    ],
)
def test_bundle_roles_follow_rllibs_order(bundles, runners, learners, roles):
    assert bundle_roles(bundles, runners, learners) == roles


def test_the_trainable_is_rllibs_ppo_under_its_own_name():
    from ray.rllib.algorithms.ppo import PPO

    from parallel_tune.run.probe import measured_ppo

    trainable = measured_ppo()
    assert issubclass(trainable, PPO) and trainable.__name__ == "PPO" and measured_ppo() is trainable
