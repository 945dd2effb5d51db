"""NCCI medically unlikely edit (MUE) tables, the official CSV layout (the XLSX twin is read the same way).

CMS publishes one table per setting: `MCR_MUE_PractitionerServices_Eff_07-01-2024.csv`,
`MCR_MUE_OutpatientHospitalServices_Eff_...` and `MCR_MUE_DMESupplierServices_Eff_...`. Record 1 is a
multi-line quoted AMA notice followed by `,,,`; record 2 is the header::

    "HCPCS/
    CPT Code",Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale
    0001U,1,2 Date of Service Edit: Policy,Code Descriptor / CPT Instruction

The MUE adjudication indicator (MAI) is stored as its digit; the words after the digit must match it."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.ncci_ptp import CodeCache, decode_text
from hcpcs.sources.xlsx import cell_ref, cell_text, read_sheet

COLUMNS = TABLES["ncci_mue"].column_names
# The words CMS writes after each MAI digit, lower case with single spaces.
MAI_WORDS = {
    "1": "line edit",
    "2": "date of service edit: policy",
    "3": "date of service edit: clinical",
}
_SETTING_WORDS = (
    ("practitioner", "practitioner"),
    ("outpatient hospital", "hospital"),
    ("hospital", "hospital"),
    ("dme", "dme"),
)
_FILE_NAME = re.compile(
    r"MUE_(PractitionerServices|OutpatientHospitalServices|DMESupplierServices)_Eff_(\d{1,2})-(\d{1,2})-(\d{4})",
    re.IGNORECASE,
)
_FILE_SETTINGS = {
    "practitionerservices": "practitioner",
    "outpatienthospitalservices": "hospital",
    "dmesupplierservices": "dme",
}
_MAX_LEADING_RECORDS = 20


def mue_file_info(name: str) -> dict[str, Any] | None:
    """Facts in an official MUE file name, e.g. 'MCR_MUE_PractitionerServices_Eff_07-01-2024.csv' ->
    `{"setting": "practitioner", "effective": date(2024, 7, 1), "year": 2024, "quarter": 3}`.
    None when the name is not an MUE file name."""
    match = _FILE_NAME.search(name.rsplit("/", 1)[-1])
    if not match:
        return None
    kind, month, day, year = match.groups()
    try:
        effective = date(int(year), int(month), int(day))
    except ValueError:
        return None
    return {
        "setting": _FILE_SETTINGS[kind.lower()],
        "effective": effective,
        "year": effective.year,
        "quarter": (effective.month - 1) // 3 + 1,
    }


def normalize(text: str) -> str:
    """Lower case, whitespace runs collapsed to one space."""
    return " ".join(text.split()).lower()


class MaiCache(dict[str, str | None]):
    """MAI digits by raw text ('2', '2 Date of Service Edit: Policy'), each distinct text checked once."""

    def __init__(self) -> None:
        super().__init__({"": None})

    def check(self, raw: str, origin: str, location: str) -> str | None:
        text = raw.strip()
        if text.endswith(".0") and text[:-2].isdigit():  # a number cell read as float text
            text = text[:-2]
        digit, words = text[:1], normalize(text[1:]).lstrip(" -:")
        expected = MAI_WORDS.get(digit)
        if text and (expected is None or (words and words != expected)):
            choices = "; ".join(f"{d} {w.capitalize()}" for d, w in MAI_WORDS.items())
            raise SourceFormatError(
                origin, location, f"MUE adjudication indicator: expected one of {choices}, found {raw!r}"
            )
        value = digit or None
        self[raw] = value
        return value


def parse_units(raw: str, origin: str, location: str) -> int:
    text = raw.strip()
    if text.endswith(".0"):
        text = text[:-2]
    if not text.isdigit():
        raise SourceFormatError(
            origin, location, f"MUE value: expected a whole number of units, found {raw!r}"
        )
    return int(text)


def _records(source: SourceFile) -> tuple[list[tuple[str, list[str]]], str]:
    """(location, cells) for every record, and the location style ('line' or 'row')."""
    if source.suffix in {".xlsx", ".xlsm"}:
        sheet = read_sheet(source)
        return [(str(i + 1), [cell_text(v) for v in row]) for i, row in enumerate(sheet)], "row"
    text = decode_text(source)
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[str, list[str]]] = []
    previous = 0
    try:
        for cells in reader:
            records.append((str(previous + 1), cells))
            previous = reader.line_num
    except csv.Error as exc:
        raise SourceFormatError(source.origin, f"line {previous + 1}", f"not valid CSV ({exc})") from exc
    return records, "line"


def _header_columns(cells: list[str]) -> dict[str, int] | None:
    names = [normalize(c) for c in cells]
    if not names or "hcpcs" not in names[0]:
        return None
    found: dict[str, int] = {"code": 0}
    for index, name in enumerate(names):
        if "mue value" in name:
            found["units"] = index
        elif "adjudication indicator" in name or name == "mai":
            found["mai"] = index
        elif "rationale" in name:
            found["rationale"] = index
    return found if "units" in found and "mai" in found else None


def _setting_from_header(cells: list[str], units_index: int) -> str | None:
    name = normalize(cells[units_index])
    for words, setting in _SETTING_WORDS:
        if words in name:
            return setting
    return None


def parse_mue_csv(source: SourceFile) -> ParsedTable:
    """Rows of table `ncci_mue` from one official MUE table (CSV, or the same layout as XLSX)."""
    origin = source.origin
    records, style = _records(source)
    header_at = None
    columns: dict[str, int] = {}
    for position, (_, cells) in enumerate(records[:_MAX_LEADING_RECORDS]):
        found = _header_columns(cells)
        if found:
            header_at, columns = position, found
            break
    if header_at is None:
        raise SourceFormatError(
            origin,
            f"{style}s 1-{min(len(records), _MAX_LEADING_RECORDS)}" if records else None,
            "no MUE header found: expected a record 'HCPCS/CPT Code, <setting> MUE Values, "
            "MUE Adjudication Indicator, MUE Rationale' after the notice",
        )

    header_cells = records[header_at][1]
    code_i, units_i, mai_i = columns["code"], columns["units"], columns["mai"]
    rationale_i = columns.get("rationale")
    width = max(columns.values()) + 1
    codes = CodeCache()
    mais = MaiCache()
    rationales: dict[str, str | None] = {}
    rows: list[tuple[Any, ...]] = []
    xlsx = style == "row"
    for location, cells in records[header_at + 1 :]:
        if not any(c.strip() for c in cells):
            continue

        def where(col: int, location: str = location) -> str:
            return f"cell {cell_ref(int(location) - 1, col)}" if xlsx else f"line {location}, field {col + 1}"

        if len(cells) < width:
            raise SourceFormatError(
                origin,
                f"{style} {location}",
                f"expected {width} fields (code, MUE value, MAI, rationale), found {len(cells)}",
            )
        raw_code = cells[code_i]
        code = codes.get(raw_code) or codes.check(raw_code, origin, where(code_i), "HCPCS/CPT code")
        units = parse_units(cells[units_i], origin, where(units_i))
        raw_mai = cells[mai_i]
        mai = mais[raw_mai] if raw_mai in mais else mais.check(raw_mai, origin, where(mai_i))
        rationale = None
        if rationale_i is not None:
            raw_rationale = cells[rationale_i]
            if raw_rationale not in rationales:
                rationales[raw_rationale] = raw_rationale.strip() or None
            rationale = rationales[raw_rationale]
        rows.append((code, units, mai, rationale, int(location)))

    meta: dict[str, Any] = {}
    setting = _setting_from_header(header_cells, units_i)
    if setting:
        meta["setting"] = setting
    notice = " ".join(" ".join(c.split()) for _, cells in records[:header_at] for c in cells if c.strip())
    if notice:
        meta["notice"] = notice
    info = mue_file_info(source.name)
    if info:
        if setting and info["setting"] != setting:
            raise SourceFormatError(
                origin,
                f"{style} {records[header_at][0]}",
                f"the header names {setting} MUE values but the file name says {info['setting']}",
            )
        meta.update({**info, "effective": info["effective"].isoformat()})
    return ParsedTable("ncci_mue", COLUMNS, rows, source, meta)
