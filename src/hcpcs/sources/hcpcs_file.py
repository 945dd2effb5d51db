"""The CMS HCPCS Level II alpha-numeric file ("ANWEB"): fixed-width 320-character records (TXT) or the
same records as a spreadsheet (XLSX), one code per first line plus continuation lines of long text.

Layout (HCPC2026_recordlayout.txt, 1-based inclusive): code 1-5 (modifiers: 3 blanks + the modifier in
4-5), sequence 6-10, record id (RIC) 11 -- 3 first line of a procedure, 4 its continuation, 7 first line
of a modifier, 8 its continuation -- long description 12-91, short description 92-119, then the detail
fields of the first line in 120-293 (see `_TXT_FIELDS`). Both forms give one row per code in the
`hcpcs_code` table; dates YYYYMMDD become ISO text."""

from __future__ import annotations

import contextlib
import re
from datetime import date
from typing import Any

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.xlsx import cell_ref, cell_text, read_sheet

TABLE = "hcpcs_code"
COLUMNS = TABLES[TABLE].column_names

PROCEDURE, PROCEDURE_MORE, MODIFIER, MODIFIER_MORE = "3", "4", "7", "8"
_HEAD_KIND = {PROCEDURE: "procedure", MODIFIER: "modifier"}
_CONTINUES = {PROCEDURE_MORE: PROCEDURE, MODIFIER_MORE: MODIFIER}
RECORD_LENGTH = 320
# The last detail field of a first line ends at 293 (action code); only filler follows it.
_MIN_HEAD_LENGTH = 293

# 0-based [start, end) slices of the detail fields of a first line, in the order of `_DETAIL_NAMES`.
# A tuple of slices is a repeating ("occurs") field whose non-blank values are comma-joined.
_Slices = tuple[tuple[int, int], ...]
_TXT_FIELDS: tuple[tuple[str, _Slices], ...] = (
    ("short_description", ((91, 119),)),
    ("pricing_indicators", tuple((119 + 2 * i, 121 + 2 * i) for i in range(4))),
    ("multiple_pricing_indicator", ((127, 128),)),
    ("cim_references", tuple((128 + 6 * i, 134 + 6 * i) for i in range(3))),
    ("mcm_references", tuple((146 + 8 * i, 154 + 8 * i) for i in range(3))),
    ("statute", ((170, 180),)),
    ("lab_certifications", tuple((180 + 3 * i, 183 + 3 * i) for i in range(8))),
    ("cross_references", tuple((204 + 5 * i, 209 + 5 * i) for i in range(5))),
    ("coverage", ((229, 230),)),
    ("asc_group", ((230, 232),)),
    ("asc_effective_date", ((232, 240),)),
    ("mog_group", ((240, 243),)),
    ("mog_policy_indicator", ((243, 244),)),
    ("mog_effective_date", ((244, 252),)),
    ("processing_note", ((252, 256),)),
    ("betos", ((256, 259),)),
    ("type_of_service", tuple((260 + i, 261 + i) for i in range(5))),
    ("anesthesia_base_units", ((265, 268),)),
    ("added_date", ((268, 276),)),
    ("action_effective_date", ((276, 284),)),
    ("termination_date", ((284, 292),)),
    ("action_code", ((292, 293),)),
)
_DETAIL_NAMES = tuple(name for name, _ in _TXT_FIELDS)
_DATE_FIELDS = frozenset(
    {"asc_effective_date", "mog_effective_date", "added_date", "action_effective_date", "termination_date"}
)
# 1-based first column of each field, for error messages.
_TXT_COLUMN = {name: slices[0][0] + 1 for name, slices in _TXT_FIELDS}

# XLSX header names (as CMS writes them in 2019-2026) of each detail field, in occurrence order.
_XLSX_HEADERS: dict[str, tuple[str, ...]] = {
    "short_description": ("SHORT DESCRIPTION",),
    "pricing_indicators": ("PRICE1", "PRICE2", "PRICE3", "PRICE4"),
    "multiple_pricing_indicator": ("MULT_PI",),
    "cim_references": ("CIM1", "CIM2", "CIM3"),
    "mcm_references": ("MCM1", "MCM2", "MCM3"),
    "statute": ("STATUTE",),
    "lab_certifications": tuple(f"LABCERT{i}" for i in range(1, 9)),
    "cross_references": tuple(f"XREF{i}" for i in range(1, 6)),
    "coverage": ("COV",),
    "asc_group": ("ASC_GRP",),
    "asc_effective_date": ("ASC_DT",),
    "mog_group": ("OPPS",),
    "mog_policy_indicator": ("OPPS_PI",),
    "mog_effective_date": ("OPPS_DT",),
    "processing_note": ("PROCNOTE",),
    "betos": ("BETOS",),
    "type_of_service": ("TOS1", "TOS2", "TOS3", "TOS4", "TOS5"),
    "anesthesia_base_units": ("ANEST_BU",),
    "added_date": ("ADD DT",),
    "action_effective_date": ("ACT EFF DT",),
    "termination_date": ("TERM DT",),
    "action_code": ("ACTION CD",),
}
_XLSX_KEY_HEADERS = ("HCPC", "SEQNUM", "RECID", "LONG DESCRIPTION")

_MONTHS = {"jan": 1, "january": 1, "apr": 4, "april": 4, "jul": 7, "july": 7, "oct": 10, "october": 10}
_MONTH_LABEL = {1: "Jan", 4: "Apr", 7: "Jul", 10: "Oct"}
_YEAR_RE = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})(?![0-9])")
_MONTH_RE = re.compile(r"(?<![a-z])(january|april|july|october|jan|apr|jul|oct)(?![a-z])", re.I)


_ISSUE_DATE = re.compile(r"ANWEB[_ -]*(\d{2})(\d{2})(\d{4})(?![0-9])", re.I)
_ISSUE_VERSION = re.compile(r"ANWEB[_ -]*v(\d+)(?![0-9])", re.I)


def issue_of(name: str) -> tuple[str, int] | None:
    """Which issue of a quarter's file a name is: CMS re-issues a quarter's ANWEB file under the same
    quarter, dated (`HCPC2026_JAN_ANWEB_12082025`, then `_01122026`) or numbered (`HCPC2025_OCT_ANWEB_v2`,
    then `_v3`). ('date', YYYYMMDD) or ('version', n); None when the name carries neither."""
    dated = _ISSUE_DATE.search(name)
    if dated:
        month, day, year = dated.groups()
        with contextlib.suppress(ValueError):
            return ("date", int(date(int(year), int(month), int(day)).strftime("%Y%m%d")))
    numbered = _ISSUE_VERSION.search(name)
    if numbered:
        return ("version", int(numbered.group(1)))
    return None


def release_info(source: SourceFile) -> dict[str, Any]:
    """Year and quarter month of a HCPCS release from its CMS file name: `HCPC2026_JAN_ANWEB_01122026.txt`
    -> 2026 Jan; the quarterly files `HCPC{year}_{APR,JUL,OCT}_ANWEB*` their quarter; an annual file
    without a month (`HCPC2020_ANWEB_w_disclaimer.txt`, `HCPC2019_CONTR_ANWEB.txt`) is the January
    release."""
    name = source.name
    year_match = _YEAR_RE.search(name)
    if year_match is None:
        raise SourceFormatError(
            source.origin, None,
            "no release year in the file name (expected a name like HCPC2026_JAN_ANWEB.txt)",
        )
    year = int(year_match.group(1))
    month_match = _MONTH_RE.search(name)
    month = _MONTHS[month_match.group(1).lower()] if month_match else 1
    return {"year": year, "month": month, "label": f"HCPCS {year} {_MONTH_LABEL[month]}"}


def parse_anweb_txt(source: SourceFile) -> ParsedTable:
    """The fixed-width ANWEB text file -> `hcpcs_code` rows, one per procedure or modifier code.

    Lines before the first record (the disclaimer CMS puts on some years' files) are skipped; after it
    every non-blank line must be a record, and a continuation must follow a first line of the same code."""
    origin = source.origin
    lines = source.text().splitlines()
    dates: dict[str, str | None] = {}
    rows: list[tuple[Any, ...]] = []
    head: list[Any] | None = None  # [code, kind, sequence, long parts, details, line number, ric]
    started = False
    for number, line in enumerate(lines, 1):
        ric = line[10:11]
        is_record = ric in _HEAD_KIND or ric in _CONTINUES
        if not started:
            if not (is_record and line[5:10].isdigit()):
                continue  # preamble (disclaimer, title) before the data
            started = True
        if not is_record or not line[5:10].isdigit():
            if not line.strip():
                continue
            raise SourceFormatError(
                origin, f"line {number}",
                f"expected a HCPCS record (a 5-digit sequence number in columns 6-10 and record id 3, 4, 7 "
                f"or 8 in column 11), found {line[:40].rstrip()!r}",
            )
        if ric in _CONTINUES:
            code = line[3:5].strip() if ric == MODIFIER_MORE else line[0:5].strip()
            if head is None or head[6] != _CONTINUES[ric] or head[0] != code:
                kind = "modifier" if ric == MODIFIER_MORE else "procedure"
                raise SourceFormatError(
                    origin, f"line {number}",
                    f"continuation line (record id {ric}) of {kind} {code!r} does not follow a first line "
                    f"(record id {_CONTINUES[ric]}) of the same code",
                )
            head[3].append(line[11:91])
            continue
        if head is not None:
            rows.append(_finish(head))
        head = _start_txt(line, number, ric, origin, dates)
    if head is not None:
        rows.append(_finish(head))
    if not rows:
        raise SourceFormatError(
            origin, None,
            "no HCPCS records found (expected 320-character lines with record id 3 or 7 in column 11)",
        )
    return ParsedTable(TABLE, COLUMNS, rows, source, _meta(source, rows))


def _start_txt(
    line: str, number: int, ric: str, origin: str, dates: dict[str, str | None]
) -> list[Any]:
    """The pending row of a first line (RIC 3 or 7): checks its length and code, decodes its details."""
    if len(line) < _MIN_HEAD_LENGTH:
        raise SourceFormatError(
            origin, f"line {number}",
            f"record is {len(line)} characters long, expected {RECORD_LENGTH} (truncated line?)",
        )
    if line[RECORD_LENGTH:].strip():
        raise SourceFormatError(
            origin, f"line {number}",
            f"text beyond column {RECORD_LENGTH}: {line[RECORD_LENGTH:RECORD_LENGTH + 30].strip()!r}",
        )
    if ric == MODIFIER:
        code = line[3:5].strip()
        if line[0:3].strip() or len(code) != 2 or not (code.isascii() and code.isalnum()):
            raise SourceFormatError(
                origin, f"line {number}",
                f"expected a 2-character modifier in columns 4-5 after 3 blanks, found {line[0:5]!r}",
            )
    else:
        code = line[0:5]
        if not (code.isascii() and code.isalnum()):
            raise SourceFormatError(
                origin, f"line {number}",
                f"expected a 5-character procedure code in columns 1-5, found {code!r}",
            )
    details: list[str | None] = []
    for name, slices in _TXT_FIELDS:
        if len(slices) == 1:
            start, end = slices[0]
            text = line[start:end].strip()
            if name in _DATE_FIELDS:
                details.append(_iso_date(text, dates, origin, f"line {number}, column {start + 1}", name))
            else:
                details.append(text or None)
        else:
            details.append(",".join(v for v in (line[s:e].strip() for s, e in slices) if v) or None)
    return [code, _HEAD_KIND[ric], line[5:10], [line[11:91]], details, number, ric]


def _finish(head: list[Any]) -> tuple[Any, ...]:
    """The row of a pending code: its long description parts joined with single spaces."""
    code, kind, sequence, parts, details, line, _ = head
    return (code, kind, sequence, " ".join(" ".join(parts).split()) or None, *details, line)


def _iso_date(
    text: str, cache: dict[str, str | None], origin: str, where: str, field: str
) -> str | None:
    """A YYYYMMDD field as ISO text (blank -> None); anything else is a SourceFormatError."""
    if text in cache:
        return cache[text]
    if not text:
        cache[text] = None
        return None
    try:
        if len(text) != 8 or not (text.isascii() and text.isdigit()):
            raise ValueError(text)
        value = date(int(text[0:4]), int(text[4:6]), int(text[6:8])).isoformat()
    except ValueError:
        raise SourceFormatError(
            origin, where, f"{field.replace('_', ' ')}: expected a date YYYYMMDD, found {text!r}"
        ) from None
    cache[text] = value
    return value


def parse_anweb_xlsx(source: SourceFile) -> ParsedTable:
    """The ANWEB spreadsheet -> the same `hcpcs_code` rows as `parse_anweb_txt` (source_line is the
    spreadsheet row). The header row is found by its column names; rows above it are skipped.

    The XLSX writes the sequence number with 4 digits ('0010') where the TXT has the 5 of the record
    layout ('00100', numbered by 100s); it is rewritten to the TXT form so both give identical rows."""
    origin = source.origin
    sheet = read_sheet(source, 0)
    header_index, columns = _find_header(sheet, origin)
    code_col, seq_col, ric_col, long_col = (columns[name] for name in _XLSX_KEY_HEADERS)
    detail_cols = [tuple(columns[h] for h in _XLSX_HEADERS[name]) for name in _DETAIL_NAMES]
    width = max(columns.values()) + 1
    dates: dict[str, str | None] = {}
    rows: list[tuple[Any, ...]] = []
    head: list[Any] | None = None  # [code, kind, sequence, long parts, details, row number, ric]
    for index in range(header_index + 1, len(sheet)):
        cells = sheet[index]
        if len(cells) < width:
            cells = list(cells) + [""] * (width - len(cells))
        texts = [cell_text(c) for c in cells[:width]]
        if not any(texts):
            continue
        ric = texts[ric_col]
        code = texts[code_col]
        if ric in _CONTINUES:
            if head is None or head[6] != _CONTINUES[ric] or head[0] != code:
                raise SourceFormatError(
                    origin, f"row {index + 1}",
                    f"continuation row (RECID {ric}) of {code!r} does not follow a first row "
                    f"(RECID {_CONTINUES[ric]}) of the same code",
                )
            head[3].append(texts[long_col])
            continue
        if ric not in _HEAD_KIND:
            raise SourceFormatError(
                origin, f"cell {cell_ref(index, ric_col)}", f"expected RECID 3, 4, 7 or 8, found {ric!r}"
            )
        if head is not None:
            rows.append(_finish(head))
        if not (code.isascii() and code.isalnum()) or len(code) != (2 if ric == MODIFIER else 5):
            what = "a 2-character modifier" if ric == MODIFIER else "a 5-character procedure code"
            raise SourceFormatError(
                origin, f"cell {cell_ref(index, code_col)}", f"expected {what}, found {code!r}"
            )
        sequence = _xlsx_sequence(texts[seq_col], origin, cell_ref(index, seq_col))
        details: list[str | None] = []
        for name, cols in zip(_DETAIL_NAMES, detail_cols, strict=True):
            if len(cols) == 1:
                col = cols[0]
                if name in _DATE_FIELDS:
                    where = cell_ref(index, col)
                    details.append(_xlsx_date(cells[col], texts[col], dates, origin, where, name))
                else:
                    details.append(texts[col] or None)
            else:
                details.append(",".join(texts[c] for c in cols if texts[c]) or None)
        head = [code, _HEAD_KIND[ric], sequence, [texts[long_col]], details, index + 1, ric]
    if head is not None:
        rows.append(_finish(head))
    if not rows:
        raise SourceFormatError(origin, None, "no HCPCS records found below the header row")
    return ParsedTable(TABLE, COLUMNS, rows, source, _meta(source, rows))


def _find_header(sheet: list[list[Any]], origin: str) -> tuple[int, dict[str, int]]:
    """The header row (the first row naming HCPC, SEQNUM, RECID and LONG DESCRIPTION) and the 0-based
    column of every header name the parser needs."""
    wanted = set(_XLSX_KEY_HEADERS) | {h for names in _XLSX_HEADERS.values() for h in names}
    for index, cells in enumerate(sheet):
        names = [" ".join(cell_text(c).upper().split()) for c in cells]
        if not all(key in names for key in _XLSX_KEY_HEADERS):
            continue
        columns = {name: col for col, name in reversed(list(enumerate(names))) if name in wanted}
        missing = [h for h in sorted(wanted) if h not in columns]
        if missing:
            raise SourceFormatError(
                origin, f"row {index + 1}", f"header row lacks the column(s) {', '.join(missing)}"
            )
        return index, columns
    raise SourceFormatError(
        origin, None, "no header row naming the columns HCPC, SEQNUM, RECID and LONG DESCRIPTION"
    )


def _xlsx_sequence(text: str, origin: str, where: str) -> str:
    if not text.isdigit() or len(text) not in (4, 5):
        raise SourceFormatError(
            origin, f"cell {where}", f"expected a 4- or 5-digit sequence number, found {text!r}"
        )
    return text if len(text) == 5 else text + "0"


def _xlsx_date(
    value: Any, text: str, cache: dict[str, str | None], origin: str, where: str, field: str
) -> str | None:
    """A date cell: YYYYMMDD text or number (as CMS types it), or a real spreadsheet date."""
    if isinstance(value, date):
        return date(value.year, value.month, value.day).isoformat()
    return _iso_date(text, cache, origin, f"cell {where}", field)


def _meta(source: SourceFile, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    procedures = sum(1 for row in rows if row[1] == "procedure")
    meta: dict[str, Any] = {"procedure_count": procedures, "modifier_count": len(rows) - procedures}
    # A renamed file still parses; the release is then named by whoever loads it.
    with contextlib.suppress(SourceFormatError):
        meta.update(release_info(source))
    return meta

