"""The edit tables as polars frames, for the batch checker (`hcpcs.edits.batch`).

Each release's rows are read from an Arrow IPC sidecar cache written next to the store at update time,
``<store dir>/cache/<release content sha256>.<table>.arrow``, when that file is present and holds the
row count the release records; otherwise from SQLite (a few seconds for the 2.5 million-row
practitioner PTP table, against a few hundredths of a second from the cache). Only the columns the
rules use are kept, in the store's row order (the order the single-claim engine sees them in); the
PTP dates are polars dates (ISO text elsewhere, compared as text as the single engine does)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from hcpcs.core.errors import HcpcsError
from hcpcs.core.tables import DATASETS, TABLES
from hcpcs.store import queries
from hcpcs.store.db import Store
from hcpcs.store.releases import Release
from hcpcs.store.session import Hcpcs

_TEXT = pl.String()
_DATE = pl.Date()
_CATEGORY = pl.Categorical()
_FRAME_TYPES: dict[str, pl.DataType] = {"text": _TEXT, "integer": pl.Int64(), "real": pl.Float64(), "date": _DATE}


def frame_schema(table: str) -> dict[str, pl.DataType]:
    """The polars types of the columns of a table that the batch rules read (`TableSpec.frame_columns`)."""
    spec = TABLES[table]
    return {name: (_CATEGORY if spec.column(name).category else _FRAME_TYPES[spec.column(name).type])
            for name in spec.frame_columns}


def empty_frame(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=frame_schema(table))


def _raw_schema(table: str) -> dict[str, pl.DataType]:
    """The frame columns as they come from SQLite or a parser: dates and categories as text."""
    return {name: (_TEXT if dtype in (_CATEGORY, _DATE) else dtype) for name, dtype in frame_schema(table).items()}


def cached_tables(dataset: str) -> tuple[str, ...]:
    """The tables of a dataset that the batch rules read."""
    spec = DATASETS.get(dataset)
    return tuple(t for t in spec.tables if TABLES[t].frame_columns) if spec else ()


_FETCH_ROWS = 200_000
PAIR_SHIFT = 1 << 32  # a pair of code positions as one integer: min * PAIR_SHIFT + max
_BITMAP_LIMIT = 1 << 31  # code pairs of a PTP release kept as a bitmap (up to 256 MB; 21 MB in 2024)


# Bumped whenever the cached frames' layout or the parsers' output changes: the cache key is the release's
# content sha, which does not change when the software does.
CACHE_FORMAT = 3


def default_cache_dir(store: Store) -> Path:
    """Where the sidecar cache of a store lives: a `cache/v<format>-s<schema>` folder next to the SQLite
    file."""
    return store.path.parent / "cache" / f"v{CACHE_FORMAT}-s{store.schema_version}"


def cache_path(cache_dir: Path, release: Release, table: str) -> Path:
    return cache_dir / f"{release.content_sha256}.{table}.arrow"


def _typed(frame: pl.DataFrame, table: str, where: str) -> pl.DataFrame:
    """String-typed columns of a table's frame converted to their frame types (dates parsed)."""
    schema = frame_schema(table)
    dates = [name for name, dtype in schema.items() if dtype == _DATE]
    try:
        frame = frame.with_columns(pl.col(dates).str.to_date("%Y-%m-%d", strict=True))
    except pl.exceptions.PolarsError as exc:
        raise HcpcsError(f"{table} rows of {where} hold a date that is not YYYY-MM-DD ({exc}); reload the "
                         "release with `hcpcs update`") from exc
    return frame.cast(schema)  # type: ignore[arg-type]


def frame_from_rows(table: str, columns: Sequence[str], rows: Sequence[tuple], where: str) -> pl.DataFrame:
    """A table's frame built from parsed rows (store column order `columns`), in chunks so that a
    2.5-million-row table never exists twice as Python objects."""
    schema = _raw_schema(table)
    positions = [columns.index(name) for name in schema]
    chunks = [
        pl.DataFrame([tuple(row[i] for i in positions) for row in rows[start:start + _FETCH_ROWS]],
                     schema=schema, orient="row")
        for start in range(0, len(rows), _FETCH_ROWS)
    ]
    frame = pl.concat(chunks) if chunks else pl.DataFrame(schema=schema)
    return _typed(frame, table, where)


def write_frame_cache(directory: Path, content_sha256: str, table: str, frame: pl.DataFrame) -> list[Path]:
    """Write one table's cache files (and the PTP index) for the release with this content sha."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [_write_ipc(frame, directory / f"{content_sha256}.{table}.arrow")]
    if table == "ncci_ptp":
        index = build_ptp_index(frame)
        edits_path = directory / f"{content_sha256}.ncci_ptp_index.arrow"
        codes_path = directory / f"{content_sha256}.ncci_ptp_codes.arrow"
        written.append(_write_ipc(index_file_frame(index), edits_path))
        written.append(_write_ipc(index.codes.to_frame("code"), codes_path))
    return written


def read_from_store(conn: sqlite3.Connection, release: Release, table: str) -> pl.DataFrame:
    """One release's rows of a table, straight from SQLite, in row order."""
    schema = _raw_schema(table)
    cursor = queries.table_rows(conn, table, schema, release.id)
    chunks = []
    while rows := cursor.fetchmany(_FETCH_ROWS):
        chunks.append(pl.DataFrame(rows, schema=schema, orient="row"))
    frame = pl.concat(chunks) if chunks else pl.DataFrame(schema=schema)
    return _typed(frame, table, f"{release.label} in {release.dataset}")


def read_from_cache(path: Path, release: Release, table: str) -> pl.DataFrame | None:
    """The cached frame, or None when the file is absent, unreadable or not what the release holds."""
    if not path.is_file():
        return None
    try:
        frame = pl.read_ipc(path)
    except (OSError, pl.exceptions.PolarsError):
        return None
    if dict(frame.schema) != frame_schema(table) or frame.height != release.row_counts.get(table, frame.height):
        return None
    return frame


def write_table_cache(store: Store, release: Release, cache_dir: Path | None = None) -> list[Path]:
    """Write the sidecar cache files of one release (every edit table it fills); call after an update
    has committed the release. Files are replaced atomically; returns their paths."""
    directory = cache_dir or default_cache_dir(store)
    written = []
    for table in cached_tables(release.dataset):
        frame = read_from_store(store.conn, release, table)
        written.extend(write_frame_cache(directory, release.content_sha256, table, frame))
    return written


def prune_table_cache(store: Store, cache_dir: Path | None = None) -> list[Path]:
    """Delete cache files of releases no longer in the store; returns the deleted paths."""
    directory = cache_dir or default_cache_dir(store)
    removed: list[Path] = []
    if cache_dir is None and directory.parent.is_dir():
        # Caches of other formats or schema versions are never read again.
        for stale in directory.parent.iterdir():
            if stale.is_dir() and stale != directory:
                removed.extend(stale.glob("*"))
                shutil.rmtree(stale, ignore_errors=True)
    if not directory.is_dir():
        return removed
    live = {r[0] for r in store.conn.execute("SELECT content_sha256 FROM release")}
    for path in directory.glob("*.arrow"):
        if path.name.split(".", 1)[0] not in live:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@dataclass(frozen=True)
class PtpIndex:
    """The PTP edits of one release keyed for looking up pairs of claim lines. `codes` are the release's
    distinct codes (sorted); `edits` are its rows whose modifier indicator is not 9 (never applied), with
    `code1`, `code2` the positions of the column 1 and column 2 codes in `codes`, `pair` the unordered pair
    min(code1, code2) * 2**32 + max(code1, code2), and `edit_order` the row's position in the release, sorted by
    (pair, edit_order) (the `pair` column itself is dropped once `pairs` is made); `pairs` holds each
    distinct `pair` (sorted) with the `start` and `count` of its rows in `edits`."""

    codes: pl.Series
    edits: pl.DataFrame
    pairs: pl.DataFrame
    present: pl.Series | None  # bitmap: is there an edit between codes a and b, at a * len(codes) + b (and b, a)

    def has_pair(self, low: pl.Expr, high: pl.Expr) -> pl.Expr:
        """Whether codes at positions `low` < `high` have an edit (either way round)."""
        if self.present is None:
            return (low * PAIR_SHIFT + high).is_in(self.pairs["pair"].implode())
        return pl.lit(self.present).gather(low * self.codes.len() + high)


PTP_INDEX_SCHEMA: dict[str, pl.DataType] = {
    "code1": pl.Int32(), "code2": pl.Int32(), "effective_date": _DATE, "deletion_date": _DATE,
    "modifier_indicator": _CATEGORY, "rationale": _CATEGORY, "source_line": pl.Int32(), "edit_order": pl.Int32(),
    "pair": pl.Int64(),
}


def build_ptp_index(frame: pl.DataFrame) -> PtpIndex:
    """The index of a release's `ncci_ptp` frame (its frame columns, in row order)."""
    codes = pl.concat([frame["column1"], frame["column2"]]).unique().sort()
    enum = pl.Enum(codes)
    edits = frame.with_row_index("edit_order").filter(pl.col("modifier_indicator") != "9").select(
        code1=pl.col("column1").cast(enum).to_physical().cast(pl.Int32),
        code2=pl.col("column2").cast(enum).to_physical().cast(pl.Int32),
        effective_date="effective_date", deletion_date="deletion_date", modifier_indicator="modifier_indicator",
        rationale="rationale", source_line=pl.col("source_line").cast(pl.Int32),
        edit_order=pl.col("edit_order").cast(pl.Int32),
    ).filter(pl.col("code1") != pl.col("code2")).with_columns(
        pair=pl.min_horizontal("code1", "code2").cast(pl.Int64) * PAIR_SHIFT + pl.max_horizontal("code1", "code2"))
    return ptp_index_of(codes, edits.sort("pair", "edit_order"))


def ptp_index_of(codes: pl.Series, edits: pl.DataFrame) -> PtpIndex:
    """The index of edits sorted by (pair, edit_order) (`PTP_INDEX_SCHEMA`); `edits` keeps no `pair`."""
    runs = edits.select(pl.col("pair").rle()).unnest("pair")
    pairs = runs.select(pair=pl.col("value"), start=(pl.col("len").cum_sum() - pl.col("len")).cast(pl.Int32),
                        count=pl.col("len").cast(pl.Int32))
    size = codes.len()
    present = None
    if size * size <= _BITMAP_LIMIT:  # both ways round: bit a * size + b and bit b * size + a
        present = pl.repeat(False, size * size, eager=True)
        low, high = pl.col("pair") // PAIR_SHIFT, pl.col("pair") % PAIR_SHIFT
        present.scatter(pairs.select(pl.concat([low * size + high, high * size + low]))["pair"], True)
    return PtpIndex(codes.rename("code").rechunk(), edits.drop("pair").rechunk(), pairs.rechunk(), present)


def index_file_frame(index: PtpIndex) -> pl.DataFrame:
    """The edits of an index as cached (`PTP_INDEX_SCHEMA`: with the `pair` of each row)."""
    pair = pl.int_ranges(pl.col("start"), pl.col("start") + pl.col("count"))
    rows = index.pairs.select("pair", edit_row=pair).explode("edit_row")
    return index.edits.with_columns(pair=rows["pair"]).select(list(PTP_INDEX_SCHEMA))


def _index_paths(cache_dir: Path, release: Release) -> tuple[Path, Path]:
    return (cache_path(cache_dir, release, "ncci_ptp_index"), cache_path(cache_dir, release, "ncci_ptp_codes"))


def read_ptp_index(cache_dir: Path, release: Release) -> PtpIndex | None:
    """The cached PTP index of a release, or None when absent or not in the expected form."""
    edits_path, codes_path = _index_paths(cache_dir, release)
    if not (edits_path.is_file() and codes_path.is_file()):
        return None
    try:
        edits = pl.read_ipc(edits_path)
        codes = pl.read_ipc(codes_path)
    except (OSError, pl.exceptions.PolarsError):
        return None
    if dict(edits.schema) != PTP_INDEX_SCHEMA or codes.columns != ["code"] or not codes.height:
        return None
    if edits.height > release.row_counts.get("ncci_ptp", edits.height):
        return None
    return ptp_index_of(codes["code"], edits)


def _write_ipc(frame: pl.DataFrame, target: Path) -> Path:
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    frame.write_ipc(partial, compression="zstd")
    os.replace(partial, target)
    return target



class BatchTables:
    """The edit tables of the releases a batch needs, loaded once and kept in memory."""

    def __init__(self, hc: Hcpcs, *, cache_dir: Path | None = None) -> None:
        self.hc = hc
        self.cache_dir = cache_dir or default_cache_dir(hc.store)
        self._frames: dict[tuple[int, str], pl.DataFrame] = {}
        self._known: dict[str, bool] = {}
        self._present: dict[tuple[str, str], tuple[int, ...]] = {}
        self._ptp: dict[int, PtpIndex] = {}
        self.loaded_from: dict[tuple[int, str], str] = {}  # "cache" | "sqlite"

    def frame(self, release_id: int, table: str) -> pl.DataFrame:
        key = (release_id, table)
        if key not in self._frames:
            release = self.hc.release_by_id(release_id)
            frame = read_from_cache(cache_path(self.cache_dir, release, table), release, table)
            self.loaded_from[key] = "cache" if frame is not None else "sqlite"
            if frame is None:
                frame = read_from_store(self.hc.store.conn, release, table)
                self._write_cache(release, table, frame)
            self._frames[key] = frame.rechunk()
        return self._frames[key]

    def _write_cache(self, release: Release, table: str, frame: pl.DataFrame) -> None:
        """Keep what was just read from the database as the release's cache files, so that the next
        batch loads it in a fraction of a second. A read-only data folder simply gets no cache."""
        with contextlib.suppress(OSError, pl.exceptions.PolarsError):
            write_frame_cache(self.cache_dir, release.content_sha256, table, frame)

    def frames_loaded(self) -> dict[tuple[int, str], pl.DataFrame]:
        """The frames loaded so far, by (release id, table)."""
        return dict(self._frames)

    def ptp_index(self, release_id: int) -> PtpIndex:
        """The PTP index of a release: from the sidecar cache, else built from the release's rows."""
        if release_id not in self._ptp:
            release = self.hc.release_by_id(release_id)
            index = read_ptp_index(self.cache_dir, release)
            self.loaded_from[(release_id, "ncci_ptp_index")] = "cache" if index is not None else "built"
            if index is None:
                frame = self.frame(release_id, "ncci_ptp")  # also writes the index files when it can
                index = read_ptp_index(self.cache_dir, release) or build_ptp_index(frame)
            self._ptp[release_id] = index
        return self._ptp[release_id]

    def frames(self, release_ids: Iterable[int], table: str) -> pl.DataFrame:
        """The rows of several releases of one table, with a `release_id` column."""
        parts = [self.frame(rid, table).with_columns(release_id=pl.lit(rid, pl.Int64)) for rid in release_ids]
        if not parts:
            return empty_frame(table).with_columns(release_id=pl.lit(None, pl.Int64))
        return pl.concat(parts)

    def preload(self, datasets: Iterable[str] | None = None) -> None:
        """Load what the batch rules read of every release of the datasets named (all edit datasets when
        None)."""
        wanted = set(datasets) if datasets is not None else set(DATASETS)
        for release in self.hc.releases:
            if release.dataset in wanted:
                for table in cached_tables(release.dataset):
                    if table == "ncci_ptp":
                        self.ptp_index(release.id)  # what the batch rules read of the PTP table
                    else:
                        self.frame(release.id, table)

    def known_codes(self, codes: Iterable[str]) -> set[str]:
        """The codes, among those given, that appear in any loaded release (any table a code is defined
        or priced in), as `EditTables.in_any_release` sees it."""
        out = set()
        for code in codes:
            if code not in self._known:
                self._known[code] = queries.code_known_anywhere(self.hc.store.conn, code)
            if self._known[code]:
                out.add(code)
        return out

    def releases_with(self, table: str, codes: Iterable[str]) -> pl.DataFrame:
        """`code`, `release_id` for each release whose `table` carries the code (any record kind)."""
        rows = []
        for code in codes:
            key = (table, code)
            if key not in self._present:
                self._present[key] = tuple(queries.release_ids_with_code(self.hc.store.conn, table, code))
            rows.extend((code, rid) for rid in self._present[key])
        return pl.DataFrame(rows, schema={"code": pl.String, "release_id": pl.Int64}, orient="row")
