"""STATUS_NOT_PAYABLE (professional claims): the physician fee schedule status of the row billed (the -26
or -TC row when the line carries that modifier, else the global row) says Medicare does not pay the
service separately under the physician fee schedule. Severity follows what the status means for the
claim line:

- error: B bundled (paid within another service), I not valid for Medicare (CMS uses another code),
  N non-covered, P bundled or excluded, G/H and others that CMS does not pay;
- warning: E excluded by regulation and X statutory exclusion: no payment under the physician fee
  schedule, but CMS's own examples (clinical laboratory tests, ambulance, drugs, DMEPOS) are paid under
  another Medicare fee schedule, so the line is not necessarily denied;
- info: M measurement codes, reported for quality programmes with no payment.

Paid statuses (A, R, T, and C carrier-priced, J anesthesia) pass; deleted codes are reported by
CODE_NOT_VALID_ON_DOS.

Fails::

    {"id": "status-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77385"}]}

Passes::

    {"id": "status-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "G6015"}]}
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import polars as pl

from hcpcs.core import indicators
from hcpcs.core.guidance import fix_text, report_instead
from hcpcs.edits import columnar as col
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import RuleSpec, source, templates

SPEC = RuleSpec(
    id="STATUS_NOT_PAYABLE", order=90, severity="error", severities=("warning", "info"),
    summary="fee-schedule status of the billed row not separately payable under the physician fee schedule",
    datasets=("mpfs",), table="mpfs_rvu",
    messages=templates(default="{label} has fee-schedule status {status}: {consequence}."),
    details=templates(default="Status {status} in {release}: {status_meaning}{note}"),
    fixes=templates(
        other_code="Report the code Medicare uses for this service instead.",
        other_schedule="Bill it under the Medicare fee schedule that pays it, if any; the physician fee schedule pays "
                       "nothing for it.",
        reporting="Keep reporting it for quality measurement if it applies; it carries no payment.",
        default="Do not bill it separately to Medicare; it is not paid under the physician fee schedule.",
        unknown_replacement="No replacement for {code} is recorded in hcpcs's guidance: check the RVU file's "
                            "documentation and CMS's coding instructions for the code Medicare uses.",
    ),
)
CONSEQUENCES = {
    "other_code": "Medicare does not recognise it and will not pay it",
    "other_schedule": "the physician fee schedule does not pay it (another Medicare fee schedule may)",
    "reporting": "it is reported for quality measurement and carries no payment",
    "default": "Medicare does not pay it separately",
}
PAYABLE = {"A", "R", "T", "C", "J"}
DELETED = {"D", "F", "H"}
OTHER_CODE = {"I", "G"}  # not valid for Medicare purposes: Medicare uses another code
OTHER_FEE_SCHEDULE = {"E", "X"}  # not under the PFS; possibly under another Medicare fee schedule
REPORTING_ONLY = {"M"}
OTHER_FEE_SCHEDULE_NOTE = (" Not paid under the physician fee schedule; Medicare may pay it under another fee "
                           "schedule (such as clinical laboratory, ambulance, drugs or DMEPOS).")


def severity_of(status: str | None) -> str:
    if status in OTHER_FEE_SCHEDULE:
        return "warning"
    if status in REPORTING_ONLY:
        return "info"
    return "error"


def fix_case(status: str | None) -> str:
    if status in OTHER_CODE:
        return "other_code"
    if status in OTHER_FEE_SCHEDULE:
        return "other_schedule"
    if status in REPORTING_ONLY:
        return "reporting"
    return "default"


def other_code_fix(code: str, day: date, modifiers: Iterable[str]) -> str:
    """For a code Medicare does not recognise (status I): the code to report instead, from the cited guidance
    of `hcpcs.core.guidance`, or a plain statement that none is recorded."""
    return fix_text(report_instead(code, day, "professional", modifiers=list(modifiers))) or SPEC.fixes[
        "unknown_replacement"].text(code=code)


def check(ctx: ClaimContext) -> list[Finding]:
    if not ctx.professional:
        return []
    findings: list[Finding] = []
    for view in ctx.lines:
        choice = ctx.release("mpfs", view.day)
        if choice is None:
            continue
        rows = ctx.tables.rvu(choice.release, view.code)
        if not rows:
            continue
        row_key = "26" if "26" in view.modifiers else "TC" if "TC" in view.modifiers else ""
        row = rows.get(row_key)
        if row is None:
            continue
        status = row["status"]
        if status in PAYABLE or status in DELETED:
            continue
        case = fix_case(status)
        findings.append(Finding(
            rule=SPEC.id, severity=severity_of(status), codes=(view.code,), lines=(view.index,),
            message=SPEC.message().text(label=f"{view.code}{'-' + row_key if row_key else ''}", status=str(status),
                                        consequence=CONSEQUENCES[case]),
            details=SPEC.detail().text(status=str(status), release=choice.release.label,
                                       status_meaning=indicators.meaning("mpfs_status", status) or "",
                                       note=OTHER_FEE_SCHEDULE_NOTE if status in OTHER_FEE_SCHEDULE else ""),
            fix=(other_code_fix(view.code, view.day, view.modifier_list) if case == "other_code"
                 else SPEC.fixes[case].text()),
            source=source(choice.release, row["source_line"], "mpfs_rvu", status=status),
        ))
    return findings


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    keys = ctx.by_day_key("mpfs")
    # Every line of a professional claim asks; the first line of each claim day is the first to.
    ctx.request(ctx.claim_days.filter(pl.col("is_professional")), keys, "day_key", SPEC, pl.col("day_rank"))
    passed = sorted(PAYABLE | DELETED)
    found = []
    for release_id, where in ctx.releases(keys):
        rows = ctx.memo(("status", release_id), lambda release_id=release_id: ctx.with_code_id(
            col.rvu_rows(ctx, release_id).filter(pl.col("status").is_null() | ~pl.col("status").is_in(passed)),
            "code").select("code_id", "modifier", "status", "source_line"))
        if not rows.height:
            continue
        candidates = ctx.rows(["row", "claim", "line", "code_id", "code", "modifiers"], pl.col("is_professional"),
                              pl.col("code_id").is_in(rows["code_id"].implode()), where=where)
        candidates = candidates.with_columns(modifier=pl.when(pl.col("modifiers").list.contains("26")).then(
            pl.lit("26")).when(pl.col("modifiers").list.contains("TC")).then(pl.lit("TC")).otherwise(pl.lit("")))
        hits = candidates.join(rows, on=["code_id", "modifier"])
        found.append(hits.with_columns(release_label=pl.lit(ctx.release_label(release_id))))
    hits = col.concat(found)
    if hits is None:
        return col.no_findings()
    statuses = hits["status"].unique().to_list()
    hits = hits.with_columns(
        case=pl.col("status").replace_strict(statuses, [fix_case(s) for s in statuses], return_dtype=pl.String),
        severity=pl.col("status").replace_strict(statuses, [severity_of(s) for s in statuses], return_dtype=pl.String))
    label = pl.when(pl.col("modifier") != "").then(pl.format("{}-{}", "code", "modifier")).otherwise(pl.col("code"))
    other = pl.col("status").is_in(sorted(OTHER_FEE_SCHEDULE))
    hits = hits.with_columns(dos=ctx.at("dos", "row"),
                             line_modifiers=pl.col("modifiers").list.sort().list.join(","))
    others = hits.filter(pl.col("case") == "other_code").select("code", "dos", "line_modifiers").unique()
    replacements = pl.DataFrame(
        [(code, day, mods, other_code_fix(code, day, mods.split(",") if mods else ()))
         for code, day, mods in others.iter_rows()], orient="row",
        schema={"code": pl.String, "dos": pl.Date, "line_modifiers": pl.String, "replacement": pl.String})
    hits = hits.join(replacements, on=["code", "dos", "line_modifiers"], how="left")
    return col.findings(
        hits, SPEC, severity=pl.col("severity"), codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        message=SPEC.message().expr(label=label, status=pl.col("status").fill_null("None"),
                                    consequence=pl.col("case").replace_strict(list(CONSEQUENCES),
                                                                               list(CONSEQUENCES.values()))),
        details=SPEC.detail().expr(
            status=pl.col("status").fill_null("None"), release="release_label",
            status_meaning=col.meaning_of(hits, "status", "mpfs_status"),
            note=pl.when(other).then(pl.lit(OTHER_FEE_SCHEDULE_NOTE)).otherwise(pl.lit(""))),
        fix=pl.coalesce("replacement", col.case_text(pl.col("case"), SPEC.fixes)), dataset="mpfs",
        release=pl.col("release_label"),
        row=pl.col("source_line"), extra=col.json_fields(status=pl.col("status")), order=(pl.col("line"),))
