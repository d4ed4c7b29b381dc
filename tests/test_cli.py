"""The sweep and analyze CLIs on bad input: one line, exit status 2, no traceback."""

import pytest

from parallel_tune import analyze, spaces, sweep

from .conftest import run_cli


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--space", "nope"], "unknown search space 'nope'; known spaces:"),
        (["--space", "smoke", "--runners", "1,x"], "--runners: 'x' is not an integer"),
        (["--space", "smoke", "--runners", "-1"], "--runners: values must be >= 0"),
        (["--space", "smoke", "--envs-per-runner", "0"], "--envs-per-runner: values must be >= 1"),
        (["--space", "smoke", "--iterations", "0"], "--iterations must be >= 1"),
        (["--space", "smoke", "--env", "NoSuchEnv-v0"], "unknown environment 'NoSuchEnv-v0'"),
        (["--space", "/nonexistent/space.yaml"], "does not exist"),
        (["--space", "smoke", "--num-cpus", "-2"], "--num-cpus must be >= 0"),
        (["--space", "smoke", "--max-concurrent", "0"], "--max-concurrent must be >= 1"),
        (["--space", "smoke", "--max-failures", "-1"], "--max-failures must be >= 0"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    assert sweep.main([*argv, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unreadable_space_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    assert sweep.main(["--space", str(bad), "--dry-run"]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("name", spaces.known_spaces())
def test_dry_run_prints_every_shipped_space(capsys, name):
    # 16 runners need 17 CPUs (1 main + 16): on a 16-core host ask Ray for more logical CPUs.
    assert sweep.main(["--space", name, "--dry-run", "--num-cpus", "18", "--num-gpus", "1"]) == 0
    out = capsys.readouterr().out
    space = spaces.load(name, cpus=18)
    assert out.count("ppo[") == len(space.configs())
    assert "SKIP" not in out


def test_dry_run_on_two_cores_marks_what_cannot_fit(capsys):
    assert sweep.main(["--space", "runners_only", "--runners", "0,1,2", "--dry-run", "--num-cpus", "2"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "ppo[" in line]
    assert [("SKIP" in line) for line in lines] == [False, False, True]
    assert "needs 3 CPU, the cluster has 2 CPU" in lines[2]


def test_strict_refuses_before_starting_anything(tmp_path, capsys):
    code = sweep.main(
        [
            "--space",
            "runners_only",
            "--runners",
            "1,2",
            "--num-cpus",
            "2",
            "--strict",
            "--storage-path",
            str(tmp_path),
            "--name",
            "x",
        ]
    )
    assert code == 2
    assert "cannot fit this cluster (--strict)" in capsys.readouterr().err


def test_analyze_missing_directory(tmp_path, capsys):
    assert analyze.main([str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_analyze_directory_without_experiment(tmp_path, capsys):
    assert analyze.main([str(tmp_path)]) == 2
    assert "holds no Tune experiment" in capsys.readouterr().err


@pytest.mark.parametrize("storage", ["/proc/nope", "/dev/null/x"])
def test_a_storage_path_that_cannot_be_written_is_refused_before_ray_starts(capsys, storage):
    import ray

    assert sweep.main(["--space", "smoke", "--storage-path", storage, "--name", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --storage-path: cannot write") and err.count("\n") == 1, err
    assert not ray.is_initialized()


def test_a_dry_run_opens_with_the_plan_not_rllibs_notices():
    proc = run_cli("parallel_tune.sweep", "--space", "smoke", "--dry-run", timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("space smoke: 2 configs") and "new API stack" not in proc.stdout + proc.stderr
