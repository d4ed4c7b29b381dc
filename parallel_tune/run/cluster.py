"""Start or join Ray, and say what it has: the one place that knows local from cluster.

A local sweep plans against the machine without starting Ray (``local_nodes``),
so a request that cannot fit is refused before anything starts; ``--address``
(or, as Ray itself reads it, ``RAY_ADDRESS``: what ``ray job submit`` sets)
joins a running cluster and plans against its alive nodes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from parallel_tune.core.errors import UsageError, first_line
from parallel_tune.run.placement import Bundle


class ClusterError(UsageError):
    """Ray cannot be reached, or the environment cannot be made."""


def address(given: str | None) -> str | None:
    """The Ray cluster to join: ``--address``, else ``RAY_ADDRESS`` (as ``ray.init()`` reads it), else none."""
    return given or os.environ.get("RAY_ADDRESS") or None


def make_env(env_id: str, env_config: dict | None = None):
    """The environment as an env runner makes it: a creator registered with ``tune.register_env`` (called with
    ``env_config``), or a gymnasium id (``package.module:EnvName-v0`` imports the module that registers it
    first, as ``gymnasium.make`` does; ``env_config`` becomes its keyword arguments)."""
    import gymnasium
    from ray.rllib.env.env_context import EnvContext
    from ray.tune.registry import ENV_CREATOR, _global_registry

    if _global_registry.contains(ENV_CREATOR, env_id):
        return _global_registry.get(ENV_CREATOR, env_id)(EnvContext(env_config or {}, worker_index=0))
    return gymnasium.make(env_id, **(env_config or {}))


def check_env(env_id: str, env_config: dict | None = None) -> None:
    """Refuse an environment that cannot be made, before any trial starts: made and closed once here."""
    try:
        # MuJoCo prints its model warnings to file descriptor 2; they are not the user's error.
        with _stderr_to(Path(tempfile.gettempdir()) / "parallel_tune_env_check.log"):
            make_env(env_id, env_config).close()
    except Exception as exc:
        raise ClusterError(f"unknown environment {env_id!r}: {type(exc).__name__}: {first_line(exc)}") from None


def local_nodes(num_cpus: int | None, num_gpus: int | None) -> list[Bundle]:
    """What ``ray.init`` would start with here, without starting it."""
    from parallel_tune.core.machine import gpu_models, usable_cpus

    cpus = num_cpus if num_cpus is not None else usable_cpus()
    gpus = num_gpus if num_gpus is not None else len(gpu_models())
    return [{"CPU": float(cpus), "GPU": float(gpus)}]


def cluster_nodes() -> list[Bundle]:
    """CPUs and GPUs of every alive node of the Ray cluster this process is connected to."""
    import ray

    return [
        {k: float(v) for k, v in n["Resources"].items() if k in ("CPU", "GPU")} for n in ray.nodes() if n.get("Alive")
    ]


def node_hardware(*, local: bool, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """Every alive node's id, IP, Ray resources and hardware (``machine.hardware``, read on that node).

    ``local``: Ray was started here, so its one node is this machine.
    """
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from parallel_tune.core import machine

    alive = [n for n in ray.nodes() if n.get("Alive")]
    if local:
        facts = [machine.hardware()] * len(alive)
    else:
        ray.cloudpickle.register_pickle_by_value(machine)  # a node need not have parallel_tune installed
        probe_task = ray.remote(num_cpus=0)(machine.hardware)
        futures = [
            probe_task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
            for n in alive
        ]
        try:
            facts = ray.get(futures, timeout=timeout_s)
        except Exception as exc:
            raise ClusterError(f"cannot read the cluster's nodes within {timeout_s:g} s: {first_line(exc)}") from None
    return [
        {
            "node_id": n["NodeID"],
            "node_ip": n.get("NodeManagerAddress", ""),
            "resources": {k: float(v) for k, v in n["Resources"].items() if k in ("CPU", "GPU", "memory")},
            **f,
        }
        for n, f in zip(alive, facts, strict=True)
    ]


def nodes(address: str | None, num_cpus: int | None, num_gpus: int | None) -> list[Bundle]:
    """The nodes a sweep will run on: the cluster at ``address`` (joined now), else this machine."""
    if address:
        init_ray(address, None, None)
        return cluster_nodes()
    import ray

    return cluster_nodes() if ray.is_initialized() else local_nodes(num_cpus, num_gpus)


def init_ray(address: str | None, num_cpus: int | None, num_gpus: int | None) -> None:
    """Join the cluster at ``address`` or start a local Ray; a no-op when Ray is already up."""
    import ray

    # Save Tune's experiment state every second (a small JSON write in the driver,
    # outside any timed iteration) so even a SIGKILL loses at most the running trial.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address:
        probe(address)
        try:
            with _stderr_to(log := Path(tempfile.gettempdir()) / "parallel_tune_ray_connect.log"):
                ray.init(address=address, **kwargs)
        except Exception as exc:
            if _refused_token(exc):
                raise ClusterError(
                    f"the Ray cluster at {address!r} refused this client's authentication token: set "
                    "RAY_AUTH_MODE=token and give the cluster's token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH "
                    f"or ~/.ray/auth_token; `ray get-auth-token` on the head node prints it; Ray's output: {log})"
                ) from None
            raise ClusterError(
                f"cannot connect to the Ray cluster at {address!r}: {first_line(exc)} (Ray's output: {log})"
            ) from None
    else:
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, **kwargs)


def probe(address: str, timeout_s: float = 5.0) -> None:
    """Refuse an address where nothing listens, in seconds: ``ray.init`` would retry it for minutes.

    ``auto`` (and a bare ``ray://`` client address without a port) is left to
    Ray, which fails fast when it finds no running cluster.
    """
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ClusterError(
            f"no Ray cluster answers at {address!r} ({exc.strerror or exc}); check the head node's address "
            "(ray status on the head prints it) and that its GCS port is reachable"
        ) from None


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Send this process's stderr (file descriptor 2, where C and C++ libraries write too) to ``path`` meanwhile.

    While a client retries a refused token, Ray's core prints a warning a second
    for 20 s, and MuJoCo warns while it builds a model; the error that follows,
    if any, says what went wrong, once.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "w") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _refused_token(exc: BaseException | None) -> bool:
    """Ray 2.60 wraps an ``AuthenticationError`` two levels down a ``ConnectionError``."""
    while exc is not None:
        if type(exc).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
