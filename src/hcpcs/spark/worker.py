"""What runs in the executors' Python workers: one partition of claims (Arrow record batches from
`mapInArrow`) read by the local readers, checked by the local batch engine, and handed back as Arrow.

No pyspark import at module level: the functions here are plain Python over pyarrow and polars, so that
they can be tested and reasoned about without a JVM. The reference (the store session and its edit tables
as polars frames) is opened once per Python worker and kept in `_CHECKERS`, keyed by the store's identity
and the run's options: a worker that checks many partitions of one run reads the tables once."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from hcpcs.claims.csv_claims import read_header
from hcpcs.claims.csv_reader import RowsReader
from hcpcs.claims.frame import ClaimChunk
from hcpcs.claims.jsonl_reader import Records, read_records
from hcpcs.claims.parquet_reader import text_column
from hcpcs.core.errors import DataNotLoadedError
from hcpcs.edits.columnar import FINDING_SCHEMA
from hcpcs.edits.packs import PolicyPack
from hcpcs.services.checking import StreamChecker
from hcpcs.services.outputs import numbered_lines
from hcpcs.store.db import DB_NAME
from hcpcs.store.session import Hcpcs

# Columns the driver adds to the claim lines before handing them to the workers.
ROW_COLUMN = "_hcpcs_row"  # the record's place in the input, from 1 (`line N` in error locations)
CLAIM_COLUMN = "_hcpcs_claim"  # the claim's position among the input's claims, from 0
POSITION_BASE_COLUMN = "_hcpcs_position_base"  # JSON Lines: position of the partition's first record
TEXT_COLUMN = "value"  # JSON Lines: the text of a line, as `spark.read.text` names it

CHUNK_ROWS = 100_000  # rows gathered from a partition's batches before they are checked together

# One frame out of the workers: a `kind` column says which of the three outputs a row belongs to.
KINDS = ("findings", "notices", "errors", "records")
_ARROW_TYPES: dict[pl.DataType, pa.DataType] = {
    pl.String(): pa.string(), pl.Int64(): pa.int64(), pl.List(pl.String()): pa.list_(pa.string()),
    pl.List(pl.Int64()): pa.list_(pa.int64()),
}
OUTPUT_SCHEMA = pa.schema(
    [pa.field("kind", pa.string())]
    + [pa.field(name, _ARROW_TYPES[dtype]) for name, dtype in FINDING_SCHEMA.items()]
    + [pa.field("notices", pa.list_(pa.string())), pa.field("error_location", pa.string()),
       pa.field("error_message", pa.string()), pa.field("records", pa.int64())])
OUTPUT_POLARS_SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.String(), **FINDING_SCHEMA, "notices": pl.List(pl.String()), "error_location": pl.String(),
    "error_message": pl.String(), "records": pl.Int64()}


@dataclass(frozen=True)
class Reference:
    """Where a worker finds the store and what the run asks of it; pickled into every task (small).

    `path` is the store folder as every worker sees it (shared storage, or this machine in local mode);
    `shipped_name` the name under which `SparkContext.addFile` copied it to the workers (then `path` is
    only the driver's). `identity` names the store's content (its releases), so that a worker's cache is
    not reused for another store."""

    path: str
    identity: str
    as_of: date | None
    packs: tuple[PolicyPack, ...]
    shipped_name: str | None = None

    @property
    def cache_key(self) -> str:
        digest = hashlib.sha256(pickle.dumps((self.as_of, self.packs))).hexdigest()[:16]
        return f"{self.identity}:{digest}"


def store_identity(hc: Hcpcs) -> str:
    """The store's content: the content hashes of its releases."""
    shas = sorted(release.content_sha256 for release in hc.releases)
    return hashlib.sha256("\n".join(shas).encode()).hexdigest()[:24]


_CHECKERS: dict[str, StreamChecker] = {}  # per Python worker: the checker of each store and options


def checker(reference: Reference) -> StreamChecker:
    """The worker's checker for a run (opened on first use, then kept with its tables loaded)."""
    found = _CHECKERS.get(reference.cache_key)
    if found is None:
        folder = Path(reference.path)
        if reference.shipped_name is not None:
            from pyspark import SparkFiles

            folder = Path(SparkFiles.get(reference.shipped_name))
        if not (folder / DB_NAME).is_file():
            raise DataNotLoadedError(f"the executor finds no hcpcs store at {folder}: put the store on storage "
                                     "every node reads (same path), or ship it (ship_store=True)")
        hc = Hcpcs(folder)
        if store_identity(hc) != reference.identity:
            raise DataNotLoadedError(f"the store at {folder} holds other releases than the driver's store")
        found = StreamChecker(hc, as_of=reference.as_of, packs=list(reference.packs), no_packs=["all"],
                              engine="batch")
        _CHECKERS[reference.cache_key] = found
    return found


# ------------------------------------------------------------------------------------------- outputs


def _output_batches(reference: Reference, chunk: ClaimChunk, positions: pl.Series | None) -> Iterator[pa.RecordBatch]:
    """The findings, notices, errors and record count of a chunk, its claim positions replaced by
    `positions[claim]` (the input-wide positions) when given."""
    checked = checker(reference).check(chunk)

    def placed(frame: pl.DataFrame) -> pl.DataFrame:
        if positions is None or not frame.height:
            return frame
        return frame.with_columns(claim=positions.gather(frame["claim"]))

    errors = checked.claims.filter(pl.col("error_message").is_not_null()).select(
        "claim", "claim_id", "error_location", "error_message")
    parts = [
        placed(checked.findings.with_columns(lines=numbered_lines())).with_columns(kind=pl.lit("findings")),
        placed(checked.notices.select("claim", "claim_id", "notices")).with_columns(kind=pl.lit("notices")),
        placed(errors).with_columns(kind=pl.lit("errors")),
        pl.DataFrame({"kind": ["records"], "records": [chunk.size]}),
    ]
    frame = pl.concat([p for p in parts if p.height], how="diagonal_relaxed")
    table = frame.select(
        [pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
         for name, dtype in OUTPUT_POLARS_SCHEMA.items()]
    ).to_arrow(compat_level=pl.CompatLevel.oldest())
    yield from table.cast(OUTPUT_SCHEMA).to_batches()


def _gathered(batches: Iterable[pa.RecordBatch], rows: int = CHUNK_ROWS) -> Iterator[tuple[pl.DataFrame, bool]]:
    """The partition's batches joined into frames of about `rows` rows, each with whether it is the last."""
    pending: list[pa.RecordBatch] = []
    count = 0
    held: pl.DataFrame | None = None
    for batch in batches:
        if not batch.num_rows:
            continue
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            frame = pl.from_arrow(pa.Table.from_batches(pending))
            assert isinstance(frame, pl.DataFrame)
            if held is not None:
                yield held, False
            held, pending, count = frame, [], 0
    if pending:
        frame = pl.from_arrow(pa.Table.from_batches(pending))
        assert isinstance(frame, pl.DataFrame)
        if held is not None:
            yield held, False
        held = frame
    if held is not None:
        yield held, True


# ------------------------------------------------------------------------------- claim lines (a table)


def check_line_batches(batches: Iterable[pa.RecordBatch], reference: Reference, columns: Sequence[str]
                       ) -> Iterator[pa.RecordBatch]:
    """One partition of claim lines (the input's `columns`, then ROW_COLUMN and CLAIM_COLUMN), sorted by
    claim and row so that each claim's rows come together: read as the Parquet claim reader reads a file
    (values turned to text, then the CSV reader's column-wise checks, and row-wise for the doubtful)."""
    header = read_header(list(columns), 1, "claims")
    reader = RowsReader(header, ",", "claims")
    held: pl.DataFrame | None = None
    positions: list[pl.Series] = []  # input-wide positions of the claims the reader numbered 0, 1, ...
    last_claim: int | None = None
    for frame, final in _gathered(batches):
        claims_here = frame[CLAIM_COLUMN].unique(maintain_order=True)
        if last_claim is not None and claims_here.len() and claims_here[0] == last_claim:
            claims_here = claims_here.slice(1)
        if claims_here.len():
            positions.append(claims_here)
            last_claim = int(frame[CLAIM_COLUMN][-1])
        cells = frame.select(
            pl.col(ROW_COLUMN).cast(pl.Int64).alias("row_line"), pl.lit(len(columns), pl.Int64).alias("width"),
            *[text_column(frame, column).alias(f"c{index}") for index, column in enumerate(columns)])
        cells = cells.with_columns(claim_id=pl.col(f"c{header.columns['claim_id']}").str.strip_chars())
        if held is not None:
            cells = pl.concat([held, cells], how="vertical_relaxed")
        chunk, held = reader.take(cells, final=final)
        if chunk is not None and chunk.size:
            yield from _output_batches(reference, chunk, pl.concat(positions))


# ------------------------------------------------------------------------------- JSON Lines (text)


def check_jsonl_batches(batches: Iterable[pa.RecordBatch], reference: Reference) -> Iterator[pa.RecordBatch]:
    """One partition of JSON Lines text (TEXT_COLUMN, ROW_COLUMN: the line's number in the file, and
    POSITION_BASE_COLUMN), in file order: read by the local JSON Lines reader, blank lines skipped."""
    position: int | None = None
    for frame, _final in _gathered(batches):
        if position is None:
            position = int(frame[POSITION_BASE_COLUMN][0])
        kept = frame.filter(pl.col(TEXT_COLUMN).str.strip_chars().str.len_bytes() > 0)
        if not kept.height:
            continue
        texts = [text.encode("utf-8") for text in kept[TEXT_COLUMN].to_list()]
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        ends = np.cumsum(lengths + 1) - 1
        starts = ends - lengths
        records = Records(b"\n".join(texts) + b"\n", starts, ends, kept[ROW_COLUMN].to_numpy())
        chunk = read_records(records, position)
        position += chunk.size
        yield from _output_batches(reference, chunk, None)
