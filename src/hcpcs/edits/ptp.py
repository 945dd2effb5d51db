"""NCCI procedure-to-procedure pairs on a claim, worked out once and shared by the three PTP rules
(PTP_BUNDLED, PTP_NOT_BYPASSABLE, PTP_BYPASSED_BY_MODIFIER), for both engines.

For every two lines billed on the same date of service whose codes form an edit in force (column 1 code on
one line, column 2 code on the other), the modifier indicator decides: 0, no modifier allows the column 2
code to be paid; 1, a PTP-associated modifier may bypass the edit when the services were distinct; 9, the
edit is not applied. CMS lets the bypass modifier stand on either code of the pair.

One edit between two codes on one day is one finding however many lines bill them: the pairs of lines
with the same edit, outcome and bypass modifiers are grouped, and the finding names every line of the
group (the column 1 lines, then the column 2 lines)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import polars as pl

from hcpcs.core import indicators
from hcpcs.edits import columnar as col
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.rowwise import ClaimContext, LineView
from hcpcs.edits.spec import RuleSpec, source
from hcpcs.edits.tables import PTP_DATASET, PtpEdit
from hcpcs.store.cache import PAIR_SHIFT
from hcpcs.store.releases import Release

# The rule that asks for the PTP release (the first of the three in the listing): notices and
# DATA_NOT_COVERED are told in its place.
REQUESTING = RuleSpec(id="PTP_BUNDLED", order=20, severity="error", summary="the PTP rules' release choice")


@cache
def ptp_associated_modifiers() -> frozenset[str]:
    return frozenset(indicators.indicator("ptp_associated_modifiers").values)


@cache
def describe_indicator(value: str) -> str:
    """The gist of the modifier indicator's meaning (its first sentence), for a finding's message."""
    meaning = indicators.meaning("ncci_modifier_indicator", value) or value
    return meaning.split(". ")[0].rstrip(".")


def setting_word(professional: bool) -> str:
    return "practitioner" if professional else "hospital"


def rationale_text(rationale: str | None) -> str:
    return f"; rationale: {rationale}" if rationale else ""


# ------------------------------------------------------------------------------------------- one claim


@dataclass(frozen=True, slots=True)
class PairOutcome:
    outcome: str  # bundled | not_bypassable | bypassed
    edit: PtpEdit
    column1_line: LineView
    column2_line: LineView
    bypass_modifiers: tuple[str, ...]
    release: Release


@dataclass(slots=True)
class PairGroup:
    """The pairs of lines of one claim day with the same edit, outcome and bypass modifiers."""

    outcome: str
    edit: PtpEdit
    release: Release
    bypass_modifiers: tuple[str, ...]
    day_professional: bool
    first: PairOutcome
    column1_lines: list[int]
    column2_lines: list[int]

    @property
    def lines(self) -> tuple[int, ...]:
        return (*sorted(set(self.column1_lines)), *sorted(set(self.column2_lines)))

    def source(self, **extra: object) -> dict:
        return source(self.release, self.edit.source_line, "ncci_ptp", edit=f"{self.edit.column1}/{self.edit.column2}",
                      **extra)


def _edit_file_order(outcome: PairOutcome) -> int:
    return outcome.edit.source_line or 0


def pair_outcomes(ctx: ClaimContext) -> list[PairOutcome]:
    """Every (column 1 line, column 2 line, edit) in force, in the order a reader of the claim meets them:
    by day, by column 1 line, then in the order of the edit file."""
    outcomes = ctx.cache.get("ptp")
    if outcomes is not None:
        return outcomes
    outcomes = ctx.cache["ptp"] = []
    associated = ptp_associated_modifiers()
    dataset = PTP_DATASET[ctx.setting]
    for day, views in ctx.days().items():
        codes = ctx.codes(day)
        if len(codes) < 2:  # one code: no pair, and no release to choose
            continue
        choice = ctx.release(dataset, day)
        if choice is None:
            continue
        release = choice.release
        for first in views:
            column2_codes = ctx.tables.ptp_partners(release, first.code)
            # Most codes have edits, but with none of the other codes billed: one set test rules them out.
            if column2_codes.isdisjoint(codes):
                continue
            iso = day.isoformat()
            found: list[PairOutcome] = []
            for second in views:
                if second.code == first.code or second.code not in column2_codes:
                    continue
                for edit in ctx.tables.ptp_pair(release, first.code, second.code):
                    if edit.modifier_indicator == "9" or not edit.in_force(iso):
                        continue
                    bypass = tuple(sorted((first.modifiers | second.modifiers) & associated))
                    if edit.modifier_indicator == "0":
                        outcome = "not_bypassable" if bypass else "bundled"
                    else:
                        outcome = "bypassed" if bypass else "bundled"
                    found.append(PairOutcome(outcome, edit, first, second, bypass, release))
            outcomes.extend(sorted(found, key=_edit_file_order))
    return outcomes


def pair_groups(ctx: ClaimContext, outcome: str) -> list[PairGroup]:
    """The pairs of one outcome grouped by (day, edit, bypass modifiers), in the order of their first pair."""
    groups: dict[tuple, PairGroup] = {}
    for pair in pair_outcomes(ctx):
        if pair.outcome != outcome:
            continue
        edit = pair.edit
        key = (pair.column1_line.day, edit.column1, edit.column2, edit.source_line, pair.bypass_modifiers)
        group = groups.get(key)
        if group is None:
            group = groups[key] = PairGroup(outcome, edit, pair.release, pair.bypass_modifiers, ctx.professional, pair,
                                            [], [])
        group.column1_lines.append(pair.column1_line.index)
        group.column2_lines.append(pair.column2_line.index)
    return list(groups.values())


# ------------------------------------------------------------------------------------------- a batch


def batch_pairs(ctx: BatchContext) -> pl.DataFrame | None:
    """Every (column 1 line, column 2 line, edit) of a claim day whose codes form an NCCI PTP edit in
    force, with its outcome (bundled | not_bypassable | bypassed) and bypass modifiers; shared by the
    three PTP rules (before they are grouped by `batch_groups`)."""
    if "ptp" in ctx.cache:
        return ctx.cache["ptp"]
    keys = ctx.by_day_key(col.by_setting(PTP_DATASET))
    flagged = ctx.flagged(keys["query_id"].to_list())
    if flagged:  # only claim days with two different codes ask for the release
        days = ctx.claim_days.filter((pl.col("day_len") >= 2) & pl.col("day_key").is_in(
            keys.filter(pl.col("query_id").is_in(list(flagged)))["day_key"].implode()))
        several = ctx.lines.filter(pl.col("claim_day").is_in(days["claim_day"].implode())).group_by("claim_day").agg(
            n=pl.col("code_id").n_unique()).filter(pl.col("n") >= 2)
        ctx.request(days.join(several, on="claim_day", how="semi"), keys, "day_key", REQUESTING, pl.col("day_rank"))
    releases = list(ctx.releases(keys))
    if not releases:
        ctx.cache["ptp"] = None
        return None
    indexes = [ctx.tables.ptp_index(release_id) for release_id, _ in releases]
    ptp_codes = [ctx.memo(("ptp", release_id), lambda index=index: ctx.dense(ctx.with_code_id(
        index.codes.to_frame("code").with_row_index("ptp_code").with_columns(pl.col("ptp_code").cast(pl.Int64)),
        "code"), "ptp_code")) for (release_id, _), index in zip(releases, indexes, strict=True)]
    # Each line's PTP release (`slot`, by the line's date and setting) and its code's position among that
    # release's codes (`ptp_code`; null when the code has no edit in it).
    if len(releases) == 1 and releases[0][1] is None:
        slot: pl.Expr = pl.lit(0, pl.Int64)
        ptp_code: pl.Expr = pl.lit(ptp_codes[0]).gather(pl.col("code_id"))
    else:
        slot = ptp_code = pl.lit(None, pl.Int64)
        for number in reversed(range(len(releases))):
            where = releases[number][1]
            assert where is not None
            slot = pl.when(where).then(pl.lit(number, pl.Int64)).otherwise(slot)
            ptp_code = pl.when(where).then(pl.lit(ptp_codes[number]).gather(pl.col("code_id"))).otherwise(ptp_code)
    lines = ctx.lines.select("row", slot=slot, ptp_code=ptp_code, end=pl.col("day_start") + pl.col("day_len"))
    line_ptp_code = pl.lit(lines["ptp_code"])
    lines = lines.filter(pl.col("ptp_code").is_not_null())
    other_code = line_ptp_code.gather(pl.col("other"))
    parts = []
    for number, index in enumerate(indexes):
        # The pairs of lines of a claim day (one release answers for all of them) whose codes have an edit: a
        # bitmap look-up on the pair of code positions when the release has one (one bitmap at a time, so
        # that it stays in the processor's cache as much as it can).
        some = lines.filter(pl.col("slot") == number) if len(indexes) > 1 else lines
        if index.present is not None:
            present, size = pl.lit(index.present), index.codes.len()
            # A partner without a PTP code number reads the diagonal bit (never set): no null index, which
            # gathers slowly.
            parts.append(ctx.pairs_where(some, lambda pairs, bits=present, n=size: pairs.filter(
                bits.gather(pl.col("ptp_code") * n + other_code.fill_null(pl.col("ptp_code"))))))
        else:
            parts.append(ctx.pairs_where(some, lambda pairs, index=index: pairs.filter(
                other_code.is_not_null() & (pl.col("ptp_code") != other_code)).filter(index.has_pair(
                    pl.min_horizontal("ptp_code", other_code), pl.max_horizontal("ptp_code", other_code)))))
    candidates = pl.concat(parts).with_columns(other_ptp_code=other_code)
    low, high = pl.min_horizontal("ptp_code", "other_ptp_code"), pl.max_horizontal("ptp_code", "other_ptp_code")
    found = []
    for number, ((release_id, _), index) in enumerate(zip(releases, indexes, strict=True)):
        pairs = candidates.filter(pl.col("slot") == number) if len(releases) > 1 else candidates
        if not pairs.height:
            continue
        # Sorted first: the binary searches then walk the index in order (far fewer cache misses).
        pairs = pairs.select("row", "other", "ptp_code", pair=low * PAIR_SHIFT + high).sort("pair")
        at = index.pairs["pair"].search_sorted(pairs["pair"])
        pairs = pairs.with_columns(start=index.pairs["start"].gather(at), count=index.pairs["count"].gather(at))
        pairs = pairs.with_columns(edit_row=pl.int_ranges("start", pl.col("start") + pl.col("count"), dtype=pl.Int64)
                                   ).explode("edit_row").drop("start", "count", "pair")
        matched = pl.concat([pairs, index.edits[pairs["edit_row"]]], how="horizontal")
        found.append(matched.with_columns(
            column1=index.codes.gather(matched["code1"]), column2=index.codes.gather(matched["code2"]),
            release_label=pl.lit(ctx.release_label(release_id))))
    if not found:
        ctx.cache["ptp"] = None
        return None
    matched = pl.concat(found)
    first_is_row = pl.col("ptp_code") == pl.col("code1")
    matched = matched.with_columns(row1=pl.when(first_is_row).then(pl.col("row")).otherwise(pl.col("other")),
                                   row2=pl.when(first_is_row).then(pl.col("other")).otherwise(pl.col("row")))
    matched = matched.with_columns(dos=ctx.at("dos", "row1")).filter(
        (pl.col("effective_date").is_null() | (pl.col("effective_date") <= pl.col("dos")))
        & (pl.col("deletion_date").is_null() | (pl.col("dos") <= pl.col("deletion_date"))))
    associated = sorted(ptp_associated_modifiers())
    matched = matched.with_columns(
        claim=ctx.at("claim", "row1"), line1=ctx.at("line", "row1"), line2=ctx.at("line", "row2"),
        day_rank=ctx.at("day_rank", "row1"), is_professional=ctx.at("is_professional", "row1"),
        modifier_indicator=pl.col("modifier_indicator").cast(pl.String), rationale=pl.col("rationale").cast(pl.String),
        modified=(ctx.at("modifier_count", "row1") + ctx.at("modifier_count", "row2")) > 0)
    # The PTP-associated modifiers on either line (most lines have no modifier at all).
    plain = matched.filter(~pl.col("modified")).with_columns(
        bypass=pl.lit([], pl.List(pl.String)), outcome=pl.lit("bundled"), mods=pl.lit(""))
    modified = matched.filter(pl.col("modified")).with_row_index("pair_number")
    on_lines = pl.concat([modified.select("pair_number", mod=ctx.at("modifiers", rows)).explode("mod")
                          for rows in ("row1", "row2")])
    bypass = on_lines.filter(pl.col("mod").is_in(associated)).unique().sort("pair_number", "mod").group_by(
        "pair_number", maintain_order=True).agg(bypass=pl.col("mod"))
    modified = modified.join(bypass, on="pair_number", how="left").drop("pair_number").with_columns(
        pl.col("bypass").fill_null(pl.lit([], pl.List(pl.String))))
    modified = modified.with_columns(
        mods=pl.col("bypass").list.join(", "),
        outcome=pl.when(pl.col("bypass").list.len() == 0).then(pl.lit("bundled"))
        .when(pl.col("modifier_indicator") == "0").then(pl.lit("not_bypassable")).otherwise(pl.lit("bypassed")))
    matched = pl.concat([plain, modified], how="diagonal")
    ctx.cache["ptp"] = matched
    return matched


def batch_groups(ctx: BatchContext, outcome: str) -> pl.DataFrame | None:
    """The pairs of one outcome grouped by (claim day, edit, bypass modifiers), as `pair_groups` does: one
    row per group with `lines` (column 1 lines, then column 2 lines), the first pair's order keys, and the
    edit's fields; `iso` the date as text."""
    pairs = batch_pairs(ctx)
    if pairs is None:
        return None
    pairs = pairs.filter(pl.col("outcome") == outcome)
    if not pairs.height:
        return None
    keys = ["claim", "claim_day", "edit_order", "mods"]
    pairs = pairs.with_columns(claim_day=ctx.at("claim_day", "row1"))
    if pairs.select(pl.struct(keys).n_unique()).item() == pairs.height:
        # Each edit met once a day (the usual case): nothing to group.
        grouped = pairs.with_columns(lines=pl.concat_list("line1", "line2"))
    else:
        pairs = pairs.sort("claim", "day_rank", "line1", "edit_order", "line2")
        grouped = pairs.group_by(keys, maintain_order=True).agg(
            pl.all().exclude("line1", "line2").first(), line1=pl.col("line1").unique().sort(),
            line2=pl.col("line2").unique().sort())
        grouped = grouped.with_columns(lines=pl.concat_list("line1", "line2"), line1=pl.col("line1").list.first(),
                                       line2=pl.col("line2").list.first())
    return grouped.with_columns(iso=col.iso_text(grouped))


def batch_findings(groups: pl.DataFrame, spec: RuleSpec, message: pl.Expr, fix: pl.Expr | None,
                   indicator: pl.Expr, severity: str | None = None, details: pl.Expr | None = None) -> pl.DataFrame:
    """The findings of PTP groups: codes (column 1, column 2), the group's lines, the edit's source row."""
    return col.findings(
        groups, spec, severity=severity, codes=pl.concat_arr("column1", "column2").arr.to_list(), lines=pl.col("lines"),
        message=message, details=details, fix=fix, dataset=col.dataset_of_setting(PTP_DATASET),
        release=pl.col("release_label"),
        row=pl.col("source_line"),
        extra=col.json_fields(edit=pl.format("{}/{}", "column1", "column2"), modifier_indicator=indicator),
        order=(pl.col("day_rank"), pl.col("line1"), pl.col("edit_order"), pl.col("line2")))
