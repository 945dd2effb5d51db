"""ADDON_WITHOUT_PRIMARY: an add-on code billed without any of its primary codes on the same date of
service. CMS's add-on code edit types: type 1, only the listed primary codes are eligible, so the add-on
is denied without one (error); type 2, CMS lists no primary codes (the file says CCCCC) and each Medicare
administrative contractor decides which are eligible (warning); type 3, some primary codes are listed but
the contractor may allow others (warning).

Fails::

    {"id": "aoc-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77293"}]}

Passes::

    {"id": "aoc-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77301"}, {"code": "77293"}]}
"""

from __future__ import annotations

from hcpcs.core import indicators
from hcpcs.edits.engine import ClaimContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.tables import source

RULE_ID = "ADDON_WITHOUT_PRIMARY"
SEVERITY = "error"
CONTRACTOR_DEFINED = "CCCCC"


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    for day, views in ctx.days().items():
        choice = ctx.release("ncci_aoc", day)
        if choice is None:
            continue
        iso = None
        for view in views:
            addon_edits = ctx.tables.aoc_for_addon(choice.release, view.code)
            if not addon_edits:  # not an add-on code (most lines)
                continue
            iso = iso or day.isoformat()
            edits = [e for e in addon_edits if e.in_force(iso)]
            if not edits:
                continue
            primaries = sorted({e.primary_code for e in edits if e.primary_code != CONTRACTOR_DEFINED})
            if not ctx.codes(day).keys().isdisjoint(primaries):
                continue
            edit_type = min(e.edit_type for e in edits)
            type_meaning = indicators.meaning("ncci_aoc_edit_type", edit_type) or ""
            first = next(e for e in edits if e.edit_type == edit_type)
            listed = ", ".join(primaries[:12]) + (f" and {len(primaries) - 12} more" if len(primaries) > 12 else "")
            src = source(choice.release, first.source_line, "aoc", edit_type=edit_type)
            if edit_type == "1":
                findings.append(Finding(
                    rule=RULE_ID, severity="error", codes=(view.code,), lines=(view.index,),
                    message=(f"{view.code} is an add-on code (edit type 1: {type_meaning}) billed on {day} without "
                             f"any of its primary codes ({listed}); {choice.release.label}. It will be denied."),
                    fix=f"Bill {view.code} with the primary procedure it adds to ({listed}) on the same date, "
                        "by the same practitioner, or remove it.",
                    source=src,
                ))
            elif edit_type == "2" or not primaries:
                findings.append(Finding(
                    rule=RULE_ID, severity="warning", codes=(view.code,), lines=(view.index,),
                    message=(f"{view.code} is an add-on code whose primary codes CMS does not list (edit type 2: "
                             f"{type_meaning}); {choice.release.label}. Your Medicare contractor decides which "
                             "primary codes are eligible."),
                    fix=f"Check your contractor's policy and bill {view.code} with an eligible primary procedure.",
                    source=src,
                ))
            else:
                findings.append(Finding(
                    rule=RULE_ID, severity="warning", codes=(view.code,), lines=(view.index,),
                    message=(f"{view.code} is an add-on code billed on {day} without any listed primary code "
                             f"({listed}) (edit type 3: {type_meaning}); {choice.release.label}. Your Medicare "
                             "contractor may allow other primaries."),
                    fix=f"Bill {view.code} with one of its primary codes, or confirm your contractor accepts the "
                        "primary billed.",
                    source=src,
                ))
    return findings
