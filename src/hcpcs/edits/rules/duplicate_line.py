"""DUPLICATE_LINE (warning): the same code with the same modifiers on the same date of service on two or
more lines. Payers deny exact duplicates; a repeated service is reported with units on one line or
with a repeat-procedure modifier (76, 77) or repeat-test modifier (91) that says why.

Fails::

    {"id": "dup-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77301"}, {"code": "77301"}]}

Passes::

    {"id": "dup-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77301", "modifiers": ["26"]}, {"code": "77301", "modifiers": ["TC"]}]}
"""

from __future__ import annotations

from datetime import date

import polars as pl

from hcpcs.edits import columnar as col
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import RuleSpec, templates
from hcpcs.edits.templates import Template

SPEC = RuleSpec(
    id="DUPLICATE_LINE", order=110, severity="warning",
    summary="same code, modifiers and date on two lines",
    messages=templates(default="{code}{modifiers} is billed on {count} lines ({positions}) for {date}: payers deny "
                               "exact duplicates."),
    fixes=templates(default="Report the service once with the total units, or add modifier 76/77 (repeat "
                            "procedure) or 91 (repeat test) to the repeat if it was a separate service."),
)
WITH_MODIFIERS = Template(" with modifier(s) {modifiers}")


def check(ctx: ClaimContext) -> list[Finding]:
    if all(len(views) == len(ctx.codes(day)) for day, views in ctx.days().items()):
        return []  # no code twice on a date of service
    findings: list[Finding] = []
    groups: dict[tuple[str, frozenset[str], date], list[int]] = {}
    for view in ctx.lines:
        groups.setdefault((view.code, view.modifiers, view.day), []).append(view.index)
    for (code, modifiers, day), indexes in groups.items():
        if len(indexes) < 2:
            continue
        mods = WITH_MODIFIERS.text(modifiers=", ".join(sorted(modifiers))) if modifiers else ""
        findings.append(Finding(
            rule=SPEC.id, severity=SPEC.severity, codes=(code,), lines=tuple(indexes),
            message=SPEC.message().text(code=code, modifiers=mods, count=len(indexes), date=day,
                                        positions=", ".join(str(i + 1) for i in indexes)),
            fix=SPEC.fix().text(), source=None,
        ))
    return findings


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    rows = ctx.repeated
    if not rows.height:
        return col.no_findings()
    rows = rows.with_columns(**{c: ctx.at(c, "row") for c in ("claim", "line", "code", "dos")},
                             modifier_set=ctx.at("modifiers", "row").list.unique().list.sort())
    groups = rows.sort("row").group_by("code_day", pl.col("modifier_set").list.join(",").alias("modifier_key"),
                                       maintain_order=True).agg(
        pl.col("claim", "code", "dos", "modifier_set").first(), lines=pl.col("line"), count=pl.len()).filter(
        pl.col("count") >= 2)
    if not groups.height:
        return col.no_findings()
    mods = pl.when(pl.col("modifier_set").list.len() > 0).then(
        WITH_MODIFIERS.expr(modifiers=pl.col("modifier_set").list.join(", "))).otherwise(pl.lit(""))
    positions = pl.col("lines").list.eval((pl.element() + 1).cast(pl.String)).list.join(", ")
    return col.findings(
        groups, SPEC, codes=pl.concat_list("code"), lines=pl.col("lines"),
        message=SPEC.message().expr(modifiers=mods, positions=positions, date=col.iso_text(groups)),
        fix=SPEC.fix().expr(), order=(pl.col("lines").list.first(),))
