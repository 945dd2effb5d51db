"""Parsing a planned release: each table from its preferred encoding, the other encodings of the same
table parsed too and checked to agree, multi-part files concatenated."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.discover import FoundFile, ReleasePlan

# Which encoding of a table is read first (the others are checked against it).
_PREFERENCE = {".csv": 0, ".txt": 1, ".xlsx": 2}

# CMS's fixed-width TXT copies of these files cut free text short (locality names at 40 characters,
# county lists at 58); the TXT is checked against the CSV on everything else.
_TXT_TRUNCATED = {"anes": {"locality_name"}, "locco": {"counties", "state", "fee_schedule_area"}}


def _parser(kind: str, source: SourceFile) -> Callable[[SourceFile], ParsedTable]:
    from hcpcs.sources import (
        anes,
        edit_table,
        gpci,
        hcpcs_file,
        locality_county,
        mpfs_rvu,
        ncci_aoc,
        ncci_mue,
        ncci_ptp,
        opps_addendum,
        oppscap,
        proc_notes,
    )

    if kind == "hcpcs_anweb":
        return hcpcs_file.parse_anweb_xlsx if source.suffix == ".xlsx" else hcpcs_file.parse_anweb_txt
    if kind == "addendum_b" and source.suffix == ".csv":
        return opps_addendum.parse_addendum_b_csv
    table: dict[str, Callable[[SourceFile], ParsedTable]] = {
        "hcpcs_notes": proc_notes.parse_proc_notes,
        "pprrvu": mpfs_rvu.parse_pprrvu,
        "pprrvu_qpp": mpfs_rvu.parse_pprrvu,
        "gpci": gpci.parse_gpci,
        "locco": locality_county.parse_locco,
        "anes": anes.parse_anes,
        "oppscap": oppscap.parse_oppscap,
        "aoc": ncci_aoc.parse_aoc_xlsx,
        "ptp": ncci_ptp.parse_ptp_txt,
        "mue": ncci_mue.parse_mue_csv,
        "edit_table": edit_table.parse_edit_table,
        "addendum_b": opps_addendum.parse_addendum_b_xlsx,
    }
    return table[kind]


def fingerprint(table: ParsedTable, ignore: set[str] | frozenset[str] = frozenset()) -> str:
    """A digest of a table's data, blind to what differs between encodings of the same data: source line
    numbers, row order, surrounding and repeated whitespace, number formatting (6 decimals)."""
    import polars as pl

    keep = [c for c in table.columns if c != "source_line" and c not in ignore]
    frame = pl.DataFrame(table.rows, schema=list(table.columns), orient="row", infer_schema_length=None)
    normal = []
    for name in keep:
        column = pl.col(name)
        dtype = frame.schema[name]
        if dtype == pl.String:
            column = column.str.replace_all(r"\s+", " ").str.strip_chars()
            column = pl.when(column == "").then(None).otherwise(column)
        elif dtype.is_float():
            column = column.round(6)
        normal.append(column.cast(pl.String).fill_null("\x00").alias(name))
    rows = frame.select(pl.concat_str(normal, separator="\x1f").alias("row")).get_column("row").sort()
    return hashlib.sha256("\x1e".join(rows.to_list()).encode()).hexdigest()


def _first_difference(a: ParsedTable, b: ParsedTable) -> str:
    if len(a.rows) != len(b.rows):
        return f"{len(a.rows)} rows in {a.source.name}, {len(b.rows)} in {b.source.name}"
    skip = {i for i, c in enumerate(a.columns) if c == "source_line"}
    for ra, rb in zip(sorted(a.rows, key=lambda r: str(r[:2])), sorted(b.rows, key=lambda r: str(r[:2])),
                      strict=True):
        for i, (va, vb) in enumerate(zip(ra, rb, strict=True)):
            if i in skip:
                continue
            na = f"{va:.6f}" if isinstance(va, float) else " ".join(str(va or "").split())
            nb = f"{vb:.6f}" if isinstance(vb, float) else " ".join(str(vb or "").split())
            if na != nb:
                return f"{a.columns[i]} of {ra[0]} {ra[1]}: {va!r} in {a.source.name}, {vb!r} in {b.source.name}"
    return "row order or content differs"


@dataclass
class ParsedRelease:
    plan: ReleasePlan
    tables: list[ParsedTable]
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def row_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.tables:
            counts[t.table] = counts.get(t.table, 0) + len(t.rows)
        return counts


def parse_release(plan: ReleasePlan, *, verify: bool = True,
                  on_file: Callable[[str], None] | None = None) -> ParsedRelease:
    result = ParsedRelease(plan, [], warnings=list(plan.warnings))
    seen_digest: dict[str, FoundFile] = {}
    for kind, found in sorted(plan.files.items()):
        distinct: list[FoundFile] = []
        for f in found:
            digest, size = f.source.digest()
            result.files.append({"name": f.source.name, "origin": f.source.origin, "sha256": digest,
                                 "bytes": size, "kind": kind})
            if digest not in seen_digest:
                seen_digest[digest] = f
                distinct.append(f)
        if kind == "ptp":
            # Numbered parts of one table: each part is a table of its own (rows keep their file).
            for f in sorted(distinct, key=lambda f: f.source.name.lower()):
                if on_file:
                    on_file(f.source.name)
                result.tables.append(_parser(kind, f.source)(f.source))
            continue
        ordered = sorted(distinct, key=lambda f: (_PREFERENCE.get(f.source.suffix, 9), f.source.origin))
        primary_file = ordered[0]
        if on_file:
            on_file(primary_file.source.name)
        primary = _parser(kind, primary_file.source)(primary_file.source)
        if kind == "pprrvu_qpp" and "pprrvu" in plan.files:
            # Both 2026 PPRRVU files: the non-QPP rows answer lookups and claim edits (mpfs_rvu), the QPP
            # rows keep their own table for the fees of qualifying APM participants.
            primary.table = "mpfs_rvu_qp"
        result.tables.append(primary)
        for key, value in primary.meta.items():
            result.meta.setdefault(key, value)
        if verify and len(ordered) > 1:
            for other_file in ordered[1:]:
                if on_file:
                    on_file(other_file.source.name)
                other = _parser(kind, other_file.source)(other_file.source)
                ignore = _TXT_TRUNCATED.get(kind, set()) if other_file.source.suffix == ".txt" else set()
                if fingerprint(other, ignore) != fingerprint(primary, ignore):  # row sets differ
                    result.warnings.append(
                        f"{plan.label}: {other_file.source.name} does not agree with "
                        f"{primary_file.source.name} ({_first_difference(primary, other)}); "
                        f"{primary_file.source.name} was loaded"
                    )
                else:
                    result.meta.setdefault("encodings_agree", []).append(
                        f"{other_file.source.name} = {primary_file.source.name}"
                    )
    if plan.dataset == "mpfs":
        _payment_bases(result)
    return result


# Columns a QPP row may differ in from the non-QPP row of the same code (the rest must agree).
_BASIS_COLUMNS = {"conv_factor", "pricing_indicator", "source_line", "description"}


def _payment_bases(result: ParsedRelease) -> None:
    """Record the conversion factor of each payment basis the release carries (meta
    `conversion_factors`: 'nonqp' and 'qp' from 2026, 'all' before), and check that the QPP file agrees
    with the non-QPP one on every shared row but the conversion factor and pricing indicator."""
    factors: dict[str, float] = {}
    tables = {t.table: t for t in result.tables if t.table in ("mpfs_rvu", "mpfs_rvu_qp")}
    for table in tables.values():
        basis = table.meta.get("payment_basis") or "all"
        factors[basis] = table.meta["conversion_factor"]
        expected = {"qp": "1", "nonqp": "9"}.get(basis)
        found = set(table.meta.get("pricing_indicators") or [])
        if expected and found and found != {expected}:
            result.warnings.append(
                f"{result.plan.label}: {table.source.name} is named {basis.upper()} but its PRIC IND column "
                f"holds {', '.join(sorted(found))} (the RVU26 documentation: 1 for the QPP file, 9 otherwise)")
    result.meta["conversion_factors"] = factors
    if "mpfs_rvu" in tables and "mpfs_rvu_qp" in tables:
        result.meta["qpp_check"] = _compare_bases(result, tables["mpfs_rvu"], tables["mpfs_rvu_qp"])


def _compare_bases(result: ParsedRelease, nonqp: ParsedTable, qp: ParsedTable) -> str:
    columns = list(nonqp.columns)
    compared = [i for i, name in enumerate(columns) if name not in _BASIS_COLUMNS]
    status = columns.index("status")
    by_key = {(row[0], row[1]): row for row in nonqp.rows}
    differing = 0
    for row in qp.rows:
        other = by_key.get((row[0], row[1]))
        if other is None:
            result.warnings.append(f"{result.plan.label}: {row[0]}{'-' + row[1] if row[1] else ''} is in "
                                   f"{qp.source.name} but not in {nonqp.source.name}")
            differing += 1
            continue
        changed = [columns[i] for i in compared if other[i] != row[i]]
        if changed and differing < 20:
            result.warnings.append(
                f"{result.plan.label}: {row[0]}{'-' + row[1] if row[1] else ''} differs between "
                f"{nonqp.source.name} and {qp.source.name} in {', '.join(changed)}")
        differing += bool(changed)
    qp_keys = {(row[0], row[1]) for row in qp.rows}
    only_nonqp = [row for row in nonqp.rows if (row[0], row[1]) not in qp_keys]
    statuses = sorted({row[status] for row in only_nonqp})
    return (f"{len(qp.rows) - differing:,} rows of {qp.source.name} agree with {nonqp.source.name} but for the "
            f"conversion factor; {len(only_nonqp):,} row(s) only in {nonqp.source.name} (statuses "
            f"{', '.join(statuses) or 'none'})")
