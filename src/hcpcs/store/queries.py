"""The store's read queries: every SQL statement that reads the data tables is here (the loader in
`hcpcs.store.loader` writes them). Services (reference, fees, search, diff, edits) call these.
Functions take the release chosen for the date and, where rows carry their own dates, the date itself."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date

from hcpcs.core.tables import TABLES

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


_RVU_TABLES = ("mpfs_rvu", "mpfs_rvu_qp")


def rvu_rows(conn: sqlite3.Connection, release_id: int, code: str, table: str = "mpfs_rvu") -> list[sqlite3.Row]:
    """The fee-schedule rows of a code; `table` mpfs_rvu_qp for the QPP file of a 2026 release."""
    if table not in _RVU_TABLES:
        raise ValueError(f"not a fee-schedule RVU table: {table!r}")
    return conn.execute(
        f"SELECT * FROM {table} WHERE release_id = ? AND hcpcs = ? ORDER BY modifier", (release_id, code)
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


# ------------------------------------------------------------------------------------- edit tables
# What the single-claim engine reads (`hcpcs.edits.tables.EditTables` caches the answers).


def ptp_column2_codes(conn: sqlite3.Connection, release_id: int, column1: str) -> list[str]:
    """The column 2 codes of a release's edits with `column1` in column 1 (any indicator or dates)."""
    return [row[0] for row in conn.execute(
        "SELECT column2 FROM ncci_ptp WHERE release_id = ? AND column1 = ?", (release_id, column1))]


def ptp_pair_edits(conn: sqlite3.Connection, release_id: int, column1: str, column2: str) -> list[tuple]:
    """(column1, column2, modifier_indicator, effective_date, deletion_date, rationale, source_line) of a
    release's edits for one pair, in file order."""
    return conn.execute(
        "SELECT column1, column2, modifier_indicator, effective_date, deletion_date, rationale, source_line "
        # `+column2`: search by the column 1 index (a code has at most a few thousand edits in column 1); the
        # column 2 index would scan every edit of a common column 2 code such as 99211.
        "FROM ncci_ptp WHERE release_id = ? AND column1 = ? AND +column2 = ? ORDER BY rowid",
        (release_id, column1, column2)).fetchall()


def mue_value(conn: sqlite3.Connection, release_id: int, code: str) -> tuple | None:
    """(code, units, mai, rationale, source_line) of a code's MUE in a release."""
    return conn.execute(
        "SELECT code, units, mai, rationale, source_line FROM ncci_mue WHERE release_id = ? AND code = ?",
        (release_id, code)).fetchone()


def aoc_edits_of_addon(conn: sqlite3.Connection, release_id: int, code: str) -> list[tuple]:
    """(addon_code, primary_code, edit_type, effective_date, deletion_date, primary_deletion_date, notes,
    source_line) of every edit of an add-on code in a release (any dates)."""
    return conn.execute(
        "SELECT addon_code, primary_code, edit_type, effective_date, deletion_date, primary_deletion_date, notes, "
        "source_line FROM ncci_aoc WHERE release_id = ? AND addon_code = ?", (release_id, code)).fetchall()


def rvu_indicator_rows(conn: sqlite3.Connection, release_id: int, code: str) -> list[sqlite3.Row]:
    """The fee-schedule rows of a code (modifier, status, pctc, global_days, source_line)."""
    return conn.execute(
        "SELECT modifier, status, pctc, global_days, source_line FROM mpfs_rvu WHERE release_id = ? AND hcpcs = ?",
        (release_id, code)).fetchall()


def hcpcs_dates(conn: sqlite3.Connection, release_id: int, code: str, kind: str) -> sqlite3.Row | None:
    """The dates and action of a code's HCPCS record in a release."""
    return conn.execute(
        "SELECT code, added_date, termination_date, action_code, action_effective_date, source_line "
        "FROM hcpcs_code WHERE release_id = ? AND code = ? AND record_kind = ?", (release_id, code, kind)).fetchone()


def addendum_b_status(conn: sqlite3.Connection, release_id: int, code: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT hcpcs, status_indicator, apc, payment_rate, source_line FROM opps_addendum_b "
        "WHERE release_id = ? AND hcpcs = ?", (release_id, code)).fetchone()


def release_ids_with_code(conn: sqlite3.Connection, table: str, code: str) -> list[int]:
    """The releases whose `table` carries the code (in its code column)."""
    column = TABLES[table].code_column
    return [row[0] for row in conn.execute(f"SELECT DISTINCT release_id FROM {table} WHERE {column} = ?", (code,))]


def table_rows(conn: sqlite3.Connection, table: str, columns: Iterable[str], release_id: int) -> sqlite3.Cursor:
    """A cursor over some columns of one release's rows of a table, in row order, as plain tuples."""
    names = list(columns)
    unknown = [n for n in names if n not in TABLES[table].column_names]
    if unknown:
        raise KeyError(f"{table} has no column(s) {', '.join(unknown)}")
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: the store's connection hands out sqlite3.Row
    return cursor.execute(f"SELECT {', '.join(names)} FROM {table} WHERE release_id = ? ORDER BY rowid",
                          (release_id,))


# ---------------------------------------------------------------------------------------- fees


def rvu_price_rows(conn: sqlite3.Connection, release_id: int, table: str = "mpfs_rvu") -> list[tuple]:
    """(hcpcs, modifier, status, work, nonfacility PE, facility PE, MP, the three OPPS-cap RVUs, CF,
    nonfacility NA, facility NA) of every row of a fee-schedule release."""
    if table not in _RVU_TABLES:
        raise ValueError(f"not a fee-schedule RVU table: {table!r}")
    return conn.execute(
        "SELECT hcpcs, modifier, status, work_rvu, nonfac_pe_rvu, fac_pe_rvu, mp_rvu, nonfac_pe_opps, "
        f"fac_pe_opps, mp_opps, conv_factor, nonfac_na, fac_na FROM {table} WHERE release_id = ?",
        (release_id,)).fetchall()


def opps_cap_prices(conn: sqlite3.Connection, release_id: int) -> list[tuple]:
    """(hcpcs, modifier, mac, locality_number, nonfacility price, facility price) of an OPPSCAP file."""
    return conn.execute("SELECT hcpcs, modifier, mac, locality_number, nonfac_price, fac_price FROM mpfs_opps_cap "
                        "WHERE release_id = ?", (release_id,)).fetchall()


# ------------------------------------------------------------------------------ search and diff


def codes_between(conn: sqlite3.Connection, low: str, high: str) -> list[str]:
    """Codes of the HCPCS file or the fee schedule from `low` through `high`."""
    sql = ("SELECT DISTINCT code FROM hcpcs_code WHERE code BETWEEN ? AND ? UNION "
           "SELECT DISTINCT hcpcs FROM mpfs_rvu WHERE hcpcs BETWEEN ? AND ? ORDER BY 1")
    return [r[0] for r in conn.execute(sql, (low, high, low, high))]


def codes_starting(conn: sqlite3.Connection, prefix: str) -> list[str]:
    """Codes (five characters) of the HCPCS file or the fee schedule that start with `prefix`."""
    # A range on the indexed code column: prefix <= code < prefix followed by the highest character.
    sql = ("SELECT DISTINCT code FROM hcpcs_code WHERE code >= ? AND code < ? AND length(code) = 5 UNION "
           "SELECT DISTINCT hcpcs FROM mpfs_rvu WHERE hcpcs >= ? AND hcpcs < ? ORDER BY 1")
    return [r[0] for r in conn.execute(sql, (prefix, prefix + "\uffff", prefix, prefix + "\uffff"))]


def search_descriptors(conn: sqlite3.Connection, match: str, *, texts: int, codes: int) -> list[sqlite3.Row]:
    """`code`, `score` (bm25: lower is better) of the codes whose descriptors match an FTS5 query: the best
    `texts` matching texts, at most `codes` codes. sqlite3.OperationalError for a query FTS5 rejects."""
    return conn.execute(
        "SELECT d.code, min(f.score) AS score FROM (SELECT rowid, bm25(descriptor_fts) AS score FROM descriptor_fts "
        "WHERE descriptor_fts MATCH ? ORDER BY score LIMIT ?) f JOIN descriptor d ON d.id = f.rowid "
        "GROUP BY d.code ORDER BY score LIMIT ?", (match, texts, codes)).fetchall()


def ptp_partners_in_force(conn: sqlite3.Connection, release_id: int, code: str) -> list[tuple[str, str | None]]:
    """(other code, rationale) of the undeleted edits of a release pairing `code` with another, either way."""
    active = "release_id = ? AND deletion_date IS NULL"
    return conn.execute(
        f"SELECT column2, rationale FROM ncci_ptp WHERE {active} AND column1 = ? UNION "
        f"SELECT column1, rationale FROM ncci_ptp WHERE {active} AND column2 = ?",
        (release_id, code, release_id, code)).fetchall()


def hcpcs_codes_of_betos(conn: sqlite3.Connection, betos: str, prefix: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT code FROM hcpcs_code WHERE betos = ? AND substr(code, 1, ?) = ?",
        (betos, len(prefix), prefix))]


def codes_sharing_prefix(conn: sqlite3.Connection, prefix: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT code FROM hcpcs_code WHERE substr(code, 1, ?) = ? UNION "
        "SELECT DISTINCT hcpcs FROM mpfs_rvu WHERE substr(hcpcs, 1, ?) = ?",
        (len(prefix), prefix, len(prefix), prefix))]


# Each dataset that `hcpcs diff` compares: its table, row key, and which rows take part.
_DIFF_ROWS = {"hcpcs": ("hcpcs_code", "code", "record_kind = 'procedure'"),
              "mpfs": ("mpfs_rvu", "hcpcs", "modifier = ''")}


def diff_rows(conn: sqlite3.Connection, dataset: str, release_id: int, low: str | None = None,
              high: str | None = None) -> dict[str, sqlite3.Row]:
    """The rows of a release that `hcpcs diff` compares (procedures; global fee-schedule rows), by code,
    optionally from `low` through `high`."""
    table, key, which = _DIFF_ROWS[dataset]
    sql = f"SELECT * FROM {table} WHERE release_id = ? AND {which}"
    params: tuple = (release_id,)
    if low is not None and high is not None:
        sql += f" AND {key} BETWEEN ? AND ?"
        params = (release_id, low, high)
    return {row[key]: row for row in conn.execute(sql, params)}


def code_facts(conn: sqlite3.Connection, codes: list[str], hcpcs_release_id: int | None,
               mpfs_release_id: int | None) -> dict[str, dict[str, str | None]]:
    """For ranking search results: each code's HCPCS record in a release (`in_hcpcs`, `termination_date`,
    `betos`) and the status of its global row in a fee-schedule release (`status`, `in_mpfs`)."""
    facts: dict[str, dict[str, str | None]] = {code: {} for code in codes}
    for start in range(0, len(codes), 500):
        chunk = codes[start:start + 500]
        marks = ",".join("?" * len(chunk))
        if hcpcs_release_id is not None:
            for code, terminated, betos in conn.execute(
                    f"SELECT code, termination_date, betos FROM hcpcs_code WHERE release_id = ? AND "
                    f"record_kind = 'procedure' AND code IN ({marks})", (hcpcs_release_id, *chunk)):
                facts[code].update(in_hcpcs="1", termination_date=terminated or None, betos=betos or None)
        if mpfs_release_id is not None:
            for code, status in conn.execute(
                    f"SELECT hcpcs, status FROM mpfs_rvu WHERE release_id = ? AND modifier = '' AND hcpcs IN "
                    f"({marks})", (mpfs_release_id, *chunk)):
                facts[code].update(in_mpfs="1", status=status)
    return facts


def count_descriptor_matches(conn: sqlite3.Connection, match: str, cap: int) -> int:
    """How many descriptor texts an FTS5 expression matches, counted up to `cap`."""
    return conn.execute("SELECT count(*) FROM (SELECT rowid FROM descriptor_fts WHERE descriptor_fts MATCH ? "
                        "LIMIT ?)", (match, cap)).fetchone()[0]


# Descriptor words of codes for services no other code describes (CMS's unlisted and NOC codes).
_UNLISTED = 'unlisted OR "not otherwise specified" OR "not otherwise classified" OR noc OR "not elsewhere classified"'


def unlisted_codes(conn: sqlite3.Connection) -> set[str]:
    """The codes that some loaded descriptor calls unlisted or not otherwise classified (NOC)."""
    return {r[0] for r in conn.execute(
        "SELECT DISTINCT d.code FROM descriptor_fts f JOIN descriptor d ON d.id = f.rowid "
        "WHERE descriptor_fts MATCH ?", (_UNLISTED,))}
