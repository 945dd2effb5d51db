"""CODE_NOT_VALID_ON_DOS (error): the code does not exist on the line's date of service: unknown to every
loaded release, not yet added, or terminated (discontinued) before that date. HCPCS Level II codes are
judged by the HCPCS file in force (added date through termination date, inclusive); CPT codes, which the
HCPCS file does not carry, by the physician fee schedule (professional claims) or OPPS Addendum B
(facility claims) in force: a CPT code absent from it, or with fee-schedule status D (deleted), is not
valid on that date. A CPT code that no loaded physician fee schedule has ever listed but other CMS files
carry (clinical laboratory codes such as the PLA codes 0001U-0999U, priced on the clinical laboratory fee
schedule) is a current code the physician fee schedule does not price: a warning, not an error.

Fails::

    {"id": "dos-fail", "setting": "professional", "date_of_service": "2026-02-01",
     "lines": [{"code": "G6002"}]}

Passes::

    {"id": "dos-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "G6002"}]}
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache

import polars as pl

from hcpcs.core import indicators
from hcpcs.core.codes import kind_of
from hcpcs.core.guidance import fix_text, report_instead
from hcpcs.core.tables import DATASETS
from hcpcs.edits import columnar as col
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext, LineView
from hcpcs.edits.spec import RuleSpec, source, templates
from hcpcs.edits.templates import Template
from hcpcs.store.releases import Release

SPEC = RuleSpec(
    id="CODE_NOT_VALID_ON_DOS", order=10, severity="error", severities=("warning",),
    summary="code unknown, not yet added or terminated on the date of service",
    datasets=("hcpcs", "mpfs", "opps"),
    messages=templates(
        added="{code} is not valid on {date}: it takes effect {added}, so the line will be rejected.",
        terminated="{code} is not valid on {date}: it was discontinued {terminated}, so the line will be rejected.",
        elsewhere="{code} is not in the HCPCS file in force on {date}, so the line will be rejected.",
        deleted="{code} is deleted on {date} (fee-schedule status {status}), so the line will be rejected.",
        absent="{code} is not in the {schedule} in force on {date}, so the line will be rejected.",
        off_schedule="{code} is not on the physician fee schedule: Medicare pays it, if at all, under another "
                     "fee schedule.",
        unknown="{code} is not a code in any loaded CMS release.",
    ),
    details=templates(
        added="HCPCS added date {added}, in {release}.",
        terminated="HCPCS termination date {terminated}, action {action}: {action_meaning}; in {release}.",
        elsewhere="{release} is the HCPCS file in force on {date}; the code appears in {others}.",
        deleted="Fee-schedule status {status} in {release}: the code is deleted.",
        absent="{release} is the {schedule} release in force on {date}{appears}.",
        off_schedule="{release} is the fee schedule release in force on {date}; no loaded fee schedule release "
                     "lists the code, which other CMS files (NCCI edits, OPPS) carry. Clinical laboratory codes, "
                     "such as the PLA codes ending in U, are priced on the clinical laboratory fee schedule.",
        unknown="No HCPCS file, fee schedule, OPPS Addendum B, MUE or add-on table loaded carries it.",
    ),
    fixes=templates(
        added="Use the code that was in force on the date of service.",
        elsewhere="Check the code against the HCPCS file of the date of service.",
        absent="Check that the code was valid on the date of service.",
        off_schedule="Check which Medicare fee schedule pays {code} (the clinical laboratory fee schedule for a "
                     "laboratory code) before billing it.",
        unknown="Check the code for a typing error.",
        unknown_replacement="No replacement for {code} is recorded in hcpcs's guidance: check CMS's release notes "
                            "for {code} before reporting another code.",
    ),
)
APPEARS = Template("; the code appears in {others}")
REPLACED = ("terminated", "deleted")  # their fix names the code to report instead, when one is recorded
DELETED_STATUSES = {"D"}
SCHEDULES = {"mpfs": "fee schedule", "opps": "OPPS"}
SEVERITY_OF_CASE = {"off_schedule": "warning"}  # every other case is an error
_kind_of = cache(kind_of)  # two regular expressions per call otherwise (codes have a fixed shape: bounded)


def action_meaning(action_code: str | None) -> str:
    return (indicators.meaning("hcpcs_action_code", action_code) or "").rstrip(".")


# ------------------------------------------------------------------------------------------- one claim


def replacement_fix(code: str, day: date, professional: bool, modifiers: Iterable[str]) -> str:
    """The fix of a code that is not valid (or not valid for Medicare): the code to report instead, from the
    cited guidance of `hcpcs.core.guidance`, or a plain statement that none is recorded (never a guess)."""
    rows = report_instead(code, day, "professional" if professional else "facility", modifiers=list(modifiers))
    return fix_text(rows) or SPEC.fixes["unknown_replacement"].text(code=code)


def _finding(ctx: ClaimContext, view: LineView, case: str, src: dict | None, **values: object) -> Finding:
    fix = SPEC.fix(case)
    text = (replacement_fix(view.code, view.day, ctx.professional, view.modifier_list)
            if case in REPLACED else fix.text(code=view.code) if fix else None)
    detail = SPEC.detail(case)
    every = dict(code=view.code, date=view.day, **values)
    return Finding(rule=SPEC.id, severity=SEVERITY_OF_CASE.get(case, SPEC.severity), codes=(view.code,),
                   lines=(view.index,),
                   message=SPEC.message(case).text(**every),
                   details=detail.text(**{k: v for k, v in every.items() if k in detail.names}) if detail else None,
                   fix=text, source=src)


def _dated(ctx: ClaimContext, view: LineView, row: object, release: Release) -> Finding | None:
    """Judge a code by the added and termination dates of its HCPCS row (inclusive)."""
    iso = view.day.isoformat()
    added, terminated = row["added_date"], row["termination_date"]
    src = source(release, row["source_line"], "hcpcs_code")
    if added and iso < added:
        return _finding(ctx, view, "added", src, added=added, release=release.label)
    if terminated and iso > terminated:
        return _finding(ctx, view, "terminated", src, terminated=terminated, action=str(row["action_code"]),
                        action_meaning=action_meaning(row["action_code"]), release=release.label)
    return None


def _level2(ctx: ClaimContext, view: LineView) -> Finding | None:
    choice = ctx.release("hcpcs", view.day)
    if choice is None:
        return None
    release = choice.release
    row = ctx.tables.hcpcs(release, view.code)
    if row is not None:
        return _dated(ctx, view, row, release)
    others = ctx.tables.other_releases_with("hcpcs", view.code)
    # The HCPCS file is cumulative: a later file that carries the code dates it, also for dates before
    # that file's release (a code added after the release in force, which is older than the date).
    later = [r for r in others if r.effective_start > release.effective_start]
    if later:
        newest = max(later, key=lambda r: (r.effective_start, r.id))
        later_row = ctx.tables.hcpcs(newest, view.code)
        if later_row is not None:
            return _dated(ctx, view, later_row, newest)
    if others:
        return _finding(ctx, view, "elsewhere", source(release, None, "hcpcs_code"), release=release.label,
                        others=", ".join(r.label for r in others))
    if not ctx.tables.in_any_release(view.code):
        return _finding(ctx, view, "unknown", source(release, None, "hcpcs_code"))
    return None


def _cpt(ctx: ClaimContext, view: LineView) -> Finding | None:
    dataset = "mpfs" if ctx.professional else "opps"
    choice = ctx.release(dataset, view.day)
    if choice is None:
        if not ctx.tables.in_any_release(view.code):
            return _finding(ctx, view, "unknown", None)
        return None
    release = choice.release
    table = DATASETS[dataset].tables[0]
    if dataset == "mpfs":
        base = ctx.tables.rvu_base(release, view.code)
        if base is not None:
            if base["status"] in DELETED_STATUSES:
                return _finding(ctx, view, "deleted", source(release, base["source_line"], table), status=base["status"],
                                release=release.label)
            return None
    elif ctx.tables.addendum_b(release, view.code) is not None:
        return None
    if not ctx.tables.in_any_release(view.code):
        return _finding(ctx, view, "unknown", source(release, None, table))
    others = ctx.tables.other_releases_with(dataset, view.code)
    if dataset == "mpfs" and not others:
        return _finding(ctx, view, "off_schedule", source(release, None, table), release=release.label)
    appears = APPEARS.text(others=", ".join(r.label for r in others)) if others else ""
    return _finding(ctx, view, "absent", source(release, None, table), release=release.label,
                    schedule=SCHEDULES[dataset], appears=appears)


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, date]] = set()
    for view in ctx.lines:
        key = (view.code, view.day)
        if key in seen:
            continue
        seen.add(key)
        finding = _level2(ctx, view) if _kind_of(view.code) == "level2" else _cpt(ctx, view)
        if finding is not None:
            findings.append(finding)
    return findings


# ------------------------------------------------------------------------------------------- a batch


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    # A line asks the HCPCS file (Level II code) or the fee schedule / OPPS (CPT code) in force: the key
    # `validity_key` is the day key and the kind of code.
    level2_keys = ctx.by_day_key("hcpcs").with_columns(validity_key=pl.col("day_key") * 2 + 1)
    cpt_keys = ctx.by_day_key(("mpfs", "opps")).with_columns(validity_key=pl.col("day_key") * 2)
    keys = pl.concat([level2_keys, cpt_keys])
    level2 = pl.lit(ctx.level2).gather(pl.col("code_id")).cast(pl.Int64)
    lines = ctx.lines.select("row", "claim", "line", "code_id", "dos", "is_professional",
                             validity_key=pl.col("day_key") * 2 + level2)
    ctx.request(lines, keys, "validity_key", SPEC, pl.col("line"))
    level2_ids, cpt_ids = ctx.memo("code ids by kind", lambda: (ctx.level2.arg_true().to_list(),
                                                                (~ctx.level2).arg_true().to_list()))
    query_ids = keys["query_id"].unique().to_list()
    groups = keys.with_columns(dataset=pl.col("query_id").replace_strict(
        query_ids, [ctx.queries[q].dataset for q in query_ids], return_dtype=pl.String))
    verdicts = []
    for (dataset, release_id), part in groups.partition_by("dataset", "release_id", as_dict=True).items():
        code_ids = level2_ids if dataset == "hcpcs" else cpt_ids
        found = ctx.memo(("validity", dataset, release_id),
                         lambda d=dataset, r=release_id, c=code_ids: _validity(ctx, d, r, c)) if code_ids else None
        if found is not None:
            verdicts.append((part["validity_key"], found.with_columns(
                dataset=pl.lit(dataset if release_id is not None else None, pl.String),
                release_label=pl.coalesce(pl.col("label_override"), pl.lit(
                    ctx.release_label(release_id) if release_id is not None else None, pl.String)))))
    if not verdicts:
        return col.no_findings()
    suspect = pl.concat([found["code_id"] for _, found in verdicts]).unique().implode()
    candidates = lines.filter(pl.col("code_id").is_in(suspect))
    hits = col.concat([candidates.filter(pl.col("validity_key").is_in(keys.implode())).join(found, on="code_id")
                       for keys, found in verdicts])
    if hits is None:
        return col.no_findings()
    hits = hits.sort("claim", "line").unique(["claim", "code_id", "dos"], keep="first", maintain_order=True)
    hits = hits.with_columns(iso=col.iso_text(hits), code=ctx.code_of(),
                             line_modifiers=ctx.at("modifiers", "row").list.sort().list.join(","))
    not_yet = pl.col("added_date").is_not_null() & (pl.col("dos") < pl.col("added_date"))
    ended = pl.col("termination_date").is_not_null() & (pl.col("dos") > pl.col("termination_date"))
    hits = hits.with_columns(case=pl.when(pl.col("verdict") != "dated").then(pl.col("verdict"))
                             .when(not_yet).then(pl.lit("added")).when(ended).then(pl.lit("terminated"))
                             .otherwise(pl.lit(None))).filter(pl.col("case").is_not_null())
    if not hits.height:
        return col.no_findings()
    case = pl.col("case")
    others = pl.col("others")
    values = dict(
        date="iso", added="added_date", terminated="termination_date", release="release_label",
        action=pl.col("action_code").fill_null("None"), action_meaning=col.mapped(hits, "action_code", action_meaning),
        schedule=pl.col("dataset").replace_strict(list(SCHEDULES), list(SCHEDULES.values()), default=None),
        appears=pl.when(others.is_not_null()).then(APPEARS.expr(others=others)).otherwise(pl.lit("")))
    with_row = case.is_in(["added", "terminated", "deleted"])
    replaced = _replacement_fixes(ctx, hits.filter(case.is_in(list(REPLACED))))
    hits = hits.join(replaced, on=["code", "dos", "is_professional", "line_modifiers"], how="left") \
        if replaced.height else hits.with_columns(replacement=pl.lit(None, pl.String))
    return col.findings(
        hits, SPEC, codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        severity=case.replace_strict(list(SEVERITY_OF_CASE), list(SEVERITY_OF_CASE.values()), default=SPEC.severity),
        message=col.case_text(case, SPEC.messages, **values), details=col.case_text(case, SPEC.details, **values),
        fix=pl.coalesce("replacement", col.case_text(case, SPEC.fixes)), dataset=pl.col("dataset"),
        release=pl.col("release_label"),
        row=pl.when(with_row).then(pl.col("source_line")).otherwise(pl.lit(None, pl.Int64)), order=(pl.col("line"),))


def _replacement_fixes(ctx: BatchContext, hits: pl.DataFrame) -> pl.DataFrame:
    """The fix of each distinct (code, day, setting, modifiers) of terminated or deleted codes (few)."""
    keys = hits.select("code", "dos", "is_professional", "line_modifiers").unique()
    rows = [(code, day, professional, modifiers,
             replacement_fix(code, day, professional, modifiers.split(",") if modifiers else ()))
            for code, day, professional, modifiers in keys.iter_rows()]
    return pl.DataFrame(rows, orient="row", schema={
        "code": pl.String, "dos": pl.Date, "is_professional": pl.Boolean, "line_modifiers": pl.String,
        "replacement": pl.String})


def _validity(ctx: BatchContext, dataset: str, release_id: int | None, code_ids: list[int]) -> pl.DataFrame | None:
    """Per code (`code_id`) of the batch, why it may not be valid under the release of `dataset` in force
    (`verdict`: dated (decided per date by added_date / termination_date), elsewhere, unknown, deleted,
    absent), with the fields the messages need; codes that are valid are left out."""
    codes = ctx.codes.gather(code_ids)
    frame = pl.DataFrame({"code_id": pl.Series(code_ids, dtype=pl.Int64), "code": codes})
    schema = {"code_id": pl.Int64, "verdict": pl.String, "added_date": pl.Date, "termination_date": pl.Date,
              "action_code": pl.String, "status": pl.String, "source_line": pl.Int64, "others": pl.String,
              "label_override": pl.String}
    if release_id is None:
        if dataset == "hcpcs":
            return None
        known = ctx.tables.known_codes(codes.to_list())
        out = frame.filter(~pl.col("code").is_in(list(known))).select("code_id", verdict=pl.lit("unknown"))
    elif dataset == "hcpcs":
        rows = _procedures(ctx, release_id)
        frame = frame.join(rows, on="code", how="left").with_columns(
            has_row=pl.col("code").is_in(rows["code"].implode()))
        dated = frame.filter(pl.col("has_row") & (pl.col("added_date").is_not_null()
                                                  | pl.col("termination_date").is_not_null()))
        absent = frame.filter(~pl.col("has_row")).select("code_id", "code")
        # The HCPCS file is cumulative: a later file that carries the code dates it (the newest one).
        later = _later_hcpcs_rows(ctx, release_id, absent)
        absent = absent.filter(~pl.col("code_id").is_in(later["code_id"].implode()))
        others = _other_releases(ctx, "hcpcs_code", absent)
        absent = absent.join(others, on="code", how="left")
        known = ctx.tables.known_codes(absent.filter(pl.col("others").is_null())["code"].to_list())
        out = col.concat([
            dated.select("code_id", "added_date", "termination_date", "action_code", "source_line",
                         verdict=pl.lit("dated")),
            later,
            absent.filter(pl.col("others").is_not_null()).select("code_id", "others", verdict=pl.lit("elsewhere")),
            absent.filter(pl.col("others").is_null() & ~pl.col("code").is_in(list(known))).select(
                "code_id", verdict=pl.lit("unknown")),
        ])
    else:
        if dataset == "mpfs":
            base = col.rvu_base(ctx, release_id).select("code", "status", "source_line")
            frame = frame.join(base, on="code", how="left").with_columns(
                has_row=pl.col("code").is_in(base["code"].implode()))
            deleted = frame.filter(pl.col("status").is_in(list(DELETED_STATUSES))).select(
                "code_id", "status", "source_line", verdict=pl.lit("deleted"))
        else:
            rows = ctx.tables.frame(release_id, "opps_addendum_b")["hcpcs"]
            frame = frame.with_columns(has_row=pl.col("code").is_in(rows.implode()))
            deleted = None
        absent = frame.filter(~pl.col("has_row")).select("code_id", "code")
        known = ctx.tables.known_codes(absent["code"].to_list())
        elsewhere = absent.filter(pl.col("code").is_in(list(known)))
        others = _other_releases(ctx, DATASETS[dataset].tables[0], elsewhere)
        out = col.concat([
            deleted,
            elsewhere.join(others, on="code", how="left").select(
                "code_id", "others", verdict=pl.when(pl.lit(dataset == "mpfs") & pl.col("others").is_null())
                .then(pl.lit("off_schedule")).otherwise(pl.lit("absent"))),
            absent.filter(~pl.col("code").is_in(list(known))).select("code_id", verdict=pl.lit("unknown")),
        ])
    if out is None or not out.height:
        return None
    return out.select([pl.col(c).cast(t) if c in out.columns else pl.lit(None, t).alias(c) for c, t in schema.items()])


def _procedures(ctx: BatchContext, release_id: int) -> pl.DataFrame:
    """The procedure records of a HCPCS release (the first of a code), without their record kind."""
    return ctx.tables.frame(release_id, "hcpcs_code").filter(pl.col("record_kind") == "procedure").unique(
        "code", keep="first", maintain_order=True).drop("record_kind")


def _later_hcpcs_rows(ctx: BatchContext, release_id: int, absent: pl.DataFrame) -> pl.DataFrame:
    """For codes (`code_id`, `code`) missing from the HCPCS release in force, the row of the newest later
    HCPCS release that carries them (verdict `dated`, `label_override` naming that release)."""
    schema = {"code_id": pl.Int64, "added_date": pl.Date, "termination_date": pl.Date, "action_code": pl.String,
              "source_line": pl.Int64, "verdict": pl.String, "label_override": pl.String}
    current = ctx.hc.release_by_id(release_id)
    later = sorted((r for r in ctx.hc.releases if r.dataset == "hcpcs" and r.effective_start > current.effective_start),
                   key=lambda r: (r.effective_start, r.id), reverse=True)
    found = []
    remaining = absent
    for release in later:
        if not remaining.height:
            break
        hit = remaining.join(_procedures(ctx, release.id), on="code", how="inner")
        if hit.height:
            found.append(hit.select("code_id", "added_date", "termination_date", "action_code", "source_line",
                                    verdict=pl.lit("dated"), label_override=pl.lit(release.label)))
            remaining = remaining.filter(~pl.col("code_id").is_in(hit["code_id"].implode()))
    return pl.concat(found).cast(schema) if found else pl.DataFrame(schema=schema)  # type: ignore[arg-type]


def _other_releases(ctx: BatchContext, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """`code` -> `others`: the labels of the releases whose `table` carries the code, in the store's
    release order (as the single engine's `EditTables.other_releases_with`); codes no release carries are
    left out."""
    present = ctx.tables.releases_with(table, frame["code"].unique().to_list())
    order = [r.id for r in ctx.hc.releases]
    present = present.with_columns(label=col.release_names(ctx, pl.col("release_id")),
                                   position=pl.col("release_id").replace_strict(order, list(range(len(order))),
                                                                                return_dtype=pl.Int64))
    return present.sort("position").group_by("code", maintain_order=True).agg(others=pl.col("label").str.join(", "))
