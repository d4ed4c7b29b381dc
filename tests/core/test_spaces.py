from pathlib import Path

import pytest
import yaml

from parallel_tune.core import spaces
from parallel_tune.core.spaces import SpaceError

from ..conftest import precision_space


@pytest.mark.parametrize("name", spaces.known_spaces())
def test_every_shipped_space_loads(name):
    space = spaces.load(name, cpus=16)
    assert space.configs(), name
    assert space.baseline_config() in space.configs()


def test_shipped_spaces_are_the_promised_ones():
    assert {"runners_only", "grid12", "envs_only", "gpu_learner", "smoke", "vectorize", "learners"} <= set(
        spaces.known_spaces()
    )
    assert spaces.load("runners_only").grid["num_env_runners"] == [1, 2, 3, 4, 6, 8, 12, 16]
    assert len(spaces.load("grid12").configs()) == 12
    assert spaces.load("envs_only").grid["num_envs_per_env_runner"] == [1, 2, 4, 8, 16]


def test_original_ppo_settings_are_the_default():
    ppo = spaces.load("runners_only").ppo
    assert (ppo["lambda"], ppo["lr"], ppo["num_epochs"]) == (0.95, 0.0003, 3)
    assert (ppo["train_batch_size"], ppo["minibatch_size"]) == (16384, 4096)


def test_unknown_space_lists_known_ones():
    with pytest.raises(SpaceError, match="known spaces: .*runners_only"):
        spaces.load("nope")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


GOOD = "env: HalfCheetah-v5\niterations: 3\nppo: {lr: 0.001}\ngrid: {num_env_runners: [1, 2]}\n"


def test_a_space_file_by_path(tmp_path):
    space = spaces.load(str(_write(tmp_path, GOOD)))
    assert [c["num_env_runners"] for c in space.configs()] == [1, 2]
    assert space.warmup_iterations == 1 and space.placement_strategy == "PACK"


@pytest.mark.parametrize(
    "text, match",
    [
        (GOOD + "bogus: 1\n", "unknown key 'bogus'"),
        ("env: X\niterations: 3\nppo: {}\n", "missing required key 'grid'"),
        (GOOD.replace("iterations: 3", "iterations: three"), "'iterations' must be an int"),
        (GOOD + "warmup_iterations: 3\n", "warmup_iterations"),
        (GOOD + "placement_strategy: SIDEWAYS\n", "placement_strategy"),
        (GOOD.replace("[1, 2]", "[]"), "grid.num_env_runners must be a non-empty list"),
        (GOOD.replace("[1, 2]", "[1, 1]"), "lists a value twice"),
        (GOOD.replace("[1, 2]", "[-1]"), "integers >= 0"),
        (GOOD.replace("num_env_runners: [1, 2]", "num_envs_per_env_runner: [0]"), "integers >= 1"),
        (GOOD.replace("{lr: 0.001}", "{num_env_runners: 2}"), "both fixed in 'ppo' and searched"),
        (GOOD + "baseline: {num_learners: 1}\n", "baseline key 'num_learners' is not in the grid"),
        ("env: [unclosed\n", "not valid YAML"),
        ("- a list\n", "a mapping of keys"),
        (GOOD + "goal: quickest\n", "unknown goal 'quickest'; goals: curve, fastest"),
        (GOOD + "goal: fastest\nrace_margin: 0.9\n", "'race_margin' is a fraction"),
        (GOOD + "race_margin: true\n", "'race_margin' must be an int or float"),
        (GOOD.replace("[1, 2]", "[1]") + "goal: fastest\n", "the grid has only one"),
        (GOOD + "seeds: 0\n", "'seeds' is how many replicates of each config"),
        (GOOD + "seeds: 100000\n", "got 100000"),
        (GOOD + "env_steps: -5\n", "'env_steps' is a training budget"),
        (GOOD.replace("iterations: 3", "iterations: 10") + "env_steps: 1000\nprecision: 0.05\n", "use one"),
        (GOOD + "target_return: 500\n", "'target_return' needs a learning check"),
        (GOOD + "seeds: 2\ngoal: fastest\n", "a race stops configs early"),
    ],
)
def test_bad_space_files_name_the_bad_key(tmp_path, text, match):
    with pytest.raises(SpaceError, match=match):
        spaces.load(str(_write(tmp_path, text)))


def test_a_space_file_can_ask_for_a_race(tmp_path):
    space = spaces.load(str(_write(tmp_path, GOOD + "goal: Fastest\nrace_margin: 0.05\n")))
    assert (space.goal, space.race_margin) == ("fastest", 0.05)
    assert spaces.SearchSpace.from_record(space.to_record()) == space, "recorded, so a resumed race races alike"
    assert spaces.load(str(_write(tmp_path, GOOD))).goal == "curve"


def test_replicates_are_seeded_far_enough_apart_that_no_runner_or_env_shares_a_seed():
    space = spaces.load("smoke").with_overrides(seeds=3, seed=7)
    assert space.learning and space.replicate_seeds() == [7, 1007, 2007]
    # RLlib seeds runner i with seed + i and sub-env j with seed + j: a replicate's offsets stay below 1,000.
    offsets = [{s + i for i in range(spaces.MAX_COUNTS[spaces.RUNNERS] // 100)} for s in space.replicate_seeds()]
    assert not offsets[0] & offsets[1] and not offsets[1] & offsets[2]
    assert not spaces.load("smoke").learning and spaces.load("smoke").with_overrides(env_steps=10).learning


def test_missing_space_file(tmp_path):
    with pytest.raises(SpaceError, match="does not exist"):
        spaces.load(str(tmp_path / "absent.yaml"))


@pytest.mark.parametrize(
    "text, minimum, expected",
    [("1,2,4", 0, [1, 2, 4]), (" 0, 3 ", 0, [0, 3]), ("16", 1, [16])],
)
def test_parse_int_list(text, minimum, expected):
    assert spaces.parse_int_list(text, option="--runners", minimum=minimum) == expected


@pytest.mark.parametrize("text", ["", "1,,2", "1,x", "1.5", "-1", "2,2", "1;2"])
def test_parse_int_list_rejects_malformed(text):
    with pytest.raises(SpaceError, match="--runners"):
        spaces.parse_int_list(text, option="--runners", minimum=0)


def test_overrides_replace_one_axis_each():
    space = spaces.load("grid12").with_overrides(runners=[1, 2], iterations=4, env="Hopper-v5")
    assert space.grid["num_env_runners"] == [1, 2]
    assert space.grid["num_envs_per_env_runner"] == [1, 2, 4]
    assert (space.iterations, space.env) == (4, "Hopper-v5")


def test_override_that_breaks_warmup_is_refused():
    with pytest.raises(SpaceError, match="warmup_iterations"):
        spaces.load("runners_only").with_overrides(iterations=1)


@pytest.mark.parametrize("limit, expected", [(1, [1]), (2, [1, 2]), (8, [1, 2, 4, 8]), (15, [1, 2, 4, 8, 15])])
def test_powers_of_two_up_to_include_the_limit(limit, expected):
    assert spaces.powers_of_two_up_to(limit) == expected


def test_settings_differ_when_the_grid_differs():
    a = spaces.load("runners_only")
    assert a.settings() != a.with_overrides(runners=[1, 2]).settings()
    assert a.settings() == spaces.load("runners_only").settings()


@pytest.mark.parametrize("cpus, runners", [(16, [1, 2, 4, 8, 15]), (8, [1, 2, 4, 7]), (2, [1])])
def test_throughput_grid_comes_from_the_machine(cpus, runners):
    space = spaces.load("throughput", cpus=cpus)
    assert space.grid["num_env_runners"] == runners
    assert space.grid["num_envs_per_env_runner"] == [1, 2, 4, 8, 16]
    # Every config's main process plus its runners fit the cores it was derived from.
    assert max(space.grid["num_env_runners"]) + space.ppo["num_cpus_for_main_process"] <= cpus
    assert "num_cpus_for_main_process" in space.settings()["ppo"], "the main process's CPUs are recorded"


def test_throughput_grid_needs_a_core_count():
    with pytest.raises(SpaceError, match="depends on the machine's CPUs"):
        spaces.load("throughput")
    with pytest.raises(SpaceError, match="keeps 1 of 1 CPU"):
        spaces.load("throughput", cpus=1)


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"powers_of_two_up_to": "cpus", "keep_free": -1}, "keep_free"),
        ({"powers_of_two_up_to": "cpus", "spare": 1}, "must be a list"),
        ({"keep_free": 1}, "must be a list"),
        ({"powers_of_two_up_to": 0}, "positive int"),
    ],
)
def test_machine_derived_grids_are_validated(grid, message):
    data = yaml.safe_load((spaces.SPACES_DIR / "throughput.yaml").read_text())
    data["grid"]["num_env_runners"] = grid
    with pytest.raises(SpaceError, match=message):
        spaces.from_dict(data, name="t", cpus=4)


def test_sampling_widths_count_processes_not_envs():
    space = spaces.from_dict(
        {
            "env": "X",
            "iterations": 2,
            "ppo": {},
            "grid": {"num_env_runners": [0, 1, 4], "num_envs_per_env_runner": [1, 8]},
        },
        name="w",
    )
    assert space.sampling_widths() == [1, 4]  # 0 runners: the main process samples
    assert space.sampling_widths([{"num_env_runners": 4, "num_envs_per_env_runner": 8}]) == [4]


def test_runners_fixed_under_ppo_count_like_grid_ones():
    space = spaces.from_dict(
        {"env": "X", "iterations": 2, "ppo": {"num_env_runners": 4}, "grid": {"num_envs_per_env_runner": [1, 2]}},
        name="fixed",
    )
    assert space.sampling_widths() == [4]
    assert spaces.config_keys(list(space.grid)) == ["num_envs_per_env_runner", "num_env_runners"]
    assert [space.full_config(c)["num_env_runners"] for c in space.configs()] == [4, 4]
    with pytest.raises(SpaceError, match="ppo.num_env_runners values must be integers >= 0"):
        spaces.from_dict({"env": "X", "iterations": 2, "ppo": {"num_env_runners": "4"}, "grid": {"lr": [1]}}, name="f")


@pytest.mark.parametrize(
    "runners, envs, processes, total",
    [(0, 1, 1, 1), (0, 4, 1, 4), (1, 16, 1, 16), (8, 2, 8, 16)],
)
def test_who_samples(runners, envs, processes, total):
    assert spaces.sampling_processes(runners) == processes
    assert spaces.total_envs(runners, envs) == total


def test_sampling_cpus_are_the_runners_or_the_main_process():
    assert spaces.sampling_cpus({"num_env_runners": 4, "num_cpus_per_env_runner": 2}, 1.0) == 8.0
    assert spaces.sampling_cpus({"num_env_runners": 0}, 3.0) == 3.0


def test_a_space_file_sets_precision_and_its_minimum():
    s = precision_space(precision=0.1, iterations=20, min_measured=4)
    assert (s.precision, s.min_measured_iterations) == (0.1, 4)
    assert s.settings()["precision"] == 0.1, "stored with the results and compared on resume"
    with pytest.raises(spaces.SpaceError, match="'precision' must be an int or float, got True"):
        precision_space(precision=True)
    with pytest.raises(spaces.SpaceError, match="'precision' is the 95 % interval's half-width"):
        precision_space(precision=1.5)


@pytest.mark.parametrize(
    "text, many, expected",
    [
        ("num_epochs=5", False, ("num_epochs", 5)),
        ("lr=3e-4", False, ("lr", 3e-4)),
        ("gym_env_vectorize_mode=async", False, ("gym_env_vectorize_mode", "async")),
        ("_model_config={fcnet_hiddens: [64, 64]}", False, ("_model_config", {"fcnet_hiddens": [64, 64]})),
        ("num_learners=0,1,2", True, ("num_learners", [0, 1, 2])),
        ("gym_env_vectorize_mode=sync, async", True, ("gym_env_vectorize_mode", ["sync", "async"])),
    ],
)
def test_set_and_grid_values_read_like_a_space_file(text, many, expected):
    assert spaces.parse_assignment(text, option="--grid" if many else "--set", many=many) == expected


@pytest.mark.parametrize(
    "config, keys, label",
    [
        (
            {"num_env_runners": 4, "num_envs_per_env_runner": 2},
            ["num_env_runners", "num_envs_per_env_runner"],
            "4r x 2e",
        ),
        (
            {"num_env_runners": 1, "num_envs_per_env_runner": 8, "gym_env_vectorize_mode": "async"},
            ["num_envs_per_env_runner", "gym_env_vectorize_mode"],
            "1r x 8e async",
        ),
        (
            {"num_env_runners": 1, "num_envs_per_env_runner": 1, "num_learners": 2},
            ["num_learners"],
            "1r x 1e 2 learners",
        ),
        (
            {"num_env_runners": 8, "num_gpus_per_learner": 1},
            ["num_env_runners", "num_gpus_per_learner"],
            "8r x 1e GPU learner",
        ),
        ({"num_env_runners": 1, "lr": 0.001}, ["lr"], "1r x 1e lr=0.001"),
    ],
)
def test_labels_name_every_axis(config, keys, label):
    assert spaces.label(config, keys) == label


@pytest.mark.parametrize(
    "config, processes",
    [
        ({"num_env_runners": 2, "num_envs_per_env_runner": 4}, 3),
        ({"num_env_runners": 2, "num_envs_per_env_runner": 4, "gym_env_vectorize_mode": "async"}, 11),
        ({"num_env_runners": 0, "num_envs_per_env_runner": 4, "gym_env_vectorize_mode": "async"}, 5),
        ({"num_env_runners": 1, "num_learners": 2}, 4),
    ],
)
def test_busy_processes_count_async_envs_and_remote_learners(config, processes):
    assert spaces.busy_processes(config) == processes


def test_a_learning_check_checkpoints_often_unless_the_space_says_how_often():
    envs_only = spaces.load("envs_only")
    assert envs_only.checkpoint_every == envs_only.checkpoint_frequency == 0, "a speed sweep: at the end only"
    assert envs_only.with_overrides(seeds=2).checkpoint_every == spaces.LEARNING_CHECKPOINT_EVERY
    assert spaces.load("smoke").with_overrides(seeds=2).checkpoint_every == 1, "the space's own frequency stays"
