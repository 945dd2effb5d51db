"""PTP_NOT_BYPASSABLE (error): a PTP-associated modifier (59, XE, XS, XP, XU, anatomic or global-surgery
modifiers...) was reported on a code pair whose NCCI edit has modifier indicator 0. For such pairs no
modifier allows separate payment: the modifier does not help, and the column 2 code is denied.

Fails::

    {"id": "ptp0-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77373"}, {"code": "G6002", "modifiers": ["59"]}]}

Passes::

    {"id": "ptp0-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77373"}, {"code": "77300", "modifiers": ["59"]}]}
"""

from __future__ import annotations

from hcpcs.edits.engine import ClaimContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.ptp import pair_outcomes
from hcpcs.edits.tables import source

RULE_ID = "PTP_NOT_BYPASSABLE"
SEVERITY = "error"


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    for pair in pair_outcomes(ctx):
        if pair.outcome != "not_bypassable":
            continue
        edit = pair.edit
        c1, c2 = edit.column1, edit.column2
        mods = ", ".join(pair.bypass_modifiers)
        findings.append(Finding(
            rule=RULE_ID, severity=SEVERITY, codes=(c1, c2),
            lines=(pair.column1_line.index, pair.column2_line.index),
            message=(f"Modifier {mods} does not bypass the NCCI edit {c1}/{c2} in {pair.release.label}: its "
                     "modifier indicator is 0, so no modifier allows separate payment of "
                     f"{c2} with {c1} on the same date of service. {c2} will be denied."),
            fix=f"Remove {c2} (and the modifier {mods} added to bypass the edit).",
            source=source(pair.release, edit.source_line, "ptp", edit=f"{c1}/{c2}", modifier_indicator="0"),
        ))
    return findings
