"""The single-claim engine's view of one claim, shared by every rule's row-wise implementation (`check` in
each module of `hcpcs.edits.rules`; `hcpcs.edits.engine` runs them): its lines (`LineView`) grouped by date
of service and by code, and the edit tables in force on each date (`ClaimContext.release`)."""

from __future__ import annotations

from datetime import date
from sys import intern
from typing import Any

from hcpcs.claims.model import Claim, ClaimLine
from hcpcs.edits.tables import EditTables
from hcpcs.store.releases import ReleaseChoice

_NO_MODIFIERS: frozenset[str] = frozenset()
_UNSET: Any = object()


class LineView:
    """One claim line as the rules read it (read-only by convention; a slotted class is cheaper to make
    than a frozen dataclass, and a claim makes one per line)."""

    __slots__ = ("index", "code", "modifiers", "modifier_list", "units", "day", "line")

    def __init__(self, index: int, code: str, modifiers: frozenset[str], modifier_list: tuple[str, ...],
                 units: float, day: date, line: ClaimLine) -> None:
        self.index = index
        self.code = code
        self.modifiers = modifiers
        self.modifier_list = modifier_list
        self.units = units
        self.day = day
        self.line = line

    def __repr__(self) -> str:
        return f"LineView({self.index}, {self.code!r}, {sorted(self.modifiers)}, {self.units}, {self.day})"


class ClaimContext:
    def __init__(self, claim: Claim, tables: EditTables, as_of: date | None = None) -> None:
        self.claim = claim
        self.setting = claim.setting
        self.professional = claim.setting == "professional"
        self.tables = tables
        self.uncovered: dict[tuple[str, date], str] = {}
        self.notices: list[str] = []
        self.cache: dict[str, Any] = {}
        self._released: dict[tuple[str, date], ReleaseChoice | None] = {}
        self._codes: dict[date, dict[str, list[LineView]]] = {}
        self.lines: list[LineView] = []
        # The lines by date of service, dates in the order of their first line.
        self._days: dict[date, list[LineView]] = {}
        lines, days = self.lines, self._days
        claim_day = claim.date_of_service
        for index, line in enumerate(claim.lines):
            day = as_of or line.date_of_service or claim_day
            code = line.code
            if type(code) is str:  # interned: table look-ups then compare codes by identity
                code = intern(code)
            modifiers = line.modifiers
            view = LineView(index, code, frozenset(modifiers) if modifiers else _NO_MODIFIERS,
                            tuple(modifiers), line.units, day, line)
            lines.append(view)
            same_day = days.get(day)
            if same_day is None:
                days[day] = [view]
            else:
                same_day.append(view)

    def days(self) -> dict[date, list[LineView]]:
        return self._days

    def codes(self, day: date) -> dict[str, list[LineView]]:
        """The lines of a date of service by code (codes in the order of their first line)."""
        by_code = self._codes.get(day)
        if by_code is None:
            by_code = self._codes[day] = {}
            for view in self._days[day]:
                views = by_code.get(view.code)
                if views is None:
                    by_code[view.code] = [view]
                else:
                    views.append(view)
        return by_code

    def release(self, dataset: str, day: date) -> ReleaseChoice | None:
        """The release in force for a rule, noting (once) when none covers the date."""
        key = (dataset, day)
        choice = self._released.get(key, _UNSET)
        if choice is not _UNSET:  # asked before for this claim: its notice or reason is noted already
            return choice
        choice, reason = self.tables.resolved(dataset, day)
        self._released[key] = choice
        if choice is None:
            if reason:
                self.uncovered.setdefault(key, reason)
            return None
        for notice in choice.notices:
            if notice not in self.notices:
                self.notices.append(notice)
        return choice
