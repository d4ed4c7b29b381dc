"""Same sweep, same answer? Runs one small sweep several times back to back and compares what each run concludes.

    .venv/bin/python benchmarks/repeatability.py [--runs 3] [--iterations 6] [--train-batch-size 4096]

The sweep (through ``parallel_tune.sweep``, as a user runs it) is
``runners_only`` at 1 and 3 runners x 1 and 8 envs per runner, with Ray told
of 4 CPUs: on a 2-core machine the 3-runner configs run more processes at
once than there are cores (oversubscribed), and 8 envs per runner is the
wide vectorised config. For every config it prints each run's verdict
(``limited_by``), rating band and whether the runs agree, then whether they
named the same fastest config. Runs agree on a config where every verdict
named alone is the same one and every ``mixed`` verdict names it among its
contenders (``cannot tell`` agrees with anything: it claims nothing), where
the rating bands the runs give share a band ("Good or Acceptable" shares
both), and on the winner where one config is the fastest or as fast within
its interval in every run. The last line is the verdict.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time

import _bench

from parallel_tune.analysis import findings
from parallel_tune.analysis.load import load
from parallel_tune.core import spaces

HEDGES = ("mixed", "cannot tell")


def one_run(space, storage, name: str):
    from parallel_tune.sweep import SweepOptions, run_sweep

    options = SweepOptions(storage_path=storage, name=name, num_cpus=4, drift_check=False)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # progress lines
        result = run_sweep(space, options, analyze=False, stream=io.StringIO())
    found = findings.of(load(result.experiment_dir))
    return found, time.perf_counter() - started


def verdicts_agree(verdicts: list[tuple[str, str]]) -> bool:
    """Each run's (limited_by, contenders): the same part named alone, and among every mixed run's contenders."""
    alone = {v for v, _ in verdicts if v not in HEDGES}
    if len(alone) > 1:
        return False
    named = next(iter(alone), None)
    return named is None or all(named in c.split(", ") for v, c in verdicts if v == "mixed")


def bands(rating: str) -> set[str]:
    """'Good or Acceptable' -> {'Good', 'Acceptable'}; 'Excellent to Acceptable' -> the three bands it spans."""
    from parallel_tune.analysis.metrics import RATING_BANDS

    names = [n for n, _ in RATING_BANDS]
    for sep in (" to ", " or "):
        if sep in rating:
            first, last = rating.split(sep)
            return set(names[names.index(first) : names.index(last) + 1])
    return {rating}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="times to run the same sweep (default %(default)s)")
    p.add_argument("--iterations", type=int, default=6, help="iterations per config, 1 warm-up (default %(default)s)")
    p.add_argument("--train-batch-size", type=int, default=4096, help="env steps per iteration (default %(default)s)")
    args = p.parse_args(argv)
    if args.runs < 2 or args.iterations < 5 or args.train_batch_size < 128:
        print("error: --runs must be >= 2, --iterations >= 5 and --train-batch-size >= 128", file=sys.stderr)
        return 2
    base = spaces.load("runners_only", cpus=4).with_overrides(
        runners=[1, 3], envs_per_runner=[1, 8], iterations=args.iterations
    )
    batch = args.train_batch_size
    space = _bench.with_batch(base, batch)
    storage = _bench.scratch_dir()
    print(
        f"repeatability: {space.name} at runners 1, 3 x envs 1, 8 (Ray told of 4 CPUs), batch {batch}, "
        f"{args.iterations} iterations, {args.runs} runs back to back; scratch {storage}",
        flush=True,
    )
    runs = []
    for i in range(1, args.runs + 1):
        found, wall = one_run(space, storage, f"run{i}")
        runs.append(found)
        fastest = found.recommendation["fastest"]["label"]
        print(f"  run {i}/{args.runs}: {wall:.0f} s; fastest {fastest}", flush=True)
    tables = [f.scaled.set_index("label") for f in runs]
    labels = list(tables[0].index)
    agreed = 0
    print(f"\n{'config':<9} {'verdicts':<78} {'ratings':<58} agree")
    for label in labels:
        verdicts = [(t.loc[label, "limited_by"], t.loc[label, "contenders"]) for t in tables]
        ratings = [t.loc[label, "rating"] for t in tables]
        same = verdicts_agree(verdicts) and bool(set.intersection(*(bands(r) for r in ratings)))
        agreed += same
        shown = " | ".join(v if v != "mixed" else f"mixed ({c})" for v, c in verdicts)
        print(f"{label:<9} {shown:<78} {' | '.join(ratings):<58} {'yes' if same else 'NO'}")
    candidates = [{f.recommendation["fastest"]["label"], *f.recommendation.get("as_fast", [])} for f in runs]
    winners = set.intersection(*candidates)
    named = [f.recommendation["fastest"]["label"] for f in runs]
    print(f"\nfastest per run: {', '.join(named)}; as fast within the intervals in every run: {sorted(winners)}")
    ok = agreed == len(labels) and bool(winners)
    print(
        f"repeatability: {agreed} of {len(labels)} configs agree across {args.runs} runs (verdict and rating band, "
        f"hedges included); winner {'agrees' if winners else 'DIFFERS'} -> {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
