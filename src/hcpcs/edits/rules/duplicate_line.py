"""DUPLICATE_LINE (warning): the same code with the same modifiers on the same date of service on two or
more lines. Payers deny exact duplicates; a repeated service is reported with units on one line or
with a repeat-procedure modifier (76, 77) or repeat-test modifier (91) that says why.

Fails::

    {"id": "dup-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77301"}, {"code": "77301"}]}

Passes::

    {"id": "dup-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77301", "modifiers": ["26"]}, {"code": "77301", "modifiers": ["TC"]}]}
"""

from __future__ import annotations

from datetime import date

from hcpcs.edits.engine import ClaimContext
from hcpcs.edits.finding import Finding

RULE_ID = "DUPLICATE_LINE"
SEVERITY = "warning"


def check(ctx: ClaimContext) -> list[Finding]:
    if all(len(views) == len(ctx.codes(day)) for day, views in ctx.days().items()):
        return []  # no code twice on a date of service
    findings: list[Finding] = []
    groups: dict[tuple[str, frozenset[str], date], list[int]] = {}
    for view in ctx.lines:
        groups.setdefault((view.code, view.modifiers, view.day), []).append(view.index)
    for (code, modifiers, day), indexes in groups.items():
        if len(indexes) < 2:
            continue
        mods = f" with modifier(s) {', '.join(sorted(modifiers))}" if modifiers else ""
        findings.append(Finding(
            rule=RULE_ID, severity=SEVERITY, codes=(code,), lines=tuple(indexes),
            message=(f"{code}{mods} is billed on {len(indexes)} lines "
                     f"({', '.join(str(i + 1) for i in indexes)}) for {day}."),
            fix=("Report the service once with the total units, or add modifier 76/77 (repeat procedure) or 91 "
                 "(repeat test) to the repeat if it was a separate service."),
            source=None,
        ))
    return findings
