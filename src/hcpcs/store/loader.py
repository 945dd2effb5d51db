"""Writing parsed releases into the store, in one transaction: an update that fails or is interrupted
leaves the previous data exactly as it was (SQLite rolls the transaction back; readers keep reading the
last committed state meanwhile). Loading content already loaded changes nothing. `begin_update` takes
the write lock for a whole update, so that a second update is told at once that the store is busy."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from hcpcs.core.errors import StoreBusyError
from hcpcs.core.tables import TABLES
from hcpcs.sources.bundle import ParsedRelease
from hcpcs.store.db import Store
from hcpcs.store.schema import BULK_INDEXES, BULK_ROWS

BATCH = 50_000


def loaded_sha(store: Store, dataset: str, label: str) -> str | None:
    row = store.conn.execute(
        "SELECT content_sha256 FROM release WHERE dataset = ? AND label = ?", (dataset, label)
    ).fetchone()
    return row[0] if row else None


def begin_update(store: Store) -> None:
    """Take the store's write lock for a whole update (SQLite's BEGIN IMMEDIATE): a second update finds
    the store busy at once instead of after its parsing; readers keep reading (WAL)."""
    conn = store.conn
    conn.execute("PRAGMA busy_timeout = 2000")  # a moment for a reader's checkpoint, not a whole update
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreBusyError(
                f"another hcpcs update is writing to {store.path}; wait until it finishes, then run this one "
                "again (nothing was loaded; the data loaded before is unchanged)") from None
        raise
    finally:
        conn.execute("PRAGMA busy_timeout = 5000")


def write_releases(store: Store, releases: Iterable[ParsedRelease],
                   on_rows: Callable[[str, int], None] | None = None) -> list[str]:
    """Insert every release (replacing an earlier load of the same dataset and label), all or nothing: in
    the transaction of `begin_update` when one is open (its caller commits), else in one of its own."""
    conn = store.conn
    written: list[str] = []
    dropped: set[str] = set()
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    try:
        for parsed in releases:
            plan = parsed.plan
            conn.execute("DELETE FROM release WHERE dataset = ? AND label = ?", (plan.dataset, plan.label))
            meta = dict(parsed.meta)
            meta.update(plan.meta)
            if plan.nominal_end:
                meta["nominal_end"] = plan.nominal_end.isoformat()
            if parsed.warnings:
                meta["warnings"] = parsed.warnings
            cursor = conn.execute(
                "INSERT INTO release (dataset, label, effective_start, effective_end, row_dates, source_files,"
                " content_sha256, row_counts, meta, loaded_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    plan.dataset, plan.label, plan.effective_start.isoformat(),
                    plan.effective_end.isoformat() if plan.effective_end else None, int(plan.row_dates),
                    json.dumps(parsed.files), plan.content_sha256(), json.dumps(parsed.row_counts),
                    json.dumps(meta, default=str), datetime.now(UTC).isoformat(timespec="seconds"),
                ),
            )
            release_id = cursor.lastrowid
            for table in parsed.tables:
                columns = TABLES[table.table].column_names
                if table.table in BULK_INDEXES and len(table.rows) >= BULK_ROWS and table.table not in dropped:
                    for name in BULK_INDEXES[table.table]:
                        conn.execute(f"DROP INDEX IF EXISTS {name}")
                    dropped.add(table.table)
                if tuple(table.columns) != columns:
                    raise AssertionError(f"parser for {table.table} returned columns {table.columns}")
                sql = (f"INSERT INTO {table.table} (release_id, {', '.join(columns)}) "
                       f"VALUES ({release_id}, {', '.join('?' * len(columns))})")
                rows = table.rows
                for start in range(0, len(rows), BATCH):
                    conn.executemany(sql, rows[start:start + BATCH])
                    if on_rows:
                        on_rows(plan.label, min(BATCH, len(rows) - start))
            written.append(plan.label)
            parsed = table = rows = None  # type: ignore[assignment]  # written: freed before the next parse
        for table_name in dropped:
            for statement in BULK_INDEXES[table_name].values():
                conn.execute(statement)
        if written:
            index_descriptors(store)
        if own:
            conn.execute("COMMIT")
    except BaseException:
        if own and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return written


def index_descriptors(store: Store) -> None:
    """Rebuild the full-text index over descriptors: each distinct text of each code once, from the HCPCS
    long and short descriptors and the short descriptors the user's own fee-schedule files carry (CPT
    descriptors among them)."""
    conn = store.conn
    conn.execute("DELETE FROM descriptor")
    conn.execute(
        "INSERT OR IGNORE INTO descriptor (code, text) SELECT code, "
        "trim(coalesce(long_description, '') || ' ' || coalesce(short_description, '')) FROM hcpcs_code")
    conn.execute(
        "INSERT OR IGNORE INTO descriptor (code, text) SELECT hcpcs, description FROM mpfs_rvu "
        "WHERE modifier = '' AND description IS NOT NULL AND description != ''")
    conn.execute("INSERT INTO descriptor_fts (descriptor_fts) VALUES ('rebuild')")
