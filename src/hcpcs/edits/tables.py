"""The edit tables as the rules see them: the release of each dataset in force on a date, and the rows of
a code in it, cached in memory after the first read so that checking a claim is a handful of dictionary
look-ups. Reading goes through `hcpcs.store.queries`.

Each cache is filled on first use (by release and code, by dataset and date, ...); the store is read only,
so an entry never goes stale. A miss is told apart from a cached None by a sentinel. NCCI PTP edits are
kept as the set of column 2 codes of each column 1 code (most pairs on a claim have no edit, and a set test
says so) plus the edits of the pairs actually met, not every edit of every code seen."""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from hcpcs.core.errors import DataNotLoadedError, NotCoveredError
from hcpcs.core.tables import DATASETS
from hcpcs.store import queries
from hcpcs.store.releases import Release, ReleaseChoice
from hcpcs.store.session import Hcpcs

PTP_DATASET = {"professional": "ncci_ptp_practitioner", "facility": "ncci_ptp_hospital"}
MUE_DATASET = {"professional": "ncci_mue_practitioner", "facility": "ncci_mue_hospital"}
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class PtpEdit:
    column1: str
    column2: str
    modifier_indicator: str
    effective_date: str | None
    deletion_date: str | None
    rationale: str | None
    source_line: int | None

    def in_force(self, iso_day: str) -> bool:
        return (self.effective_date is None or self.effective_date <= iso_day) and (
            self.deletion_date is None or iso_day <= self.deletion_date)


@dataclass(frozen=True, slots=True)
class MueValue:
    code: str
    units: int
    mai: str | None
    rationale: str | None
    source_line: int | None


@dataclass(frozen=True, slots=True)
class AocEdit:
    addon_code: str
    primary_code: str
    edit_type: str
    effective_date: str | None
    deletion_date: str | None
    primary_deletion_date: str | None
    notes: str | None
    source_line: int | None

    def in_force(self, iso_day: str) -> bool:
        return ((self.effective_date is None or self.effective_date <= iso_day)
                and (self.deletion_date is None or iso_day <= self.deletion_date)
                and (self.primary_deletion_date is None or iso_day <= self.primary_deletion_date))


class EditTables:
    """Cached, read-only access to the tables the rules need.

    Row caches are nested, release id then code: a claim's look-ups then hash and compare only the code
    (interned, see `ClaimContext`), which matters when thousands of codes are cached."""

    def __init__(self, hc: Hcpcs) -> None:
        self.hc = hc
        # (dataset, day) -> (the choice, None) or (None, the reason none answers: the error's text)
        self._choices: dict[tuple[str, date], tuple[ReleaseChoice | None, str | None]] = {}
        self._ptp_partners: defaultdict[int, dict[str, frozenset[str]]] = defaultdict(dict)
        self._ptp_pairs: defaultdict[int, dict[tuple[str, str], tuple[PtpEdit, ...]]] = defaultdict(dict)
        self._mue: defaultdict[int, dict[str, MueValue | None]] = defaultdict(dict)
        self._aoc: defaultdict[int, dict[str, tuple[AocEdit, ...]]] = defaultdict(dict)
        self._rvu: defaultdict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
        self._rvu_base: defaultdict[int, dict[str, dict[str, Any] | None]] = defaultdict(dict)
        self._hcpcs: defaultdict[tuple[int, str], dict[str, Any]] = defaultdict(dict)
        self._addb: defaultdict[int, dict[str, Any]] = defaultdict(dict)
        self._known: dict[str, bool] = {}
        self._other: dict[tuple[str, str], list[Release]] = {}

    def resolved(self, dataset: str, day: date) -> tuple[ReleaseChoice | None, str | None]:
        """`(choice, None)`, or `(None, reason)` when no release of the dataset is loaded or covers the day."""
        key = (dataset, day)
        value = self._choices.get(key)
        if value is None:
            try:
                value = (self.hc.release_for(dataset, day), None)
            except (NotCoveredError, DataNotLoadedError) as exc:
                value = (None, str(exc))
            self._choices[key] = value
        return value

    def choice(self, dataset: str, day: date) -> ReleaseChoice | None:
        """The release of a dataset for a day, or None when none is loaded or covers it (the reason is
        kept and given by `why_not`)."""
        return self.resolved(dataset, day)[0]

    def why_not(self, dataset: str, day: date) -> str | None:
        value = self._choices.get((dataset, day))
        return value[1] if value is not None else None

    def ptp_partners(self, release: Release, code: str) -> frozenset[str]:
        """The column 2 codes of the release's edits with `code` in column 1 (any indicator or dates): the
        cheap test that rules most pairs out, without reading their edits."""
        cached = self._ptp_partners[release.id]
        found = cached.get(code)
        if found is None:
            found = cached[code] = frozenset(sys.intern(column2) for column2 in queries.ptp_column2_codes(
                self.hc.store.conn, release.id, code))
        return found

    def ptp_pair(self, release: Release, column1: str, column2: str) -> tuple[PtpEdit, ...]:
        """The edits of a release for one (column 1, column 2) pair, in file order."""
        key = (column1, column2)
        cached = self._ptp_pairs[release.id]
        found = cached.get(key)
        if found is None:
            found = cached[key] = tuple(PtpEdit(*row) for row in queries.ptp_pair_edits(
                self.hc.store.conn, release.id, column1, column2))
        return found

    def mue(self, release: Release, code: str) -> MueValue | None:
        cached = self._mue[release.id]
        found = cached.get(code, _MISSING)
        if found is _MISSING:
            row = queries.mue_value(self.hc.store.conn, release.id, code)
            found = cached[code] = MueValue(*row) if row else None
        return found

    def aoc_for_addon(self, release: Release, code: str) -> tuple[AocEdit, ...]:
        cached = self._aoc[release.id]
        found = cached.get(code)
        if found is None:
            rows = queries.aoc_edits_of_addon(self.hc.store.conn, release.id, code)
            found = cached[code] = tuple(AocEdit(*r) for r in rows)
        return found

    def rvu(self, release: Release, code: str) -> dict[str, Any]:
        """The fee-schedule rows of a code by modifier ('' for the global row)."""
        cached = self._rvu[release.id]
        found = cached.get(code)
        if found is None:
            rows = queries.rvu_indicator_rows(self.hc.store.conn, release.id, code)
            found = cached[code] = {r["modifier"]: dict(r) for r in rows}
        return found

    def rvu_base(self, release: Release, code: str) -> dict[str, Any] | None:
        """The row of a code that carries its indicators: the global row, else its first row; None when the
        fee schedule lacks the code."""
        cached = self._rvu_base[release.id]
        found = cached.get(code, _MISSING)
        if found is _MISSING:
            rows = self.rvu(release, code)
            found = cached[code] = (rows.get("") or next(iter(rows.values()))) if rows else None
        return found

    def hcpcs(self, release: Release, code: str, kind: str = "procedure") -> Any:
        cached = self._hcpcs[release.id, kind]
        found = cached.get(code, _MISSING)
        if found is _MISSING:
            found = cached[code] = queries.hcpcs_dates(self.hc.store.conn, release.id, code, kind)
        return found

    def addendum_b(self, release: Release, code: str) -> Any:
        cached = self._addb[release.id]
        found = cached.get(code, _MISSING)
        if found is _MISSING:
            found = cached[code] = queries.addendum_b_status(self.hc.store.conn, release.id, code)
        return found

    def in_any_release(self, code: str) -> bool:
        found = self._known.get(code)
        if found is None:
            found = self._known[code] = queries.code_known_anywhere(self.hc.store.conn, code)
        return found

    def other_releases_with(self, dataset: str, code: str) -> list[Release]:
        key = (dataset, code)
        found = self._other.get(key)
        if found is None:
            ids = set(queries.release_ids_with_code(self.hc.store.conn, DATASETS[dataset].tables[0], code))
            found = self._other[key] = [r for r in self.hc.releases if r.id in ids]
        return list(found)


_FILES: dict[tuple[int, str, str], list[str]] = {}


def source_files(release: Release, kind: str) -> list[str]:
    """The names of a release's files of one kind (all its files when none is of that kind)."""
    key = (release.id, release.content_sha256, kind)
    if key not in _FILES:
        _FILES[key] = sorted({f["name"] for f in release.source_files if f.get("kind") == kind}) or sorted(
            {f["name"] for f in release.source_files})
    return _FILES[key]


def source(release: Release, row: int | None, table: str, **extra: Any) -> dict[str, Any]:
    out = {"dataset": release.dataset, "release": release.label, "row": row, "files": list(source_files(release, table))}
    out.update(extra)
    return out
