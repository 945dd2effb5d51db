"""The edit tables as the rules see them: the release of each dataset in force on a date, and the rows of
a code in it, cached in memory after the first read so that checking a claim is a handful of dictionary
look-ups. Reading goes through `hcpcs.store.queries`-style SQL on the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from hcpcs.errors import DataNotLoadedError, NotCoveredError
from hcpcs.service import Hcpcs
from hcpcs.store.releases import Release, ReleaseChoice

PTP_DATASET = {"professional": "ncci_ptp_practitioner", "facility": "ncci_ptp_hospital"}
MUE_DATASET = {"professional": "ncci_mue_practitioner", "facility": "ncci_mue_hospital"}


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class MueValue:
    code: str
    units: int
    mai: str | None
    rationale: str | None
    source_line: int | None


@dataclass(frozen=True)
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
    """Cached, read-only access to the tables the rules need."""

    def __init__(self, hc: Hcpcs) -> None:
        self.hc = hc
        self._choices: dict[tuple[str, date], ReleaseChoice | Exception] = {}
        self._ptp: dict[tuple[int, str], dict[str, tuple[PtpEdit, ...]]] = {}
        self._mue: dict[tuple[int, str], MueValue | None] = {}
        self._aoc: dict[tuple[int, str], tuple[AocEdit, ...]] = {}
        self._rvu: dict[tuple[int, str], dict[str, Any]] = {}
        self._hcpcs: dict[tuple[int, str], Any] = {}
        self._addb: dict[tuple[int, str], Any] = {}
        self._known: dict[str, bool] = {}

    def choice(self, dataset: str, day: date) -> ReleaseChoice | None:
        """The release of a dataset for a day, or None when none is loaded or covers it (the reason is
        kept and given by `why_not`)."""
        key = (dataset, day)
        if key not in self._choices:
            try:
                self._choices[key] = self.hc.release_for(dataset, day)
            except (NotCoveredError, DataNotLoadedError) as exc:
                self._choices[key] = exc
        value = self._choices[key]
        return None if isinstance(value, Exception) else value

    def why_not(self, dataset: str, day: date) -> str | None:
        value = self._choices.get((dataset, day))
        return str(value) if isinstance(value, Exception) else None

    def ptp_as_column1(self, release: Release, code: str) -> dict[str, tuple[PtpEdit, ...]]:
        """The edits of a release with `code` in column 1, by column 2 code (file order kept)."""
        key = (release.id, code)
        if key not in self._ptp:
            rows = self.hc.store.conn.execute(
                "SELECT column1, column2, modifier_indicator, effective_date, deletion_date, rationale, "
                "source_line FROM ncci_ptp WHERE release_id = ? AND column1 = ? ORDER BY rowid", key).fetchall()
            by_column2: dict[str, list[PtpEdit]] = {}
            for row in rows:
                by_column2.setdefault(row[1], []).append(PtpEdit(*row))
            self._ptp[key] = {column2: tuple(edits) for column2, edits in by_column2.items()}
        return self._ptp[key]

    def mue(self, release: Release, code: str) -> MueValue | None:
        key = (release.id, code)
        if key not in self._mue:
            row = self.hc.store.conn.execute(
                "SELECT code, units, mai, rationale, source_line FROM ncci_mue WHERE release_id = ? AND code = ?",
                key).fetchone()
            self._mue[key] = MueValue(*row) if row else None
        return self._mue[key]

    def aoc_for_addon(self, release: Release, code: str) -> tuple[AocEdit, ...]:
        key = (release.id, code)
        if key not in self._aoc:
            rows = self.hc.store.conn.execute(
                "SELECT addon_code, primary_code, edit_type, effective_date, deletion_date, "
                "primary_deletion_date, notes, source_line FROM ncci_aoc WHERE release_id = ? AND addon_code = ?",
                key).fetchall()
            self._aoc[key] = tuple(AocEdit(*r) for r in rows)
        return self._aoc[key]

    def rvu(self, release: Release, code: str) -> dict[str, Any]:
        """The fee-schedule rows of a code by modifier ('' for the global row)."""
        key = (release.id, code)
        if key not in self._rvu:
            rows = self.hc.store.conn.execute(
                "SELECT modifier, status, pctc, global_days, source_line FROM mpfs_rvu "
                "WHERE release_id = ? AND hcpcs = ?", key).fetchall()
            self._rvu[key] = {r["modifier"]: dict(r) for r in rows}
        return self._rvu[key]

    def hcpcs(self, release: Release, code: str, kind: str = "procedure") -> Any:
        key = (release.id, code)
        if key not in self._hcpcs:
            self._hcpcs[key] = self.hc.store.conn.execute(
                "SELECT code, added_date, termination_date, action_code, action_effective_date, source_line "
                "FROM hcpcs_code WHERE release_id = ? AND code = ? AND record_kind = ?", (*key, kind)).fetchone()
        return self._hcpcs[key]

    def addendum_b(self, release: Release, code: str) -> Any:
        key = (release.id, code)
        if key not in self._addb:
            self._addb[key] = self.hc.store.conn.execute(
                "SELECT hcpcs, status_indicator, apc, payment_rate, source_line FROM opps_addendum_b "
                "WHERE release_id = ? AND hcpcs = ?", key).fetchone()
        return self._addb[key]

    def in_any_release(self, code: str) -> bool:
        if code not in self._known:
            from hcpcs.store.queries import code_known_anywhere

            self._known[code] = code_known_anywhere(self.hc.store.conn, code)
        return self._known[code]

    def other_releases_with(self, dataset: str, code: str) -> list[Release]:
        table, column = {"mpfs": ("mpfs_rvu", "hcpcs"), "hcpcs": ("hcpcs_code", "code"),
                         "opps": ("opps_addendum_b", "hcpcs")}[dataset]
        ids = {r[0] for r in self.hc.store.conn.execute(
            f"SELECT DISTINCT release_id FROM {table} WHERE {column} = ?", (code,))}
        return [r for r in self.hc.releases if r.id in ids]


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
