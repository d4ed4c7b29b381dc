"""Parquet with the record inside: a table alone says what produced it; a broken one is one error line."""

import pandas as pd
import pytest

from parallel_tune.core.tables import TableError, read_table, write_table


def test_a_table_carries_its_metadata(tmp_path):
    df = pd.DataFrame({"time_this_iter_s": [1.5, 2.0], "label": ["1r x 1e", "2r x 1e"]})
    path = write_table(df, tmp_path / "t.parquet", {"space": {"name": "smoke"}, "when": pd.Timestamp(0)})
    back, meta = read_table(path)
    pd.testing.assert_frame_equal(back, df)
    assert meta["space"] == {"name": "smoke"} and meta["when"].startswith("1970-01-01")


@pytest.mark.parametrize("content", [b"", b"not parquet at all"])
def test_an_unreadable_table_is_one_error(tmp_path, content):
    path = tmp_path / "bad.parquet"
    path.write_bytes(content)
    with pytest.raises(TableError, match="is not a readable Parquet file"):
        read_table(path)
