"""Counties included in each Medicare payment locality (yyLOCCO.csv/.txt/.xlsx in the RVU bundle).

Layout: a title ("COUNTIES INCLUDED IN 2025 LOCALITIES. ..."), a header row (Medicare Adminstrative
Contractor, Locality Number, State, Fee Schedule Area, Counties), then one row per locality with blank
rows between states. The state name is written only on the first row of each state and is carried down
here. The 2023-2025 CSVs write '2102' and '1' for MAC 02102 and locality 01: both are zero-padded back. A '*' after
a fee schedule area marks "Payment locality is serviced by two carriers" (kept in meta footnotes; the
mark is dropped from the name, as for GPCI locality names).

Each state's rows are preceded by a blank row. In the TXT of 2024 and 2025 the first California row
(after its blank row) has no state name: carrying the previous state down would file California's
localities under ARKANSAS, so a state group that opens without a name gets state None and a notice in
meta["notices"]. That TXT also words the Los Angeles and San Francisco rows differently from the
CSV/XLSX, and every TXT (2022-2025) cuts the counties to 58 characters: prefer the CSV or XLSX. The 22LOCCO title says "2021
LOCALITIES": the year is taken from the file name first.
"""

from __future__ import annotations

from typing import Any

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.mpfs_rvu import (
    Grid,
    cell_code,
    decode_text,
    grid_title,
    is_blank_line,
    locality_rows,
    match_header,
    read_grid,
    release_info,
    text_lines,
    year_from_text,
)

TABLE = "mpfs_locality_county"
COLUMNS = TABLES[TABLE].column_names

_HEADER_RULES = {
    "mac": lambda key: "CONTRACTOR" in key or key in ("MAC", "CARRIER"),
    "locality_number": lambda key: key in ("LOCALITYNUMBER", "LOCALITY"),
    "state": lambda key: key == "STATE",
    "fee_schedule_area": lambda key: key == "FEESCHEDULEAREA",
    "counties": lambda key: key == "COUNTIES",
}


def _area(text: str) -> str:
    return text.strip().rstrip("*").rstrip()


def parse_locco(source: SourceFile) -> ParsedTable:
    """One row per locality: MAC, locality number, state (carried down), fee schedule area, counties.
    meta: year, title, footnotes, notices."""
    notices: list[str] = []
    if source.suffix == ".txt":
        rows, title, footnotes = _locco_txt(source, notices)
    elif source.suffix in (".csv", ".xlsx"):
        rows, title, footnotes = _locco_grid(read_grid(source), notices)
    else:
        raise SourceFormatError(
            source.origin, None, f"expected a LOCCO .csv, .txt or .xlsx file, not {source.name!r}"
        )
    if not rows:
        raise SourceFormatError(source.origin, None, "no locality rows found")
    year = release_info(source)["year"] or (year_from_text(title) if title else None)
    meta = {"year": year, "title": title, "footnotes": footnotes, "notices": notices}
    return ParsedTable(TABLE, COLUMNS, rows, source, meta)


class _StateCarrier:
    """Carries the state name down the rows of a state group (rows between blank rows)."""

    def __init__(self, notices: list[str]) -> None:
        self.notices = notices
        self.state: str | None = None
        self.group_start = True

    def blank(self) -> None:
        self.group_start = True

    def next(self, text: str, where: str) -> str | None:
        if text:
            self.state = text
        elif self.group_start:
            self.state = None
            self.notices.append(
                f"{where}: the first row of a state group has no state name; its rows get no state"
            )
        self.group_start = False
        return self.state


def _locco_grid(grid: Grid, notices: list[str]) -> tuple[list[tuple[Any, ...]], str | None, list[str]]:
    header_index, cols, _ = match_header(grid, _HEADER_RULES, "LOCCO")
    title = grid_title(grid, header_index)
    rows: list[tuple[Any, ...]] = []
    footnotes: list[str] = []
    carrier = _StateCarrier(notices)
    for line, cells, mac, locality in locality_rows(grid, header_index, cols, footnotes, on_blank=carrier.blank):
        state = carrier.next(cell_code(cells[cols["state"]]), grid.where(line))
        rows.append(
            (
                mac.zfill(5),
                locality.zfill(2),
                state,
                _area(cell_code(cells[cols["fee_schedule_area"]])),
                cell_code(cells[cols["counties"]]),
                line,
            )
        )
    return rows, title, footnotes


def _field_starts(line: str) -> list[int]:
    """Start positions of the fields of a line whose fields are separated by two or more spaces."""
    starts = []
    previous = " "
    gap = 2
    for index, char in enumerate(line):
        if char != " " and previous == " " and gap >= 2:
            starts.append(index)
        gap = gap + 1 if char == " " else 0
        previous = char
    return starts


def _locco_txt(source: SourceFile, notices: list[str]) -> tuple[list[tuple[Any, ...]], str | None, list[str]]:
    """Fixed-width columns; their start positions are read from the first locality line that has all
    five fields (MAC, locality, state, fee schedule area, counties) and applied to every line."""
    lines = text_lines(decode_text(source))
    header = next(
        (
            i
            for i, line in enumerate(lines[:40])
            if "FEE SCHEDULE AREA" in line.upper() and "COUNTIES" in line.upper()
        ),
        None,
    )
    if header is None:
        raise SourceFormatError(
            source.origin, None, "no LOCCO header line (... Fee Schedule Area ... Counties) found"
        )
    title = next((line.strip() for line in lines[:header] if line.strip()), None)
    starts: list[int] | None = None
    rows: list[tuple[Any, ...]] = []
    footnotes: list[str] = []
    carrier = _StateCarrier(notices)
    for number, line in enumerate(lines[header + 1 :], start=header + 2):
        if is_blank_line(line):
            carrier.blank()
            continue
        where = f"line {number}"
        if not line.split(None, 1)[0].isdigit():
            footnotes.append(line.strip())
            continue
        if footnotes:
            raise SourceFormatError(source.origin, where, "locality row after the footnotes")
        if starts is None:
            starts = _field_starts(line)
            if len(starts) != 5:
                raise SourceFormatError(
                    source.origin,
                    where,
                    "expected the first locality line to show all five fields (MAC, locality number, state, "
                    f"fee schedule area, counties) separated by spaces; found {len(starts)}",
                )
        fields = []
        for position, start in enumerate(starts):
            if start > 0 and len(line) > start and line[start - 1] != " ":
                raise SourceFormatError(
                    source.origin,
                    f"{where}, position {start + 1}",
                    "field not aligned with the first locality line",
                )
            end = starts[position + 1] if position + 1 < len(starts) else None
            fields.append(line[start:end].strip())
        mac, locality, state_text, area, counties = fields
        if not mac.isdigit() or not locality.isdigit():
            raise SourceFormatError(
                source.origin, where, f"expected MAC and locality numbers, found {mac!r}, {locality!r}"
            )
        state = carrier.next(state_text, where)
        rows.append((mac.zfill(5), locality.zfill(2), state, _area(area), counties, number))
    return rows, title, footnotes
