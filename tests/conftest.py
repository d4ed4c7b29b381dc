"""Shared fixtures. The real sweep runs once per session (it takes ~40 s on 2 cores)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(module: str, *args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m <module> args`` as a user would."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def precision_space(precision=0.05, iterations=10, warmup=1, min_measured=3):
    """A one-config space (1 runner, HalfCheetah-v5) with these measuring settings: what the stopping rules read."""
    from parallel_tune.core import spaces

    data = {
        "env": "HalfCheetah-v5",
        "iterations": iterations,
        "warmup_iterations": warmup,
        "min_measured_iterations": min_measured,
        "ppo": {},
        "grid": {"num_env_runners": [1]},
    }
    if precision is not None:
        data["precision"] = precision
    return spaces.from_dict(data, name="s")


@pytest.fixture(scope="session")
def smoke_experiment(tmp_path_factory) -> Path:
    """A real smoke sweep: Ray, RLlib PPO, HalfCheetah-v5, 2 configs x 3 iterations."""
    storage = tmp_path_factory.mktemp("ray_results")
    proc = run_cli(
        "parallel_tune.sweep", "--space", "smoke", "--ceiling", "1", "--storage-path", str(storage), "--name", "smoke"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return storage / "smoke"
