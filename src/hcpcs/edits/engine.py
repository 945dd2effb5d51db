"""Checking one claim: every rule module runs over a `ClaimContext` that gives it the claim's lines
grouped by date of service and the edit tables in force on each date."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from types import ModuleType
from typing import Any, Protocol

from hcpcs.claims.model import Claim, ClaimLine
from hcpcs.edits.finding import ClaimResult, Finding
from hcpcs.edits.tables import EditTables
from hcpcs.service import Hcpcs
from hcpcs.store.releases import ReleaseChoice

# Rule modules in the order their findings are listed. Each has RULE_ID, SEVERITY and check(ctx).
RULE_MODULES = (
    "code_not_valid_on_dos",
    "ptp_bundled",
    "ptp_not_bypassable",
    "ptp_bypassed_by_modifier",
    "mue_exceeded",
    "addon_without_primary",
    "modifier_26_not_allowed",
    "modifier_tc_not_allowed",
    "status_not_payable",
    "opps_packaged",
    "duplicate_line",
)


class Rule(Protocol):
    RULE_ID: str
    SEVERITY: str

    def check(self, ctx: ClaimContext) -> Iterable[Finding]: ...


@cache
def rules() -> tuple[ModuleType, ...]:
    return tuple(importlib.import_module(f"hcpcs.edits.rules.{name}") for name in RULE_MODULES)


@dataclass(frozen=True)
class LineView:
    index: int
    code: str
    modifiers: frozenset[str]
    modifier_list: tuple[str, ...]
    units: float
    day: date
    line: ClaimLine


class ClaimContext:
    def __init__(self, claim: Claim, tables: EditTables, as_of: date | None = None) -> None:
        self.claim = claim
        self.setting = claim.setting
        self.tables = tables
        self.lines = [
            LineView(i, line.code, frozenset(line.modifiers), tuple(line.modifiers), line.units,
                     as_of or claim.line_date(i), line)
            for i, line in enumerate(claim.lines)
        ]
        self.uncovered: dict[tuple[str, date], str] = {}
        self.notices: list[str] = []
        self.cache: dict[str, Any] = {}

    @property
    def professional(self) -> bool:
        return self.setting == "professional"

    def days(self) -> dict[date, list[LineView]]:
        if "days" not in self.cache:
            grouped: dict[date, list[LineView]] = {}
            for view in self.lines:
                grouped.setdefault(view.day, []).append(view)
            self.cache["days"] = grouped
        return self.cache["days"]

    def release(self, dataset: str, day: date) -> ReleaseChoice | None:
        """The release in force for a rule, noting (once) when none covers the date."""
        choice = self.tables.choice(dataset, day)
        if choice is None:
            reason = self.tables.why_not(dataset, day)
            if reason:
                self.uncovered.setdefault((dataset, day), reason)
            return None
        for notice in choice.notices:
            if notice not in self.notices:
                self.notices.append(notice)
        return choice


def check_claim(claim: Claim, hc: Hcpcs, *, tables: EditTables | None = None, as_of: date | None = None,
                packs: Sequence[Any] = ()) -> ClaimResult:
    tables = tables or EditTables(hc)
    ctx = ClaimContext(claim, tables, as_of)
    result = ClaimResult(claim.id)
    for rule in rules():
        result.findings.extend(rule.check(ctx))
    for pack in packs:
        result.findings.extend(pack.check(ctx))
    for (dataset, day), reason in sorted(ctx.uncovered.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        result.findings.append(Finding(
            rule="DATA_NOT_COVERED", severity="info", codes=(), lines=(),
            message=f"Edits from this dataset were not checked for {day}: {reason}.",
            fix="Load the CMS release in force on that date (hcpcs update --from ...).",
            source={"dataset": dataset, "release": None, "row": None},
        ))
    result.notices = ctx.notices
    return result
