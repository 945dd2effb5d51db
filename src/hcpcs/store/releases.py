"""Releases and the choice of the release in force on a date of service.

A release is one CMS publication of one dataset (HCPCS 2026 Jan, RVU25D, NCCI PTP practitioner 2024Q3).
Its *effective period* is when CMS meant it to apply: start, and a hard end where the dataset is
replaced wholesale (a fee-schedule year, an NCCI quarter) or none where it stays in force until a later
release (the cumulative HCPCS file). Its *nominal end* is when the next update was due; answering after
it is allowed inside the hard period but gets a notice that later updates are not loaded. Where the
release catalog (`hcpcs.sources.catalog`) knows the release CMS published for the date and it is not
the one loaded (RVU24AR for 2024-03-09..31 while only RVU24A is loaded), the notice names it.
A correction (RVU24AR) wins over the release it corrects from the date it applies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hcpcs.core.errors import DataNotLoadedError, NotCoveredError
from hcpcs.core.tables import dataset_title
from hcpcs.sources import catalog


@dataclass(frozen=True)
class Release:
    id: int
    dataset: str
    label: str
    effective_start: date
    effective_end: date | None
    row_dates: bool
    source_files: list[dict[str, Any]]
    content_sha256: str
    row_counts: dict[str, int]
    meta: dict[str, Any]
    loaded_at: str

    @property
    def nominal_end(self) -> date | None:
        value = self.meta.get("nominal_end")
        return date.fromisoformat(value) if value else self.effective_end

    def covers(self, day: date) -> bool:
        return self.effective_start <= day and (self.effective_end is None or day <= self.effective_end)

    def as_source(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "release": self.label,
            "files": [f["name"] for f in self.source_files],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "label": self.label,
            "effective_start": self.effective_start.isoformat(),
            "effective_end": self.effective_end.isoformat() if self.effective_end else None,
            "row_dates": self.row_dates,
            "source_files": self.source_files,
            "content_sha256": self.content_sha256,
            "row_counts": self.row_counts,
            "meta": self.meta,
            "loaded_at": self.loaded_at,
        }


@dataclass(frozen=True)
class ReleaseChoice:
    """The release that answers for a date, and what the user must be told about that choice."""

    release: Release
    notices: list[str] = field(default_factory=list)
    in_force: bool = True  # False: no release was in force; the nearest answered by row dates


def release_from_row(row: Any) -> Release:
    return Release(
        id=row["id"],
        dataset=row["dataset"],
        label=row["label"],
        effective_start=date.fromisoformat(row["effective_start"]),
        effective_end=date.fromisoformat(row["effective_end"]) if row["effective_end"] else None,
        row_dates=bool(row["row_dates"]),
        source_files=json.loads(row["source_files"]),
        content_sha256=row["content_sha256"],
        row_counts=json.loads(row["row_counts"]),
        meta=json.loads(row["meta"]),
        loaded_at=row["loaded_at"],
    )


def list_releases(conn: Any, dataset: str | None = None) -> list[Release]:
    sql = "SELECT * FROM release"
    params: tuple = ()
    if dataset:
        sql += " WHERE dataset = ?"
        params = (dataset,)
    rows = conn.execute(sql + " ORDER BY dataset, effective_start, label", params).fetchall()
    return [release_from_row(r) for r in rows]


def published_notice(dataset: str, day: date, chosen: Release) -> str | None:
    """A notice when CMS published a release for `day` that is not the one answering (None when the
    catalog does not reach the date, or the release answering is that one or a later one)."""
    entry = catalog.published_on(dataset, day)
    if entry is None:
        return None
    if catalog.base_label(chosen.label) == catalog.base_label(entry.label) or (
            chosen.effective_start > entry.effective_start):
        return None
    factor = f", conversion factor {entry.conversion_factor}" if entry.conversion_factor and entry.correction_of else ""
    return (f"CMS published {entry.label} (effective {entry.effective_start}{factor}) for {day}; it is not "
            f"loaded, so {chosen.label} answers instead: `hcpcs releases --missing` lists what is missing and "
            "`hcpcs update` fetches what CMS lets a program download")


def choose_release(releases: list[Release], dataset: str, day: date) -> ReleaseChoice:
    """The release of `dataset` in force on `day` (the latest start on or before it, within its hard
    period; a correction before the release it corrects); failing that, for a dataset whose rows carry
    their own dates, the nearest release with a notice; otherwise NotCoveredError."""
    candidates = [r for r in releases if r.dataset == dataset]
    name = dataset_title(dataset)
    if not candidates:
        raise DataNotLoadedError(f"no {name} release is loaded; run `hcpcs update`")
    in_force = [r for r in candidates if r.covers(day)]
    if in_force:
        chosen = max(in_force, key=lambda r: (r.effective_start, r.row_dates, bool(r.meta.get("correction_of")),
                                              r.id))
        notices = []
        published = published_notice(dataset, day, chosen)
        nominal_end = chosen.nominal_end
        if published:
            notices.append(published)
        elif nominal_end is not None and day > nominal_end:
            notices.append(
                f"{chosen.label} (effective {chosen.effective_start}) is the newest {name} release loaded "
                f"for {day}; updates CMS published after {nominal_end} are not loaded, so values may have "
                "changed since"
            )
        return ReleaseChoice(chosen, notices, True)
    dated = [r for r in candidates if r.row_dates]
    if dated:

        def distance(r: Release) -> int:
            if day < r.effective_start:
                return (r.effective_start - day).days
            assert r.effective_end is not None
            return (day - r.effective_end).days

        chosen = min(dated, key=lambda r: (distance(r), -r.id))
        notices = [
            f"no {name} release loaded is in force on {day}; {chosen.label} (effective "
            f"{chosen.effective_start}{' to ' + str(chosen.effective_end) if chosen.effective_end else ''})"
            " answers from the effective and deletion dates of its rows"
        ]
        published = published_notice(dataset, day, chosen)
        if published:
            notices.append(published)
        return ReleaseChoice(chosen, notices, False)
    entry = catalog.published_on(dataset, day)
    hint = (f"; CMS published {entry.label} for it (`hcpcs update`, or `hcpcs releases --missing` for where to "
            "get it)") if entry else ""
    raise not_covered(candidates, dataset, day, hint=hint)


def _period(release: Release) -> str:
    return f"{release.effective_start} to {release.effective_end or 'the next release'}"


def describe_date(day: date, date_given: bool | None = None) -> str:
    """The date an answer is for, saying when it is today because no date was given."""
    if date_given is False:
        return f"{day} (today: no date was given)"
    if date_given is None and day == date.today():
        return f"{day} (today)"
    return str(day)


def not_covered(releases: list[Release], dataset: str, day: date, date_given: bool | None = None,
                hint: str = "") -> NotCoveredError:
    """The error for a date no loaded release of `dataset` covers: which date was used, what the loaded
    releases cover (the newest, or the earliest for a date before them all, or the two around a gap) and
    how to ask for another date. `date_given` False says the date is today because none was given."""
    candidates = sorted((r for r in releases if r.dataset == dataset), key=lambda r: (r.effective_start, r.id))
    name = dataset_title(dataset)
    newest = max(candidates, key=lambda r: (r.effective_end or date.max, r.effective_start, r.id))
    earliest = candidates[0]
    before = [r for r in candidates if r.effective_end is not None and r.effective_end < day]
    after = [r for r in candidates if r.effective_start > day]
    if not before:
        covered = f"the earliest loaded, {earliest.label}, starts {earliest.effective_start}"
        suggestion = earliest.effective_start
    elif not after:
        covered = f"the newest loaded, {newest.label}, covers {_period(newest)}"
        suggestion = newest.effective_end or newest.effective_start
    else:
        last = max(before, key=lambda r: (r.effective_end, r.id))
        covered = (f"the loaded releases around it are {last.label} ({_period(last)}) and "
                   f"{after[0].label} ({_period(after[0])})")
        suggestion = last.effective_end or last.effective_start
    summary = f"no {name} release loaded covers {describe_date(day, date_given)}; {covered}{hint}"
    message = (f"{summary}. Ask for a date a loaded release covers (for example --as-of {suggestion}) or load "
               "the release for this date with `hcpcs update`")
    return NotCoveredError(message, day=day, dataset=dataset, summary=summary, newest={
        "release": newest.label, "effective_start": newest.effective_start.isoformat(),
        "effective_end": newest.effective_end.isoformat() if newest.effective_end else None})
