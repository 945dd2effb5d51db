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
    table: dict[str, Callable[[SourceFile], ParsedTable]] = {
        "hcpcs_notes": proc_notes.parse_proc_notes,
        "pprrvu": mpfs_rvu.parse_pprrvu,
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
    result = ParsedRelease(plan, [])
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
            # Numbered parts of one table: concatenate.
            parts = sorted(distinct, key=lambda f: f.source.name.lower())
            tables = []
            for f in parts:
                if on_file:
                    on_file(f.source.name)
                tables.append(_parser(kind, f.source)(f.source))
            merged = ParsedTable(tables[0].table, tables[0].columns,
                                 [row for t in tables for row in t.rows], tables[0].source, tables[0].meta)
            result.tables.append(merged)
            continue
        ordered = sorted(distinct, key=lambda f: (_PREFERENCE.get(f.source.suffix, 9), f.source.origin))
        primary_file = ordered[0]
        if on_file:
            on_file(primary_file.source.name)
        primary = _parser(kind, primary_file.source)(primary_file.source)
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
    return result
