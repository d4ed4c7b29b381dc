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


@pytest.fixture(scope="session")
def smoke_experiment(tmp_path_factory) -> Path:
    """A real smoke sweep: Ray, RLlib PPO, HalfCheetah-v5, 2 configs x 3 iterations."""
    storage = tmp_path_factory.mktemp("ray_results")
    proc = run_cli(
        "parallel_tune.sweep", "--space", "smoke", "--ceiling", "1", "--storage-path", str(storage), "--name", "smoke"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return storage / "smoke"
