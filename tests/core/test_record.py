"""The experiment record, without Ray: what a sweep wrote is exactly what a resume runs and an analysis reads."""

import json
import shutil

import pytest

from parallel_tune.core import record, spaces
from parallel_tune.core.files import RECORD
from parallel_tune.core.record import SCHEMA_VERSION, ExperimentRecord, PlannedConfig, RecordError
from parallel_tune.core.spaces import SearchSpace
from parallel_tune.run.plan import Plan, PlannedTrial

from ..conftest import ROOT


def a_space():
    # The baseline is not the grid's first value and the space checkpoints every 2 iterations:
    # both were lost by an old rebuild in resume_sweep.
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
    trials = []
    for c in space.configs():
        runners = space.full_config(c)["num_env_runners"]
        trials.append(PlannedTrial(c, 1.0 + runners, 0.0, ({"CPU": 1.0},) * (1 + runners)))
    for t in trials[4:]:
        t.skip_reason = "needs 5 CPU, the cluster has 4 CPU"
        t.hint = "to run it anyway: --num-cpus 5"
    return Plan(space=space, nodes=[{"CPU": 4.0, "GPU": 0.0}], trials=trials)


def a_record(space):
    return ExperimentRecord(
        space=space,
        plan=a_plan(space).to_record(),
        algorithm={"name": "PPO", "config": {"lr": 0.001, "callbacks_class": "ray.rllib.callbacks.RLlibCallback"}},
        command=["python", "-m", "parallel_tune.sweep"],
        versions={"ray": "2.60.0"},
        machine={"logical_cores": 4},
        cluster={"address": None, "resources": {"CPU": 4.0}, "nodes": []},
        options={"telemetry": True, "telemetry_interval_s": 0.5, "started_at_s": 1.0},
    )


def every_override(space: SearchSpace) -> SearchSpace:
    """What every CLI flag that shapes a space can change, applied at once."""
    return space.with_overrides(
        runners=[1, 3],
        envs_per_runner=[2, 4],
        iterations=9,
        env="Hopper-v5",
        precision=0.07,
        settings={"lr": 0.002},
        axes={"gym_env_vectorize_mode": ["sync", "async"]},
        baseline={"num_env_runners": 3, "gym_env_vectorize_mode": "async"},
        placement_strategy="SPREAD",
        checkpoint_frequency=3,
        min_measured_iterations=4,
    )


def round_trip(tmp_path, rec: ExperimentRecord) -> ExperimentRecord:
    record.write(tmp_path, rec)
    return record.read(tmp_path)


@pytest.mark.parametrize("name", spaces.known_spaces())
def test_every_committed_space_round_trips_exactly(tmp_path, name):
    space = spaces.load(name, cpus=16)
    back = round_trip(tmp_path, a_record(space))
    assert back.space == space
    assert back.space.settings() == space.settings()


def test_a_space_with_every_cli_override_round_trips_exactly(tmp_path):
    space = every_override(spaces.load("runners_only", cpus=16))
    assert (space.precision, space.min_measured_iterations, space.checkpoint_frequency) == (0.07, 4, 3)
    back = round_trip(tmp_path, a_record(space))
    assert back.space == space and back.space.baseline_config()["gym_env_vectorize_mode"] == "async"


def test_the_round_trip_needs_no_list_of_names():
    # Every field of SearchSpace is stored and read back: a field added later needs nothing else.
    stored = a_space().to_record()
    assert set(stored) == {f for f in SearchSpace.__dataclass_fields__}
    assert SearchSpace.from_record(stored) == a_space()


def test_the_plan_and_everything_else_round_trip(tmp_path):
    space = a_space()
    rec = a_record(space)
    back = round_trip(tmp_path, rec)
    assert back == rec and back.schema_version == SCHEMA_VERSION
    replanned = Plan.from_record(back, [{"CPU": 8.0}])
    assert [t.config for t in replanned.trials] == space.configs()
    assert [(t.skip_reason, t.hint) for t in replanned.trials] == [
        (t.skip_reason, t.hint) for t in a_plan(space).trials
    ]
    assert len(replanned.runnable) == 4 and replanned.nodes == [{"CPU": 8.0}]
    assert back.grid_keys == ["num_env_runners", "num_envs_per_env_runner"]
    assert [p.config for p in back.skipped] == space.configs()[4:]


def test_a_record_is_never_overwritten(tmp_path):
    record.write(tmp_path, a_record(a_space()))
    before = (tmp_path / RECORD).read_text()
    with pytest.raises(RecordError, match="already exists"):
        record.write(tmp_path, ExperimentRecord(space=None))
    assert (tmp_path / RECORD).read_text() == before


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"space": 3}'])
def test_a_corrupt_record_is_one_error(tmp_path, text):
    (tmp_path / RECORD).write_text(text)
    with pytest.raises(RecordError, match="is corrupt"):
        record.read(tmp_path)


def test_no_record_is_none_and_one_without_a_usable_space_is_refused(tmp_path):
    assert record.read(tmp_path) is None
    (tmp_path / RECORD).write_text(json.dumps({"schema_version": 2, "space": {"name": "x"}}))
    with pytest.raises(RecordError, match="records no usable space"):
        record.read(tmp_path)


def test_a_record_from_a_newer_version_is_refused(tmp_path):
    data = {**a_record(a_space()).to_dict(), "schema_version": SCHEMA_VERSION + 1}
    (tmp_path / RECORD).write_text(json.dumps(data))
    with pytest.raises(RecordError, match="upgrade"):
        record.read(tmp_path)


def test_settings_diff_names_what_changed():
    space = a_space()
    assert record.settings_diff(space.settings(), space.settings()) == ""
    other = space.with_overrides(runners=[1, 2], iterations=5)
    diff = record.settings_diff(space.settings(), other.settings())
    assert "iterations: 4 -> 5" in diff and "grid.num_env_runners: [1, 2, 4] -> [1, 2]" in diff


@pytest.mark.parametrize(
    "experiment",
    [
        "benchmarks/results/envs_only_2core",
        "benchmarks/results/throughput_2core",
        "benchmarks/results/runners_only_oversubscribed_2core",
        "benchmarks/results/vectorize_2core",
        "tests/data/smoke_experiment",
        "tests/data/interrupted_before_move",
    ],
)
def test_every_committed_record_of_schema_1_migrates(experiment, tmp_path):
    shutil.copy(ROOT / experiment / RECORD, tmp_path / RECORD)
    old = json.loads((tmp_path / RECORD).read_text())
    assert "schema_version" not in old, "committed before schema 2"
    rec = record.read(tmp_path)
    for key in ("name", "env", "iterations", "warmup_iterations", "ppo", "grid", "placement_strategy"):
        assert getattr(rec.space, key) == old["space"][key]
    assert rec.space.baseline_config() == old["space"]["baseline"]
    assert rec.versions == old["machine"]["versions"] and "versions" not in rec.machine
    assert rec.cluster["resources"] == old["machine"]["ray_cluster_resources"]
    assert [p.config for p in rec.plan] == [p["config"] for p in old["planned"]]
    skipped = {json.dumps(s["config"], sort_keys=True): s["reason"] for s in old["skipped"]}
    assert {json.dumps(p.config, sort_keys=True): p.skip_reason for p in rec.skipped} == skipped
    assert rec.options["telemetry_interval_s"] > 0  # older records kept it only in their command line


def test_schema_1_telemetry_interval_comes_from_the_command():
    old = {"space": a_space().to_record(), "command": ["x", "--telemetry-interval", "0.25"], "machine": {}}
    assert ExperimentRecord.from_dict(old).options["telemetry_interval_s"] == 0.25
    assert ExperimentRecord.from_dict({**old, "command": ["x"]}).options["telemetry_interval_s"] == 1.0


def test_jsonable_keeps_data_and_names_code():
    from pathlib import PurePosixPath

    out = record.jsonable({"a": (1, 2.5, None), "cls": PurePosixPath, "fn": json.dumps, "n": {3: "x"}})
    assert out == {"a": [1, 2.5, None], "cls": "pathlib.PurePosixPath", "fn": "json.dumps", "n": {"3": "x"}}
    json.dumps(out)


def test_planned_configs_are_plain_data():
    entry = PlannedConfig({"num_env_runners": 2}, 3.0, 0.0, None, None)
    assert ExperimentRecord(space=None, plan=[entry]).to_dict()["plan"] == [
        {"config": {"num_env_runners": 2}, "cpus": 3.0, "gpus": 0.0, "skip_reason": None, "hint": None}
    ]


def test_resumes_are_logged_one_line_each_and_a_cut_line_is_skipped(tmp_path):
    assert record.resumes(tmp_path) == [], "a sweep that ran in one go"
    record.note_resume(tmp_path, 200.0)
    (tmp_path / "resumes.jsonl").write_text((tmp_path / "resumes.jsonl").read_text() + '{"resumed_at')  # a kill
    record.note_resume(tmp_path, 100.0)
    assert record.resumes(tmp_path) == [100.0, 200.0]
