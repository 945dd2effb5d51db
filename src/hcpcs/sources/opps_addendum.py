"""OPPS Addendum B (payment by HCPCS code), the CMS quarterly workbook, e.g.
`2023_January_Web_Addendum_B.12212022.xlsx` or `January 2024 Web Addendum B.xlsx`, and from 2025 the CSV
beside it (`508 Version of January 2025 Web Addendum B.12.31.24.csv`, `2026 July Web Addendum
B.07.13.26.csv`: the same header below a few title rows; later columns such as copayment notes are read
when their captions are known and otherwise ignored).

Title and notice rows come first, then the header `HCPCS Code, Short Descriptor, SI, APC, Relative
Weight, Payment Rate, National Unadjusted Copayment, Minimum Unadjusted Copayment, (note), Drug and
Device Pass-Through Expiration during Calendar Year, * Indicates a Change`, found by its names (the
cells carry stray spaces). Amounts may be numbers or text with `$` and `,`; a lone `.` means none.

`parse_addendum_b_derived_csv` reads the third-party 4-column extract (HCPCSCode, ShortDescriptor,
StatusIndicator, PaymentRate, Changed?, Source): no APC, weight or copayments."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.ncci_ptp import decode_text, is_code
from hcpcs.sources.xlsx import cell_ref, cell_text, read_sheet

COLUMNS = TABLES["opps_addendum_b"].column_names
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_AMOUNT_COLUMNS = frozenset({"relative_weight", "payment_rate", "national_copay", "minimum_copay"})
_NO_AMOUNT = frozenset({"", ".", "-", "--", "n/a", "na"})
_MAX_LEADING_ROWS = 30


def addendum_b_release_info(name: str) -> dict[str, int] | None:
    """Year and month of an Addendum B file name: '2023_January_Web_Addendum_B.12212022.xlsx' and
    'January 2024 Web Addendum B.xlsx' name the release month; 'AddendumB_2025-10_sample.csv' too.
    None when no year and month can be read."""
    base = name.rsplit("/", 1)[-1]
    iso = re.search(r"(?<!\d)((?:19|20)\d{2})-(0[1-9]|1[0-2])(?!\d)", base)
    if iso:
        return {"year": int(iso.group(1)), "month": int(iso.group(2))}
    tokens = [t for t in re.split(r"[^0-9a-z]+", base.lower()) if t]
    year = next((int(t) for t in tokens if len(t) == 4 and t.isdigit() and t[:2] in ("19", "20")), None)
    month = next((_MONTHS[t] for t in tokens if t in _MONTHS), None)
    if year is None or month is None:
        return None
    return {"year": year, "month": month}


def _column_for(name: str) -> str | None:
    text = " ".join(name.split()).lower()
    if text in ("hcpcs code", "hcpcs", "hcpcs/cpt code"):
        return "hcpcs"
    if text.startswith("short desc"):
        return "short_description"
    if text in ("si", "status indicator", "payment status indicator"):
        return "status_indicator"
    if text == "apc":
        return "apc"
    if text.startswith("relative weight"):
        return "relative_weight"
    if text.startswith("payment rate"):
        return "payment_rate"
    if text.startswith("national unadjusted copayment"):
        return "national_copay"
    if text.startswith("minimum unadjusted copayment"):
        return "minimum_copay"
    if text.startswith(("note", "(note")):
        return "note"
    if "pass-through expiration" in text or "pass through expiration" in text:
        return "passthrough_expiration"
    if "indicates a change" in text:
        return "changed"
    return None


def _header_columns(cells: list[str]) -> dict[str, int] | None:
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        column = _column_for(cell)
        if column and column not in found:
            found[column] = index
    if "hcpcs" in found and "status_indicator" in found:
        return found
    return None


def parse_amount(value: Any, origin: str, location: str, what: str) -> float | None:
    """A number cell or text such as '$1,234.50'; blank and '.' mean none."""
    if isinstance(value, bool):
        raise SourceFormatError(origin, location, f"{what}: expected a number, found {value!r}")
    if isinstance(value, int | float):
        return round(float(value), 6)
    text = str(value).strip()
    if text.lower() in _NO_AMOUNT:
        return None
    cleaned = text.replace("$", "").replace(",", "").strip()
    try:
        return round(float(cleaned), 6)
    except ValueError as exc:
        raise SourceFormatError(origin, location, f"{what}: expected a number, found {value!r}") from exc


def _apc(value: Any) -> str | None:
    text = cell_text(value)
    if text.isdigit() and len(text) < 4:
        text = text.zfill(4)  # a number cell drops the leading zeros of APC '0012'
    return text or None


def parse_addendum_b_xlsx(source: SourceFile) -> ParsedTable:
    """Rows of table `opps_addendum_b` from a CMS Addendum B workbook."""
    return _parse_rows(source, read_sheet(source), lambda row, col: f"cell {cell_ref(row, col)}",
                       lambda row: f"row {row + 1}")


def parse_addendum_b_csv(source: SourceFile) -> ParsedTable:
    """Rows of table `opps_addendum_b` from the CSV CMS ships beside the workbook (the "508 Version",
    2025 on: Latin-1, a few title and notice rows, then the same header as the workbook)."""
    reader = csv.reader(io.StringIO(decode_text(source), newline=""))
    rows: list[list[Any]] = []
    lines: list[int] = []
    line = 1
    try:
        for record in reader:
            rows.append(record)
            lines.append(line)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise SourceFormatError(source.origin, f"line {line}", f"not valid CSV ({exc})") from exc
    return _parse_rows(source, rows, lambda row, col: f"line {lines[row]}, column {col + 1}",
                       lambda row: f"line {lines[row]}", line_of=lambda row: lines[row])


def _parse_rows(source: SourceFile, sheet: list[list[Any]], where: Any, where_row: Any,
                line_of: Any = None) -> ParsedTable:
    origin = source.origin
    header_at = None
    columns: dict[str, int] = {}
    for index, row in enumerate(sheet[:_MAX_LEADING_ROWS]):
        found = _header_columns([cell_text(v) for v in row])
        if found:
            header_at, columns = index, found
            break
    if header_at is None:
        raise SourceFormatError(
            origin,
            f"{where_row(0)}-{where_row(min(len(sheet), _MAX_LEADING_ROWS) - 1).split()[-1]}" if sheet else None,
            "no Addendum B header found: expected a row 'HCPCS Code, Short Descriptor, SI, APC, "
            "Relative Weight, Payment Rate, National Unadjusted Copayment, Minimum Unadjusted Copayment, ...'",
        )
    missing = [n for n in ("apc", "payment_rate") if n not in columns]
    if missing:
        raise SourceFormatError(
            origin, where_row(header_at), f"Addendum B header lacks the column(s) {', '.join(missing)}"
        )

    fields = COLUMNS[:-1]
    order = [columns.get(name) for name in fields]
    width = max(columns.values()) + 1
    rows: list[tuple[Any, ...]] = []
    for row_index in range(header_at + 1, len(sheet)):
        cells = sheet[row_index]
        if not any(cell_text(v) for v in cells):
            continue
        if len(cells) < width:
            cells = list(cells) + [""] * (width - len(cells))
        values: list[Any] = []
        for name, col in zip(fields, order, strict=True):
            if col is None:
                values.append(None)
                continue
            raw = cells[col]
            if name in _AMOUNT_COLUMNS:
                values.append(parse_amount(raw, origin, where(row_index, col), name.replace("_", " ")))
            elif name == "apc":
                values.append(_apc(raw))
            elif name == "hcpcs":
                code = cell_text(raw)
                if not is_code(code):
                    raise SourceFormatError(
                        origin,
                        where(row_index, col),
                        f"HCPCS code: expected a 5-character HCPCS/CPT code, found {raw!r}",
                    )
                values.append(code)
            else:
                values.append(cell_text(raw) or None)
        values.append(line_of(row_index) if line_of else row_index + 1)
        rows.append(tuple(values))

    meta: dict[str, Any] = {}
    leading = [" ".join(cell_text(v).split()) for row in sheet[:header_at] for v in row if cell_text(v)]
    if leading:
        meta["title"] = leading[0]
        if len(leading) > 1:
            meta["notices"] = leading[1:]
    year = re.search(r"\bCY\s*((?:19|20)\d{2})\b", meta.get("title", ""))
    if year:
        meta["calendar_year"] = int(year.group(1))
    info = addendum_b_release_info(source.name)
    if info:
        meta.update(info)
    return ParsedTable("opps_addendum_b", COLUMNS, rows, source, meta)


_DERIVED_HEADER = ("hcpcscode", "shortdescriptor", "statusindicator", "paymentrate", "changed?", "source")


def parse_addendum_b_derived_csv(source: SourceFile) -> ParsedTable:
    """Rows of table `opps_addendum_b` from the third-party 4-column Addendum B extract (CSV with the
    header HCPCSCode, ShortDescriptor, StatusIndicator, PaymentRate, Changed?, Source). APC, weight,
    copayments, note and pass-through expiration are not in it (None); `Changed?` true becomes '*'."""
    origin = source.origin
    reader = csv.reader(io.StringIO(decode_text(source), newline=""))
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise SourceFormatError(origin, "line 1", f"not valid CSV ({exc})") from exc
    names = tuple(h.strip().lower() for h in header)
    if names[: len(_DERIVED_HEADER)] != _DERIVED_HEADER:
        raise SourceFormatError(
            origin,
            "line 1",
            "expected the header HCPCSCode,ShortDescriptor,StatusIndicator,PaymentRate,Changed?,Source; "
            f"found {','.join(header)!r}",
        )
    rows: list[tuple[Any, ...]] = []
    releases: set[str] = set()
    previous = reader.line_num
    try:
        for cells in reader:
            line = previous + 1
            previous = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) < 6:
                raise SourceFormatError(origin, f"line {line}", f"expected 6 fields, found {len(cells)}")
            code = cells[0].strip()
            if not is_code(code):
                raise SourceFormatError(
                    origin,
                    f"line {line}, field 1",
                    f"expected a 5-character HCPCS/CPT code, found {cells[0]!r}",
                )
            changed = cells[4].strip().lower()
            if changed not in ("true", "false", ""):
                raise SourceFormatError(
                    origin, f"line {line}, field 5", f"Changed?: expected true or false, found {cells[4]!r}"
                )
            rate = parse_amount(cells[3], origin, f"line {line}, field 4", "payment rate")
            releases.add(cells[5].strip())
            rows.append(
                (
                    code, cells[1].strip() or None, cells[2].strip() or None, None, None, rate,
                    None, None, None, None, "*" if changed == "true" else None, line,
                )
            )  # fmt: skip
    except csv.Error as exc:
        raise SourceFormatError(origin, f"line {previous + 1}", f"not valid CSV ({exc})") from exc
    meta: dict[str, Any] = {"derived": True, "source_releases": sorted(r for r in releases if r)}
    info = addendum_b_release_info(source.name)
    if info:
        meta.update(info)
    return ParsedTable("opps_addendum_b", COLUMNS, rows, source, meta)
