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

import polars as pl

from hcpcs.core import indicators
from hcpcs.edits import columnar as col
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import RuleSpec, source, templates

SPEC = RuleSpec(
    id="OPPS_PACKAGED", order=100, severity="info", severities=("warning",),
    summary="facility claims: OPPS status indicator packaged (N, Q1-Q4) or not paid on outpatient claims",
    datasets=("opps",), table="opps_addendum_b",
    messages=templates(
        packaged="{code} is packaged under OPPS (status indicator {indicator}): no separate payment is expected for "
                 "it.",
        not_paid="{code} is not paid on an outpatient hospital claim (OPPS status indicator {indicator}).",
    ),
    details=templates(**{case: "OPPS status indicator {indicator} in {release}: {indicator_meaning}"
                         for case in ("packaged", "not_paid")}),
    fixes=templates(not_paid="Check whether another code is recognised by OPPS for this service."),
)
PACKAGED = {"N", "Q1", "Q2", "Q3", "Q4"}
NOT_PAID = {"B", "C", "E1", "E2", "D", "E"}
SEVERITY_OF_CASE = {"packaged": "info", "not_paid": "warning"}


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
        indicator = row["status_indicator"]
        case = "packaged" if indicator in PACKAGED else "not_paid" if indicator in NOT_PAID else None
        if case is None:
            continue
        fix = SPEC.fix(case)
        meaning = indicators.meaning("opps_status_indicator", indicator) or ""
        findings.append(Finding(
            rule=SPEC.id, severity=SEVERITY_OF_CASE[case], codes=(view.code,), lines=(view.index,),
            message=SPEC.message(case).text(code=view.code, indicator=indicator),
            details=SPEC.detail(case).text(indicator=indicator, release=choice.release.label, indicator_meaning=meaning),
            fix=fix.text() if fix else None,
            source=source(choice.release, row["source_line"], "opps_addendum_b", status_indicator=indicator),
        ))
    return findings


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    keys = ctx.by_day_key("opps")
    ctx.request(ctx.claim_days.filter(~pl.col("is_professional")), keys, "day_key", SPEC, pl.col("day_rank"))
    signalled_indicators = sorted(PACKAGED | NOT_PAID)
    found = []
    for release_id, where in ctx.releases(keys):
        def signalled(release_id: int = release_id) -> pl.DataFrame:
            rows = ctx.tables.frame(release_id, "opps_addendum_b").unique("hcpcs", keep="first", maintain_order=True)
            return ctx.with_code_id(rows.filter(pl.col("status_indicator").is_in(signalled_indicators)), "hcpcs").select(
                "code_id", "status_indicator", "source_line")

        rows = ctx.memo(("opps", release_id), signalled)
        hits = ctx.rows(["claim", "line", "code_id", "code"], ~pl.col("is_professional"),
                        pl.col("code_id").is_in(rows["code_id"].implode()), where=where)
        found.append(hits.join(rows, on="code_id").with_columns(release_label=pl.lit(ctx.release_label(release_id))))
    hits = col.concat(found)
    if hits is None:
        return col.no_findings()
    indicator = pl.col("status_indicator")
    hits = hits.with_columns(case=pl.when(indicator.is_in(sorted(PACKAGED))).then(pl.lit("packaged")).otherwise(
        pl.lit("not_paid")))
    case = pl.col("case")
    return col.findings(
        hits, SPEC, severity=case.replace_strict(list(SEVERITY_OF_CASE), list(SEVERITY_OF_CASE.values())),
        codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        message=col.case_text(case, SPEC.messages, indicator=indicator),
        details=col.case_text(case, SPEC.details, indicator=indicator, release="release_label",
                              indicator_meaning=col.meaning_of(hits, "status_indicator", "opps_status_indicator")),
        fix=col.case_text(case, SPEC.fixes), dataset="opps", release=pl.col("release_label"), row=pl.col("source_line"),
        extra=col.json_fields(status_indicator=indicator), order=(pl.col("line"),))
