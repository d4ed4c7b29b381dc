"""What the benchmark scripts share: one PPO config, run the ways being compared.

Every way runs in the same process, interleaved (A B B A ...), so slow drift of
a noisy machine hits both sides alike. Throughput is compared two ways:

- ``measured``: env steps / ``time_this_iter_s``, what the analysis reports;
- ``wall``: env steps / time between two results reaching the driver, which
  also counts what a harness does between iterations (result processing,
  loggers, callbacks, checkpoints).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from ray.tune import Callback

from parallel_tune.core import spaces
from parallel_tune.core.spaces import SearchSpace
from parallel_tune.core.stats import bootstrap_ci


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="runners_only", help="space whose PPO settings to use (default %(default)s)")
    p.add_argument("--runners", type=int, default=1, help="num_env_runners (default %(default)s)")
    p.add_argument("--envs-per-runner", type=int, default=1, help="num_envs_per_env_runner (default %(default)s)")
    p.add_argument("--train-batch-size", type=int, default=4096, help="env steps per iteration (default %(default)s)")
    p.add_argument("--iterations", type=int, default=6, help="iterations per run, 1 of them warm-up")
    p.add_argument("--repeats", type=int, default=3, help="runs of each side, interleaved (default %(default)s)")


def bench_space(args: argparse.Namespace) -> SearchSpace:
    """One config of ``args.space`` with a smaller batch, so a run takes under a minute on 2 cores."""
    space = spaces.load(args.space, cpus=max(args.runners, 1)).with_overrides(
        runners=[args.runners], envs_per_runner=[args.envs_per_runner], iterations=args.iterations
    )
    return with_batch(space, args.train_batch_size, warmup_iterations=1)


def with_batch(space: SearchSpace, batch: int, **fields) -> SearchSpace:
    """``space`` at ``train_batch_size`` ``batch`` (its minibatch no larger), with ``fields`` replaced; validated."""
    ppo = {**space.ppo, "train_batch_size": batch}
    ppo["minibatch_size"] = min(int(ppo.get("minibatch_size", batch)), batch)
    return spaces.validate(replace(space, ppo=ppo, **fields))


class WallClock(Callback):
    """A Tune callback noting when each result reaches the driver."""

    def __init__(self):
        self.arrivals: list[tuple[int, float]] = []

    def on_trial_start(self, iteration, trials, trial, **info):
        self.arrivals.append((0, time.perf_counter()))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.arrivals.append((result["training_iteration"], time.perf_counter()))


def _rows(records: list[dict], arrivals: list[tuple[int, float]]) -> pd.DataFrame:
    df = pd.DataFrame(records)
    times = dict(arrivals)
    df["wall_s"] = [times.get(i, np.nan) - times.get(i - 1, np.nan) for i in df["iteration"]]
    return df


def run_tune(space: SearchSpace, *, telemetry: bool, storage: Path, interval_s: float = 1.0) -> pd.DataFrame:
    """The config through ``parallel_tune.sweep`` (Tune, RLlib's placement group, progress, telemetry)."""
    from parallel_tune.analysis.load import load_experiment
    from parallel_tune.sweep import SweepOptions, run_sweep

    clock = WallClock()
    options = SweepOptions(
        storage_path=storage,
        name=f"run_{time.monotonic_ns()}",
        telemetry=telemetry,
        telemetry_interval_s=interval_s,
    )
    with contextlib.redirect_stdout(io.StringIO()):  # Tune's banner; the ratio lines are what matter
        result = run_sweep(space, options, analyze=False, callbacks=[clock], stream=io.StringIO())
    it = load_experiment(result.experiment_dir).iterations
    records = it[["iteration", "time_this_iter_s", "env_steps_sampled"]].to_dict("records")
    return _rows(records, clock.arrivals)


def run_bare(space: SearchSpace, threads: int | None = None) -> pd.DataFrame:
    """The same config as a plain ``algo.train()`` loop in this process.

    The main process gets as many torch threads as the space reserves for it
    (``num_cpus_for_main_process``), as Ray gives a trial's actor: otherwise
    the bare loop's learner would use every core and the comparison would
    measure threads, not the harness.
    """
    import torch
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED

    from parallel_tune.run.trial import build_config

    point = space.configs()[0]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or max(int(space.ppo.get("num_cpus_for_main_process", 1)), 1))
    algo = build_config(space, point).build_algo()
    try:
        arrivals = [(0, time.perf_counter())]
        records = []
        for _ in range(space.iterations):
            r = algo.train()
            arrivals.append((r["training_iteration"], time.perf_counter()))
            records.append(
                {
                    "iteration": r["training_iteration"],
                    "time_this_iter_s": r["time_this_iter_s"],
                    "env_steps_sampled": r[ENV_RUNNER_RESULTS][NUM_ENV_STEPS_SAMPLED],
                }
            )
    finally:
        algo.stop()
        torch.set_num_threads(previous)
    return _rows(records, arrivals)


def steps_per_s(rows: pd.DataFrame, warmup: int = 1) -> dict[str, float]:
    """Median env steps/s over measured iterations, by RLlib's timer and by the driver's clock."""
    m = rows[rows["iteration"] > warmup]
    return {
        "measured": float(np.median(m["env_steps_sampled"] / m["time_this_iter_s"])),
        "wall": float(np.nanmedian(m["env_steps_sampled"] / m["wall_s"])),
    }


def interleave(sides: dict[str, callable], repeats: int) -> pd.DataFrame:
    """Run each side ``repeats`` times in A B B A order; one row per run with its steps/s."""
    names = list(sides)
    rows = []
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            rate = steps_per_s(sides[name]())
            rows.append({"repeat": r + 1, "side": name, **rate, "run_s": time.perf_counter() - started})
            print(
                f"  repeat {r + 1}/{repeats} {name:<14} {rate['measured']:8.1f} steps/s measured, "
                f"{rate['wall']:8.1f} by wall clock ({rows[-1]['run_s']:.0f} s)",
                flush=True,
            )
    return pd.DataFrame(rows)


def print_ratio(runs: pd.DataFrame, numerator: str, denominator: str, what: str) -> dict[str, float]:
    """Median of the per-repeat ratios, with a bootstrap interval over them.

    Each repeat's two runs are adjacent in time (A B B A ...), so a ratio
    within a repeat cancels the machine's slow drift; the median keeps one
    disturbed repeat from deciding the figure.
    """
    out = {}
    for col in ("measured", "wall"):
        top = runs[runs["side"] == numerator].set_index("repeat")[col]
        bottom = runs[runs["side"] == denominator].set_index("repeat")[col]
        ratios = (top / bottom).to_numpy()
        ratio = float(np.median(ratios))
        low, high = bootstrap_ci(ratios)
        out[col] = ratio
        print(
            f"{what} ({col}): {numerator}/{denominator} steps/s = {ratio:.4f} "
            f"({100 * (1 - ratio):+.2f} % overhead; per-repeat ratios {', '.join(f'{r:.3f}' for r in ratios)}; "
            f"95 % CI {low:.4f}-{high:.4f})"
        )
    return out


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="parallel_tune_bench_"))


def timed_sweep(space: SearchSpace, storage: Path, name: str):
    """One sweep as a user runs it, quietly, timed from its start to its end (analysis excluded), then analysed:
    (wall seconds, ``parallel_tune.analyze.Analysis``)."""
    from parallel_tune.analyze import analyze_experiment
    from parallel_tune.sweep import SweepOptions, run_sweep

    options = SweepOptions(storage_path=storage, name=name)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = run_sweep(space, options, analyze=False, stream=io.StringIO())
    wall = time.perf_counter() - started
    with contextlib.redirect_stdout(io.StringIO()):
        analysis = analyze_experiment(result.experiment_dir, stream=io.StringIO())
    return wall, analysis
