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

import polars as pl

from hcpcs.edits import ptp
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import RuleSpec, templates
from hcpcs.edits.tables import PTP_DATASET

SPEC = RuleSpec(
    id="PTP_BUNDLED", order=20, severity="error",
    summary="column 2 code with its column 1 code on the same date, edit in force, no bypass modifier",
    datasets=tuple(PTP_DATASET.values()), table="ncci_ptp",
    messages=templates(default="{column2} is bundled into {column1} on {date} by an NCCI PTP edit, so {column2} will "
                               "be denied."),
    details=templates(default=(
        "NCCI {setting} PTP edit {column1}/{column2} (column 1/column 2) in {release}; modifier indicator "
        "{indicator}: {indicator_meaning}{rationale}.")),
    fixes=templates(
        bypassable=("If {column2} was a distinct service (different session, site, organ system, incision or "
                    "encounter), append a PTP-associated modifier such as XE, XS, XP, XU or 59 to {column2} and keep "
                    "the documentation; otherwise remove {column2}."),
        fixed="Remove {column2}: no modifier makes it payable with {column1} on the same date of service.",
    ),
)


def _fix_case(indicator: str) -> str:
    return "bypassable" if indicator == "1" else "fixed"


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    for group in ptp.pair_groups(ctx, "bundled"):
        edit = group.edit
        values = dict(column1=edit.column1, column2=edit.column2)
        findings.append(Finding(
            rule=SPEC.id, severity=SPEC.severity, codes=(edit.column1, edit.column2), lines=group.lines,
            message=SPEC.message().text(**values, date=group.first.column2_line.day),
            details=SPEC.detail().text(
                **values, setting=ptp.setting_word(group.day_professional), release=group.release.label,
                indicator=edit.modifier_indicator, indicator_meaning=ptp.describe_indicator(edit.modifier_indicator),
                rationale=ptp.rationale_text(edit.rationale)),
            fix=SPEC.fixes[_fix_case(edit.modifier_indicator)].text(**values),
            source=group.source(modifier_indicator=edit.modifier_indicator),
        ))
    return findings


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    groups = ptp.batch_groups(ctx, "bundled")
    if groups is None:
        return ptp.col.no_findings()
    indicator = pl.col("modifier_indicator")
    rationale = pl.when(pl.col("rationale").is_not_null() & (pl.col("rationale") != "")).then(
        pl.format("; rationale: {}", "rationale")).otherwise(pl.lit(""))
    message = SPEC.message().expr(date="iso")
    details = SPEC.detail().expr(
        setting=pl.when(pl.col("is_professional")).then(pl.lit(ptp.setting_word(True))).otherwise(
            pl.lit(ptp.setting_word(False))), release="release_label", indicator=indicator,
        indicator_meaning=ptp.col.mapped(groups, "modifier_indicator", ptp.describe_indicator), rationale=rationale)
    fix = pl.when(indicator == "1").then(SPEC.fixes["bypassable"].expr()).otherwise(SPEC.fixes["fixed"].expr())
    return ptp.batch_findings(groups, SPEC, message, fix, indicator, details=details)
