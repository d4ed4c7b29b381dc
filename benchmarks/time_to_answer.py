"""How much sooner does a precision target answer, and is the answer the same? Prints the wall-time ratio.

    .venv/bin/python benchmarks/time_to_answer.py [--space envs_only] [--precision 0.05] [--iterations 10]

The same space runs twice through ``parallel_tune.sweep`` in one process:
every config for the fixed ``--iterations``, then with ``--precision`` (the
iterations become the cap). It prints the wall time of each run (from the
sweep's start to its end, drift check included in both), their ratio, and
for every config whether the adaptive run's median time per iteration lies
inside the fixed run's 95 % interval: the same conclusions, sooner.
``--train-batch-size`` shrinks the batch (default: the space's) so the pair
runs sooner, at the price of noisier iterations.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

import _bench

from parallel_tune.core import spaces


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default="envs_only", help="the space to answer (default %(default)s)")
    p.add_argument("--precision", type=float, default=0.05, help="the adaptive run's target (default %(default)s)")
    p.add_argument("--iterations", type=int, default=10, help="fixed iterations, and the adaptive cap")
    p.add_argument("--train-batch-size", type=int, help="env steps per iteration (default: the space's)")
    args = p.parse_args(argv)
    base = spaces.load(args.space, cpus=2).with_overrides(iterations=args.iterations)
    batch = args.train_batch_size or int(base.ppo["train_batch_size"])
    fixed = _bench.with_batch(base, batch, precision=None)
    adaptive = spaces.validate(replace(fixed, precision=args.precision))
    storage = _bench.scratch_dir()
    print(
        f"time to answer: {fixed.name}, {len(fixed.configs())} configs, batch {batch}, "
        f"{args.iterations} fixed iterations vs precision +-{100 * args.precision:g} % (cap {args.iterations}); "
        f"scratch {storage}",
        flush=True,
    )
    fixed_s, fixed_run = _bench.timed_sweep(fixed, storage, "fixed")
    print(f"  fixed:    {fixed_s:7.1f} s wall", flush=True)
    adaptive_s, adaptive_run = _bench.timed_sweep(adaptive, storage, "adaptive")
    print(f"  adaptive: {adaptive_s:7.1f} s wall", flush=True)

    keys = adaptive_run.experiment.config_keys
    both = fixed_run.summary.merge(adaptive_run.summary, on=keys, suffixes=("_fixed", "_adaptive"))
    same = 0
    for _, r in both.iterrows():
        inside = (
            r["time_per_iter_s_ci_low_fixed"] <= r["time_per_iter_s_adaptive"] <= r["time_per_iter_s_ci_high_fixed"]
        )
        same += bool(inside)
        print(
            f"  {r['trial_name_adaptive']}: fixed {r['time_per_iter_s_fixed']:.3f} s "
            f"[{r['time_per_iter_s_ci_low_fixed']:.3f}, {r['time_per_iter_s_ci_high_fixed']:.3f}] over "
            f"{int(r['n_measured_fixed'])} iterations; adaptive {r['time_per_iter_s_adaptive']:.3f} s over "
            f"{int(r['n_measured_adaptive'])} (+-{100 * r['rel_half_width_adaptive']:.1f} %): "
            f"{'inside' if inside else 'OUTSIDE'} the fixed interval"
        )
    drift = adaptive_run.experiment.drift
    print(
        f"time to answer: adaptive/fixed wall time = {adaptive_s / fixed_s:.3f} ({fixed_s / adaptive_s:.2f}x sooner); "
        f"{same} of {len(both)} configs' adaptive medians inside the fixed run's 95 % interval; "
        f"drift check rows: {len(drift)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
