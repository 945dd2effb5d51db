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

import polars as pl

from hcpcs.edits import ptp
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import RuleSpec, templates
from hcpcs.edits.tables import PTP_DATASET

SPEC = RuleSpec(
    id="PTP_NOT_BYPASSABLE", order=30, severity="error",
    summary="modifier indicator 0 pair billed with a bypass modifier anyway",
    datasets=tuple(PTP_DATASET.values()), table="ncci_ptp",
    messages=templates(default="Modifier {modifiers} cannot bypass the NCCI edit {column1}/{column2}, so {column2} "
                               "will be denied."),
    details=templates(default=(
        "NCCI PTP edit {column1}/{column2} in {release}: modifier indicator 0, so no modifier allows separate "
        "payment of {column2} with {column1} on the same date of service.")),
    fixes=templates(default="Remove {column2} (and the modifier {modifiers} added to bypass the edit)."),
)


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    for group in ptp.pair_groups(ctx, "not_bypassable"):
        edit = group.edit
        values = dict(column1=edit.column1, column2=edit.column2, modifiers=", ".join(group.bypass_modifiers))
        findings.append(Finding(
            rule=SPEC.id, severity=SPEC.severity, codes=(edit.column1, edit.column2), lines=group.lines,
            message=SPEC.message().text(**values), details=SPEC.detail().text(**values, release=group.release.label),
            fix=SPEC.fix().text(**values),
            source=group.source(modifier_indicator="0"),
        ))
    return findings


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    groups = ptp.batch_groups(ctx, "not_bypassable")
    if groups is None:
        return ptp.col.no_findings()
    message = SPEC.message().expr(modifiers="mods")
    return ptp.batch_findings(groups, SPEC, message, SPEC.fix().expr(modifiers="mods"), pl.lit("0"),
                              details=SPEC.detail().expr(release="release_label"))
