"""PTP_BUNDLED (error): a column 2 code billed on the same date of service as its column 1 code, under an
NCCI procedure-to-procedure edit in force on that date, with no PTP-associated modifier on either line.
CMS denies the column 2 code: its work is part of the column 1 service. Modifier indicator 1 edits may
be bypassed by a PTP-associated modifier when the services were truly distinct (separate encounter,
anatomic site or session); indicator 0 edits may not be bypassed at all.

The practitioner table applies to professional claims, the outpatient hospital table to facility claims.

Fails::

    {"id": "ptp-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77373"}, {"code": "G6002"}]}

Passes::

    {"id": "ptp-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77373"}, {"code": "77300"}]}
"""

from __future__ import annotations

from hcpcs.edits.engine import ClaimContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.ptp import describe_indicator, pair_outcomes
from hcpcs.edits.tables import source

RULE_ID = "PTP_BUNDLED"
SEVERITY = "error"


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    for pair in pair_outcomes(ctx):
        if pair.outcome != "bundled":
            continue
        edit = pair.edit
        c1, c2 = edit.column1, edit.column2
        if edit.modifier_indicator == "1":
            fix = (f"If {c2} was a distinct service (different session, site, organ system, incision or "
                   f"encounter), append a PTP-associated modifier such as XE, XS, XP, XU or 59 to {c2} and keep "
                   f"the documentation; otherwise remove {c2}.")
        else:
            fix = f"Remove {c2}: no modifier makes it payable with {c1} on the same date of service."
        findings.append(Finding(
            rule=RULE_ID, severity=SEVERITY, codes=(c1, c2),
            lines=(pair.column1_line.index, pair.column2_line.index),
            message=(f"{c2} (column 2) is bundled into {c1} (column 1) on {pair.column2_line.day} by the NCCI "
                     f"{'practitioner' if ctx.professional else 'hospital'} PTP edit in {pair.release.label}"
                     f" (modifier indicator {edit.modifier_indicator}: {describe_indicator(edit.modifier_indicator)})"
                     + (f"; rationale: {edit.rationale}" if edit.rationale else "")
                     + f". {c2} will be denied."),
            fix=fix,
            source=source(pair.release, edit.source_line, "ptp", edit=f"{c1}/{c2}",
                          modifier_indicator=edit.modifier_indicator),
        ))
    return findings
