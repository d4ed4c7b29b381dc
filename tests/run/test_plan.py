"""Planning without Ray: what fits, the restricted grid, the widths a ceiling measures."""

import pytest

from parallel_tune import sweep
from parallel_tune.core import spaces
from parallel_tune.run import plan
from parallel_tune.run.plan import Plan, PlannedTrial


def planned(runners, envs, cpus, fixed=None):
    space = spaces.from_dict(
        {
            "env": "HalfCheetah-v5",
            "iterations": 2,
            "ppo": fixed or {},
            "grid": {k: v for k, v in (("num_env_runners", runners), ("num_envs_per_env_runner", envs)) if v},
        },
        name="p",
    )
    nodes = [{"CPU": float(cpus)}]
    trials = []
    for c in space.configs():
        r = space.full_config(c)["num_env_runners"]
        reason = None if 1 + r <= cpus else f"needs {1 + r} CPU, the cluster has {cpus} CPU"
        trials.append(PlannedTrial(c, 1.0 + r, 0.0, skip_reason=reason))
    return Plan(space=space, nodes=nodes, trials=trials)


def test_the_space_is_restricted_to_what_fits():
    p = planned([1, 2, 4], [1, 2], cpus=3)
    assert [t.name for t in p.skipped] == [
        "ppo[num_env_runners=4,num_envs_per_env_runner=1]",
        "ppo[num_env_runners=4,num_envs_per_env_runner=2]",
    ]
    assert p.runnable_space().grid == {"num_env_runners": [1, 2], "num_envs_per_env_runner": [1, 2]}
    assert p.sampling_widths() == [1, 2]
    text = p.describe()
    assert "6 configs" in text and "1 node(s), 3 CPUs, 0 GPUs" in text and text.count("SKIP: needs 5 CPU") == 2


def test_what_fits_must_stay_a_grid():
    p = planned([1, 2], [1, 2], cpus=8)
    p.trials[3].skip_reason = "needs a GPU"
    with pytest.raises(plan.PlanError, match="do not form a grid"):
        p.runnable_space()


def test_strict_and_empty_plans_are_refused():
    with pytest.raises(plan.PlanError, match=r"2 config\(s\) cannot fit this cluster \(--strict\)"):
        planned([1, 2, 4], [1], cpus=2).check(strict=True)
    planned([1, 2, 4], [1], cpus=2).check(strict=False)
    with pytest.raises(plan.PlanError, match="no config of this space fits"):
        planned([4], [1], cpus=2).check(strict=False)


def test_runners_fixed_under_ppo_give_the_ceiling_its_width():
    p = planned(None, [1, 2, 4], cpus=8, fixed={"num_env_runners": 4})
    assert p.sampling_widths() == [4] and all(t.cpus == 5.0 for t in p.trials)


def test_strict_refuses_before_ray_starts(tmp_path, capsys):
    import ray

    argv = ["--space", "runners_only", "--runners", "1,2", "--num-cpus", "2", "--strict"]
    assert sweep.main([*argv, "--storage-path", str(tmp_path), "--name", "x"]) == 2
    assert "cannot fit this cluster (--strict)" in capsys.readouterr().err
    assert not ray.is_initialized() and not (tmp_path / "x").exists()


def test_configs_short_only_of_cpus_are_told_how_to_run_anyway_once(capsys):
    assert sweep.main(["--space", "runners_only", "--runners", "1,2,16", "--dry-run", "--num-cpus", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("SKIP: needs") == 2 and "anyway" not in "".join(ln for ln in out.splitlines() if "SKIP" in ln)
    assert "2 of the skipped configs lack only CPUs; to run them anyway: --num-cpus 17 (" in out
    space = spaces.load("runners_only").with_overrides(runners=[1, 16])
    on_a_cluster = plan.build(space, [{"CPU": 2.0}, {"CPU": 2.0}], local=False)
    assert [t.hint for t in on_a_cluster.trials] == [None, None], "a cluster's CPUs are real: no --num-cpus"
    assert "--num-cpus" not in on_a_cluster.describe()
