"""Geographic practice cost indices by Medicare locality (Addendum E of the physician fee schedule rule,
GPCIyyyy.csv/.txt/.xlsx in the RVU bundle).

Layout: a title ("ADDENDUM E. FINAL CY 2025 GEOGRAPHIC PRACTICE COST INDICES ..."), a header row (MAC,
State, Locality Number, Locality Name, 2025 PW GPCI (with 1.0 Floor), 2025 PE GPCI, 2025 MP GPCI), one
row per locality, then footnotes ("MAC Assignments as of ...", "*Work GPCI reflects a 1.5 floor in Alaska
..."). Locality names carry '*'/'**' footnote marks, dropped here. The 2022 CSV writes MAC 2102 and
locality 1 for 02102 and 01: both are zero-padded back. The TXT aligns columns differently each year, so
its records are split on whitespace (the locality name is what lies between the third field and the three
indices).

CY 2026 (RVU26A) has two work columns, `2026 PW GPCI (without 1.0 Floor)` and `2026 PW GPCI (with 1.0
Floor)`; CMS pays with the floored one (the 1.0 work GPCI floor was extended by statute; RVU26C's
footnote: through January 1, 2027), so the column captioned "with ... floor" is read wherever a file
has both, and the caption used is recorded (meta `work_gpci_column`).
"""

from __future__ import annotations

from typing import Any

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.mpfs_rvu import (
    Grid,
    cell_code,
    cell_number,
    decode_text,
    grid_title,
    is_blank_line,
    locality_rows,
    match_header,
    parse_number,
    read_grid,
    release_info,
    text_lines,
    year_from_text,
)

TABLE = "mpfs_gpci"
COLUMNS = TABLES[TABLE].column_names

_HEADER_RULES = {
    "mac": lambda key: "CONTRACTOR" in key or key in ("MAC", "CARRIER"),
    "state": lambda key: key == "STATE",
    "locality_number": lambda key: key in ("LOCALITYNUMBER", "LOCALITY"),
    "locality_name": lambda key: key == "LOCALITYNAME",
    # The work GPCI CMS pays with: a "without 1.0 floor" column is read only where no other exists.
    "pw_gpci": lambda key: ("PWGPCI" in key or "WORKGPCI" in key) and "WITHOUT" not in key,
    "pe_gpci": lambda key: "PEGPCI" in key,
    "mp_gpci": lambda key: "MPGPCI" in key,
}


def locality_name(text: str) -> str:
    """A locality name without its footnote marks: 'ALASKA*' -> 'ALASKA', 'WYOMING**' -> 'WYOMING'."""
    return text.strip().rstrip("*").rstrip()


def parse_gpci(source: SourceFile) -> ParsedTable:
    """One row per payment locality: MAC, state, locality number, name and the work (PW), practice expense
    and malpractice GPCIs. meta: year, title, footnotes."""
    if source.suffix == ".txt":
        rows, title, footnotes, work_column = _gpci_txt(source)
    elif source.suffix in (".csv", ".xlsx"):
        rows, title, footnotes, work_column = _gpci_grid(read_grid(source))
    else:
        raise SourceFormatError(
            source.origin, None, f"expected a GPCI .csv, .txt or .xlsx file, not {source.name!r}"
        )
    if not rows:
        raise SourceFormatError(source.origin, None, "no GPCI locality rows found")
    year = (year_from_text(title) if title else None) or release_info(source)["year"]
    return ParsedTable(TABLE, COLUMNS, rows, source, {"year": year, "title": title, "footnotes": footnotes,
                                                      "work_gpci_column": work_column})


_UNFLOORED_RULES = {
    **_HEADER_RULES, "pw_gpci": lambda key: "PWGPCI" in key or "WORKGPCI" in key,
}


def _gpci_grid(grid: Grid) -> tuple[list[tuple[Any, ...]], str | None, list[str], str]:
    try:
        header_index, cols, names = match_header(grid, _HEADER_RULES, "GPCI")
    except SourceFormatError:
        header_index, cols, names = match_header(grid, _UNFLOORED_RULES, "GPCI")
    title = grid_title(grid, header_index)
    rows: list[tuple[Any, ...]] = []
    footnotes: list[str] = []
    for line, cells, mac, locality in locality_rows(grid, header_index, cols, footnotes):
        values = [
            cell_number(cells[cols[name]], grid, line, cols[name], names[cols[name]])
            for name in ("pw_gpci", "pe_gpci", "mp_gpci")
        ]
        rows.append(
            (
                mac.zfill(5),
                cell_code(cells[cols["state"]]),
                locality.zfill(2),
                locality_name(cell_code(cells[cols["locality_name"]])),
                *values,
                line,
            )
        )
    return rows, title, footnotes, names[cols["pw_gpci"]]


def _gpci_txt(source: SourceFile) -> tuple[list[tuple[Any, ...]], str | None, list[str], str]:
    lines = text_lines(decode_text(source))
    header = next(
        (
            i
            for i, line in enumerate(lines[:40])
            if "LOCALITY NAME" in line.upper() and "GPCI" in line.upper()
        ),
        None,
    )
    if header is None:
        raise SourceFormatError(source.origin, None, "no GPCI header line (... Locality Name ... GPCI) found")
    title = next((line.strip() for line in lines[:header] if line.strip()), None)
    # With two work columns (without and with the 1.0 floor) a record ends in four indices; the header
    # says which of the first two is the floored one.
    heading = lines[header].upper()
    two_work = "WITHOUT" in heading and heading.count("PW GPCI") + heading.count("WORK GPCI") >= 2
    floored_first = two_work and heading.find("WITHOUT") > heading.find("WITH ")
    work_column = "PW GPCI (with 1.0 floor)" if two_work else "PW GPCI"
    rows: list[tuple[Any, ...]] = []
    footnotes: list[str] = []
    for number, line in enumerate(lines[header + 1 :], start=header + 2):
        if is_blank_line(line):
            continue
        head = line.split(None, 3)
        if not head[0].isdigit():
            footnotes.append(line.strip())
            continue
        where = f"line {number}"
        if footnotes:
            raise SourceFormatError(source.origin, where, "locality row after the footnotes")
        tail = head[3].rsplit(None, 4 if two_work else 3) if len(head) == 4 else []
        if two_work and len(tail) == 5:
            name, first, second, pe, mp = tail
            tail = [name, first if floored_first else second, pe, mp]
        if len(tail) != 4:
            raise SourceFormatError(
                source.origin, where, "expected MAC, state, locality number, name and three GPCIs"
            )
        values = []
        for label, text in zip(("PW GPCI", "PE GPCI", "MP GPCI"), tail[1:], strict=True):
            value = parse_number(text)
            if value is None:
                raise SourceFormatError(
                    source.origin, f"{where} ({label})", f"expected a number, found {text!r}"
                )
            values.append(value)
        if not head[2].isdigit():
            raise SourceFormatError(source.origin, where, f"expected a locality number, found {head[2]!r}")
        rows.append((head[0].zfill(5), head[1], head[2].zfill(2), locality_name(tail[0]), *values, number))
    return rows, title, footnotes, work_column
