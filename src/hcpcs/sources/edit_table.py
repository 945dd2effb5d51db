"""The "edit table" import: NCCI-style edits as a plain CSV with a header row.

This is the documented way to load edit tables that do not come in the official CMS layouts: the
July 2024 Medicare tables kept as plain CSV (`ptp_practitioner_2024q3.csv.gz`, `mue_hospital_2024q3.csv`,
`aoc_2024q2.csv`...) and any payer's own table written with the same columns. The kind of table is
read from the header; column order is free, names are case-insensitive; unknown columns are refused
(a misspelt column would otherwise be dropped silently).

=====  ===========================================  ====================================================
kind   required columns                             optional columns
=====  ===========================================  ====================================================
ptp    column1, column2, modifier_indicator         deletion_date, effective_date, rationale, prior_1996
mue    hcpcs_code (or code), mue_units (or units)   mue_mai (or mai), mue_rationale (or rationale)
aoc    primary_code, add_on_code (or addon_code)    aoc_edit_type (or edit_type), effective_date,
                                                    deletion_date, addon_deletion_date,
                                                    primary_deletion_date, notes
=====  ===========================================  ====================================================

Values: codes are 5 letters/digits; modifier indicator 0, 1 or 9; MAI `1`, `2`, `3` or the CMS wording
(`2 Date of Service Edit: Policy`); AOC edit type 1, 2 or 3; dates ISO `YYYY-MM-DD` (also `YYYYMMDD`,
`MM/DD/YYYY`, Julian `YYYYDDD`), blank or `*` for none; prior_1996 `1`/`*` or `0`/blank. Missing
optional columns become None (an absent prior_1996 column: not recorded). Comma- or tab-delimited, UTF-8 or latin-1, `.gz` allowed."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.ncci_mue import MaiCache, parse_units
from hcpcs.sources.ncci_ptp import MODIFIER_INDICATORS, CodeCache, DateCache, parse_any_date

# kind -> accepted header name -> store column
_NAMES: dict[str, dict[str, str]] = {
    "ptp": {
        "column1": "column1", "column_1": "column1",
        "column2": "column2", "column_2": "column2",
        "modifier_indicator": "modifier_indicator", "modifier": "modifier_indicator",
        "deletion_date": "deletion_date", "effective_date": "effective_date",
        "rationale": "rationale", "ptp_edit_rationale": "rationale",
        "prior_1996": "prior_1996",
    },
    "mue": {
        "hcpcs_code": "code", "code": "code", "hcpcs": "code",
        "mue_units": "units", "units": "units", "mue_value": "units",
        "mue_mai": "mai", "mai": "mai",
        "mue_rationale": "rationale", "rationale": "rationale",
    },
    "aoc": {
        "primary_code": "primary_code",
        "add_on_code": "addon_code", "addon_code": "addon_code",
        "aoc_edit_type": "edit_type", "edit_type": "edit_type",
        "effective_date": "effective_date", "deletion_date": "deletion_date",
        "addon_deletion_date": "addon_deletion_date", "add_on_deletion_date": "addon_deletion_date",
        "primary_deletion_date": "primary_deletion_date", "notes": "notes",
    },
}  # fmt: skip
# The columns that identify each kind of table, then those it must have (the store requires them).
_KEYS = {
    "ptp": ("column1", "column2"),
    "mue": ("code", "units"),
    "aoc": ("primary_code", "addon_code"),
}
_REQUIRED = {
    "ptp": ("column1", "column2", "modifier_indicator"),
    "mue": ("code", "units"),
    "aoc": ("primary_code", "addon_code", "edit_type"),
}
_TABLES = {"ptp": "ncci_ptp", "mue": "ncci_mue", "aoc": "ncci_aoc"}
_CODE_COLUMNS = frozenset({"column1", "column2", "code", "primary_code", "addon_code"})
_DATE_COLUMNS = frozenset({"effective_date", "deletion_date", "addon_deletion_date", "primary_deletion_date"})
_FILE_NAME = re.compile(
    r"^(ptp|mue|aoc)(?:_(practitioner|prac|hospital|outpatient|out|oph|dme))?_(\d{4})[_-]?q([1-4])",
    re.IGNORECASE,
)
_SETTINGS = {
    "practitioner": "practitioner", "prac": "practitioner", "hospital": "hospital",
    "outpatient": "hospital", "out": "hospital", "oph": "hospital", "dme": "dme",
}  # fmt: skip


def edit_table_info(name: str) -> dict[str, Any] | None:
    """Facts in an edit table file name, e.g. 'ptp_practitioner_2024q3.csv.gz' ->
    `{"kind": "ptp", "setting": "practitioner", "year": 2024, "quarter": 3}`; 'aoc_2024q2.csv' has
    setting None. None when the name does not follow the pattern `<kind>[_<setting>]_<year>q<quarter>`."""
    match = _FILE_NAME.match(name.rsplit("/", 1)[-1])
    if not match:
        return None
    kind, setting, year, quarter = match.groups()
    return {
        "kind": kind.lower(),
        "setting": _SETTINGS[setting.lower()] if setting else None,
        "year": int(year),
        "quarter": int(quarter),
    }


def _header_name(text: str) -> str:
    return "_".join(text.strip().lower().replace("-", " ").split())


def _detect_kind(names: list[str]) -> str | None:
    for kind in ("ptp", "mue", "aoc"):
        accepted = _NAMES[kind]
        mapped = {accepted[n] for n in names if n in accepted}
        if all(r in mapped for r in _KEYS[kind]):
            return kind
    return None


def _reader(source: SourceFile, encoding: str) -> Any:
    data = source.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data[:4096] or data.startswith(b"PK\x03\x04"):
        raise SourceFormatError(source.origin, None, "binary content where a CSV edit table was expected")
    first_line = data[: data.find(b"\n") if b"\n" in data else len(data)]
    delimiter = "\t" if b"\t" in first_line and b"," not in first_line else ","
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    return csv.reader(stream, delimiter=delimiter)


def parse_edit_table(source: SourceFile) -> ParsedTable:
    """Rows of `ncci_ptp`, `ncci_mue` or `ncci_aoc` (as the header says) from an edit table CSV."""
    try:
        return _parse(source, "utf-8")
    except UnicodeDecodeError:
        return _parse(source, "latin-1")


def _parse(source: SourceFile, encoding: str) -> ParsedTable:
    origin = source.origin
    reader = _reader(source, encoding)
    rows_in: Iterator[list[str]] = reader
    try:
        header = next(rows_in, None)
    except csv.Error as exc:
        raise SourceFormatError(origin, "line 1", f"not valid CSV ({exc})") from exc
    if not header:
        raise SourceFormatError(origin, "line 1", "empty file: expected a header row")
    names = [_header_name(h) for h in header]
    kind = _detect_kind(names)
    if kind is None:
        raise SourceFormatError(
            origin,
            "line 1",
            "header names no known edit table: expected column1,column2,modifier_indicator[,...] (PTP), "
            "hcpcs_code,mue_units[,mue_mai,mue_rationale] (MUE) or primary_code,add_on_code[,aoc_edit_type] "
            f"(AOC); found {','.join(header)!r}",
        )
    accepted = _NAMES[kind]
    unknown = [header[i] for i, n in enumerate(names) if n not in accepted]
    if unknown:
        raise SourceFormatError(
            origin,
            "line 1",
            f"{kind.upper()} edit table: unknown column(s) {', '.join(repr(u) for u in unknown)}; "
            f"accepted: {', '.join(sorted(accepted))}",
        )
    position: dict[str, int] = {}
    for index, name in enumerate(names):
        column = accepted[name]
        if column in position:
            raise SourceFormatError(origin, "line 1", f"column {header[index]!r} repeats {column!r}")
        position[column] = index
    missing = [c for c in _REQUIRED[kind] if c not in position]
    if missing:
        raise SourceFormatError(
            origin, "line 1", f"{kind.upper()} edit table: missing required column(s) {', '.join(missing)}"
        )

    table = _TABLES[kind]
    parse_rows = {"ptp": _ptp_rows, "mue": _mue_rows, "aoc": _aoc_rows}[kind]
    try:
        rows = parse_rows(rows_in, reader, position, len(header), origin)
    except csv.Error as exc:
        raise SourceFormatError(origin, f"line {reader.line_num}", f"not valid CSV ({exc})") from exc

    meta: dict[str, Any] = {"kind": kind, "columns": [accepted[n] for n in names]}
    info = edit_table_info(source.name)
    if info:
        if info["kind"] != kind:
            raise SourceFormatError(
                origin,
                "line 1",
                f"the header is a {kind.upper()} table but the file name says {info['kind']}",
            )
        meta.update(info)
    return ParsedTable(table, TABLES[table].column_names, rows, source, meta)


def _field_count_error(origin: str, line: int, expected: int, cells: list[str]) -> SourceFormatError:
    return SourceFormatError(origin, f"line {line}", f"expected {expected} fields, found {len(cells)}")


def _ptp_rows(
    rows_in: Iterator[list[str]], reader: Any, position: dict[str, int], width: int, origin: str
) -> list[tuple[Any, ...]]:
    i1, i2, im = position["column1"], position["column2"], position["modifier_indicator"]
    ie, idl = position.get("effective_date"), position.get("deletion_date")
    ir, ip = position.get("rationale"), position.get("prior_1996")
    codes = CodeCache()
    dates = DateCache(parse_any_date, "a date YYYY-MM-DD (or YYYYMMDD, MM/DD/YYYY), blank or '*'")
    modifiers = {m: m for m in MODIFIER_INDICATORS}
    priors: dict[str, int] = {"": 0, "0": 0, "*": 1, "1": 1}
    rationales: dict[str, str | None] = {}
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    previous = reader.line_num
    for cells in rows_in:
        line = previous + 1
        previous = reader.line_num
        if len(cells) != width:
            if not cells or not any(c.strip() for c in cells):
                continue
            raise _field_count_error(origin, line, width, cells)
        raw = cells[i1]
        column1 = codes.get(raw) or codes.check(raw, origin, f"line {line}, field {i1 + 1}", "column1")
        raw = cells[i2]
        column2 = codes.get(raw) or codes.check(raw, origin, f"line {line}, field {i2 + 1}", "column2")
        raw = cells[im]
        modifier = modifiers.get(raw) or modifiers.get(raw.strip())
        if modifier is None:
            raise SourceFormatError(
                origin,
                f"line {line}, field {im + 1}",
                f"modifier_indicator: expected 0, 1 or 9, found {raw!r}",
            )
        effective = deletion = rationale = None
        prior = None  # not recorded by the table
        if idl is not None:
            raw = cells[idl]
            deletion = (
                dates[raw]
                if raw in dates
                else dates.check(raw, origin, f"line {line}, field {idl + 1}", "deletion_date")
            )
        if ie is not None:
            raw = cells[ie]
            effective = (
                dates[raw]
                if raw in dates
                else dates.check(raw, origin, f"line {line}, field {ie + 1}", "effective_date")
            )
        if ir is not None:
            raw = cells[ir]
            if raw in rationales:
                rationale = rationales[raw]
            else:
                rationale = rationales[raw] = raw.strip() or None
        if ip is not None:
            raw = cells[ip]
            prior_value = priors.get(raw.strip())
            if prior_value is None:
                raise SourceFormatError(
                    origin,
                    f"line {line}, field {ip + 1}",
                    f"prior_1996: expected 0, 1, '*' or blank, found {raw!r}",
                )
            prior = prior_value
        append((column1, column2, prior, effective, deletion, modifier, rationale, line))
    return rows


def _mue_rows(
    rows_in: Iterator[list[str]], reader: Any, position: dict[str, int], width: int, origin: str
) -> list[tuple[Any, ...]]:
    ic, iu = position["code"], position["units"]
    im, ir = position.get("mai"), position.get("rationale")
    codes = CodeCache()
    mais = MaiCache()
    rows: list[tuple[Any, ...]] = []
    previous = reader.line_num
    for cells in rows_in:
        line = previous + 1
        previous = reader.line_num
        if len(cells) != width:
            if not cells or not any(c.strip() for c in cells):
                continue
            raise _field_count_error(origin, line, width, cells)
        raw = cells[ic]
        code = codes.get(raw) or codes.check(raw, origin, f"line {line}, field {ic + 1}", "hcpcs_code")
        units = parse_units(cells[iu], origin, f"line {line}, field {iu + 1}")
        mai = None
        if im is not None:
            raw = cells[im]
            mai = mais[raw] if raw in mais else mais.check(raw, origin, f"line {line}, field {im + 1}")
        rationale = (cells[ir].strip() or None) if ir is not None else None
        rows.append((code, units, mai, rationale, line))
    return rows


def _aoc_rows(
    rows_in: Iterator[list[str]], reader: Any, position: dict[str, int], width: int, origin: str
) -> list[tuple[Any, ...]]:
    columns = TABLES["ncci_aoc"].column_names[:-1]
    order = [(name, position.get(name)) for name in columns]
    codes = CodeCache()
    dates = DateCache(parse_any_date, "a date YYYY-MM-DD (or YYYYMMDD, MM/DD/YYYY, YYYYDDD), blank or '*'")
    rows: list[tuple[Any, ...]] = []
    previous = reader.line_num
    for cells in rows_in:
        line = previous + 1
        previous = reader.line_num
        if len(cells) != width:
            if not cells or not any(c.strip() for c in cells):
                continue
            raise _field_count_error(origin, line, width, cells)
        values: list[Any] = []
        for name, index in order:
            if index is None:
                values.append(None)
                continue
            raw = cells[index]
            where = f"line {line}, field {index + 1}"
            if name in _CODE_COLUMNS:
                values.append(codes.get(raw) or codes.check(raw, origin, where, name))
            elif name in _DATE_COLUMNS:
                values.append(dates[raw] if raw in dates else dates.check(raw, origin, where, name))
            elif name == "edit_type":
                text = raw.strip()
                if text not in ("1", "2", "3"):
                    raise SourceFormatError(
                        origin, where, f"aoc_edit_type: expected 1, 2 or 3, found {raw!r}"
                    )
                values.append(text)
            else:
                values.append(raw.strip() or None)
        values.append(line)
        rows.append(tuple(values))
    return rows
