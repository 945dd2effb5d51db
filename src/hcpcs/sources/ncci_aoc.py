"""NCCI add-on code (AOC) edit file, `AOC_V2026Q2-MCR.xlsx` (also read from a tab- or comma-delimited
text export with the same header).

Row 1 is the AMA notice, row 2 the header `AOC_Edit_Type, Add-On_Code, AOC_DelDT, Primary_Code,
Primary_Code_DelDT, AOC_Edit_EffDT, AOC_Edit_DelDT, Special_Instruction_Notes` (found by its names, in
any column order), then one row per (add-on code, primary code) pair. Dates are 7-digit Julian
YYYYDDD; blank or `*` means none. Primary code `CCCCC` stands for "contractor-defined primary codes"
(edit type 2) and is kept as written."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from typing import Any

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable, SourceFile, parse_julian
from hcpcs.sources.ncci_ptp import decode_text, is_code
from hcpcs.sources.xlsx import cell_ref, cell_text, read_sheet

COLUMNS = TABLES["ncci_aoc"].column_names
EDIT_TYPES = frozenset({"1", "2", "3"})
CONTRACTOR_DEFINED = "CCCCC"
# Header names, lower case with everything but letters and digits removed -> store column.
_HEADER_NAMES = {
    "aocedittype": "edit_type",
    "edittype": "edit_type",
    "addoncode": "addon_code",
    "aocdeldt": "addon_deletion_date",
    "primarycode": "primary_code",
    "primarycodedeldt": "primary_deletion_date",
    "aocediteffdt": "effective_date",
    "aoceditdeldt": "deletion_date",
    "specialinstructionnotes": "notes",
}
_LABELS = {
    "edit_type": "AOC edit type",
    "addon_code": "add-on code",
    "addon_deletion_date": "add-on code deletion date",
    "primary_code": "primary code",
    "primary_deletion_date": "primary code deletion date",
    "effective_date": "edit effective date",
    "deletion_date": "edit deletion date",
    "notes": "special instruction notes",
}
_REQUIRED = ("edit_type", "addon_code", "primary_code")
_DATE_COLUMNS = frozenset({"addon_deletion_date", "primary_deletion_date", "effective_date", "deletion_date"})
_FILE_NAME = re.compile(r"AOC_V(\d{4})Q([1-4])(?:[-_ ]?(MCR|MCD))?", re.IGNORECASE)
_MAX_LEADING_ROWS = 20


def aoc_release_info(name: str) -> dict[str, Any] | None:
    """Year and quarter in an AOC file name: 'AOC_V2026Q2-MCR.xlsx' -> `{"year": 2026, "quarter": 2,
    "program": "medicare"}`. None when the name is not an AOC file name."""
    match = _FILE_NAME.search(name.rsplit("/", 1)[-1])
    if not match:
        return None
    year, quarter, program = match.groups()
    info: dict[str, Any] = {"year": int(year), "quarter": int(quarter)}
    if program:
        info["program"] = "medicare" if program.upper() == "MCR" else "medicaid"
    return info


def _header_key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _header_columns(cells: list[str]) -> dict[str, int] | None:
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        column = _HEADER_NAMES.get(_header_key(cell))
        if column and column not in found:
            found[column] = index
    return found if "addon_code" in found and "primary_code" in found else None


def _julian(value: Any, origin: str, location: str, what: str) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        parsed = parse_julian(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError) as exc:
        raise SourceFormatError(
            origin, location, f"{what}: expected a Julian date YYYYDDD (or blank / '*'), found {value!r}"
        ) from exc
    return parsed.isoformat() if parsed else None


def _text_records(source: SourceFile) -> list[list[str]]:
    lines = decode_text(source).splitlines()
    delimiter = "\t" if any("\t" in line for line in lines[:_MAX_LEADING_ROWS]) else ","
    try:
        return list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    except csv.Error as exc:
        raise SourceFormatError(source.origin, None, f"not valid delimited text ({exc})") from exc


def parse_aoc_xlsx(source: SourceFile) -> ParsedTable:
    """Rows of table `ncci_aoc` from the NCCI add-on code edit file (XLSX, or a delimited text export
    with the same header)."""
    origin = source.origin
    xlsx = source.suffix not in {".txt", ".csv", ".tsv"}
    sheet: list[list[Any]] = read_sheet(source) if xlsx else _text_records(source)

    def where(row: int, col: int) -> str:
        return f"cell {cell_ref(row, col)}" if xlsx else f"line {row + 1}, field {col + 1}"

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
            f"rows 1-{min(len(sheet), _MAX_LEADING_ROWS)}" if sheet else None,
            "no add-on code header found: expected a row 'AOC_Edit_Type, Add-On_Code, AOC_DelDT, "
            "Primary_Code, Primary_Code_DelDT, AOC_Edit_EffDT, AOC_Edit_DelDT, Special_Instruction_Notes'",
        )
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        raise SourceFormatError(
            origin, f"row {header_at + 1}", f"add-on code header lacks the column(s) {', '.join(missing)}"
        )

    order = [columns.get(name) for name in COLUMNS[:-1]]
    width = max(columns.values()) + 1
    rows: list[tuple[Any, ...]] = []
    for row_index in range(header_at + 1, len(sheet)):
        cells = sheet[row_index]
        if not any(cell_text(v) for v in cells):
            continue
        if len(cells) < width:
            cells = list(cells) + [""] * (width - len(cells))
        values: list[Any] = []
        for name, col in zip(COLUMNS[:-1], order, strict=True):
            if col is None:
                values.append(None)
                continue
            raw = cells[col]
            if name in _DATE_COLUMNS:
                values.append(_julian(raw, origin, where(row_index, col), _LABELS[name]))
                continue
            text = cell_text(raw)
            if name == "edit_type":
                if text not in EDIT_TYPES:
                    raise SourceFormatError(
                        origin, where(row_index, col), f"AOC edit type: expected 1, 2 or 3, found {raw!r}"
                    )
            elif name in ("addon_code", "primary_code") and not is_code(text):
                raise SourceFormatError(
                    origin,
                    where(row_index, col),
                    f"{_LABELS[name]}: expected a 5-character HCPCS/CPT code, found {raw!r}",
                )
            values.append(text or None)
        values.append(row_index + 1)
        rows.append(tuple(values))

    meta: dict[str, Any] = {}
    notice = " ".join(
        " ".join(cell_text(v).split()) for row in sheet[:header_at] for v in row if cell_text(v)
    )
    if notice:
        meta["notice"] = notice
    info = aoc_release_info(source.name)
    if info:
        meta.update(info)
    return ParsedTable("ncci_aoc", COLUMNS, rows, source, meta)
