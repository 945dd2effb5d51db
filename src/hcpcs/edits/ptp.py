"""NCCI procedure-to-procedure pairs on a claim, evaluated once and shared by the three PTP rules.

For every two lines billed on the same date of service whose codes form an edit in force (column 1 code
on one line, column 2 code on the other), the modifier indicator decides: 0, no modifier allows the
column 2 code to be paid; 1, a PTP-associated modifier may bypass the edit when the services were
distinct; 9, the edit is not applied. CMS lets the bypass modifier stand on either code of the pair."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from hcpcs.core import indicators
from hcpcs.edits.engine import ClaimContext, LineView
from hcpcs.edits.tables import PTP_DATASET, PtpEdit
from hcpcs.store.releases import Release


@cache
def ptp_associated_modifiers() -> frozenset[str]:
    return frozenset(indicators.indicator("ptp_associated_modifiers").values)


@dataclass(frozen=True, slots=True)
class PairOutcome:
    outcome: str  # bundled | not_bypassable | bypassed
    edit: PtpEdit
    column1_line: LineView
    column2_line: LineView
    bypass_modifiers: tuple[str, ...]
    release: Release


def _edit_file_order(outcome: PairOutcome) -> int:
    return outcome.edit.source_line or 0


def pair_outcomes(ctx: ClaimContext) -> list[PairOutcome]:
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
            # In the order of the edit file, as a reader of the table would meet them.
            outcomes.extend(sorted(found, key=_edit_file_order))
    return outcomes


@cache
def describe_indicator(value: str) -> str:
    """The gist of the modifier indicator's meaning (its first sentence), for a finding's message."""
    meaning = indicators.meaning("ncci_modifier_indicator", value) or value
    return meaning.split(". ")[0].rstrip(".")
