"""OPPS_PACKAGED (info, facility claims): the OPPS Addendum B status indicator of the code says its payment
is packaged into other services on the claim (N always packaged; Q1, Q2, Q3, Q4 conditionally packaged),
or that OPPS does not pay it on an outpatient claim (B not recognised on outpatient bills, C inpatient
only, E1/E2 not paid by Medicare, D discontinued): reported as a warning in that case.

Fails::

    {"id": "opps-fail", "setting": "facility", "date_of_service": "2023-02-01",
     "lines": [{"code": "77014"}]}

Passes::

    {"id": "opps-pass", "setting": "facility", "date_of_service": "2023-02-01",
     "lines": [{"code": "77301"}]}
"""

from __future__ import annotations

from hcpcs.core import indicators
from hcpcs.edits.engine import ClaimContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.tables import source

RULE_ID = "OPPS_PACKAGED"
SEVERITY = "info"
PACKAGED = {"N", "Q1", "Q2", "Q3", "Q4"}
NOT_PAID = {"B", "C", "E1", "E2", "D", "E"}


def check(ctx: ClaimContext) -> list[Finding]:
    if ctx.professional:
        return []
    findings: list[Finding] = []
    for view in ctx.lines:
        choice = ctx.release("opps", view.day)
        if choice is None:
            continue
        row = ctx.tables.addendum_b(choice.release, view.code)
        if row is None:
            continue
        si = row["status_indicator"]
        if si not in PACKAGED and si not in NOT_PAID:
            continue
        meaning = indicators.meaning("opps_status_indicator", si) or ""
        src = source(choice.release, row["source_line"], "addendum_b", status_indicator=si)
        if si in PACKAGED:
            findings.append(Finding(
                rule=RULE_ID, severity="info", codes=(view.code,), lines=(view.index,),
                message=(f"{view.code} has OPPS status indicator {si} in {choice.release.label}: {meaning} "
                         "No separate payment is expected for it."),
                fix=None, source=src,
            ))
        elif si in NOT_PAID:
            findings.append(Finding(
                rule=RULE_ID, severity="warning", codes=(view.code,), lines=(view.index,),
                message=(f"{view.code} has OPPS status indicator {si} in {choice.release.label}: {meaning}"),
                fix="Check whether another code is recognised by OPPS for this service.", source=src,
            ))
    return findings
