"""MUE_EXCEEDED (error): more units of a code than its medically unlikely edit (MUE) allows. The MUE
adjudication indicator (MAI) says how units are counted: MAI 1 is a claim-line edit (each line is
checked; more units may be reported on separate lines with an appropriate modifier when medically
necessary); MAI 2 is an absolute date-of-service limit set by policy (units on all lines of the date
are added up; units above it are never payable and the denial cannot be appealed); MAI 3 is a
date-of-service limit based on clinical judgement (units are added up; a denial can be appealed with
documentation of medical necessity).

Fails::

    {"id": "mue-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77301", "units": 2}]}

Passes::

    {"id": "mue-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77301", "units": 1}]}
"""

from __future__ import annotations

import polars as pl

from hcpcs.core import indicators
from hcpcs.edits import columnar as col
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import RuleSpec, source, templates
from hcpcs.edits.tables import MUE_DATASET

SPEC = RuleSpec(
    id="MUE_EXCEEDED", order=50, severity="error",
    summary="units over the MUE: MAI 1 per line, MAI 2/3 summed over the date",
    datasets=tuple(MUE_DATASET.values()), table="ncci_mue",
    messages=templates(
        line="{code} is billed with {units} units on line {line}, over its MUE of {mue}, so the line will be denied.",
        day="{code} is billed with {units} units in all on {date}, over its MUE of {mue} a day, so the units over "
            "it will be denied.",
    ),
    details=templates(
        line="Medically unlikely edit of {code} in {release}: {mue} unit(s); MAI 1: {mai_meaning}",
        day="Medically unlikely edit of {code} in {release}: {mue} unit(s) a date of service; MAI {mai}: {mai_meaning}",
    ),
    # By MUE adjudication indicator.
    fixes=templates(**{
        "1": "Report only the units the MUE allows on this line; if more were medically necessary, report the "
             "additional units on separate lines with the appropriate modifier (e.g. 76, 77, 91 or an anatomic "
             "modifier) and keep the documentation.",
        "2": "Reduce the units to the MUE: MAI 2 is an absolute policy limit for the date of service; units above it "
             "are not payable and the denial cannot be appealed.",
        "3": "Reduce the units to the MUE, or bill them and be ready to appeal with documentation of medical "
             "necessity: MAI 3 is a clinical limit for the date of service.",
    }),
)


def _mai_meaning(mai: str) -> str:
    return indicators.meaning("ncci_mai", mai) or mai


def _units(value: float) -> str:
    return f"{value:g}"


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    dataset = MUE_DATASET[ctx.setting]
    for day in ctx.days():
        choice = ctx.release(dataset, day)
        if choice is None:
            continue
        release = choice.release
        for code, lines in ctx.codes(day).items():
            mue = ctx.tables.mue(release, code)
            if mue is None:
                continue
            limit = mue.units
            mai = mue.mai or "1"
            fix = SPEC.fixes.get(mai)
            if mai == "1":
                src = None  # words and source only once a line is over the limit (most are not)
                for view in lines:
                    if view.units > limit:
                        if src is None:
                            src = source(release, mue.source_line, "ncci_mue", mue=limit, mai=mai)
                        findings.append(Finding(
                            rule=SPEC.id, severity=SPEC.severity, codes=(code,), lines=(view.index,),
                            message=SPEC.messages["line"].text(code=code, units=_units(view.units), line=view.index + 1,
                                                               mue=limit),
                            details=SPEC.details["line"].text(code=code, mue=limit, mai_meaning=_mai_meaning(mai),
                                                              release=release.label),
                            fix=fix.text() if fix else None, source=src))
            else:
                total = 0  # sum(), without a generator per code
                for view in lines:
                    total += view.units
                if total > limit:
                    findings.append(Finding(
                        rule=SPEC.id, severity=SPEC.severity, codes=(code,), lines=tuple(v.index for v in lines),
                        message=SPEC.messages["day"].text(code=code, units=_units(total), date=day, mue=limit),
                        details=SPEC.details["day"].text(code=code, mue=limit, mai=mai, mai_meaning=_mai_meaning(mai),
                                                         release=release.label),
                        fix=fix.text() if fix else None,
                        source=source(release, mue.source_line, "ncci_mue", mue=limit, mai=mai)))
    return findings


def _limits(ctx: BatchContext, release_id: int) -> tuple[pl.DataFrame, pl.Series]:
    """The MUE of each code of the batch (as the single engine's `EditTables.mue`: the first row) and the limit
    by `code_id`."""
    limits = ctx.with_code_id(ctx.tables.frame(release_id, "ncci_mue"), "code").unique(
        "code_id", keep="first", maintain_order=True).select(
            "code_id", mue="units", mai=pl.col("mai").fill_null("1"), mue_line="source_line")
    return limits, ctx.dense(limits, "mue")


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    keys = ctx.by_day_key(col.by_setting(MUE_DATASET))
    ctx.request(ctx.claim_days, keys, "day_key", SPEC, pl.col("day_rank"))
    found = []
    for release_id, where in ctx.releases(keys):
        limits, limit = ctx.memo(("mue", release_id), lambda release_id=release_id: _limits(ctx, release_id))
        over = ctx.rows(["row", "claim", "line", "code", "code_id", "is_professional", "dos", "units", "day_rank"],
                        pl.col("units") > pl.lit(limit).gather(pl.col("code_id")), where=where)
        repeated = col.subset(ctx.repeated.with_columns(day_key=ctx.at("day_key", "row"),
                                                        code_id=ctx.at("code_id", "row")), where)
        repeated = repeated.join(limits, on="code_id")
        over = over.join(limits, on="code_id").join(repeated.select("row", "first"), on="row", how="left")
        per_line = over.filter((pl.col("mai") == "1") | pl.col("first").is_null()).with_columns(
            first=pl.col("first").fill_null(pl.col("line")), total=pl.col("units"), lines=pl.concat_list("line"))
        summed = repeated.filter(pl.col("mai") != "1").with_columns(
            line=ctx.at("line", "row"), units=ctx.at("units", "row")).sort("line").group_by("code_day").agg(
            pl.col("row", "first", "code_id", "mue", "mai", "mue_line").first(), line=pl.col("line").first(),
            total=pl.col("units").sum(), lines=pl.col("line")).filter(pl.col("total") > pl.col("mue"))
        summed = summed.with_columns(**{c: ctx.at(c, "row") for c in ("claim", "code", "dos", "is_professional",
                                                                        "day_rank")}, units=pl.col("total"))
        hits = col.concat([per_line, summed])
        if hits is not None:
            found.append(hits.with_columns(release_label=pl.lit(ctx.release_label(release_id))))
    hits = col.concat(found)
    if hits is None:
        return col.no_findings()
    hits = col.with_units_text(col.with_units_text(hits.with_columns(iso=col.iso_text(hits)), "units", "units_text"),
                               "total", "total_text")
    hits = hits.with_columns(mai_meaning=col.mapped(hits, "mai", _mai_meaning))
    common = dict(codes=pl.concat_list("code"), lines=pl.col("lines"), dataset=col.dataset_of_setting(MUE_DATASET),
                  release=pl.col("release_label"), row=pl.col("mue_line"),
                  extra=col.json_fields(mue=("int", pl.col("mue")), mai=pl.col("mai")),
                  order=(pl.col("day_rank"), pl.col("first"), pl.col("line")))
    per_line = hits.filter(pl.col("mai") == "1")
    per_day = hits.filter(pl.col("mai") != "1")
    return col.combine([
        col.findings(per_line, SPEC, message=SPEC.messages["line"].expr(units="units_text", line=pl.col("line") + 1),
                     details=SPEC.details["line"].expr(release="release_label"), fix=SPEC.fixes["1"].expr(), **common),
        col.findings(per_day, SPEC, message=SPEC.messages["day"].expr(units="total_text", date="iso"),
                     details=SPEC.details["day"].expr(release="release_label"),
                     fix=col.case_text(pl.col("mai"), SPEC.fixes), **common),
    ])
