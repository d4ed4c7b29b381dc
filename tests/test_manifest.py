"""The manifest round trip, without Ray: what a sweep wrote is what a resume runs and an analysis reads."""

import json

import pytest

from parallel_tune import manifest, spaces
from parallel_tune.files import MANIFEST
from parallel_tune.plan import Plan, PlannedTrial


def a_space():
    # The baseline is not the grid's first value and the space checkpoints every 2 iterations:
    # both were lost by the old rebuild in resume_sweep.
    return spaces.from_dict(
        {
            "description": "two axes",
            "env": "HalfCheetah-v5",
            "iterations": 4,
            "warmup_iterations": 2,
            "baseline": {"num_env_runners": 2},
            "placement_strategy": "SPREAD",
            "checkpoint_frequency": 2,
            "ppo": {"lr": 0.001, "train_batch_size": 512},
            "grid": {"num_env_runners": [1, 2, 4], "num_envs_per_env_runner": [1, 2]},
        },
        name="two_axes",
        source="/spaces/two_axes.yaml",
    )


def a_plan(space):
    trials = [
        PlannedTrial(c, 1.0 + c["num_env_runners"], 0.0, ({"CPU": 1.0},) * (1 + c["num_env_runners"]))
        for c in space.configs()
    ]
    for t in trials[4:]:
        t.skip_reason = "needs 5 CPU, the cluster has 4 CPU"
        t.hint = "to run it anyway: --num-cpus 5"
    return Plan(space=space, nodes=[{"CPU": 4.0, "GPU": 0.0}], trials=trials)


def test_round_trip_keeps_every_setting_and_the_plan(tmp_path):
    space, planned = a_space(), a_plan(a_space())
    record = manifest.Manifest.of(planned, command=["x"], machine={"logical_cores": 4}, telemetry_interval_s=0.5)
    manifest.write(tmp_path, record)
    back = manifest.read(tmp_path)
    restored = back.search_space()
    assert restored.settings() == space.settings()
    assert restored.baseline_config() == {"num_env_runners": 2, "num_envs_per_env_runner": 1}
    assert (restored.checkpoint_frequency, restored.description, restored.name) == (2, "two axes", "two_axes")
    replanned = back.plan([{"CPU": 8.0}])
    assert [t.config for t in replanned.trials] == space.configs()
    assert [(t.skip_reason, t.hint) for t in replanned.trials] == [(t.skip_reason, t.hint) for t in planned.trials]
    assert len(replanned.runnable) == 4 and replanned.nodes == [{"CPU": 8.0}]
    assert back.options == {"telemetry_interval_s": 0.5} and back.machine == {"logical_cores": 4}
    assert back.grid_keys == ["num_env_runners", "num_envs_per_env_runner"]


def test_a_manifest_is_never_overwritten(tmp_path):
    record = manifest.Manifest.of(a_plan(a_space()), command=None, machine={})
    manifest.write(tmp_path, record)
    before = (tmp_path / MANIFEST).read_text()
    with pytest.raises(manifest.ManifestError, match="already exists"):
        manifest.write(tmp_path, manifest.Manifest(space={"name": "other"}))
    assert (tmp_path / MANIFEST).read_text() == before


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"space": 3}'])
def test_a_corrupt_manifest_is_one_error(tmp_path, text):
    (tmp_path / MANIFEST).write_text(text)
    with pytest.raises(manifest.ManifestError, match="is corrupt"):
        manifest.read(tmp_path)


def test_no_manifest_is_none_and_a_manifest_without_a_space_cannot_be_resumed(tmp_path):
    assert manifest.read(tmp_path) is None
    (tmp_path / MANIFEST).write_text(json.dumps({"space": {"name": "x"}}))
    with pytest.raises(manifest.ManifestError, match="records no usable space"):
        manifest.read(tmp_path).search_space()


def test_settings_diff_names_what_changed():
    space = a_space()
    stored = manifest.Manifest.of(a_plan(space), command=None, machine={}).space
    assert manifest.settings_diff(stored, space.settings()) == ""
    other = space.with_overrides(runners=[1, 2], iterations=5)
    diff = manifest.settings_diff(stored, other.settings())
    assert "iterations: 4 -> 5" in diff and "grid.num_env_runners: [1, 2, 4] -> [1, 2]" in diff
