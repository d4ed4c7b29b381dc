"""The raw environment ceiling: how fast the bare environment steps with N processes, no RLlib.

    python -m parallel_tune.ceiling --space runners_only
    python -m parallel_tune.ceiling --config my_training.py --processes 1,2     # your env, with its env_config
    python -m parallel_tune.ceiling --env HalfCheetah-v5 --processes 1,2,4 --duration 5 --out ceiling.parquet

N Ray actors (1 CPU each, in one placement group laid out like a trial's)
step the environment with random actions over the same window
(``parallel_tune.run.rawenv``); the table's env steps/s compare directly
with a sweep's at the same number of sampling processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import replace
from pathlib import Path

from parallel_tune.core import spaces
from parallel_tune.core.errors import UsageError
from parallel_tune.run import cluster, rawenv
from parallel_tune.run.placement import total
from parallel_tune.run.rawenv import CeilingError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m parallel_tune.ceiling", description=__doc__.splitlines()[0])
    p.add_argument("--space", default="runners_only", help="take env and widths from this space (default %(default)s)")
    p.add_argument(
        "--config", metavar="FILE.py[:NAME]", help="step the env of this RLlib config file, with its env_config"
    )
    p.add_argument("--env", help="environment id (default: the --config file's, else the space's)")
    p.add_argument("--processes", help="widths to measure, e.g. '1,2,4,8' (default: the space's sampling processes)")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds per width (default %(default)s)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (default %(default)s)")
    p.add_argument("--out", help="Parquet file to write (default ./ceiling_<env>_<date>.parquet)")
    p.add_argument("--address", help="connect to this Ray cluster instead of starting a local one")
    p.add_argument("--num-cpus", type=int, help="logical CPUs for a local Ray (default: all usable)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        if args.duration <= 0 or args.warmup < 0:
            raise CeilingError("--duration must be > 0 and --warmup >= 0")
        if args.num_cpus is not None and args.num_cpus < 1:
            raise CeilingError(f"--num-cpus must be >= 1, got {args.num_cpus}")
        # The cluster's CPUs decide machine-dependent grids, as in the sweep.
        cpus = int(total(cluster.nodes(args.address, args.num_cpus, 0)).get("CPU", 1))
        space = spaces.load(args.space, cpus=cpus)
        env_config = None
        if args.config:
            from parallel_tune.run import user

            mine = user.load(args.config)
            space, env_config = replace(space, env=mine.env), dict(mine.config.env_config or {})
        env_id = args.env or space.env
        cluster.check_env(env_id, env_config)
        if args.processes:
            most = spaces.MAX_COUNTS[spaces.RUNNERS]
            widths = spaces.parse_int_list(args.processes, option="--processes", minimum=1, maximum=most)
        else:
            widths = space.sampling_widths()
        out = Path(args.out or f"ceiling_{env_id}_{dt.datetime.now():%Y-%m-%d_%H-%M-%S}.parquet")
        if out.exists():
            raise CeilingError(f"{out} already exists; results are never overwritten")
        if not out.parent.is_dir():
            raise CeilingError(f"--out: directory {out.parent} does not exist")
        cluster.init_ray(args.address, args.num_cpus, None)
        print(f"ceiling: {env_id}, widths {widths}, {args.warmup:g} s warm-up + {args.duration:g} s each")
        strategy = space.placement_strategy
        rawenv.run(
            env_id,
            widths,
            out,
            duration_s=args.duration,
            warmup_s=args.warmup,
            strategy=strategy,
            env_config=env_config,
        )
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"ceiling: written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
