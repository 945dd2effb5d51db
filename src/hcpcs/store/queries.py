"""The store's read queries. Services (reference, fees, edits) call these; nothing else writes SQL
against the data tables. Every function takes the release chosen for the date and, where rows carry
their own dates, the date itself."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date

# A row is in force on a day when it took effect on or before it and was not deleted before it.
# NCCI and HCPCS deletion/termination dates name the last day the row applies.
_ROW_IN_FORCE = "(effective_date IS NULL OR effective_date <= :day) AND (deletion_date IS NULL OR deletion_date >= :day)"


def hcpcs_row(conn: sqlite3.Connection, release_id: int, code: str, kind: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM hcpcs_code WHERE release_id = ? AND code = ? AND record_kind = ?",
        (release_id, code, kind),
    ).fetchone()


def hcpcs_rows_all_releases(conn: sqlite3.Connection, code: str, kind: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT h.*, r.label, r.effective_start FROM hcpcs_code h JOIN release r ON r.id = h.release_id "
        "WHERE h.code = ? AND h.record_kind = ? ORDER BY r.effective_start",
        (code, kind),
    ).fetchall()


def processing_note(conn: sqlite3.Connection, release_id: int, number: str) -> str | None:
    row = conn.execute(
        "SELECT text FROM hcpcs_note WHERE release_id = ? AND note_number = ?", (release_id, number)
    ).fetchone()
    return row[0] if row else None


def rvu_rows(conn: sqlite3.Connection, release_id: int, code: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM mpfs_rvu WHERE release_id = ? AND hcpcs = ? ORDER BY modifier", (release_id, code)
    ).fetchall()


def rvu_rows_all_releases(conn: sqlite3.Connection, code: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT m.*, r.label, r.effective_start FROM mpfs_rvu m JOIN release r ON r.id = m.release_id "
        "WHERE m.hcpcs = ? ORDER BY r.effective_start, m.modifier",
        (code,),
    ).fetchall()


def code_known_anywhere(conn: sqlite3.Connection, code: str) -> bool:
    for sql in (
        "SELECT 1 FROM hcpcs_code WHERE code = ? LIMIT 1",
        "SELECT 1 FROM mpfs_rvu WHERE hcpcs = ? LIMIT 1",
        "SELECT 1 FROM opps_addendum_b WHERE hcpcs = ? LIMIT 1",
        "SELECT 1 FROM ncci_mue WHERE code = ? LIMIT 1",
        "SELECT 1 FROM ncci_aoc WHERE addon_code = ? LIMIT 1",
    ):
        if conn.execute(sql, (code,)).fetchone():
            return True
    return False


def gpci_rows(conn: sqlite3.Connection, release_id: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM mpfs_gpci WHERE release_id = ? ORDER BY mac, locality_number", (release_id,)
    ).fetchall()


def locality_county_rows(conn: sqlite3.Connection, release_id: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM mpfs_locality_county WHERE release_id = ? ORDER BY source_line", (release_id,)
    ).fetchall()


def opps_cap_rows(conn: sqlite3.Connection, release_id: int, code: str, modifier: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM mpfs_opps_cap WHERE release_id = ? AND hcpcs = ? AND modifier = ?",
        (release_id, code, modifier),
    ).fetchall()


def addendum_b_row(conn: sqlite3.Connection, release_id: int, code: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM opps_addendum_b WHERE release_id = ? AND hcpcs = ?", (release_id, code)
    ).fetchone()


def mue_row(conn: sqlite3.Connection, release_id: int, code: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM ncci_mue WHERE release_id = ? AND code = ?", (release_id, code)
    ).fetchone()


def aoc_rows_for_addon(conn: sqlite3.Connection, release_id: int, code: str, day: date) -> list[sqlite3.Row]:
    return conn.execute(
        f"SELECT * FROM ncci_aoc WHERE release_id = :rid AND addon_code = :code AND {_ROW_IN_FORCE} "
        "AND (primary_deletion_date IS NULL OR primary_deletion_date >= :day) ORDER BY primary_code",
        {"rid": release_id, "code": code, "day": day.isoformat()},
    ).fetchall()


def aoc_rows_for_primary(conn: sqlite3.Connection, release_id: int, code: str, day: date) -> list[sqlite3.Row]:
    return conn.execute(
        f"SELECT * FROM ncci_aoc WHERE release_id = :rid AND primary_code = :code AND {_ROW_IN_FORCE} "
        "AND (addon_deletion_date IS NULL OR addon_deletion_date >= :day) ORDER BY addon_code",
        {"rid": release_id, "code": code, "day": day.isoformat()},
    ).fetchall()


def ptp_rows_for_code(conn: sqlite3.Connection, release_id: int, code: str, day: date, column: int,
                      limit: int | None = None) -> list[sqlite3.Row]:
    col = "column1" if column == 1 else "column2"
    other = "column2" if column == 1 else "column1"
    sql = (f"SELECT * FROM ncci_ptp WHERE release_id = :rid AND {col} = :code AND {_ROW_IN_FORCE} "
           f"ORDER BY {other}")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return conn.execute(sql, {"rid": release_id, "code": code, "day": day.isoformat()}).fetchall()


def ptp_count_for_code(conn: sqlite3.Connection, release_id: int, code: str, day: date, column: int) -> int:
    col = "column1" if column == 1 else "column2"
    return conn.execute(
        f"SELECT count(*) FROM ncci_ptp WHERE release_id = :rid AND {col} = :code AND {_ROW_IN_FORCE}",
        {"rid": release_id, "code": code, "day": day.isoformat()},
    ).fetchone()[0]


def ptp_rows_among(conn: sqlite3.Connection, release_id: int, codes: Iterable[str], day: date) -> list[sqlite3.Row]:
    """Edits in force on `day` whose two codes are both in `codes` (the codes of one claim)."""
    codes = sorted(set(codes))
    if len(codes) < 2:
        return []
    marks = ",".join("?" * len(codes))
    iso = day.isoformat()
    return conn.execute(
        f"SELECT rowid AS row_id, * FROM ncci_ptp WHERE release_id = ? AND column1 IN ({marks}) "
        f"AND column2 IN ({marks}) AND (effective_date IS NULL OR effective_date <= ?) "
        "AND (deletion_date IS NULL OR deletion_date >= ?)",
        (release_id, *codes, *codes, iso, iso),
    ).fetchall()
