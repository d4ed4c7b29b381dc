"""Search spaces: declarative YAML files -> validated ``SearchSpace`` objects.

A space is plain data (``search_spaces/<name>.yaml``): the environment, the PPO
settings held fixed, the grid of parallelism settings, how many iterations to
time and which config is the baseline. Keys are RLlib's own names
(``num_env_runners``, ``num_envs_per_env_runner``, ...). This module knows
nothing of Ray: ``parallel_tune.run.trial`` turns a space into Tune's param space.

Every setting of a space is declared once, as a field of ``SearchSpace``: the
YAML keys a file may use, their types, which are required, what is compared
on ``--resume`` and what the experiment record stores all come from the
fields, so no list of names has to be kept in step with them.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from parallel_tune.core.errors import UsageError


def _spaces_dir() -> Path:
    """The shipped spaces: package data in an installed wheel, the repository's ``search_spaces/`` in a checkout."""
    shipped = Path(__file__).resolve().parents[1] / "search_spaces"
    return shipped if shipped.is_dir() else Path(__file__).resolve().parents[2] / "search_spaces"


SPACES_DIR = _spaces_dir()

PLACEMENT_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")

#: The two settings every analysis needs, in the grid or fixed under ``ppo``. Runners are
#: processes that sample (each reserves its own CPUs); envs per runner are env copies one
#: runner steps in turn, batching their policy inference: more work per process, no more CPUs.
RUNNERS = "num_env_runners"
ENVS_PER_RUNNER = "num_envs_per_env_runner"

#: RLlib's defaults for them (2.60, the same for PPO, APPO and IMPALA), for a space that sets neither; a test
#: holds them to RLlib's own values.
RLLIB_DEFAULTS = {RUNNERS: 2, ENVS_PER_RUNNER: 1}

#: The algorithms a sweep runs, and whether each samples and learns at once (asynchronous: its iterations are
#: time-boxed, its learner runs beside the env runners) rather than in turns (PPO).
ALGORITHMS = {"PPO": False, "APPO": True, "IMPALA": True}


#: Settings of parallelism and resources: what a space sweeps or reserves, the same for every algorithm. A space
#: written for another algorithm than a --config file's lends only these (its learning settings are for its own).
PARALLELISM_KEYS = frozenset(
    {
        RUNNERS,
        ENVS_PER_RUNNER,
        "gym_env_vectorize_mode",
        "num_cpus_for_main_process",
        "num_cpus_per_env_runner",
        "num_gpus_per_env_runner",
        "num_learners",
        "num_cpus_per_learner",
        "num_gpus_per_learner",
    }
)


def asynchronous(algorithm: str) -> bool:
    """Does ``algorithm`` learn while its env runners sample (APPO, IMPALA), rather than after (PPO)?"""
    return ALGORITHMS.get(str(algorithm).upper(), False)


#: Counts no machine or Ray cluster could hold, refused at once: planning builds one placement-group bundle
#: per runner and per learner, and an absurd count would exhaust memory before any message.
MAX_COUNTS = {
    RUNNERS: 100_000,  # more env runners than the largest Ray clusters have CPUs
    ENVS_PER_RUNNER: 100_000,  # more env copies than one process can hold
    "num_learners": 10_000,  # more learners than the largest Ray clusters have GPUs
}
MAX_ITERATIONS = 1_000_000  # weeks of training at a second an iteration
MAX_ENV_STEPS = 10**12  # more env steps than any training runs

#: What a sweep is for: the whole scaling curve (every config to its precision or cap), or only its fastest
#: config, racing the others out as soon as they are clearly slower (``parallel_tune.core.race``).
GOALS = ("curve", "fastest")
#: How far below the incumbent's median a config's best case must fall to be raced out: 3 % keeps a config
#: whose interval nearly reaches the incumbent in the race.
DEFAULT_MARGIN = 0.03
#: A margin this large would keep configs at half the incumbent's speed in the race: a typo, not a choice.
MAX_MARGIN = 0.5

#: Replicates of one config are seeded this far apart: RLlib seeds env runner i with seed + i and a runner's
#: gymnasium sub-env j with seed + j, so no two replicates share a runner's or an env's seed below 1,000 of them.
SEED_SPACING = 1000
#: More replicates than any learning check needs (rliable's own studies use 5 to 100 runs): a typo.
MAX_SEEDS = 1000
#: A learning check's checkpoint frequency where the space sets none (see ``SearchSpace.checkpoint_every``).
LEARNING_CHECKPOINT_EVERY = 5


class SpaceError(UsageError, ValueError):
    """A search space that cannot be used; the message names the bad key."""


def _setting(default: Any = MISSING, *, kind: type | tuple[type, ...], in_file: bool = True, measures: bool = True):
    """A field of ``SearchSpace``: its YAML type, whether a space file may set it, whether it shapes the numbers."""
    meta = {"kind": kind, "in_file": in_file, "measures": measures}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SearchSpace:
    """One sweep's worth of configs; every field is a key of the space's YAML file, but ``name`` and ``source``.

    ``grid`` maps an RLlib setting to the values to try; every combination is
    one trial. ``ppo`` holds the settings every trial shares. Fields without a
    default are required in a file.
    """

    name: str = _setting(kind=str, in_file=False, measures=False)  # the file's stem
    env: str = _setting(kind=str)
    iterations: int = _setting(kind=int)
    ppo: dict[str, Any] = _setting(kind=dict)  # the algorithm's settings every trial shares (PPO's, APPO's...)
    grid: dict[str, list[Any]] = _setting(kind=dict)
    warmup_iterations: int = _setting(1, kind=int)
    baseline: dict[str, Any] = _setting({}, kind=dict)
    placement_strategy: str = _setting("PACK", kind=str)
    checkpoint_frequency: int = _setting(0, kind=int)
    precision: float | None = _setting(None, kind=(int, float))
    min_measured_iterations: int = _setting(3, kind=int)
    goal: str = _setting("curve", kind=str)  # curve: every config measured; fastest: race to the fastest
    race_margin: float = _setting(DEFAULT_MARGIN, kind=(int, float))  # with goal fastest: see core.race
    seeds: int = _setting(1, kind=int)  # replicates of every config, seeded SEED_SPACING apart (a learning check)
    seed: int = _setting(0, kind=int)  # the first replicate's seed (RLlib's `seed`)
    env_steps: int | None = _setting(None, kind=int)  # a training budget: stop each trial at this many env steps
    target_return: float | None = _setting(None, kind=(int, float))  # env steps and time to this episode return
    algorithm: str = _setting("PPO", kind=str)  # RLlib's name: PPO, APPO or IMPALA (a --config file's decides)
    description: str = _setting("", kind=str, measures=False)
    source: str = _setting("", kind=str, in_file=False, measures=False)  # the file it was read from

    @property
    def learning(self) -> bool:
        """Does the sweep check learning as well as speed: replicates of each config, or a training budget?"""
        return self.seeds > 1 or self.env_steps is not None

    @property
    def checkpoint_every(self) -> int:
        """Iterations between checkpoints (0: at the end only). A learning check trains for long, so where the
        space sets no frequency it checkpoints every ``LEARNING_CHECKPOINT_EVERY``: an interruption costs at most
        that much training, not a whole trial."""
        if self.checkpoint_frequency or not self.learning:
            return self.checkpoint_frequency
        return LEARNING_CHECKPOINT_EVERY

    def replicate_seeds(self) -> list[int]:
        """The seed of each replicate of a config, ``SEED_SPACING`` apart."""
        return [self.seed + SEED_SPACING * k for k in range(self.seeds)]

    def configs(self) -> list[dict[str, Any]]:
        """Every grid point, in file order (the first key varies slowest)."""
        keys = list(self.grid)
        return [dict(zip(keys, values, strict=False)) for values in itertools.product(*self.grid.values())]

    def baseline_config(self) -> dict[str, Any]:
        """The baseline as a full grid point (unset keys take their first value)."""
        return {k: self.baseline.get(k, v[0]) for k, v in self.grid.items()}

    def reference_config(self, points: list[dict[str, Any]]) -> dict[str, Any]:
        """What speedups and the drift check are measured against among ``points``: the baseline, or where
        it is not among them (a restricted grid) the point nearest to it (``stand_in_order``)."""
        base = self.baseline_config()
        if base in points:
            return base

        def order(point):
            full = self.full_config(point)
            cpus = sampling_cpus(full, full.get("num_cpus_for_main_process", 1))
            return stand_in_order(cpus, total_envs(full[RUNNERS], full[ENVS_PER_RUNNER]), point, base)

        return min(points, key=order)

    def settings(self) -> dict[str, Any]:
        """What determines the measurements (every field that ``measures``): compared on resume."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata["measures"]}
        return {**out, "baseline": self.baseline_config()}

    def to_record(self) -> dict[str, Any]:
        """Every field, as JSON-able data: what the experiment record stores."""
        return {f.name: _copy(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> SearchSpace:
        """The space ``to_record`` stored, exactly; a field it lacks (an older record) takes its default."""
        known = {f.name for f in fields(cls)}
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        absent = [k for k in missing if k not in data]
        if absent:
            raise SpaceError(f"a recorded space lacks {absent[0]!r}")
        return validate(cls(**{k: _copy(v) for k, v in data.items() if k in known}))

    def full_config(self, point: dict[str, Any]) -> dict[str, Any]:
        """What one grid point runs with: RLlib's parallelism defaults, the fixed settings, the point."""
        return {**RLLIB_DEFAULTS, **self.ppo, **point}

    def sampling_widths(self, points: list[dict[str, Any]] | None = None) -> list[int]:
        """How many processes sample in these grid points (default: all): the widths a ceiling measures."""
        full = (self.full_config(p) for p in (self.configs() if points is None else points))
        return sorted({int(sampling_processes(c[RUNNERS])) for c in full})

    def with_overrides(
        self,
        *,
        runners: list[int] | None = None,
        envs_per_runner: list[int] | None = None,
        iterations: int | None = None,
        env: str | None = None,
        precision: float | None = None,
        settings: dict[str, Any] | None = None,
        axes: dict[str, list[Any]] | None = None,
        **fixed: Any,
    ) -> SearchSpace:
        """The CLI's overrides: ``settings`` fix a setting (taking it out of the grid), ``axes`` grid one
        (taking it out of the fixed settings); ``runners`` and ``envs_per_runner`` are shorthands for two axes;
        ``fixed`` replaces any other field (``baseline``, ``placement_strategy``, ``checkpoint_frequency``...)."""
        axes = dict(axes or {})
        if runners is not None:
            axes[RUNNERS] = runners
        if envs_per_runner is not None:
            axes[ENVS_PER_RUNNER] = envs_per_runner
        settings = settings or {}
        ppo = {k: v for k, v in self.ppo.items() if k not in axes}
        ppo.update(settings)
        grid = {k: v for k, v in self.grid.items() if k not in settings}
        grid.update(axes)
        baseline = {k: v for k, v in self.baseline.items() if k in grid}
        space = replace(
            self,
            ppo=ppo,
            grid=grid,
            baseline=baseline,
            iterations=self.iterations if iterations is None else iterations,
            env=self.env if env is None else env,
            precision=self.precision if precision is None else precision,
        )
        return validate(replace(space, **fixed))


def _copy(value: Any) -> Any:
    """A deep copy of YAML/JSON-like data, so a record never shares a mutable value with the space."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def known_spaces(directory: Path = SPACES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load(name_or_path: str, *, cpus: int | None = None, directory: Path = SPACES_DIR) -> SearchSpace:
    """Load a space by name (``runners_only``) or by path to a YAML file.

    ``cpus`` resolves grids written as ``{powers_of_two_up_to: cpus}``, whose
    width depends on the machine the sweep runs on.
    """
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = directory / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(known_spaces(directory)) or "none"
            raise SpaceError(f"unknown search space {name_or_path!r}; known spaces: {known}")
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpaceError(f"search space file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError(f"cannot read search space file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        raise SpaceError(f"search space file {path} is not valid YAML{line}") from None
    return from_dict(data, name=path.stem, source=str(path), cpus=cpus)


def from_dict(data: Any, *, name: str, source: str = "", cpus: int | None = None) -> SearchSpace:
    """A space from its YAML mapping; every mistake is one line naming the file and the key (users edit these)."""
    where = source or name
    if not isinstance(data, dict):
        raise SpaceError(f"{where}: a search space is a mapping of keys, got {type(data).__name__}")
    keys = {f.name: f for f in fields(SearchSpace) if f.metadata["in_file"]}
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise SpaceError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(keys)}")
    for key, f in keys.items():
        if key not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise SpaceError(f"{where}: missing required key {key!r}")
            continue
        kind, value = f.metadata["kind"], data[key]
        if (value is not None or f.default is not None) and (isinstance(value, bool) or not isinstance(value, kind)):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            article = "an" if names[0] in "aeiou" else "a"
            raise SpaceError(f"{where}: {key!r} must be {article} {names}, got {value!r}")
    values = {k: v for k, v in data.items() if v is not None or keys[k].default is None}
    values["grid"] = {k: _grid_values(where, k, v, cpus) for k, v in data["grid"].items()}
    values["placement_strategy"] = values.get("placement_strategy", "PACK").upper()
    values["algorithm"] = str(values.get("algorithm", "PPO")).upper()
    values["goal"] = str(values.get("goal", "curve")).lower()
    values["description"] = values.get("description", "").strip()
    values["baseline"] = dict(values.get("baseline") or {})
    return validate(SearchSpace(name=name, source=source, **values))


def _grid_values(where: str, key: str, values: Any, cpus: int | None) -> list[Any]:
    if isinstance(values, dict):
        if "powers_of_two_up_to" not in values or set(values) - {"powers_of_two_up_to", "keep_free", "max"}:
            raise SpaceError(
                f"{where}: grid.{key} must be a list or {{powers_of_two_up_to: cpus, keep_free: N, max: M}}"
            )
        limit, keep_free = values["powers_of_two_up_to"], values.get("keep_free", 0)
        if isinstance(keep_free, bool) or not isinstance(keep_free, int) or keep_free < 0:
            raise SpaceError(f"{where}: grid.{key}.keep_free must be a non-negative int, got {keep_free!r}")
        if limit == "cpus":
            if cpus is None:
                raise SpaceError(f"{where}: grid.{key} depends on the machine's CPUs; none given")
            limit = cpus
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise SpaceError(f"{where}: grid.{key}.powers_of_two_up_to must be 'cpus' or a positive int")
        if limit - keep_free < 1:
            raise SpaceError(f"{where}: grid.{key} keeps {keep_free} of {limit} CPU(s) free, leaving none to search")
        limit -= keep_free
        most = values.get("max", limit)
        if isinstance(most, bool) or not isinstance(most, int) or most < 1:
            raise SpaceError(f"{where}: grid.{key}.max must be a positive int, got {most!r}")
        return powers_of_two_up_to(min(limit, most))
    if not isinstance(values, list) or not values:
        raise SpaceError(f"{where}: grid.{key} must be a non-empty list, got {values!r}")
    return values


def powers_of_two_up_to(limit: int) -> list[int]:
    """1, 2, 4, ... below ``limit``, then ``limit`` itself: the widest config always runs."""
    values = [1 << i for i in range(limit.bit_length()) if (1 << i) < limit]
    return [*values, limit]


def validate(space: SearchSpace) -> SearchSpace:
    """Refuse what would waste a sweep later: no measured iteration, a baseline off the grid, bad targets."""
    where = space.source or space.name
    if space.iterations < 1:
        raise SpaceError(f"{where}: 'iterations' must be at least 1, got {space.iterations}")
    if space.iterations > MAX_ITERATIONS:
        raise SpaceError(
            f"{where}: 'iterations' {space.iterations} is more than any sweep runs; at most {MAX_ITERATIONS:,}"
        )
    if not 0 <= space.warmup_iterations < space.iterations:
        raise SpaceError(
            f"{where}: 'warmup_iterations' must be in [0, iterations), got "
            f"{space.warmup_iterations} with iterations={space.iterations}"
        )
    if space.precision is not None and (isinstance(space.precision, bool) or not 0 < space.precision <= 1):
        raise SpaceError(
            f"{where}: 'precision' is the 95 % interval's half-width relative to the median, in (0, 1]; "
            f"got {space.precision!r}"
        )
    measurable = space.iterations - space.warmup_iterations
    if space.precision is not None and not 2 <= space.min_measured_iterations <= measurable:
        raise SpaceError(
            f"{where}: 'min_measured_iterations' must be between 2 and iterations - warmup_iterations "
            f"({measurable}), got {space.min_measured_iterations}"
        )
    if space.checkpoint_frequency < 0:
        raise SpaceError(f"{where}: 'checkpoint_frequency' must be >= 0")
    if space.placement_strategy not in PLACEMENT_STRATEGIES:
        raise SpaceError(
            f"{where}: 'placement_strategy' must be one of {', '.join(PLACEMENT_STRATEGIES)}, "
            f"got {space.placement_strategy!r}"
        )
    if not space.env.strip():
        raise SpaceError(f"{where}: 'env' must name an environment")
    if space.algorithm not in ALGORITHMS:
        raise SpaceError(f"{where}: 'algorithm' must be one of {', '.join(ALGORITHMS)}, got {space.algorithm!r}")
    if isinstance(space.seeds, bool) or not 1 <= space.seeds <= MAX_SEEDS:
        raise SpaceError(
            f"{where}: 'seeds' is how many replicates of each config, in [1, {MAX_SEEDS}]; got {space.seeds!r}"
        )
    if space.seed < 0 or space.seed + SEED_SPACING * space.seeds > 2**31 - 1:
        raise SpaceError(
            f"{where}: 'seed' must be >= 0 and leave room for {space.seeds} replicate(s); got {space.seed}"
        )
    if space.env_steps is not None and not 0 < space.env_steps <= MAX_ENV_STEPS:
        raise SpaceError(
            f"{where}: 'env_steps' is a training budget in env steps, in [1, {MAX_ENV_STEPS:,}]; "
            f"got {space.env_steps:,}"
        )
    if space.env_steps is not None and space.precision is not None:
        raise SpaceError(
            f"{where}: 'env_steps' trains each config to a budget, 'precision' stops it as soon as its speed is "
            "known; use one"
        )
    if space.target_return is not None and not space.learning:
        raise SpaceError(f"{where}: 'target_return' needs a learning check: seeds (2 or more) or an env_steps budget")
    if space.learning and ("seed" in space.ppo or "seed" in space.grid):
        raise SpaceError(
            f"{where}: a learning check seeds its replicates from the space's 'seed' (default 0); not from "
            "ppo.seed or grid.seed"
        )
    if space.learning and space.goal == "fastest":
        raise SpaceError(f"{where}: a race stops configs early; a learning check (seeds, env_steps) trains them all")
    if space.goal not in GOALS:
        raise SpaceError(f"{where}: unknown goal {space.goal!r}; goals: {', '.join(GOALS)}")
    margin = space.race_margin
    if isinstance(margin, bool) or not 0 <= margin <= MAX_MARGIN:
        raise SpaceError(
            f"{where}: 'race_margin' is a fraction of the incumbent's env steps/s in [0, {MAX_MARGIN:g}] "
            f"(0.03 is 3 %), got {margin!r}"
        )
    if space.goal == "fastest" and len(space.configs()) < 2:
        raise SpaceError(f"{where}: goal 'fastest' races configs against each other; the grid has only one")
    overlap = sorted(set(space.ppo) & set(space.grid))
    if overlap:
        raise SpaceError(f"{where}: {overlap[0]!r} is both fixed in 'ppo' and searched in 'grid'")
    for key, values in space.grid.items():
        if len(set(map(repr, values))) != len(values):
            raise SpaceError(f"{where}: grid.{key} lists a value twice: {values}")
    for key in (RUNNERS, ENVS_PER_RUNNER):
        low = 0 if key == RUNNERS else 1
        section, values = ("grid", space.grid[key]) if key in space.grid else ("ppo", [space.ppo.get(key, low)])
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise SpaceError(f"{where}: {section}.{key} values must be integers >= {low}, got {value!r}")
    for key, most in MAX_COUNTS.items():
        values = space.grid.get(key, [space.ppo.get(key, 0)])
        big = [v for v in values if isinstance(v, int) and v > most]
        if big:
            raise SpaceError(f"{where}: {key}={big[0]} is more than any machine or Ray cluster holds; at most {most:,}")
    for key in space.baseline:
        if key not in space.grid:
            raise SpaceError(f"{where}: baseline key {key!r} is not in the grid")
    return space


def parse_int_list(text: str, *, option: str, minimum: int, maximum: int | None = None) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``; a malformed list, or a value outside [minimum, maximum], raises ``SpaceError``."""
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise SpaceError(f"{option}: expected comma-separated integers like '1,2,4', got {text!r}")
    values = []
    for item in items:
        try:
            value = int(item)
        except ValueError:
            raise SpaceError(f"{option}: {item!r} is not an integer (in {text!r})") from None
        if value < minimum:
            raise SpaceError(f"{option}: values must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise SpaceError(f"{option}: {value} is more than any machine or Ray cluster holds; at most {maximum:,}")
        if value in values:
            raise SpaceError(f"{option}: {value} is listed twice")
        values.append(value)
    return values


def config_keys(grid_keys: list[str]) -> list[str]:
    """What tells configs apart in every table: the grid keys, then runners and envs per runner where the
    grid does not vary them (fixed under ``ppo:`` or left to RLlib, they are still columns)."""
    return [*grid_keys, *(k for k in RLLIB_DEFAULTS if k not in grid_keys)]


def sampling_processes(num_env_runners):
    """Processes that step environments: the runners, or the main process itself when there are none.

    Works on a number or a pandas Series alike.
    """
    return np.maximum(num_env_runners, 1)


def sampling_cpus(config: dict[str, Any], main_process_cpus: float) -> float:
    """CPUs reserved by the processes that sample: the env runners', or the main process's without runners."""
    runners = int(config.get(RUNNERS, RLLIB_DEFAULTS[RUNNERS]) or 0)
    if not runners:
        return float(main_process_cpus)
    return runners * float(config.get("num_cpus_per_env_runner", 1) or 1)


def total_envs(num_env_runners, num_envs_per_env_runner):
    """Environment copies sampled at once (the original study's "envs"); number or Series."""
    return sampling_processes(num_env_runners) * num_envs_per_env_runner


def stand_in_order(cpus: float, envs: int, config, baseline: dict[str, Any]) -> tuple:
    """Sort key of the stand-in for a baseline that was not measured: the fewest sampling CPUs, then the
    fewest envs, then the most settings shared with the baseline (``config`` a dict or a table row)."""
    return (cpus, envs, -sum(bool(config[k] == v) for k, v in baseline.items() if k in config))


#: How a grid axis reads in a config's label, after the runners x envs shorthand.
_LABELS = {
    "gym_env_vectorize_mode": lambda v: str(v).lower(),
    "num_learners": lambda v: f"{v} learner{'s' if v != 1 else ''}",
    "num_gpus_per_learner": lambda v: "GPU learner" if v else "CPU learner",
}


def label(config: dict[str, Any], grid_keys: list[str]) -> str:
    """``4r x 2e`` (the original study's shorthand), then every other grid axis: ``1r x 8e async``,
    ``2r x 1e 1 learner``, ``4r x 1e GPU learner``, ``1r x 1e lr=0.001``."""
    runners = config.get(RUNNERS, RLLIB_DEFAULTS[RUNNERS])
    envs = config.get(ENVS_PER_RUNNER, RLLIB_DEFAULTS[ENVS_PER_RUNNER])
    parts = [f"{runners}r x {envs}e"]
    for key in grid_keys:
        if key not in RLLIB_DEFAULTS:
            parts.append(_LABELS[key](config.get(key)) if key in _LABELS else f"{key}={config.get(key)}")
    return " ".join(parts)


def busy_processes(config: dict[str, Any]) -> int:
    """Processes a config keeps busy, reserved or not: the main process, each remote learner, each env
    runner, and with ASYNC vectorisation every env in a subprocess of its own (of a runner, or of the main
    process when it samples itself)."""
    runners = int(config.get(RUNNERS, RLLIB_DEFAULTS[RUNNERS]) or 0)
    envs = int(config.get(ENVS_PER_RUNNER, RLLIB_DEFAULTS[ENVS_PER_RUNNER]) or 1)
    subprocesses = envs if str(config.get("gym_env_vectorize_mode", "sync")).lower() == "async" else 0
    samplers = runners * (1 + subprocesses) if runners else subprocesses
    return 1 + int(config.get("num_learners", 0) or 0) + samplers


def concurrent_processes(config: dict[str, Any], *, overlapping: bool = False) -> int:
    """Processes a config keeps busy at the same moment: what must fit the cores for it to scale.

    Sampling keeps every env runner busy at once (the main process when there
    are none), and with ASYNC vectorisation every env subprocess of each;
    learning keeps the local learner busy, or each remote learner. PPO samples,
    then learns: the phases take turns, so the larger counts. ``overlapping``
    (APPO, IMPALA: ``asynchronous``): they run at once, so both count.
    """
    runners = int(config.get(RUNNERS, RLLIB_DEFAULTS[RUNNERS]) or 0)
    envs = int(config.get(ENVS_PER_RUNNER, RLLIB_DEFAULTS[ENVS_PER_RUNNER]) or 1)
    per_sampler = envs if str(config.get("gym_env_vectorize_mode", "sync")).lower() == "async" else 1
    sampling, learning = max(runners, 1) * per_sampler, max(int(config.get("num_learners", 0) or 0), 1)
    return sampling + learning if overlapping else max(sampling, learning)


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _number_or(value: Any) -> Any:
    """YAML 1.1 reads ``3e-4`` as a string; on a command line it is the number."""
    return float(value) if isinstance(value, str) and _NUMBER.fullmatch(value) else value


def parse_assignment(text: str, *, option: str, many: bool) -> tuple[str, Any]:
    """``"lr=0.001"`` -> ``("lr", 0.001)``; with ``many``, ``"num_learners=0,1,2"`` -> ``("num_learners", [0, 1, 2])``.

    Values are read as YAML scalars, as in a space file: ``3`` is an int,
    ``0.5`` a float, ``async`` a string, ``[64, 64]`` a list (``--set`` only).
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        example = "num_learners=0,1,2" if many else "lr=0.001"
        raise SpaceError(f"{option}: expected key=value like {example!r}, got {text!r}")
    items = [item.strip() for item in raw.split(",")] if many else [raw.strip()]
    if any(not item for item in items):
        raise SpaceError(f"{option}: an empty value in {text!r}")
    try:
        values = [_number_or(yaml.safe_load(item)) for item in items]
    except yaml.YAMLError:
        raise SpaceError(f"{option}: cannot read the value of {text!r}") from None
    if many and len(set(map(repr, values))) != len(values):
        raise SpaceError(f"{option}: {key} lists a value twice in {text!r}")
    return key, values if many else values[0]
