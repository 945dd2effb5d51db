"""CLAIM_TOO_MANY_LINES (error): the claim has more service lines than its claim format allows: 50 on a
professional claim (837P, CMS-1500), 999 on an institutional claim (837I, UB-04). A payer rejects such a
claim before adjudicating it, so it is not checked further: split it into claims within the limit.

Fails::

    {"id": "long-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"},
               {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"},
               {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"},
               {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"},
               {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"},
               {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"},
               {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"},
               {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"},
               {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"},
               {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"}, {"code": "77373"},
               {"code": "G6002"}]}

Passes::

    {"id": "long-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77373"}, {"code": "77300"}]}
"""

from __future__ import annotations

import polars as pl

from hcpcs.claims.model import MAX_LINES
from hcpcs.edits import columnar as col
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import RuleSpec, templates

SPEC = RuleSpec(
    id="CLAIM_TOO_MANY_LINES", order=5, severity="error", screen=True,
    summary="more service lines than the claim format allows (837P 50, 837I 999): the claim is not checked",
    messages=templates(default="The claim has {count} service lines; a {kind} claim ({form}) holds at most {limit}, "
                               "so it would be rejected whole and its lines were not checked."),
    fixes=templates(default="Split the services into claims of at most {limit} lines each."),
)
FORMS = {"professional": ("professional", "837P"), "facility": ("institutional", "837I")}


def check(ctx: ClaimContext) -> list[Finding]:
    limit = MAX_LINES[ctx.setting]
    count = len(ctx.lines)
    if count <= limit:
        return []
    kind, form = FORMS[ctx.setting]
    return [Finding(rule=SPEC.id, severity=SPEC.severity, codes=(), lines=(),
                    message=SPEC.message().text(count=f"{count:,}", kind=kind, form=form, limit=limit),
                    fix=SPEC.fix().text(limit=limit), source=None)]


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    screened = ctx.screened
    if not screened.height:
        return col.no_findings()
    professional = pl.col("is_professional")
    limit = pl.when(professional).then(pl.lit(MAX_LINES["professional"])).otherwise(pl.lit(MAX_LINES["facility"]))
    count = pl.col("count").cast(pl.Int64).map_elements(lambda n: f"{n:,}", return_dtype=pl.String)
    return col.findings(
        screened, SPEC, codes=pl.lit([], pl.List(pl.String)), lines=pl.lit([], pl.List(pl.Int64)),
        message=SPEC.message().expr(
            count=count, limit=limit,
            kind=pl.when(professional).then(pl.lit(FORMS["professional"][0])).otherwise(pl.lit(FORMS["facility"][0])),
            form=pl.when(professional).then(pl.lit(FORMS["professional"][1])).otherwise(pl.lit(FORMS["facility"][1]))),
        fix=SPEC.fix().expr(limit=limit))
