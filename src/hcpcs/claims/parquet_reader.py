"""Parquet claims, one row per claim line (the layout a data lake keeps them in, and the one `hcpcs check
--format parquet` and Spark write): the columns of the CSV layout (`claim_id`, `setting`,
`date_of_service`, `code`, `modifiers` as a list or text, `units`, `line_date_of_service`,
`place_of_service`, ...; names and aliases as for CSV), in any Parquet types. Read batch by batch with
pyarrow and checked as the CSV reader checks its rows (locations are `line N`, N counting rows from 1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from hcpcs.claims.csv_claims import read_header
from hcpcs.claims.csv_reader import RowsReader
from hcpcs.claims.frame import ClaimChunk
from hcpcs.core.errors import ClaimFormatError

BATCH_ROWS = 500_000


def chunks(path: str | Path, name: str, *, batch_rows: int = BATCH_ROWS) -> Iterator[ClaimChunk]:
    try:
        source = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ClaimFormatError(f"not a readable Parquet file ({exc})", location=name) from None
    names = source.schema_arrow.names
    if "lines" in names and "code" not in names:
        raise ClaimFormatError("Parquet claims are read one row per claim line (columns claim_id, code, "
                               "date_of_service, modifiers, units...); this file holds nested lines", location=name)
    header = read_header(list(names), 1, name)
    reader = RowsReader(header, ",", name)
    held = None
    row = 1
    batches = source.iter_batches(batch_size=batch_rows)
    batch = next(batches, None)
    while batch is not None:
        following = next(batches, None)
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        cells = frame.select([text_column(frame, column).alias(f"c{i}") for i, column in enumerate(names)]).with_columns(
            row_line=pl.int_range(row, row + frame.height, dtype=pl.Int64), width=pl.lit(len(names), pl.Int64))
        cells = cells.select("row_line", "width", *reader.names).with_columns(
            claim_id=pl.col(f"c{header.columns['claim_id']}").str.strip_chars())
        row += frame.height
        if held is not None:
            cells = pl.concat([held, cells], how="vertical_relaxed")
        chunk, held = reader.take(cells, final=following is None)
        if chunk is not None and chunk.size:
            yield chunk
        batch = following


def text_column(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A column as the text a CSV would hold (lists joined by spaces, dates as YYYY-MM-DD, "" for null)."""
    dtype = frame.schema[column]
    value = pl.col(column)
    if isinstance(dtype, pl.List):
        value = value.list.eval(pl.element().cast(pl.String)).list.join(" ")
    elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
        value = value.dt.strftime("%Y-%m-%d")
    elif dtype.is_float():
        value = pl.when(value == value.floor()).then(value.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(
            value.cast(pl.String))
    else:
        value = value.cast(pl.String)
    return value.fill_null("")
