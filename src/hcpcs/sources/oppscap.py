"""OPPS-based payment caps of imaging services by locality (OPPSCAP_mmm.csv/.txt/.xlsx in the RVU bundle).

CSV/XLSX: header HCPCS, MOD, PROCSTAT, CARRIER, LOCALITY, FACILITY PRICE, NON-FACILTY PRICE (sic), one
row per code, modifier, MAC and locality; older files end with a Ctrl-Z row. TXT: HCPCS 1-5, modifier
6-7, PROCSTAT 9, then MAC, locality and the two prices separated by spaces. The file name gives the
release month (OPPSCAP_JAN) but no year; a zip member takes the year from its zip (RVU25A.zip).
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
    is_blank_line,
    is_blank_row,
    match_header,
    parse_number,
    read_grid,
    release_info,
    text_lines,
)

TABLE = "mpfs_opps_cap"
COLUMNS = TABLES[TABLE].column_names

_HEADER_RULES = {
    "hcpcs": lambda key: key in ("HCPCS", "HCPCSCODE"),
    "modifier": lambda key: key in ("MOD", "MODIFIER"),
    "procstat": lambda key: key in ("PROCSTAT", "STATUS", "STATUSCODE"),
    "mac": lambda key: key in ("CARRIER", "MAC", "CONTRACTOR"),
    "locality_number": lambda key: key in ("LOCALITY", "LOCALITYNUMBER"),
    "fac_price": lambda key: key == "FACILITYPRICE",
    "nonfac_price": lambda key: key in ("NONFACILTYPRICE", "NONFACILITYPRICE"),
}


def parse_oppscap(source: SourceFile) -> ParsedTable:
    """One row per code, modifier, MAC and locality with the capped facility and non-facility prices.
    meta: year (None when neither the file nor its zip names it), quarter_month."""
    if source.suffix == ".txt":
        rows = _oppscap_txt(source)
    elif source.suffix in (".csv", ".xlsx"):
        rows = _oppscap_grid(read_grid(source))
    else:
        raise SourceFormatError(
            source.origin, None, f"expected an OPPSCAP .csv, .txt or .xlsx file, not {source.name!r}"
        )
    if not rows:
        raise SourceFormatError(source.origin, None, "no OPPS cap rows found")
    return ParsedTable(TABLE, COLUMNS, rows, source, dict(release_info(source)))


def _check(origin: str, where: str, hcpcs: str, mac: str, locality: str) -> None:
    if len(hcpcs) != 5 or not hcpcs.isalnum():
        raise SourceFormatError(origin, where, f"expected a 5-character HCPCS code, found {hcpcs!r}")
    if not mac.isdigit() or not locality.isdigit():
        raise SourceFormatError(
            origin, where, f"expected MAC and locality numbers, found {mac!r}, {locality!r}"
        )


def _oppscap_grid(grid: Grid) -> list[tuple[Any, ...]]:
    header_index, cols, names = match_header(grid, _HEADER_RULES, "OPPSCAP")
    need = max(cols.values()) + 1
    rows: list[tuple[Any, ...]] = []
    for line, cells in grid.rows[header_index + 1 :]:
        if is_blank_row(cells):
            continue
        if len(cells) < need:
            raise grid.error(
                line, f"expected {need} columns as in the header, found {len(cells)} (truncated row?)"
            )
        hcpcs = cell_code(cells[cols["hcpcs"]], 5)
        mac = cell_code(cells[cols["mac"]], 5)
        locality = cell_code(cells[cols["locality_number"]], 2)
        _check(grid.source.origin, grid.where(line), hcpcs, mac, locality)
        prices = [
            cell_number(cells[cols[name]], grid, line, cols[name], names[cols[name]])
            for name in ("fac_price", "nonfac_price")
        ]
        rows.append(
            (
                hcpcs,
                cell_code(cells[cols["modifier"]], 2),
                cell_code(cells[cols["procstat"]]),
                mac.zfill(5),
                locality.zfill(2),
                *prices,
                line,
            )
        )
    return rows


def _oppscap_txt(source: SourceFile) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    origin = source.origin
    for number, line in enumerate(text_lines(decode_text(source)), start=1):
        if is_blank_line(line):
            continue
        where = f"line {number}"
        rest = line[9:].split()
        if len(rest) != 4:
            raise SourceFormatError(
                origin, where, "expected HCPCS, modifier, PROCSTAT, then MAC, locality and two prices"
            )
        hcpcs, modifier, procstat = line[0:5].strip(), line[5:7].strip(), line[8:9].strip()
        mac, locality = rest[0], rest[1]
        _check(origin, where, hcpcs, mac, locality)
        prices = []
        for label, text in zip(("facility price", "non-facility price"), rest[2:], strict=True):
            value = parse_number(text)
            if value is None:
                raise SourceFormatError(origin, f"{where} ({label})", f"expected a number, found {text!r}")
            prices.append(value)
        rows.append((hcpcs, modifier, procstat, mac.zfill(5), locality.zfill(2), *prices, number))
    return rows
