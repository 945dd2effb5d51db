"""NCCI procedure-to-procedure (PTP) edit files, the official tab-delimited `.txt` layout.

CMS publishes each quarter's Medicare PTP edits as four parts per setting: `ccipra-v302r0-f1.txt` ..
`-f4.txt` (practitioner) and `ccioph-v302r0-f1.txt` .. `-f4.txt` (outpatient hospital). Each part is::

    CPT only copyright 2025 American Medical Association.  All rights reserved.
    Column1/Column2 Edits
    Column 1<TAB>Column 2<TAB>*=in existence<TAB>Effective<TAB>Deletion<TAB>Modifier<TAB>PTP Edit Rationale
    <TAB><TAB>prior to 1996<TAB>Date<TAB>Date<TAB>0=not allowed<TAB>
    <TAB><TAB><TAB><TAB>*=no data<TAB>1=allowed<TAB>
    <TAB><TAB><TAB><TAB><TAB>9=not applicable<TAB>
    0001U<TAB>0030U<TAB><TAB>20180701<TAB>*<TAB>1<TAB>Misuse of Column Two code with Column One code

The third field holds `*` when the edit existed before 1996; a deletion date of `*` means none. The
data start is found by content (the first line that reads as an edit), not by a fixed line number.

The helpers here (`decode_text`, `CodeCache`, `DateCache`...) are shared by the other NCCI parsers."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable, SourceFile

COLUMNS = TABLES["ncci_ptp"].column_names
MODIFIER_INDICATORS = frozenset({"0", "1", "9"})
_HEADER_WORDS = ("column 1", "column 2", "effective", "deletion", "modifier")
_MAX_LEADING_LINES = 40
_FILE_NAME = re.compile(r"^cci(pra|oph)-v(\d{2,4})r(\d+)-f(\d+)", re.IGNORECASE)
_SETTINGS = {"pra": "practitioner", "oph": "hospital"}


# ---------------------------------------------------------------------------------------------------
# Shared helpers for the NCCI parsers
# ---------------------------------------------------------------------------------------------------


def decode_text(source: SourceFile) -> str:
    """The file as text: UTF-8 when it decodes as such, else latin-1 (CMS text files are ASCII with
    stray Windows-1252 bytes). Binary content (NUL bytes, a zip or an XLSX) is refused."""
    data = source.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = data[:4096]
    if b"\x00" in head or data.startswith(b"PK\x03\x04"):
        raise SourceFormatError(source.origin, None, "binary content where a text file was expected")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def is_code(text: str) -> bool:
    """A HCPCS/CPT code as the NCCI files write it: five ASCII letters or digits."""
    return len(text) == 5 and text.isascii() and text.isalnum()


class CodeCache(dict[str, str]):
    """Validated codes by their raw text: each distinct text is checked once, and equal codes share one
    string object (the PTP tables repeat each code thousands of times)."""

    def check(self, raw: str, origin: str, location: str, what: str) -> str:
        code = raw.strip()
        if not is_code(code):
            raise SourceFormatError(
                origin, location, f"{what}: expected a 5-character HCPCS/CPT code, found {raw!r}"
            )
        self[raw] = code
        return code


class DateCache(dict[str, str | None]):
    """ISO dates by their raw text, so each distinct date text is parsed once. `markers` are the texts
    that mean "no date" (CMS writes `*`)."""

    def __init__(self, parse: Callable[[str], date | None], expected: str, markers: tuple[str, ...] = ("*",)):
        super().__init__({"": None, **{m: None for m in markers}})
        self._parse = parse
        self._expected = expected

    def check(self, raw: str, origin: str, location: str, what: str) -> str | None:
        text = raw.strip()
        if text in self:
            value = self[text]
        else:
            try:
                parsed = self._parse(text)
            except (ValueError, IndexError) as exc:
                raise SourceFormatError(
                    origin, location, f"{what}: expected {self._expected}, found {raw!r}"
                ) from exc
            value = parsed.isoformat() if parsed else None
            self[text] = value
        self[raw] = value
        return value


def parse_yyyymmdd_strict(text: str) -> date | None:
    """YYYYMMDD (8 digits) as a date; blank is no date."""
    if not text:
        return None
    if len(text) != 8 or not text.isdigit():
        raise ValueError(text)
    return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))


def parse_any_date(text: str) -> date | None:
    """The date forms an edit table may use: ISO YYYY-MM-DD, YYYYMMDD, MM/DD/YYYY (or M/D/YYYY), and
    NCCI add-on file Julian YYYYDDD."""
    if not text:
        return None
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        return date.fromisoformat(text)
    if len(text) == 8 and text.isdigit():
        return parse_yyyymmdd_strict(text)
    if len(text) == 7 and text.isdigit():
        from hcpcs.sources.base import parse_julian

        return parse_julian(text)
    if "/" in text:
        month, day, year = text.split("/")
        if len(year) != 4:
            raise ValueError(text)
        return date(int(year), int(month), int(day))
    raise ValueError(text)


def version_quarter(version: str) -> tuple[int, int] | None:
    """(year, quarter) of an NCCI version such as '302r0' or '30.2' (v30.0 = 2024 Q1, each quarter
    adds 0.1; the whole number is the year minus 1994)."""
    digits = version.lower().split("r")[0].replace(".", "").lstrip("v")
    if not digits.isdigit() or len(digits) < 2:
        return None
    major, quarter = int(digits[:-1]), int(digits[-1])
    if not 0 <= quarter <= 3:
        return None
    return 1994 + major, quarter + 1


def ptp_file_info(name: str) -> dict[str, Any] | None:
    """Facts in an official PTP file name, e.g. 'ccipra-v302r0-f1.txt' ->
    `{"setting": "practitioner", "version": "302r0", "part": 1, "year": 2024, "quarter": 3}`.
    None when the name is not an NCCI PTP file name."""
    match = _FILE_NAME.match(name.rsplit("/", 1)[-1])
    if not match:
        return None
    setting, major, revision, part = match.groups()
    version = f"{major}r{revision}"
    info: dict[str, Any] = {"setting": _SETTINGS[setting.lower()], "version": version, "part": int(part)}
    year_quarter = version_quarter(version)
    if year_quarter:
        info["year"], info["quarter"] = year_quarter
    return info


# ---------------------------------------------------------------------------------------------------
# The PTP file
# ---------------------------------------------------------------------------------------------------


def _looks_like_edit(line: str) -> bool:
    fields = line.split("\t")
    if len(fields) < 7 or not is_code(fields[0].strip()) or not is_code(fields[1].strip()):
        return False
    effective = fields[3].strip()
    return len(effective) == 8 and effective.isdigit() and fields[5].strip() in MODIFIER_INDICATORS


def _could_be_edit(line: str) -> bool:
    """A line meant as an edit row, even a malformed one: a code in column 1 or 2, or a date where the
    effective date goes. (No header line of the official layout looks like this.)"""
    fields = [f.strip() for f in line.split("\t")]
    if len(fields) < 2:
        return is_code(fields[0])
    if is_code(fields[0]) or is_code(fields[1]):
        return True
    return len(fields) > 3 and len(fields[3]) == 8 and fields[3].isdigit()


def _bad_edit_row(origin: str, index: int, line: str) -> SourceFormatError:
    return SourceFormatError(
        origin,
        f"line {index + 1}",
        "expected a PTP edit row (column 1 code, column 2 code, prior-1996 '*' or blank, effective date "
        "YYYYMMDD, deletion date YYYYMMDD or '*', modifier indicator 0/1/9, rationale), "
        f"found {line[:120]!r}",
    )


def _find_data_start(lines: list[str], origin: str) -> int:
    """Index of the first edit row. Lines before it must be notice and header lines: a line there that
    looks like a (malformed) edit row is reported rather than skipped."""
    for index, line in enumerate(lines[:_MAX_LEADING_LINES]):
        if _looks_like_edit(line):
            for before in range(index):
                if _could_be_edit(lines[before]):
                    raise _bad_edit_row(origin, before, lines[before])
            return index
    for index, line in enumerate(lines[:_MAX_LEADING_LINES]):
        if _could_be_edit(line):
            raise _bad_edit_row(origin, index, line)
    raise SourceFormatError(
        origin,
        f"lines 1-{min(len(lines), _MAX_LEADING_LINES)}" if lines else None,
        "no PTP edit rows found: expected the AMA notice, 'Column1/Column2 Edits', the column header "
        "and tab-delimited edit rows",
    )


def _check_header(lines: list[str], start: int, origin: str) -> str:
    header = " ".join(" ".join(line.split()) for line in lines[:start]).lower()
    missing = [word for word in _HEADER_WORDS if word not in header]
    if missing:
        raise SourceFormatError(
            origin,
            f"lines 1-{start}" if start else "line 1",
            "expected the PTP column header 'Column 1 | Column 2 | *=in existence prior to 1996 | "
            "Effective Date | Deletion Date *=no data | Modifier 0=not allowed 1=allowed 9=not applicable "
            f"| PTP Edit Rationale' before the first edit; missing {', '.join(repr(w) for w in missing)}",
        )
    return header


def parse_ptp_txt(source: SourceFile) -> ParsedTable:
    """Rows of table `ncci_ptp` from one official PTP part file (tab-delimited text)."""
    origin = source.origin
    lines = decode_text(source).splitlines()
    start = _find_data_start(lines, origin)
    _check_header(lines, start, origin)

    codes = CodeCache()
    dates = DateCache(parse_yyyymmdd_strict, "a YYYYMMDD date or '*'")
    rationales: dict[str, str | None] = {}
    prior_flags = {"": 0, "*": 1}
    modifiers = {m: m for m in MODIFIER_INDICATORS}
    rows: list[tuple[Any, ...]] = []
    append = rows.append

    for index in range(start, len(lines)):
        line = lines[index]
        fields = line.split("\t")
        line_number = index + 1
        if len(fields) < 7:
            if not line.strip():
                continue
            raise SourceFormatError(
                origin,
                f"line {line_number}",
                f"expected 7 tab-separated fields, found {len(fields)}: {line[:120]!r}",
            )
        raw1, raw2, prior, effective, deletion, modifier, rationale = fields[:7]
        column1 = codes.get(raw1) or codes.check(raw1, origin, f"line {line_number}", "column 1")
        column2 = codes.get(raw2) or codes.check(raw2, origin, f"line {line_number}", "column 2")
        prior_1996 = prior_flags.get(prior)
        if prior_1996 is None:
            prior_1996 = prior_flags.get(prior.strip())
            if prior_1996 is None:
                raise SourceFormatError(
                    origin, f"line {line_number}", f"prior-1996 flag: expected '*' or blank, found {prior!r}"
                )
        effective_iso = (
            dates[effective]
            if effective in dates
            else dates.check(effective, origin, f"line {line_number}", "effective date")
        )
        deletion_iso = (
            dates[deletion]
            if deletion in dates
            else dates.check(deletion, origin, f"line {line_number}", "deletion date")
        )
        indicator = modifiers.get(modifier)
        if indicator is None:
            indicator = modifiers.get(modifier.strip())
            if indicator is None:
                raise SourceFormatError(
                    origin,
                    f"line {line_number}",
                    f"modifier indicator: expected 0, 1 or 9, found {modifier!r}",
                )
        if rationale in rationales:
            rationale_text = rationales[rationale]
        else:
            rationale_text = rationales[rationale] = rationale.strip() or None
        append(
            (
                column1,
                column2,
                prior_1996,
                effective_iso,
                deletion_iso,
                indicator,
                rationale_text,
                line_number,
            )
        )

    meta: dict[str, Any] = {"notice": " ".join(lines[0].split()) if lines else ""}
    if start > 1:
        meta["title"] = " ".join(lines[1].split())
    info = ptp_file_info(source.name)
    if info:
        meta.update(info)
    return ParsedTable("ncci_ptp", COLUMNS, rows, source, meta)
