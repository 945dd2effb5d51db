"""DATA_NOT_COVERED (info): a rule needed a dataset (the HCPCS file, the fee schedule, an NCCI table...)
on a date of service that no loaded release covers, so the edits of that dataset were not checked for
that date. Reported once per claim, dataset and date, after the other findings, by date then dataset.

Fails::

    {"id": "cover-fail", "setting": "professional", "date_of_service": "2014-12-15",
     "lines": [{"code": "77387", "modifiers": ["26"]}]}

Passes::

    {"id": "cover-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77301"}]}
"""

from __future__ import annotations

import polars as pl

from hcpcs.core.tables import dataset_title
from hcpcs.edits import columnar as col
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import RuleSpec, templates

SPEC = RuleSpec(
    id="DATA_NOT_COVERED", order=1000, severity="info", last=True,
    summary="a dataset had no release for the date, so its edits were not checked",
    messages=templates(default="Edits of the {title} were not checked for {date}: no loaded release covers it."),
    details=templates(default="{reason}."),
    fixes=templates(default="Load the CMS release in force on that date (hcpcs update --from ...)."),
)


def check(ctx: ClaimContext) -> list[Finding]:
    fix = SPEC.fixes["default"].text()
    return [Finding(rule=SPEC.id, severity=SPEC.severity, codes=(), lines=(),
                    message=SPEC.message().text(date=day, title=dataset_title(dataset)),
                    details=SPEC.detail().text(reason=reason.rstrip(".")), fix=fix,
                    source={"dataset": dataset, "release": None, "row": None})
            for (dataset, day), reason in sorted(ctx.uncovered.items(), key=lambda kv: (kv[0][1], kv[0][0]))]


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    uncovered = ctx.query_table("reason")
    if not ctx.requests or not uncovered.height:
        return col.no_findings()
    width = len(ctx.queries)  # a (claim, query) pair as one integer: unique on one column is faster
    asked = pl.concat(ctx.requests).filter(pl.col("query_id").is_in(uncovered["query_id"].implode())).select(
        pair=pl.col("claim") * width + pl.col("query_id")).unique().select(
        claim=pl.col("pair") // width, query_id=pl.col("pair") % width)
    hits = asked.join(uncovered, on="query_id")
    names = sorted(hits["dataset"].unique().to_list())
    return col.findings(
        hits, SPEC, codes=pl.lit([], pl.List(pl.String)), lines=pl.lit([], pl.List(pl.Int64)),
        message=SPEC.message().expr(date=col.iso_text(hits), title=col.mapped(hits, "dataset", dataset_title)),
        details=SPEC.detail().expr(reason=pl.col("reason").str.strip_suffix(".")), fix=SPEC.fixes["default"].expr(),
        dataset=pl.col("dataset"),
        order=(pl.col("dos").cast(pl.Int64) - ctx.origin,
               pl.col("dataset").replace_strict(names, list(range(len(names))), return_dtype=pl.Int64)))
