"""ADDON_WITHOUT_PRIMARY: an add-on code billed without any of its primary codes on the same date of
service. CMS's add-on code edit types: type 1, only the listed primary codes are eligible, so the add-on
is denied without one (error); type 2, CMS lists no primary codes (the file says CCCCC) and each Medicare
administrative contractor decides which are eligible (warning); type 3, some primary codes are listed but
the contractor may allow others (warning).

Fails::

    {"id": "aoc-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77293"}]}

Passes::

    {"id": "aoc-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77301"}, {"code": "77293"}]}
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
    id="ADDON_WITHOUT_PRIMARY", order=60, severity="error", severities=("warning",),
    summary="add-on code without an eligible primary on the date (type 1 error; types 2 and 3 warning)",
    datasets=("ncci_aoc",), table="ncci_aoc",
    # By kind: "1" (edit type 1), "2" (type 2, or no primary listed), "3" (type 3).
    messages=templates(**{
        "1": "{code} is an add-on code billed on {date} without any of its primary codes ({listed}), so it will be "
             "denied.",
        "2": "{code} is an add-on code whose eligible primary codes your Medicare contractor decides, not CMS.",
        "3": "{code} is an add-on code billed on {date} without any of its listed primary codes ({listed}); your "
             "Medicare contractor may allow others.",
    }),
    details=templates(**{kind: f"NCCI add-on code edit type {kind} in {{release}}: {{type_meaning}}"
                         for kind in ("1", "2", "3")}),
    fixes=templates(**{
        "1": "Bill {code} with the primary procedure it adds to ({listed}) on the same date, by the same practitioner, "
             "or remove it.",
        "2": "Check your contractor's policy and bill {code} with an eligible primary procedure.",
        "3": "Bill {code} with one of its primary codes, or confirm your contractor accepts the primary billed.",
    }),
)
SEVERITY_OF_KIND = {"1": "error", "2": "warning", "3": "warning"}
CONTRACTOR_DEFINED = "CCCCC"  # the primary code of a type 2 edit: the contractor decides
LISTED = 12  # primary codes named in a message


def _listed(primaries: list[str]) -> str:
    return ", ".join(primaries[:LISTED]) + (f" and {len(primaries) - LISTED} more" if len(primaries) > LISTED else "")


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    for day, views in ctx.days().items():
        choice = ctx.release("ncci_aoc", day)
        if choice is None:
            continue
        iso = None
        for view in views:
            addon_edits = ctx.tables.aoc_for_addon(choice.release, view.code)
            if not addon_edits:  # not an add-on code (most lines)
                continue
            iso = iso or day.isoformat()
            edits = [e for e in addon_edits if e.in_force(iso)]
            if not edits:
                continue
            primaries = sorted({e.primary_code for e in edits if e.primary_code != CONTRACTOR_DEFINED})
            if not ctx.codes(day).keys().isdisjoint(primaries):
                continue
            edit_type = min(e.edit_type for e in edits)
            first = next(e for e in edits if e.edit_type == edit_type)
            kind = "1" if edit_type == "1" else "2" if edit_type == "2" or not primaries else "3"
            values = dict(code=view.code, date=day, listed=_listed(primaries), release=choice.release.label,
                          type_meaning=indicators.meaning("ncci_aoc_edit_type", edit_type) or "")
            findings.append(Finding(
                rule=SPEC.id, severity=SEVERITY_OF_KIND[kind], codes=(view.code,), lines=(view.index,),
                message=SPEC.messages[kind].text(**values), details=SPEC.details[kind].text(**values),
                fix=SPEC.fixes[kind].text(**values),
                source=source(choice.release, first.source_line, "ncci_aoc", edit_type=edit_type)))
    return findings


def _in_force() -> pl.Expr:
    """`AocEdit.in_force` (the single engine's test) on the date `dos`."""
    return ((pl.col("effective_date").is_null() | (pl.col("effective_date") <= pl.col("dos")))
            & (pl.col("deletion_date").is_null() | (pl.col("dos") <= pl.col("deletion_date")))
            & (pl.col("primary_deletion_date").is_null() | (pl.col("dos") <= pl.col("primary_deletion_date"))))


def _summary(days: pl.DataFrame, edits: pl.DataFrame) -> pl.DataFrame:
    """Per add-on code and date (`code_id`, `dos`) with an edit in force: the lowest edit type, the listed
    primary codes (sorted) and the source row of the first edit of that type. An add-on whose edits'
    dates all lie outside the batch's dates is in force the same on every day: worked out once."""
    first, last = days.select(pl.col("dos").min().alias("first"), pl.col("dos").max().alias("last")).row(0)
    starts = pl.col("effective_date")
    ends = [pl.col("deletion_date"), pl.col("primary_deletion_date")]
    steady = ((starts.is_null() | (starts <= first) | (starts > last))
              & pl.all_horizontal([e.is_null() | (e < first) | (e >= last) for e in ends]))
    changing = edits.filter(~steady)["code_id"].unique().implode()
    each_day = days.filter(pl.col("code_id").is_in(changing))
    once = days.filter(~pl.col("code_id").is_in(changing)).select("code_id").unique().with_columns(dos=pl.lit(first))
    listed = pl.col("primary_code") != CONTRACTOR_DEFINED

    def summarize(keys: pl.DataFrame, by: list[str]) -> pl.DataFrame:
        in_force = keys.join(edits, on="code_id").filter(_in_force()).sort("edit_order")
        return in_force.group_by(by).agg(
            edit_type=pl.col("edit_type").min(), primaries=pl.col("primary_code").filter(listed).unique().sort(),
            aoc_line=pl.col("source_line").filter(pl.col("edit_type") == pl.col("edit_type").min()).first())

    return pl.concat([summarize(each_day, ["code_id", "dos"]),
                      days.join(summarize(once, ["code_id"]), on="code_id")], how="diagonal_relaxed").select(
        "code_id", "dos", "edit_type", "primaries", "aoc_line")


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    keys = ctx.by_day_key("ncci_aoc")
    ctx.request(ctx.claim_days, keys, "day_key", SPEC, pl.col("day_rank"))
    found = []
    for release_id, where in ctx.releases(keys):
        edits = ctx.memo(("aoc", release_id), lambda release_id=release_id: ctx.with_code_id(
            ctx.tables.frame(release_id, "ncci_aoc").with_row_index("edit_order"), "addon_code"))
        if not edits.height:
            continue
        candidates = ctx.rows(["row", "claim", "line", "code_id", "code", "dos", "day_start", "day_len", "day_rank"],
                              pl.col("code_id").is_in(edits["code_id"].unique().implode()), where=where)
        if not candidates.height:
            continue
        # Is a primary code of an edit in force billed on the same claim day?
        primaries = ctx.with_code_id(edits.filter(pl.col("primary_code") != CONTRACTOR_DEFINED), "primary_code",
                                     "primary_code_id")
        pairs = ctx.day_pairs(candidates.select("row", "code_id", "dos", "day_start", "day_len"), upper=False).select(
            "row", "code_id", "dos", primary_code_id=ctx.at("code_id", "other"))
        met = pairs.join(primaries, on=["code_id", "primary_code_id"]).filter(_in_force())
        candidates = candidates.join(met.select("row").unique(), on="row", how="anti")
        if not candidates.height:
            continue
        # What the message says about the add-on's edits in force on the day.
        summary = _summary(candidates.select("code_id", "dos").unique(), edits)
        missing = candidates.join(summary, on=["code_id", "dos"])
        found.append(missing.with_columns(release_label=pl.lit(ctx.release_label(release_id))))
    hits = col.concat(found)
    if hits is None:
        return col.no_findings()
    count = pl.col("primaries").list.len()
    hits = hits.with_columns(
        iso=col.iso_text(hits), type_meaning=col.meaning_of(hits, "edit_type", "ncci_aoc_edit_type"),
        listed=pl.col("primaries").list.head(LISTED).list.join(", ")
        + pl.when(count > LISTED).then(pl.format(" and {} more", count - LISTED)).otherwise(pl.lit("")),
        kind=pl.when(pl.col("edit_type") == "1").then(pl.lit("1"))
        .when((pl.col("edit_type") == "2") | (count == 0)).then(pl.lit("2")).otherwise(pl.lit("3")))
    kind = pl.col("kind")
    return col.findings(
        hits, SPEC, severity=kind.replace_strict(list(SEVERITY_OF_KIND), list(SEVERITY_OF_KIND.values())),
        codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        message=col.case_text(kind, SPEC.messages, date="iso"),
        details=col.case_text(kind, SPEC.details, release="release_label"),
        fix=col.case_text(kind, SPEC.fixes), dataset="ncci_aoc", release=pl.col("release_label"),
        row=pl.col("aoc_line"), extra=col.json_fields(edit_type=pl.col("edit_type")),
        order=(pl.col("day_rank"), pl.col("line")))
