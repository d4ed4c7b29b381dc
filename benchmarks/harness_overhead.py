"""What does running through parallel_tune cost? Prints the steps/s ratio against a bare loop.

    .venv/bin/python benchmarks/harness_overhead.py [--repeats 3] [--runners 1]

The same PPO config runs as a plain ``algo.train()`` loop and through
``parallel_tune.sweep`` (Tune, RLlib's placement group, progress and telemetry
callbacks), interleaved in one process. Both sides give the main process the
CPUs the space reserves for it (``num_cpus_for_main_process``): inside Tune
Ray limits the trial's actor to them (torch takes one thread per reserved
CPU), and the bare loop sets torch's threads to match. Without that the bare
loop's learner would use every core and the ratio would measure threads, not
the harness; ``--bare-threads`` shows that difference on purpose.
"""

from __future__ import annotations

import argparse
import sys

import _bench


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _bench.add_arguments(p)
    p.add_argument(
        "--bare-threads", type=int, help="torch threads for the bare loop (default: num_cpus_for_main_process)"
    )
    args = p.parse_args(argv)
    space = _bench.bench_space(args)
    storage = _bench.scratch_dir()
    main_cpus = space.ppo.get("num_cpus_for_main_process", 1)
    print(
        f"harness overhead: {space.env}, {space.configs()[0]}, batch {space.ppo['train_batch_size']}, "
        f"{space.iterations} iterations (1 warm-up) x {args.repeats} repeats per side; "
        f"num_cpus_for_main_process {main_cpus}, bare-loop torch threads {args.bare_threads or main_cpus}; "
        f"scratch {storage}"
    )

    def bare():
        return _bench.run_bare(space, threads=args.bare_threads)

    def sweep():
        return _bench.run_tune(space, telemetry=True, storage=storage)

    runs = _bench.interleave({"parallel_tune": sweep, "bare_loop": bare}, args.repeats)
    _bench.print_ratio(runs, "parallel_tune", "bare_loop", "harness overhead")
    return 0


if __name__ == "__main__":
    sys.exit(main())
