"""How much sooner does a race find the fastest config than the full grid, and is it the same one?

    .venv/bin/python benchmarks/time_to_fastest.py [--precision 0.01] [--iterations 30] [--train-batch-size 4096]
        [--keep DIR]

The same grid runs twice through ``parallel_tune.sweep`` in one process,
as a user runs it: first every config to the precision target (the cap at
most: ``--goal curve``), then raced (``--goal fastest``) at the same
precision. The grid is ``envs_only`` widened to 10 configs: 1 runner x
{1, 2, 4, 8, 16} envs per runner x SYNC/ASYNC vectorisation. Each run's wall
time counts everything a user waits for: Ray's start, every trial's start-up,
the drift check (the full grid re-measures its baseline; the race re-measures
its winner beside it), not the analysis. It prints both wall times, their
ratio against the target of one third, the trial seconds each spent inside
iterations, and the winner of each run: the full grid's is the config with
the highest median env steps/s, the race's the one it names. ``--keep DIR``
keeps both experiments there (``fastest_full`` and ``fastest_race``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import _bench

from parallel_tune.core import race, spaces

TARGET = 1 / 3


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--precision", type=float, default=0.01, help="both runs' target (default %(default)s)")
    p.add_argument("--iterations", type=int, default=30, help="the cap on iterations per config (default %(default)s)")
    p.add_argument("--train-batch-size", type=int, default=4096, help="env steps per iteration (default %(default)s)")
    p.add_argument("--keep", type=Path, help="keep both experiments in this directory (default: a scratch one)")
    args = p.parse_args(argv)
    base = spaces.load("envs_only").with_overrides(
        iterations=args.iterations,
        precision=args.precision,
        envs_per_runner=[1, 2, 4, 8, 16],
        axes={"gym_env_vectorize_mode": ["sync", "async"]},
    )
    batch = args.train_batch_size
    full = _bench.with_batch(base, batch, goal="curve")
    raced = spaces.validate(replace(full, goal="fastest"))
    storage = args.keep or _bench.scratch_dir()
    print(
        f"time to fastest: envs_only x vectorize, {len(full.configs())} configs, batch {batch}, precision "
        f"+-{100 * args.precision:g} % (cap {args.iterations}); full grid, then race; in {storage}",
        flush=True,
    )
    full_s, full_run = _bench.timed_sweep(full, storage, "fastest_full")
    print(f"  full grid: {full_s:7.1f} s wall", flush=True)
    race_s, race_run = _bench.timed_sweep(raced, storage, "fastest_race")
    print(f"  race:      {race_s:7.1f} s wall", flush=True)

    iterations = full_run.experiment.iterations
    streams = {name: part for name, part in iterations.groupby("trial_name")}
    full_winner = race.winner(streams, full.warmup_iterations)
    found = race_run.found.race
    for _, r in found["configs"].iterrows():
        theirs = full_run.summary.set_index("trial_name").loc[r["trial_name"]]
        stopped = r["outcome"]
        if stopped == "raced out":
            stopped = f"raced out after iteration {int(r['raced_out_at_iteration'])}"
        print(
            f"  {r['trial_name']}: race {r['steps_per_s']:,.0f} env steps/s over {int(r['iterations'])} iterations "
            f"({stopped}); full grid {theirs['env_steps_per_s']:,.0f} over {int(theirs['n_measured'])} measured"
        )
    inside = {
        name: float(part["time_this_iter_s"].sum())
        for name, part in (("full", iterations), ("race", race_run.experiment.iterations))
    }
    ratio = race_s / full_s
    verdict = "met" if ratio <= TARGET else "NOT met"
    same = "the same" if found["winner"] == full_winner else "DIFFERENT"
    print(
        f"  inside iterations: full grid {inside['full']:,.0f} s, race {inside['race']:,.0f} s "
        f"({inside['race'] / inside['full']:.3f})"
    )
    print(f"  winners: full grid {full_winner}; race {found['winner']} ({same})")
    print(
        f"time to fastest: race/full wall time = {ratio:.3f} ({full_s / race_s:.2f}x sooner); target <= "
        f"{TARGET:.3f} {verdict}; winners {same}"
    )
    return 0 if found["winner"] == full_winner else 1


if __name__ == "__main__":
    sys.exit(main())
