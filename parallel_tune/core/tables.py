"""Table layouts both wings agree on: result keys a trial adds, config statuses, and Parquet with metadata.

The run wing writes the keys (``PLACEMENT_KEY``, ``TELEMETRY_KEY``,
``REPORTED_AT``) into every trial result; the analysis wing reads them back.
Every table the package writes is Parquet with the experiment record inside
its schema metadata (key ``parallel_tune``), so a table alone says what
produced it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from parallel_tune.core.errors import UsageError

#: Where a trial's bundles ran, as JSON (``parallel_tune.run.probe``).
PLACEMENT_KEY = "parallel_tune_placement"
#: Per-iteration hardware summaries under this key of a result (``parallel_tune.run.telemetry``).
TELEMETRY_KEY = "telemetry"
#: When a result reached the driver (``parallel_tune.run.progress``); Tune's own timestamp is whole seconds.
REPORTED_AT = "reported_at_s"

#: Configs without a trial: planned but unable to fit, or left when the sweep stopped.
SKIPPED, NOT_STARTED = "SKIPPED", "NOT_STARTED"
#: Configs a stopped sweep left to ``--resume``: Tune's unfinished statuses, and those never started.
UNFINISHED = ("PENDING", "RUNNING", "PAUSED", NOT_STARTED)
#: Configs with no trial of their own, which no metric is computed for.
UNRUN = (SKIPPED, NOT_STARTED)

META_KEY = b"parallel_tune"


class TableError(UsageError):
    """A table that cannot be read."""


def write_table(df: pd.DataFrame, path: Path, metadata: dict[str, Any]) -> Path:
    """``df`` as Parquet with ``metadata`` (JSON) in its schema: the table carries its provenance."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps(metadata, default=str).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def read_table(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A table ``write_table`` wrote, and its metadata; one ``TableError`` line for anything unreadable."""
    try:
        table = pq.read_table(path)
        raw = (table.schema.metadata or {}).get(META_KEY)
        return table.to_pandas(), json.loads(raw) if raw else {}
    except Exception as exc:
        raise TableError(f"{path} is not a readable Parquet file ({type(exc).__name__})") from None
