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

import polars as pl

from hcpcs.edits import ptp
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import RuleSpec, templates
from hcpcs.edits.tables import PTP_DATASET

SPEC = RuleSpec(
    id="PTP_BYPASSED_BY_MODIFIER", order=40, severity="info",
    summary="indicator 1 pair bypassed by a PTP-associated modifier: documentation must support it",
    datasets=tuple(PTP_DATASET.values()), table="ncci_ptp",
    messages=templates(default="Modifier {modifiers} bypasses the NCCI edit {column1}/{column2}: both are paid only if "
                               "the record documents a distinct service."),
    details=templates(default=(
        "NCCI PTP edit {column1}/{column2} in {release}, modifier indicator 1: a PTP-associated modifier allows both "
        "codes when the services were distinct (a different session or encounter, anatomic site, organ system, or "
        "practitioner).")),
)


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    for group in ptp.pair_groups(ctx, "bypassed"):
        edit = group.edit
        findings.append(Finding(
            rule=SPEC.id, severity=SPEC.severity, codes=(edit.column1, edit.column2), lines=group.lines,
            message=SPEC.message().text(column1=edit.column1, column2=edit.column2,
                                        modifiers=", ".join(group.bypass_modifiers)),
            details=SPEC.detail().text(column1=edit.column1, column2=edit.column2, release=group.release.label),
            fix=None, source=group.source(modifier_indicator="1"),
        ))
    return findings


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    groups = ptp.batch_groups(ctx, "bypassed")
    if groups is None:
        return ptp.col.no_findings()
    message = SPEC.message().expr(modifiers="mods")
    return ptp.batch_findings(groups, SPEC, message, None, pl.lit("1"),
                              details=SPEC.detail().expr(release="release_label"))
