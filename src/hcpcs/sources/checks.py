"""Checks that a parsed table holds what CMS could publish: the bounds of its table spec
(`hcpcs.core.tables.TableSpec.bounds`: RVUs never negative, GPCIs from 0.1 to 5, MUE units up to 999,999,
PTP modifier indicators 0, 1 or 9, no dates before 1980) and at least one data row. `hcpcs update` refuses
a release that fails them, naming the file, row and value."""

from __future__ import annotations

from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable


def _unit(table: ParsedTable) -> str:
    return "row" if table.source.suffix == ".xlsx" else "line"


def out_of_bounds(table: ParsedTable) -> str | None:
    """The first value outside its column's bounds, as 'FILE, line N (column): value is outside ...', or
    None when every value is within them."""
    spec = TABLES[table.table]
    columns = list(table.columns)
    line_index = columns.index("source_line") if "source_line" in columns else None
    for name, bound in spec.bounds.items():
        if name not in columns:
            continue
        index = columns.index(name)
        if bound.values is not None:
            allowed = bound.values | {None, ""}
            bad = next((row for row in table.rows if row[index] not in allowed), None)
        else:
            low = bound.low
            high = bound.high
            bad = next((row for row in table.rows if row[index] is not None and row[index] != "" and (
                (low is not None and row[index] < low) or (high is not None and row[index] > high))), None)
        if bad is not None:
            where = f"{_unit(table)} {bad[line_index]}" if line_index is not None else "a row"
            value = bad[index]
            shown = f"{value:,}" if isinstance(value, int | float) and not isinstance(value, bool) else repr(value)
            return (f"{table.source.name}, {where} ({name}): {shown} is outside what CMS publishes "
                    f"({bound.why})")
    return None


def without_rows(table: ParsedTable) -> str | None:
    """'FILE: a header and no data rows' for a table with no rows."""
    if table.rows:
        return None
    return f"{table.source.name}: the file has no data rows, a header and 0 rows"
