"""Append-only logs an experiment keeps beside Tune's files (the race's decisions, its resumes): JSON Lines.

Not ``.json``: on restore Tune copies the experiment's top-level ``*.json``
files into its staging directory and syncs them back over newer ones. One
event a line, appended, so a kill can cut short only the last line; the
reader skips it, and the next append starts a line of its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def append(path: Path, event: dict[str, Any]) -> None:
    """Add ``event`` on a line of its own, after a last line a kill may have cut short."""
    path = Path(path)
    cut = path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n")
    with open(path, "a") as out:
        out.write(("\n" if cut else "") + json.dumps(event, default=float) + "\n")


def read(path: Path) -> list[dict[str, Any]]:
    """Every event in order ([] where there is no log); a line cut short or not an object is skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events
