"""Your own training, measured: the RLlib ``AlgorithmConfig`` defined in a Python file (``--config FILE.py[:NAME]``).

The file is run as a module once, in the driver, before Ray starts any trial:
whatever it registers (``tune.register_env("my_env", creator)``) is what every
env runner on every node makes, with the config's ``env_config``. Its module
is sent to Ray's workers by value, so a creator or a model class defined in it
needs nothing installed on the nodes (modules it imports must be).

By default the file's ``config`` is taken; ``:NAME`` picks another variable,
or a function called with no arguments that returns a config. What the file
sets (every setting whose value differs from the algorithm's own default) is
kept; the search space's fixed settings fill in only what it leaves unset,
and ``--set``/``--grid`` apply on top.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parallel_tune.core.errors import UsageError, first_line
from parallel_tune.core.spaces import ALGORITHMS

DEFAULT_NAME = "config"


class ConfigFileError(UsageError):
    """A --config file that cannot give an RLlib AlgorithmConfig; the message names the file and the problem."""


@dataclass
class UserConfig:
    """An ``AlgorithmConfig`` from a user's file, and what the file itself set."""

    path: Path
    name: str
    sha256: str
    config: Any  # ray.rllib.algorithms.AlgorithmConfig
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def algorithm(self) -> str:
        return self.config.algo_class.__name__

    @property
    def env(self) -> str:
        """The env as the space and the record name it: a registered or gymnasium id, or a class's import path."""
        env = self.config.env
        return env if isinstance(env, str) else f"{getattr(env, '__module__', '?')}:{getattr(env, '__qualname__', env)}"

    @property
    def spec(self) -> str:
        return f"{self.path}:{self.name}"

    def record(self) -> dict[str, Any]:
        """What the experiment record keeps of the file: where it is, what it was, what it set."""
        from parallel_tune.core.record import jsonable

        return {"file": str(self.path), "name": self.name, "sha256": self.sha256, "settings": jsonable(self.settings)}


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load(spec: str) -> UserConfig:
    """``FILE.py[:NAME]`` -> the config it defines; every failure is one ``ConfigFileError`` line naming the file."""
    file, sep, name = spec.rpartition(":")
    if not sep or not file.endswith(".py"):
        file, name = spec, ""
    name = name or DEFAULT_NAME
    path = Path(file).expanduser().resolve()
    if not path.is_file():
        raise ConfigFileError(f"--config: {path} does not exist")
    if path.suffix != ".py":
        raise ConfigFileError(f"--config: {path} is not a Python file (FILE.py or FILE.py:NAME)")
    module = _run(path)
    if not hasattr(module, name):
        defined = sorted(k for k, v in vars(module).items() if _is_config(v) and not k.startswith("_"))
        hint = f"; it defines {', '.join(defined)} (pick one with {path.name}:NAME)" if defined else ""
        raise ConfigFileError(f"--config: {path} defines no {name!r}{hint}")
    value = getattr(module, name)
    if callable(value) and not _is_config(value):
        try:
            value = value()
        except Exception as exc:
            raise ConfigFileError(f"--config: {path}:{name}() raised {type(exc).__name__}: {first_line(exc)}") from None
    if not _is_config(value):
        raise ConfigFileError(
            f"--config: {path}:{name} is a {type(value).__name__}, not an RLlib AlgorithmConfig (e.g. PPOConfig())"
        )
    algorithm = value.algo_class.__name__ if value.algo_class else "?"
    if algorithm not in ALGORITHMS:
        raise ConfigFileError(
            f"--config: {path}:{name} configures {algorithm}; parallel_tune sweeps {', '.join(ALGORITHMS)}"
        )
    return UserConfig(path, name, digest(path), value, settings=_set_by(value))


def _run(path: Path):
    """Run the file as a module of its own (sent to Ray's workers by value); its failure is one line."""
    from ray import cloudpickle

    module_name = f"parallel_tune_user_{digest(path)[:12]}"
    if module_name in sys.modules:  # the same file, already run in this process
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # By value from the start: what the file registers as it runs (tune.register_env pickles the creator at once)
    # must unpickle on workers that have no such module.
    cloudpickle.register_pickle_by_value(module)
    sys.path.insert(0, str(path.parent))  # its own helper modules, beside it
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        cloudpickle.unregister_pickle_by_value(module)
        del sys.modules[module_name]
        raise ConfigFileError(f"--config: {path} is not valid Python (line {exc.lineno}: {exc.msg})") from None
    except BaseException as exc:  # the user's code: anything it raises (or exits with) is the file's problem
        cloudpickle.unregister_pickle_by_value(module)
        del sys.modules[module_name]
        raise ConfigFileError(f"--config: running {path} raised {type(exc).__name__}: {first_line(exc)}") from None
    finally:
        sys.path.remove(str(path.parent))
    return module


def _is_config(value: Any) -> bool:
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

    return isinstance(value, AlgorithmConfig)


def _set_by(config) -> dict[str, Any]:
    """The settings whose values differ from the algorithm's own defaults: what the file chose."""
    defaults = type(config)().to_dict()
    out = {}
    for key, value in config.to_dict().items():
        try:
            same = key in defaults and bool(defaults[key] == value)
        except Exception:  # arrays and objects that do not compare to one truth value
            same = False
        if not same:
            out[key] = value
    return out
