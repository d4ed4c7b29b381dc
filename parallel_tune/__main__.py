"""``parallel-tune COMMAND ...`` (or ``python -m parallel_tune COMMAND ...``): one console command for the four.

    parallel-tune sweep --space runners_only --dry-run
    parallel-tune analyze ~/ray_results/runners_only_2026-11-24_10-00-00
    parallel-tune compare A B --reference original
    parallel-tune ceiling --processes 1,2,4

Each command is also ``python -m parallel_tune.<command>``; this only picks one and hands it the rest.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "sweep": "run a search space as a Ray Tune experiment, then analyse it",
    "analyze": "tables, report and dashboard of an experiment",
    "compare": "experiments side by side, or against the original study",
    "ceiling": "the bare environment's step rate with N processes",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: parallel-tune {" + ",".join(COMMANDS) + "} ...\n")
        print("\n".join(f"  {name:<8} {what}" for name, what in COMMANDS.items()))
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        print(f"error: unknown command {argv[0]!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    return importlib.import_module(f"parallel_tune.{argv[0]}").main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
