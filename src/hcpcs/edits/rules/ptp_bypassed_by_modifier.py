"""PTP_BYPASSED_BY_MODIFIER (info): a code pair with an NCCI edit of modifier indicator 1 was billed with
a PTP-associated modifier, which bypasses the edit. CMS pays both codes only when the modifier is
supported: the medical record must show a distinct service (different session, anatomic site, organ
system, encounter or practitioner). Indicator 9 edits are not applied at all.

Fails::

    {"id": "ptp1-mod", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77014"}, {"code": "G6002", "modifiers": ["XS"]}]}

Passes::

    {"id": "ptp1-apart", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77014"}, {"code": "G6002", "date_of_service": "2024-08-13"}]}
"""

from __future__ import annotations

from hcpcs.edits.engine import ClaimContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.ptp import pair_outcomes
from hcpcs.edits.tables import source

RULE_ID = "PTP_BYPASSED_BY_MODIFIER"
SEVERITY = "info"


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    for pair in pair_outcomes(ctx):
        if pair.outcome != "bypassed":
            continue
        edit = pair.edit
        c1, c2 = edit.column1, edit.column2
        mods = ", ".join(pair.bypass_modifiers)
        findings.append(Finding(
            rule=RULE_ID, severity=SEVERITY, codes=(c1, c2),
            lines=(pair.column1_line.index, pair.column2_line.index),
            message=(f"Modifier {mods} bypasses the NCCI edit {c1}/{c2} ({pair.release.label}, modifier "
                     "indicator 1). Both codes can be paid only if the record documents a distinct service: "
                     "a different session or encounter, anatomic site, organ system, or practitioner."),
            fix=None,
            source=source(pair.release, edit.source_line, "ptp", edit=f"{c1}/{c2}", modifier_indicator="1"),
        ))
    return findings
