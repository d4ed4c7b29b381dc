"""Experiments side by side: matching, ratios and significance on paper, then committed real experiments."""

import shutil

import numpy as np
import pandas as pd
import pytest

from parallel_tune import compare
from parallel_tune.analysis.load import read_table
from parallel_tune.core.tables import write_table

from .conftest import ROOT

RESULTS = ROOT / "benchmarks" / "results"


def side(name, steps_by_config, *, speedups=None):
    """A measured experiment: per-iteration env steps/s for each (runners, envs) config."""
    measured, rows = [], []
    for (r, e), steps in steps_by_config.items():
        for s in steps:
            measured.append({"num_env_runners": r, "num_envs_per_env_runner": e, "env_steps_per_s": s})
        median = float(np.median(steps))
        rows.append(
            {
                "num_env_runners": r,
                "num_envs_per_env_runner": e,
                "label": f"{r}r x {e}e",
                "env_steps_per_s": median,
                "env_steps_per_s_ci_low": min(steps),
                "env_steps_per_s_ci_high": max(steps),
                "speedup": (speedups or {}).get((r, e), 1.0),
                "efficiency_per_env_pct": 100.0,
                "efficiency_per_cpu_pct": 100.0,
            }
        )
    meta = {"space": {"env": "HalfCheetah-v5", "ppo": {"train_batch_size": 16384}, "grid": {}}, "machine": {}}
    return compare.Side(name, meta, pd.DataFrame(rows), pd.DataFrame(measured))


def test_a_tight_ten_percent_slowdown_is_flagged_and_an_overlapping_one_is_not():
    tight_a = side("a", {(1, 1): [1000, 1002, 998, 1001, 999], (2, 1): [2000, 2001, 1999, 2000, 2002]})
    tight_b = side("b", {(1, 1): [900, 901, 899, 902, 898], (2, 1): [2000, 1999, 2001, 2000, 2002]})
    table = compare.match([tight_a, tight_b]).set_index(["experiment", "num_env_runners"])
    row = table.loc[("b", 1)]
    assert row["ratio"] == pytest.approx(0.9) and row["ratio_ci_high"] < 1
    assert row["significant"] and row["slower"]
    assert not table.loc[("b", 2), "significant"], "the same speed is not a difference"
    assert not table.loc[("a", 1), "significant"] and table.loc[("a", 1), "ratio"] == 1.0

    noisy_a = side("a", {(1, 1): [1000, 700, 1300, 850, 1150]})
    noisy_b = side("b", {(1, 1): [900, 650, 1200, 750, 1050]})
    row = compare.match([noisy_a, noisy_b]).set_index("experiment").loc["b"]
    assert row["ratio"] == pytest.approx(0.9) and row["ratio_ci_low"] < 1 < row["ratio_ci_high"]
    assert not row["significant"], "intervals that overlap: no mark"


def test_a_difference_under_the_threshold_is_not_marked():
    a = side("a", {(1, 1): [1000, 1001, 999, 1000]})
    b = side("b", {(1, 1): [970, 971, 969, 970]})
    assert not compare.match([a, b], threshold=0.05)["significant"].any()
    assert compare.match([a, b], threshold=0.01)["significant"].sum() == 1


def test_the_original_study_as_published():
    ref = compare.original().scaled.set_index(["num_env_runners", "num_envs_per_env_runner"])
    assert ref.loc[(2, 1), ["speedup", "efficiency_per_env_pct"]].tolist() == [1.72, 86.2]
    assert ref.loc[(4, 1), ["speedup", "efficiency_per_env_pct"]].tolist() == [2.68, 67.0]
    assert ref.loc[(8, 1), ["speedup", "efficiency_per_env_pct"]].tolist() == [4.12, 51.5]
    assert ref.loc[(8, 2), ["speedup", "efficiency_per_env_pct"]].tolist() == [5.76, 36.0]
    assert ref.loc[(1, 2), "efficiency_per_env_pct"] == 78.4
    assert ref.loc[(8, 2), "efficiency_per_cpu_pct"] == pytest.approx(72.0)
    assert compare.ORIGINAL["machine"]["logical_cores"] == 16 and "i7-12700" in compare.ORIGINAL["machine"]["cpu_model"]


def test_two_committed_experiments_side_by_side(tmp_path, capsys):
    code = compare.main(
        [str(RESULTS / "envs_only_2core"), str(RESULTS / "throughput_2core"), "--out", str(tmp_path / "c")]
    )
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert out.startswith("# Comparison: envs_only_2core vs throughput_2core")
    assert "Same PPO settings and environment in every experiment." in out
    for label in ("1r x 1e", "1r x 2e", "1r x 4e", "1r x 8e", "1r x 16e"):
        assert f"| {label} |" in out
    table, meta = read_table(tmp_path / "c" / "comparison.parquet")
    assert len(table) == 10 and set(table["experiment"]) == {"envs_only_2core", "throughput_2core"}
    assert meta["kind"] == "comparison" and len(meta["experiments"]) == 2
    assert (tmp_path / "c" / "comparison.png").stat().st_size > 20_000
    assert "![comparison](comparison.png)" in (tmp_path / "c" / "comparison.md").read_text()
    assert code == (1 if table["slower"].any() else 0)


def test_against_the_original_study(capsys):
    assert compare.main([str(RESULTS / "runners_only_oversubscribed_2core"), "--reference", "original"]) == 0
    out = capsys.readouterr().out
    assert "| 2r x 1e |" in out and "original study" in out and "speedup" in out
    assert "CPU: AMD EPYC / Intel Core i7-12700 (8 P + 4 E cores)" in out
    assert "| 4r x 1e |" not in out, "only the configs both measured"


def slowed_copy(tmp_path, factor):
    copy = tmp_path / f"slowed_{factor}"
    shutil.copytree(RESULTS / "throughput_2core", copy)
    df, meta = read_table(copy / "analysis" / "iterations.parquet")
    df["time_this_iter_s"] = df["time_this_iter_s"] * factor
    write_table(df, copy / "analysis" / "iterations.parquet", meta)
    return copy


def test_a_significant_slowdown_is_exit_status_1(tmp_path, capsys):
    base = str(RESULTS / "throughput_2core")
    assert compare.main([base, str(slowed_copy(tmp_path, 1.25))]) == 1
    out = capsys.readouterr().out
    assert "**Regression:** 5 config(s) significantly slower than in throughput_2core" in out and "▼ slower" in out
    assert compare.main([base, str(slowed_copy(tmp_path, 1.0))]) == 0


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    corrupt = tmp_path / "corrupt"
    shutil.copytree(RESULTS / "throughput_2core", corrupt)
    (corrupt / "analysis" / "iterations.parquet").write_bytes(b"not parquet")
    elsewhere = tmp_path / "five_runners"
    shutil.copytree(RESULTS / "throughput_2core", elsewhere)
    for name in ("iterations", "trials"):
        df, meta = read_table(elsewhere / "analysis" / f"{name}.parquet")
        df["num_env_runners"] = 5
        write_table(df, elsewhere / "analysis" / f"{name}.parquet", meta)
    base = str(RESULTS / "throughput_2core")
    cases = [
        ([base, str(tmp_path / "absent")], "does not exist"),
        ([base, str(tmp_path)], "holds no Tune experiment"),
        ([base, str(corrupt)], "is not a readable Parquet file"),
        ([base, str(elsewhere)], "no config in common"),
        ([base], "give two experiments, or one and --reference original"),
        ([base, base, "--threshold", "2"], "--threshold must be in [0, 1)"),
    ]
    for argv, message in cases:
        assert compare.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, (argv, err)
