"""One console command for the four, and a real install: ``pip install .`` ships the spaces and ``parallel-tune``."""

import os
import subprocess
import sys

import pytest

from parallel_tune.__main__ import main

from .conftest import ROOT


def test_the_command_hands_the_rest_to_the_named_one(capsys):
    assert main(["sweep", "--space", "smoke", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("space smoke: 2 configs")


@pytest.mark.parametrize("argv, code, said", [([], 2, "usage: parallel-tune"), (["--help"], 0, "sweep    run")])
def test_without_a_command_it_lists_them(capsys, argv, code, said):
    assert main(argv) == code
    assert said in capsys.readouterr().out


def test_an_unknown_command_is_one_line_and_exit_2(capsys):
    assert main(["swep"]) == 2
    err = capsys.readouterr().err
    assert err == "error: unknown command 'swep'; commands: sweep, analyze, compare, ceiling\n"


def test_pip_install_ships_the_spaces_and_the_console_command(tmp_path):
    # Installed into a fresh target outside the checkout (the dependencies are this environment's), then run
    # from another directory: no checkout to fall back on.
    target, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    assert "Warning" not in install.stdout + install.stderr, "no deprecation warnings of our own making"
    assert (target / "parallel_tune" / "search_spaces" / "runners_only.yaml").is_file()
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import parallel_tune.core.spaces as s; print(s.SPACES_DIR)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.strip() == str(target / "parallel_tune" / "search_spaces"), where.stderr[-2000:]
    dry = subprocess.run(
        [str(target / "bin" / "parallel-tune"), "sweep", "--space", "runners_only", "--dry-run"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert dry.stdout.startswith("space runners_only: 8 configs") and dry.stdout.count("ppo[") == 8
