"""`hcpcs edits CODE`: every NCCI edit that names a code on a date, both directions, with MUE and add-on
edits, from the releases in force."""

from __future__ import annotations

from datetime import date
from typing import Any

from hcpcs.core import indicators
from hcpcs.core.codes import normalize, split_modifier
from hcpcs.core.dates import parse_date
from hcpcs.store import queries
from hcpcs.store.session import Hcpcs


def edits_for_code(code: str, *, as_of: str | date | None = None, setting: str = "professional",
                   hc: Hcpcs | None = None) -> dict[str, Any]:
    from hcpcs.store.session import default

    hc = hc or default()
    code, modifier = split_modifier(code)
    code = normalize(code)
    day = parse_date(as_of, "as-of date")
    who = "practitioner" if setting == "professional" else "hospital"
    notices: list[str] = []
    if modifier:
        # PTP edits pair codes; a modifier only matters as a bypass (the modifier indicator of each edit).
        notices.append(f"{code}-{modifier}: the edits naming {code}; modifier {modifier} bypasses a PTP edit only "
                       "where its modifier indicator is 1 and the modifier is a PTP-associated one")
    out: dict[str, Any] = {"code": code, "as_of": day.isoformat(), "setting": setting, "notices": notices}

    conn = hc.store.conn
    ptp = hc.choose(f"ncci_ptp_{who}", day, notices)
    if ptp:
        def rows(column: int) -> list[dict[str, Any]]:
            return [{
                "column1": r["column1"], "column2": r["column2"],
                "modifier_indicator": indicators.decode("ncci_modifier_indicator", r["modifier_indicator"]),
                "effective_date": r["effective_date"], "deletion_date": r["deletion_date"],
                "rationale": r["rationale"], "source_line": r["source_line"],
            } for r in queries.ptp_rows_for_code(conn, ptp.release.id, code, day, column)]

        out["ptp"] = {"release": ptp.release.label, "as_column1": rows(1), "as_column2": rows(2)}
    else:
        out["ptp"] = None
    mue = hc.choose(f"ncci_mue_{who}", day, notices)
    if mue:
        row = queries.mue_row(conn, mue.release.id, code)
        out["mue"] = None if row is None else {
            "units": row["units"], "mai": indicators.decode("ncci_mai", row["mai"]), "rationale": row["rationale"],
            "release": mue.release.label, "source_line": row["source_line"]}
    aoc = hc.choose("ncci_aoc", day, notices)
    if aoc:
        out["addon"] = {
            "release": aoc.release.label,
            "primaries": [{"code": r["primary_code"], "edit_type": indicators.decode("ncci_aoc_edit_type", r["edit_type"])}
                          for r in queries.aoc_rows_for_addon(conn, aoc.release.id, code, day)],
            "addons": [{"code": r["addon_code"], "edit_type": indicators.decode("ncci_aoc_edit_type", r["edit_type"])}
                       for r in queries.aoc_rows_for_primary(conn, aoc.release.id, code, day)],
        }
    return out
