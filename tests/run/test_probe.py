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


@pytest.mark.parametrize("name", ["PPO", "APPO", "IMPALA"])
def test_the_trainable_is_rllibs_algorithm_under_its_own_name(name):
    from parallel_tune.run.probe import measured
    from parallel_tune.run.trial import algorithm_class

    trainable = measured(name)
    assert issubclass(trainable, algorithm_class(name)) and trainable.__name__ == name and measured(name) is trainable
