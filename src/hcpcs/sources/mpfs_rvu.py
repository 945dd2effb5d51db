"""The Medicare Physician Fee Schedule relative value file (PPRRVU) of the quarterly RVU bundle
(RVUyyA-D.zip), in its three CMS encodings: comma-separated (.csv), fixed width (.txt) and Excel (.xlsx).

Also the helpers the other RVU-bundle parsers share (GPCI, LOCCO, ANES, OPPSCAP): text decoding, reading a
CSV or XLSX sheet into numbered rows, cell conversion with error locations, the release a file name
belongs to (`release_info`) and a content fingerprint that compares encodings (`rvu_fingerprint`).

Layouts (checked on RVU22A, 23A, 23D, 24A, 24B, 25A and 25D, and the real RVU26C rows):

* CSV/XLSX: a title row ("2025 National Physician Fee Schedule Relative Value File October Release"),
  AMA/ADA notices, "RELEASED mm/dd/yyyy", then a column header wrapped over several rows whose last row
  starts `HCPCS,MOD,DESCRIPTION,...`; 31 columns, 32 from 2026 (`PRIC IND` after `TEAM SURG`). Every
  column is found by its caption, never by its position. Older CSVs end with a Ctrl-Z (DOS end-of-file)
  row.
* From CY 2026 each bundle holds two PPRRVU files, `PPRRVU2026_Jan_nonQPP` (clinicians who are not
  qualifying APM participants) and `PPRRVU2026_Jan_QPP` (qualifying APM participants, QPs), in the same
  layout, each at its own conversion factor; `payment_basis` tells them apart by name.
  XLSX cells hold numbers for the RVUs and for numeric-looking codes (10004.0 for 10004, 26.0 for
  modifier 26, 9.0 for a PC/TC indicator), which are turned back into CMS's zero-padded text.
* TXT: `HDR` copyright lines, then 171-character records at the positions of the RVU documentation
  (RVUyyx.pdf, "DATA RECORD"); it has no title, so the release comes from the file name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.xlsx import cell_ref, read_sheet

TABLE = "mpfs_rvu"
COLUMNS = TABLES[TABLE].column_names

# Release months CMS uses for the quarterly RVU files and the letter of each release (RVU25A..D).
MONTH_NAMES = {
    "JAN": 1,
    "JANUARY": 1,
    "APR": 4,
    "APRIL": 4,
    "JUL": 7,
    "JULY": 7,
    "OCT": 10,
    "OCTOBER": 10,
}
RELEASE_LETTERS = {1: "A", 4: "B", 7: "C", 10: "D"}
_LETTER_MONTHS = {letter: month for month, letter in RELEASE_LETTERS.items()}


# ----------------------------------------------------------------------------------------------------
# Shared helpers (also used by gpci, locco, anes and oppscap)
# ----------------------------------------------------------------------------------------------------


def decode_text(source: SourceFile) -> str:
    """The file as text: UTF-8 when it decodes as such, else Windows-1252, else latin-1 (never fails)."""
    data = source.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data[:4096]:
        raise SourceFormatError(source.origin, None, "binary content where a text file was expected")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def text_lines(text: str) -> list[str]:
    """Lines without their CR/LF. Only CR/LF end a line: a stray 0x85 byte inside a description (a
    Windows-1252 ellipsis) must not split a record, as `str.splitlines` would."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def is_blank_line(line: str) -> bool:
    """Blank, or only the Ctrl-Z (DOS end-of-file) byte some CMS files end with."""
    return not line.strip(" \t\r\x1a")


def header_key(text: Any) -> str:
    """A header cell reduced to upper-case letters and digits: 'CO- SURG' -> 'COSURG'."""
    return "".join(ch for ch in str(text).upper() if ch.isalnum())


@dataclass
class Grid:
    """The rows of a CSV file or of an XLSX sheet, each with its 1-based line (CSV) or row (XLSX)
    number. CSV cells are str; XLSX cells are whatever the workbook holds (str, float, ...)."""

    source: SourceFile
    rows: list[tuple[int, list[Any]]]
    spreadsheet: bool

    def where(self, line: int, col: int | None = None, name: str | None = None) -> str:
        if col is None:
            return f"row {line}" if self.spreadsheet else f"line {line}"
        label = f" ({name})" if name else ""
        if self.spreadsheet:
            return f"cell {cell_ref(line - 1, col)}{label}"
        return f"line {line}, column {col + 1}{label}"

    def error(self, line: int, problem: str, col: int | None = None, name: str | None = None):
        return SourceFormatError(self.source.origin, self.where(line, col, name), problem)


def read_grid(source: SourceFile) -> Grid:
    """A .csv file or the first sheet of an .xlsx workbook as numbered rows."""
    if source.suffix == ".xlsx":
        sheet = read_sheet(source)
        return Grid(source, [(index + 1, list(row)) for index, row in enumerate(sheet)], True)
    if source.suffix != ".csv":
        raise SourceFormatError(source.origin, None, f"expected a .csv or .xlsx file, not {source.name!r}")
    text = decode_text(source)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[Any]]] = []
    line = 1
    try:
        for record in reader:
            rows.append((line, record))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise SourceFormatError(source.origin, f"line {line}", f"not valid CSV ({exc})") from exc
    return Grid(source, rows, False)


def is_blank_row(cells: Sequence[Any]) -> bool:
    for cell in cells:
        if isinstance(cell, str):
            if cell.strip(" \t\r\n\x1a"):
                return False
        elif cell is not None:
            return False
    return True


def cell_code(value: Any, width: int = 0) -> str:
    """A coded cell as CMS's text: stripped; a number from a spreadsheet becomes its integer digits,
    zero-padded to `width` (10004.0 -> '10004', 26.0 -> '26', 90.0 -> '090' for width 3)."""
    if isinstance(value, str):
        return value.strip()
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return str(value).zfill(width) if width else str(value)
    return str(value).strip()


def cell_number(value: Any, grid: Grid, line: int, col: int, name: str) -> float | None:
    """A numeric cell as float, None when blank; anything else is a SourceFormatError naming the cell."""
    if isinstance(value, float):
        # Spreadsheets hold binary noise of formulas (29.810000000000002 for 29.81): 10 decimals is far
        # beyond any CMS figure and removes it.
        return round(value, 10)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    text = value.strip() if isinstance(value, str) else ""
    if text == "" and (value is None or isinstance(value, str)):
        return None
    number = parse_number(text)
    if number is None:
        raise grid.error(line, f"expected a number, found {value!r}", col, name)
    return number


def parse_number(text: str) -> float | None:
    """'1.85', '.10', '-0.5' -> float; None when the text is not a plain decimal number."""
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")) or "_" in text:
        return None
    return number


def match_header(
    grid: Grid, rules: dict[str, Callable[[str], bool]], what: str, limit: int = 40
) -> tuple[int, dict[str, int], list[str]]:
    """The first row (within `limit`) where every rule matches a distinct cell, as (index in
    grid.rows, column -> cell index, header texts). Rules test header_key(cell)."""
    for index, (_, cells) in enumerate(grid.rows[:limit]):
        keys = [header_key(cell) for cell in cells]
        found: dict[str, int] = {}
        for column, rule in rules.items():
            col = next(
                (i for i, key in enumerate(keys) if key and rule(key) and i not in found.values()), None
            )
            if col is None:
                break
            found[column] = col
        else:
            return index, found, [cell_code(cell) for cell in cells]
    raise SourceFormatError(
        grid.source.origin,
        None,
        f"no {what} header row (with columns {', '.join(rules)}) in the first {limit} rows",
    )


def grid_title(grid: Grid, header_index: int) -> str | None:
    """The first non-empty first cell above the header row (the table's title line)."""
    return next((cell_code(cells[0]) for _, cells in grid.rows[:header_index] if cells and cell_code(cells[0])), None)


def locality_rows(
    grid: Grid, header_index: int, cols: dict[str, int], footnotes: list[str],
    on_blank: Callable[[], None] | None = None,
) -> Iterator[tuple[int, list[Any], str, str]]:
    """The rows of a locality table (GPCI, LOCCO) below its header, as (line, cells, MAC, locality number).
    Blank rows are skipped (`on_blank` is told); a row without a MAC number is a footnote, added to
    `footnotes`, and footnotes must end the table. A locality row must be as wide as the header and carry
    a locality number."""
    need = max(cols.values()) + 1
    for line, cells in grid.rows[header_index + 1 :]:
        if is_blank_row(cells):
            if on_blank is not None:
                on_blank()
            continue
        mac = cell_code(cells[cols["mac"]], 5) if len(cells) > cols["mac"] else ""
        if not mac.isdigit():
            footnotes.append(" ".join(cell_code(cell) for cell in cells if cell_code(cell)))
            continue
        if footnotes:
            raise grid.error(line, "locality row after the footnotes: expected the footnotes to end the file")
        if len(cells) < need:
            raise grid.error(line, f"expected {need} columns as in the header, found {len(cells)}")
        locality = cell_code(cells[cols["locality_number"]], 2)
        if not locality.isdigit():
            raise grid.error(line, f"expected a locality number, found {locality!r}", cols["locality_number"])
        yield line, cells, mac, locality


def year_from_text(text: str) -> int | None:
    match = re.search(r"\b(19|20)(\d{2})\b", text)
    return int(match.group(1) + match.group(2)) if match else None


# ----------------------------------------------------------------------------------------------------
# Release of a file, from its name
# ----------------------------------------------------------------------------------------------------

_YEAR_PATTERNS = (
    re.compile(r"^(?:PPRRVU|GPCI|ANES|OPPSCAP)(\d{4}|\d{2})$"),
    re.compile(r"^(\d{4}|\d{2})LOCCO$"),
)
_BUNDLE = re.compile(r"^RVU(\d{2})([A-D])(?:R\d*)?$")


def _name_info(name: str) -> tuple[int | None, int | None]:
    stem = name.upper()
    for suffix in (".GZ", ".ZIP", ".CSV", ".TXT", ".XLSX", ".XLS", ".PRN"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    year: int | None = None
    month: int | None = None
    for token in re.split(r"[^A-Z0-9]+", stem):
        if not token:
            continue
        if token in MONTH_NAMES:
            month = month or MONTH_NAMES[token]
            continue
        bundle = _BUNDLE.match(token)
        if bundle:
            year = year or 2000 + int(bundle.group(1))
            month = month or _LETTER_MONTHS[bundle.group(2)]
            continue
        for pattern in _YEAR_PATTERNS:
            found = pattern.match(token)
            if found:
                digits = found.group(1)
                year = year or (int(digits) if len(digits) == 4 else 2000 + int(digits))
                break
    return year, month


def release_info(source: SourceFile | str | Path) -> dict[str, int | None]:
    """Year and release month told by an RVU-bundle file name: PPRRVU25_JAN.csv -> 2025, 1;
    PPRRVU2025_Oct.txt -> 2025, 10; GPCI2025.csv, 25LOCCO.txt, ANES2025.xlsx -> 2025, None;
    OPPSCAP_JAN.csv -> None, 1; RVU25A.zip -> 2025, 1. For a zip member, what the member name leaves
    open is taken from the zip's name (RVU25A.zip!OPPSCAP_JAN.csv -> 2025, 1)."""
    if isinstance(source, SourceFile):
        year, month = _name_info(source.name)
        if "!" in source.origin and (year is None or month is None):
            zip_year, zip_month = _name_info(Path(source.origin.split("!", 1)[0]).name)
            year, month = year or zip_year, month or zip_month
    else:
        year, month = _name_info(Path(str(source)).name)
    return {"year": year, "quarter_month": month}


_BASIS = re.compile(r"[_\- ](NON)?QPP(?=[_\-. ]|$)", re.I)


def payment_basis(name: str) -> str | None:
    """'nonqp' for a 2026 `..._nonQPP` PPRRVU file, 'qp' for `..._QPP`, None for a file of one
    conversion factor for every clinician (2025 and before)."""
    found = _BASIS.search(Path(name).stem)
    if not found:
        return None
    return "nonqp" if found.group(1) else "qp"


def release_label(year: int, quarter_month: int) -> str:
    """'RVU25D' for October 2025."""
    return f"RVU{year % 100:02d}{RELEASE_LETTERS[quarter_month]}"


# ----------------------------------------------------------------------------------------------------
# Fingerprint of a parsed table
# ----------------------------------------------------------------------------------------------------

_TEXT_COLUMNS_TO_SQUEEZE = {"description", "locality_name", "fee_schedule_area", "counties", "state"}


def rvu_fingerprint(table: ParsedTable, ignore: Iterable[str] = ()) -> str:
    """sha256 of a table's content, to check that the CSV, TXT and XLSX encodings of one release agree.
    Covers every column but `source_line` and those in `ignore`; numbers are compared at 6 decimals
    (an XLSX may hold 29.810000000000002 where the CSV says 29.81), runs of whitespace in free-text
    columns count as one space, and row order does not matter."""
    skipped = {"source_line", *ignore}
    kept = [(index, name) for index, name in enumerate(table.columns) if name not in skipped]
    lines = []
    for row in table.rows:
        parts = []
        for index, name in kept:
            value = row[index]
            if value is None:
                parts.append("\x00")
            elif isinstance(value, float):
                parts.append(f"{value:.6f}")
            elif name in _TEXT_COLUMNS_TO_SQUEEZE:
                parts.append(" ".join(str(value).split()))
            else:
                parts.append(str(value))
        lines.append("\x1f".join(parts))
    lines.sort()
    digest = hashlib.sha256()
    digest.update("\x1f".join(name for _, name in kept).encode())
    for line in lines:
        digest.update(b"\x1e" + line.encode("utf-8"))
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------------
# PPRRVU
# ----------------------------------------------------------------------------------------------------

# Header text of each CSV/XLSX column (the wrapped header rows joined, reduced by header_key) -> column.
_HEADER_NAMES: dict[str, str] = {
    "HCPCS": "hcpcs",
    "HCPCSCODE": "hcpcs",
    "MOD": "modifier",
    "MODIFIER": "modifier",
    "DESCRIPTION": "description",
    "STATUSCODE": "status",
    "STATUS": "status",
    "NOTUSEDFORMEDICAREPAYMENT": "not_used_for_medicare",
    "WORKRVU": "work_rvu",
    "NONFACPERVU": "nonfac_pe_rvu",
    "NONFACILITYPERVU": "nonfac_pe_rvu",
    "FULLYIMPLEMENTEDNONFACILITYPERVU": "nonfac_pe_rvu",
    "NONFACNAINDICATOR": "nonfac_na",
    "NONFACILITYNAINDICATOR": "nonfac_na",
    "FACILITYPERVU": "fac_pe_rvu",
    "FULLYIMPLEMENTEDFACILITYPERVU": "fac_pe_rvu",
    "FACILITYNAINDICATOR": "fac_na",
    "MPRVU": "mp_rvu",
    "MALPRACTICERVU": "mp_rvu",
    "NONFACILITYTOTAL": "nonfac_total",
    "FULLYIMPLEMENTEDNONFACILITYTOTAL": "nonfac_total",
    "FACILITYTOTAL": "fac_total",
    "FULLYIMPLEMENTEDFACILITYTOTAL": "fac_total",
    "PCTCIND": "pctc",
    "PCTCINDICATOR": "pctc",
    "GLOBDAYS": "global_days",
    "GLOBALDAYS": "global_days",
    "PREOP": "preop",
    "INTRAOP": "intraop",
    "POSTOP": "postop",
    "MULTPROC": "mult_proc",
    "BILATSURG": "bilat_surg",
    "ASSTSURG": "asst_surg",
    "COSURG": "co_surg",
    "TEAMSURG": "team_surg",
    "PRICIND": "pricing_indicator",
    "PRICINGINDICATOR": "pricing_indicator",
    "ENDOBASE": "endo_base",
    "CONVFACTOR": "conv_factor",
    "CONVERSIONFACTOR": "conv_factor",
    "PHYSICIANSUPERVISIONOFDIAGNOSTICPROCEDURES": "phys_supervision",
    "CALCULATIONFLAG": "calculation_flag",
    "DIAGNOSTICIMAGINGFAMILYINDICATOR": "diag_imaging_family",
    "NONFACILITYPEUSEDFOROPPSPAYMENTAMOUNT": "nonfac_pe_opps",
    "FACILITYPEUSEDFOROPPSPAYMENTAMOUNT": "fac_pe_opps",
    "MPUSEDFOROPPSPAYMENTAMOUNT": "mp_opps",
}

# Columns every PPRRVU file has had; the others are filled with None ('' for codes) when a file
# lacks them (indicators CMS added over the years).
_REQUIRED = (
    "hcpcs",
    "modifier",
    "description",
    "status",
    "work_rvu",
    "nonfac_pe_rvu",
    "fac_pe_rvu",
    "mp_rvu",
    "nonfac_total",
    "fac_total",
    "pctc",
    "global_days",
    "mult_proc",
    "bilat_surg",
    "asst_surg",
    "co_surg",
    "team_surg",
    "conv_factor",
)

_NUMERIC = {
    "work_rvu",
    "nonfac_pe_rvu",
    "fac_pe_rvu",
    "mp_rvu",
    "nonfac_total",
    "fac_total",
    "preop",
    "intraop",
    "postop",
    "conv_factor",
    "nonfac_pe_opps",
    "fac_pe_opps",
    "mp_opps",
}
# Zero-padding of codes a spreadsheet may store as numbers.
_CODE_WIDTH = {
    "hcpcs": 5,
    "modifier": 2,
    "global_days": 3,
    "endo_base": 5,
    "phys_supervision": 2,
    "diag_imaging_family": 2,
}

# Fixed-width TXT record (1-based, inclusive positions), from the RVU documentation's DATA RECORD.
# Position 59 holds the "not used for Medicare payment" flag ('+'), undocumented in the layout but
# present in the TXT just as in the CSV column of that name.
TXT_LAYOUT: dict[str, tuple[int, int]] = {
    "hcpcs": (1, 5),
    "modifier": (6, 7),
    "description": (8, 57),
    "status": (58, 58),
    "not_used_for_medicare": (59, 59),
    "work_rvu": (60, 65),
    "nonfac_pe_rvu": (67, 72),
    "nonfac_na": (73, 74),
    "fac_pe_rvu": (76, 81),
    "fac_na": (82, 83),
    "mp_rvu": (85, 89),
    "nonfac_total": (91, 96),
    "fac_total": (97, 102),
    "pctc": (103, 103),
    "global_days": (104, 106),
    "preop": (107, 109),
    "intraop": (110, 112),
    "postop": (113, 115),
    "mult_proc": (116, 116),
    "bilat_surg": (117, 117),
    "asst_surg": (118, 118),
    "co_surg": (119, 119),
    "team_surg": (120, 120),
    # From RVU26 the Pricing Indicator (PRIC IND) sits at 121; 121-127 were filler before.
    "pricing_indicator": (121, 121),
    "endo_base": (128, 132),
    "conv_factor": (133, 140),
    "phys_supervision": (142, 143),
    "calculation_flag": (144, 144),
    "diag_imaging_family": (146, 147),
    "nonfac_pe_opps": (152, 157),
    "fac_pe_opps": (159, 164),
    "mp_opps": (166, 171),
}
_TXT_MIN_LENGTH = 171

_TITLE = re.compile(r"\b((?:19|20)\d{2})\b.*RELATIVE VALUE FILE\s+(JANUARY|APRIL|JULY|OCTOBER)\b", re.I)
_RELEASED = re.compile(r"RELEASED\s+(\d{1,2})/(\d{1,2})/(\d{4})", re.I)


def parse_pprrvu(source: SourceFile) -> ParsedTable:
    """Rows of a PPRRVU file (.csv, .txt or .xlsx), one per HCPCS code and modifier ('' for the global
    row). meta: conversion_factor, title, released (ISO date, when printed), year, quarter_month,
    release_label."""
    suffix = source.suffix
    if suffix == ".txt":
        rows, title_rows = _pprrvu_txt(source), []
    elif suffix in (".csv", ".xlsx"):
        rows, title_rows = _pprrvu_grid(read_grid(source))
    else:
        raise SourceFormatError(
            source.origin, None, f"expected a PPRRVU .csv, .txt or .xlsx file, not {suffix!r}"
        )
    if not rows:
        raise SourceFormatError(source.origin, None, "no PPRRVU data rows found")
    meta = _pprrvu_meta(source, rows, title_rows, "row" if suffix == ".xlsx" else "line")
    return ParsedTable(TABLE, COLUMNS, rows, source, meta)


def _pprrvu_meta(
    source: SourceFile, rows: list[tuple[Any, ...]], title_rows: list[str], unit: str
) -> dict[str, Any]:
    cf_index = COLUMNS.index("conv_factor")
    factors = {row[cf_index] for row in rows if row[cf_index] is not None}
    if not factors:
        raise SourceFormatError(source.origin, None, "no conversion factor in the CONV FACTOR column")
    if len(factors) > 1:
        first = rows[0][cf_index]
        odd = next(row for row in rows if row[cf_index] is not None and row[cf_index] != first)
        raise SourceFormatError(
            source.origin,
            f"{unit} {odd[-1]}",
            f"conversion factor {odd[cf_index]} differs from {first} on the other rows: expected one "
            f"conversion factor for the whole file (found {sorted(factors)})",
        )
    title = next((text for text in title_rows if _TITLE.search(text)), None)
    released = None
    for text in title_rows:
        found = _RELEASED.search(text)
        if found:
            month, day, year4 = (int(part) for part in found.groups())
            released = f"{year4:04d}-{month:02d}-{day:02d}"
            break
    named = release_info(source)
    year, month = named["year"], named["quarter_month"]
    if title:
        found = _TITLE.search(title)
        assert found is not None
        year, month = int(found.group(1)), MONTH_NAMES[found.group(2).upper()]
    if year is None or month is None:
        raise SourceFormatError(
            source.origin,
            None,
            "cannot tell the release: no title line like '2025 National Physician Fee Schedule Relative "
            "Value File October Release' and the file name is not a CMS one like PPRRVU25_JAN.txt or "
            "PPRRVU2025_Oct.txt",
        )
    pi_index = COLUMNS.index("pricing_indicator")
    return {
        "conversion_factor": factors.pop(),
        "title": title,
        "released": released,
        "year": year,
        "quarter_month": month,
        "release_label": release_label(year, month),
        "payment_basis": payment_basis(source.name),
        "pricing_indicators": sorted({row[pi_index] for row in rows if row[pi_index]}),
    }


def _find_header(grid: Grid, captions: tuple[str, ...], limit: int = 60) -> int:
    """Index in grid.rows of the (last) header row: the first row with a cell of each caption."""
    for index, (_, cells) in enumerate(grid.rows[:limit]):
        keys = {header_key(cell) for cell in cells}
        if all(caption in keys for caption in captions):
            return index
    raise SourceFormatError(
        grid.source.origin,
        None,
        f"no header row with the captions {','.join(captions)} in the first {limit} rows: not a CMS PPRRVU file",
    )


def _pprrvu_grid(grid: Grid) -> tuple[list[tuple[Any, ...]], list[str]]:
    header_index = _find_header(grid, ("HCPCS", "MOD", "DESCRIPTION"))
    header_cells = grid.rows[header_index][1]
    description_col = next(i for i, cell in enumerate(header_cells) if header_key(cell) == "DESCRIPTION")
    # The header is wrapped over the rows above the HCPCS,MOD,... row: climb while a row has no text in
    # the DESCRIPTION column (the title and notices are written there) and is not blank.
    top = header_index
    while top > 0 and header_index - top < 8:
        cells = grid.rows[top - 1][1]
        if is_blank_row(cells) or (len(cells) > description_col and cell_code(cells[description_col])):
            break
        top -= 1
    width = max(len(cells) for _, cells in grid.rows[top : header_index + 1])
    names: list[str] = []
    for col in range(width):
        parts = []
        for _, cells in grid.rows[top : header_index + 1]:
            if col < len(cells):
                text = cell_code(cells[col])
                if text:
                    parts.append(text)
        names.append(" ".join(parts))
    positions: dict[str, int] = {}
    for col, name in enumerate(names):
        column = _HEADER_NAMES.get(header_key(name))
        if column and column not in positions:
            positions[column] = col
    missing = [column for column in _REQUIRED if column not in positions]
    if missing:
        line = grid.rows[header_index][0]
        raise grid.error(line, f"PPRRVU header lacks the column(s) {', '.join(missing)} (found {names})")

    title_rows = [cell_code(cell) for _, cells in grid.rows[:top] for cell in cells if cell_code(cell)]
    specs = []
    for column in COLUMNS[:-1]:
        col = positions.get(column)
        label = names[col] if col is not None else column
        specs.append((column in _NUMERIC, _CODE_WIDTH.get(column, 0), col, label))
    need = max(positions.values()) + 1
    rows: list[tuple[Any, ...]] = []
    for line, cells in grid.rows[header_index + 1 :]:
        if is_blank_row(cells):
            continue
        if len(cells) < need:
            raise grid.error(
                line, f"expected {need} columns as in the header, found {len(cells)} (truncated row?)"
            )
        row: list[Any] = []
        for numeric, code_width, col, label in specs:
            if col is None:
                row.append(None if numeric else "")
            elif numeric:
                row.append(cell_number(cells[col], grid, line, col, label))
            else:
                row.append(cell_code(cells[col], code_width))
        _check_code(grid.source.origin, grid.where(line, positions["hcpcs"], "HCPCS"), row[0])
        row.append(line)
        rows.append(tuple(row))
    return rows, title_rows


def _check_code(origin: str, where: str, code: str) -> None:
    if len(code) != 5 or not code.isalnum():
        raise SourceFormatError(origin, where, f"expected a 5-character HCPCS code, found {code!r}")


def _pprrvu_txt(source: SourceFile) -> list[tuple[Any, ...]]:
    lines = text_lines(decode_text(source))
    specs = [
        (column in _NUMERIC, TXT_LAYOUT[column][0] - 1, TXT_LAYOUT[column][1], column)
        for column in COLUMNS[:-1]
    ]
    rows: list[tuple[Any, ...]] = []
    origin = source.origin
    for number, line in enumerate(lines, start=1):
        if line.startswith("HDR"):
            continue
        if is_blank_line(line):
            continue
        if len(line) < _TXT_MIN_LENGTH:
            raise SourceFormatError(
                origin,
                f"line {number}",
                f"expected a {_TXT_MIN_LENGTH}-character PPRRVU record, found {len(line)} characters "
                "(truncated file, or not a fixed-width PPRRVU file)",
            )
        row: list[Any] = []
        for numeric, start, end, column in specs:
            text = line[start:end].strip()
            if numeric:
                if text == "":
                    row.append(None)
                    continue
                value = parse_number(text)
                if value is None:
                    raise SourceFormatError(
                        origin,
                        f"line {number}, positions {start + 1}-{end} ({column})",
                        f"expected a number, found {text!r}",
                    )
                row.append(value)
            else:
                row.append(text)
        _check_code(origin, f"line {number}, positions 1-5 (HCPCS)", row[0])
        row.append(number)
        rows.append(tuple(row))
    return rows
