"""Does the telemetry callback slow training down? Prints the steps/s ratio.

    .venv/bin/python benchmarks/telemetry_overhead.py [--repeats 3] [--interval 1.0]

Runs one PPO config through ``parallel_tune.sweep`` with the telemetry
callback and without it, interleaved in one process, and prints
(steps/s with telemetry) / (steps/s without). The sampler thread lives in the
driver, not in the trial's processes, so the cost it can have is CPU time taken
from the machine (a psutil pass over all processes each interval).
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
