"""Does the telemetry callback slow training down? Prints the steps/s ratio.

    .venv/bin/python benchmarks/telemetry_overhead.py [--repeats 3] [--interval 1.0]

Runs one PPO config through ``parallel_tune.sweep`` with the telemetry
callback and without it, interleaved in one process, and prints
(steps/s with telemetry) / (steps/s without). The sampler thread lives in the
driver, not in the trial's processes, so the cost it can have is CPU time taken
from the machine; the script also prints that cost, measured directly, since
on a noisy machine it is far below what the ratio can resolve.
"""

from __future__ import annotations

import argparse
import sys

import _bench


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _bench.add_arguments(p)
    p.add_argument("--interval", type=float, default=1.0, help="telemetry sampling interval in s (sweep default)")
    args = p.parse_args(argv)
    space = _bench.bench_space(args)
    storage = _bench.scratch_dir()
    point = space.configs()[0]
    print(
        f"telemetry overhead: {space.env}, {point}, batch {space.ppo['train_batch_size']}, "
        f"{space.iterations} iterations (1 warm-up) x {args.repeats} repeats per side; scratch {storage}"
    )

    def with_telemetry():
        return _bench.run_tune(space, telemetry=True, storage=storage, interval_s=args.interval)

    def without():
        return _bench.run_tune(space, telemetry=False, storage=storage)

    runs = _bench.interleave({"telemetry": with_telemetry, "no_telemetry": without}, args.repeats)
    _bench.print_ratio(runs, "telemetry", "no_telemetry", "telemetry overhead")
    print(sampler_cost(args.interval))
    return 0


def sampler_cost(interval_s: float, samples: int = 50) -> str:
    """The sampler's own CPU time per sample, measured directly (Ray's processes still up): noise-free."""
    import time

    from parallel_tune.run.telemetry import Sampler

    sampler = Sampler(interval_s)
    sampler.record()  # the first scan reads every process; later ones only Ray's workers
    started = time.process_time()
    for _ in range(samples):
        sampler.record()
    per_sample = (time.process_time() - started) / samples
    return (
        f"sampler CPU: {1e3 * per_sample:.2f} ms per sample = {100 * per_sample / interval_s:.2f} % of one core "
        f"at one sample per {interval_s:g} s"
    )


if __name__ == "__main__":
    sys.exit(main())
