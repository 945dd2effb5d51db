"""STATUS_NOT_PAYABLE (professional claims): the physician fee schedule status of the row billed (the -26
or -TC row when the line carries that modifier, else the global row) says Medicare does not pay the
service separately under the physician fee schedule. Severity follows what the status means for the
claim line:

- error: B bundled (paid within another service), I not valid for Medicare (CMS uses another code),
  N non-covered, P bundled or excluded, G/H and others that CMS does not pay;
- warning: E excluded by regulation and X statutory exclusion: no payment under the physician fee
  schedule, but CMS's own examples (clinical laboratory tests, ambulance, drugs, DMEPOS) are paid under
  another Medicare fee schedule, so the line is not necessarily denied;
- info: M measurement codes, reported for quality programmes with no payment.

Paid statuses (A, R, T, and C carrier-priced, J anesthesia) pass; deleted codes are reported by
CODE_NOT_VALID_ON_DOS.

Fails::

    {"id": "status-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77385"}]}

Passes::

    {"id": "status-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "G6015"}]}
"""

from __future__ import annotations

from hcpcs.core import indicators
from hcpcs.edits.engine import ClaimContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.tables import source

RULE_ID = "STATUS_NOT_PAYABLE"
SEVERITY = "error"
PAYABLE = {"A", "R", "T", "C", "J"}
DELETED = {"D", "F", "H"}
OTHER_FEE_SCHEDULE = {"E", "X"}  # not under the PFS; possibly under another Medicare fee schedule
REPORTING_ONLY = {"M"}
OTHER_FEE_SCHEDULE_NOTE = (" Not paid under the physician fee schedule; Medicare may pay it under another fee "
                           "schedule (such as clinical laboratory, ambulance, drugs or DMEPOS).")


def severity_of(status: str | None) -> str:
    if status in OTHER_FEE_SCHEDULE:
        return "warning"
    if status in REPORTING_ONLY:
        return "info"
    return "error"


def fix_for(status: str | None) -> str:
    if status in {"I", "G"}:
        return "Report the code Medicare uses for this service instead."
    if status in OTHER_FEE_SCHEDULE:
        return "Bill it under the Medicare fee schedule that pays it, if any; the physician fee schedule pays nothing for it."
    if status in REPORTING_ONLY:
        return "Keep reporting it for quality measurement if it applies; it carries no payment."
    return "Do not bill it separately to Medicare; it is not paid under the physician fee schedule."


def check(ctx: ClaimContext) -> list[Finding]:
    if not ctx.professional:
        return []
    findings: list[Finding] = []
    for view in ctx.lines:
        choice = ctx.release("mpfs", view.day)
        if choice is None:
            continue
        rows = ctx.tables.rvu(choice.release, view.code)
        if not rows:
            continue
        row_key = "26" if "26" in view.modifiers else "TC" if "TC" in view.modifiers else ""
        row = rows.get(row_key)
        if row is None:
            continue
        status = row["status"]
        if status in PAYABLE or status in DELETED:
            continue
        meaning = indicators.meaning("mpfs_status", status) or ""
        label = f"{view.code}{'-' + row_key if row_key else ''}"
        note = OTHER_FEE_SCHEDULE_NOTE if status in OTHER_FEE_SCHEDULE else ""
        findings.append(Finding(
            rule=RULE_ID, severity=severity_of(status), codes=(view.code,), lines=(view.index,),
            message=f"{label} has fee-schedule status {status} in {choice.release.label}: {meaning}{note}",
            fix=fix_for(status), source=source(choice.release, row["source_line"], "pprrvu", status=status),
        ))
    return findings
