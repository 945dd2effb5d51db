"""Anesthesia conversion factors by Medicare locality (ANESyyyy.csv/.txt/.xlsx in the RVU bundle).

CSV/XLSX: a header row (Contractor, Locality, Locality Name, and either "2024 Anesthesia Conversion
Factor" or, from 2025, "National Anes CF of 20.3178", which also gives the national anesthesia CF), then
one row per locality; older files end with a Ctrl-Z row. Locality names may carry '*' footnote marks,
dropped here. The TXT has no header: MAC, locality, the locality name cut to 40 characters, and the CF in
cents without a decimal point ('1931' = 19.31); it does not give the national CF.
"""

from __future__ import annotations

import re
from typing import Any

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.gpci import locality_name
from hcpcs.sources.mpfs_rvu import (
    Grid,
    cell_code,
    cell_number,
    decode_text,
    is_blank_line,
    is_blank_row,
    match_header,
    read_grid,
    release_info,
    text_lines,
    year_from_text,
)

TABLE = "mpfs_anes_cf"
COLUMNS = TABLES[TABLE].column_names

_HEADER_RULES = {
    "mac": lambda key: "CONTRACTOR" in key or key in ("MAC", "CARRIER"),
    "locality_number": lambda key: key in ("LOCALITY", "LOCALITYNUMBER"),
    "locality_name": lambda key: key == "LOCALITYNAME",
    "anes_cf": lambda key: "CF" in key or "CONVERSIONFACTOR" in key,
}
_NATIONAL_CF = re.compile(r"\bCF\s+OF\s+(\d+(?:\.\d+)?)", re.I)


def parse_anes(source: SourceFile) -> ParsedTable:
    """One row per locality: MAC, locality number, name and anesthesia conversion factor.
    meta: year, national_anes_cf (None when the file does not state it)."""
    if source.suffix == ".txt":
        rows, header_text = _anes_txt(source), ""
    elif source.suffix in (".csv", ".xlsx"):
        rows, header_text = _anes_grid(read_grid(source))
    else:
        raise SourceFormatError(
            source.origin, None, f"expected an ANES .csv, .txt or .xlsx file, not {source.name!r}"
        )
    if not rows:
        raise SourceFormatError(source.origin, None, "no locality rows found")
    national = _NATIONAL_CF.search(header_text)
    meta = {
        "year": year_from_text(header_text) or release_info(source)["year"],
        "national_anes_cf": float(national.group(1)) if national else None,
    }
    return ParsedTable(TABLE, COLUMNS, rows, source, meta)


def _anes_grid(grid: Grid) -> tuple[list[tuple[Any, ...]], str]:
    header_index, cols, names = match_header(grid, _HEADER_RULES, "ANES")
    rows: list[tuple[Any, ...]] = []
    need = max(cols.values()) + 1
    for line, cells in grid.rows[header_index + 1 :]:
        if is_blank_row(cells):
            continue
        if len(cells) < need:
            raise grid.error(line, f"expected {need} columns as in the header, found {len(cells)}")
        mac = cell_code(cells[cols["mac"]], 5)
        locality = cell_code(cells[cols["locality_number"]], 2)
        if not mac.isdigit():
            raise grid.error(line, f"expected a MAC number, found {mac!r}", cols["mac"], names[cols["mac"]])
        if not locality.isdigit():
            raise grid.error(line, f"expected a locality number, found {locality!r}", cols["locality_number"])
        cf_col = cols["anes_cf"]
        cf = cell_number(cells[cf_col], grid, line, cf_col, names[cf_col])
        name = locality_name(cell_code(cells[cols["locality_name"]]))
        rows.append((mac.zfill(5), locality.zfill(2), name, cf, line))
    return rows, names[cols["anes_cf"]]


def _anes_txt(source: SourceFile) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for number, line in enumerate(text_lines(decode_text(source)), start=1):
        if is_blank_line(line):
            continue
        where = f"line {number}"
        head = line.split(None, 2)
        tail = head[2].rsplit(None, 1) if len(head) == 3 else []
        if len(tail) != 2 or not head[0].isdigit() or not head[1].isdigit():
            raise SourceFormatError(
                source.origin, where, "expected MAC, locality number, locality name and conversion factor"
            )
        cf_text = tail[1]
        if cf_text.isdigit():
            cf = int(cf_text) / 100  # cents, no decimal point: '1931' = 19.31
        else:
            try:
                cf = float(cf_text)
            except ValueError:
                raise SourceFormatError(
                    source.origin, f"{where} (conversion factor)", f"expected a number, found {cf_text!r}"
                ) from None
        rows.append((head[0].zfill(5), head[1].zfill(2), locality_name(tail[0]), cf, number))
    return rows
