"""STATUS_NOT_PAYABLE (error, professional claims): the physician fee schedule status of the row billed
(the -26 or -TC row when the line carries that modifier, else the global row) says Medicare does not pay
the service separately under the fee schedule: B bundled, E excluded by regulation, I not valid for
Medicare (CMS uses another code), M measurement code, N non-covered, P bundled or excluded, X statutory
exclusion, and the like. Paid statuses (A, R, T, and C carrier-priced, J anesthesia) pass; deleted codes
are reported by CODE_NOT_VALID_ON_DOS.

Fails::

    {"id": "status-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77385"}]}

Passes::

    {"id": "status-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "G6015"}]}
"""

from __future__ import annotations

from collections.abc import Iterator

from hcpcs import indicators
from hcpcs.edits.engine import ClaimContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.tables import source

RULE_ID = "STATUS_NOT_PAYABLE"
SEVERITY = "error"
PAYABLE = {"A", "R", "T", "C", "J"}
DELETED = {"D", "F", "H"}


def check(ctx: ClaimContext) -> Iterator[Finding]:
    if not ctx.professional:
        return
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
        fix = ("Report the code Medicare uses for this service instead." if status in {"I", "G"}
               else "Do not bill it separately to Medicare; it is not paid under the physician fee schedule.")
        yield Finding(
            rule=RULE_ID, severity=SEVERITY, codes=(view.code,), lines=(view.index,),
            message=f"{label} has fee-schedule status {status} in {choice.release.label}: {meaning}",
            fix=fix, source=source(choice.release, row["source_line"], "pprrvu", status=status),
        )
