"""Modifier 26 and TC against the PC/TC indicator of the fee-schedule row (RVU file, Attachment A), shared by
the MODIFIER_26_NOT_ALLOWED and MODIFIER_TC_NOT_ALLOWED rules, for both engines: each rule module gives its
modifier and its spec; the messages and fixes are written once, here."""

from __future__ import annotations

import polars as pl

from hcpcs.core import indicators
from hcpcs.core.indicators import pctc_allows
from hcpcs.edits import columnar as col
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import RuleSpec, source, templates

MESSAGES = templates(default="Modifier {modifier} is not allowed with {code} (PC/TC indicator {pctc}), so the line "
                             "will be denied.")
DETAILS = templates(default="PC/TC indicator {pctc} of {code} in {release}: {pctc_meaning}")
# By PC/TC indicator; any other indicator that refuses the modifier gets "other".
FIXES = templates(**{
    "2": "Bill the code without modifier {modifier}: it is a professional-component-only code.",
    "3": "Bill the code without modifier {modifier}: it is a technical-component-only code.",
    "4": "Bill the separate professional or technical code that CMS pairs with this global-only code, without "
         "modifier {modifier}.",
    "other": "Remove modifier {modifier} from this line.",
})


def spec(rule_id: str, order: int, modifier: str, summary: str) -> RuleSpec:
    return RuleSpec(id=rule_id, order=order, severity="error", summary=summary, datasets=("mpfs",), table="mpfs_rvu",
                    messages=MESSAGES, fixes=FIXES, details=DETAILS)


def _fix_case(pctc: str | None) -> str:
    return str(pctc) if str(pctc) in FIXES else "other"


def modifier_findings(ctx: ClaimContext, modifier: str, rule: RuleSpec) -> list[Finding]:
    if not ctx.professional:
        return []
    findings: list[Finding] = []
    for view in ctx.lines:
        if modifier not in view.modifiers:
            continue
        choice = ctx.release("mpfs", view.day)
        if choice is None:
            continue
        base = ctx.tables.rvu_base(choice.release, view.code)
        if base is None:
            continue
        pctc = base["pctc"]
        if pctc_allows(pctc, modifier) is not False:
            continue
        findings.append(Finding(
            rule=rule.id, severity=rule.severity, codes=(view.code,), lines=(view.index,),
            message=MESSAGES["default"].text(modifier=modifier, code=view.code, pctc=pctc),
            details=DETAILS["default"].text(code=view.code, release=choice.release.label, pctc=pctc,
                                            pctc_meaning=indicators.meaning("mpfs_pctc", pctc) or ""),
            fix=FIXES[_fix_case(pctc)].text(modifier=modifier),
            source=source(choice.release, base["source_line"], "mpfs_rvu", pctc=pctc),
        ))
    return findings


def _modified_lines(ctx: BatchContext) -> pl.DataFrame:
    """The lines of professional claims with modifier 26 or TC (`has_26`, `has_tc`), shared by both rules."""
    if "pctc_modified" not in ctx.cache:
        lines = ctx.rows(["claim", "line", "code_id", "day_key", "modifiers"], pl.col("is_professional"),
                         pl.col("modifier_count") > 0)
        ctx.cache["pctc_modified"] = lines.select(
            "claim", "line", "code_id", "day_key", has_26=pl.col("modifiers").list.contains("26"),
            has_tc=pl.col("modifiers").list.contains("TC")).filter(pl.col("has_26") | pl.col("has_tc"))
    return ctx.cache["pctc_modified"]


def batch_findings(ctx: BatchContext, modifier: str, rule: RuleSpec) -> pl.DataFrame:
    lines = _modified_lines(ctx).filter("has_26" if modifier == "26" else "has_tc").drop("has_26", "has_tc")
    if not lines.height:
        return col.no_findings()
    lines = lines.with_columns(code=ctx.code_of())
    keys = ctx.by_day_key("mpfs")
    ctx.request(lines, keys, "day_key", rule, pl.col("line"))
    found = []
    for release_id, where in ctx.releases(keys):
        base = col.rvu_base(ctx, release_id).filter(pl.col("pctc").is_not_null())
        refused = [p for p in base["pctc"].unique().to_list() if pctc_allows(p, modifier) is False]
        base = base.filter(pl.col("pctc").is_in(refused)).select("code", "pctc", "source_line")
        hits = col.subset(lines, where).join(base, on="code")
        found.append(hits.with_columns(release_label=pl.lit(ctx.release_label(release_id))))
    hits = col.concat(found)
    if hits is None:
        return col.no_findings()
    cases = {p: _fix_case(p) for p in hits["pctc"].unique().to_list()}
    hits = hits.with_columns(case=pl.col("pctc").replace_strict(list(cases), list(cases.values()), return_dtype=pl.String))
    return col.findings(
        hits, rule, codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        message=MESSAGES["default"].expr(modifier=pl.lit(modifier)),
        details=DETAILS["default"].expr(release="release_label", pctc_meaning=col.meaning_of(hits, "pctc", "mpfs_pctc")),
        fix=col.case_text(pl.col("case"), FIXES, modifier=pl.lit(modifier)),
        dataset="mpfs", release=pl.col("release_label"), row=pl.col("source_line"),
        extra=col.json_fields(pctc=pl.col("pctc")), order=(pl.col("line"),))
