"""What CMS published, and where: the release catalog (`catalog.toml`, package data, one entry per release
of each dataset from 2022 on, each naming the source of its facts).

`hcpcs update` (no --from) downloads the entries that have a direct download and are not loaded yet, and
prints, for the files CMS puts behind the AMA CPT licence page (NCCI PTP, add-on codes, OPPS Addendum
B), exactly what to download by hand and where. `hcpcs releases --missing` lists what is published but
not loaded, and an answer for a date whose published release is not loaded says so
(`published_on`)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

# The NCCI landing pages (each lists the quarterly files and links them through the licence page).
CMS_NCCI_PTP_PAGE = ("https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits/"
                     "medicare-ncci-procedure-procedure-ptp-edits")
CMS_NCCI_MUE_PAGE = ("https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits/"
                     "medicare-ncci-medically-unlikely-edits-mues")
CMS_NCCI_AOC_PAGE = ("https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits/"
                     "medicare-ncci-add-code-edits")

LICENCE_NOTE = (
    "CMS shows the AMA CPT licence before this download: open the page, accept the licence, download the "
    "files named, then run: hcpcs update --from THE/DOWNLOAD/FOLDER"
)


@dataclass(frozen=True)
class CatalogEntry:
    dataset: str
    label: str
    effective_start: date
    effective_end: date | None
    files: tuple[str, ...]
    page: str
    source: str
    confirmed: bool
    note: str = ""
    zip_names: tuple[str, ...] = ()
    url: str | None = None
    licence_gated: bool = False
    release_page: str | None = None
    correction_of: str | None = None  # an AR release: CMS's correction of this release
    effective_start_known: bool = True  # False: the sources do not say from when a correction applies
    effective_start_source: str | None = None
    conversion_factor: float | None = None
    conversion_factor_qp: float | None = None
    version: str | None = None

    @property
    def downloadable(self) -> bool:
        """A program may download it: a direct URL and no licence page in front of it."""
        return bool(self.url) and not self.licence_gated

    @property
    def period(self) -> str:
        return f"{self.effective_start} to {self.effective_end or 'the next release'}"

    def by_hand(self) -> str:
        """What to download and where, for an entry that cannot be downloaded by a program."""
        names = ", ".join(self.zip_names) if self.zip_names else ", ".join(self.files)
        how = LICENCE_NOTE if self.licence_gated else (
            "CMS gives no direct download link for it here: download the files named from the page, then run: "
            "hcpcs update --from THE/DOWNLOAD/FOLDER")
        return f"{self.label} ({self.period}): from {self.release_page or self.page} download {names}. {how}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dataset": self.dataset, "label": self.label, "effective_start": self.effective_start.isoformat(),
            "effective_end": self.effective_end.isoformat() if self.effective_end else None,
            "files": list(self.files), "zip_names": list(self.zip_names), "url": self.url, "page": self.page,
            "release_page": self.release_page,
            "licence_gated": self.licence_gated, "downloadable": self.downloadable, "confirmed": self.confirmed,
            "source": self.source,
        }
        if self.correction_of:
            out["correction_of"] = self.correction_of
            out["effective_start_known"] = self.effective_start_known
        if self.conversion_factor is not None:
            out["conversion_factor"] = self.conversion_factor
        if self.conversion_factor_qp is not None:
            out["conversion_factor_qp"] = self.conversion_factor_qp
        if self.note:
            out["note"] = self.note
        return out


def _entry(raw: dict[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        dataset=raw["dataset"], label=raw["label"], effective_start=raw["effective_start"],
        effective_end=raw.get("effective_end"), files=tuple(raw.get("files", ())), page=raw["page"],
        source=raw.get("source", ""), confirmed=bool(raw.get("confirmed")), note=raw.get("note", ""),
        zip_names=tuple(raw.get("zip_names", ())), url=raw.get("url"),
        licence_gated=bool(raw.get("licence_gated", False)), release_page=raw.get("release_page"),
        correction_of=raw.get("correction_of"), effective_start_known=raw.get("effective_start_known", True),
        effective_start_source=raw.get("effective_start_source"),
        conversion_factor=raw.get("conversion_factor"), conversion_factor_qp=raw.get("conversion_factor_qp"),
        version=raw.get("version"),
    )


@cache
def catalog() -> tuple[CatalogEntry, ...]:
    """Every entry of the packaged catalog, by dataset and start."""
    text = (resources.files("hcpcs.sources") / "catalog.toml").read_text(encoding="utf-8")
    entries = [_entry(raw) for raw in tomllib.loads(text).get("release", [])]
    return tuple(sorted(entries, key=lambda e: (e.dataset, e.effective_start, e.label)))


@cache
def _by_dataset() -> dict[str, tuple[CatalogEntry, ...]]:
    grouped: dict[str, list[CatalogEntry]] = {}
    for entry in catalog():
        grouped.setdefault(entry.dataset, []).append(entry)
    return {name: tuple(entries) for name, entries in grouped.items()}


def entries(dataset: str) -> tuple[CatalogEntry, ...]:
    return _by_dataset().get(dataset, ())


def find_entry(dataset: str, label: str) -> CatalogEntry | None:
    wanted = base_label(label)
    return next((e for e in entries(dataset) if base_label(e.label) == wanted), None)


def base_label(label: str) -> str:
    """A release label without the encoding it was loaded from: 'PTP practitioner 2024Q3 (v302r0)' and
    'PTP practitioner 2024Q3 (edit table)' are the same quarter's release."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", label).strip()


def published_on(dataset: str, day: date) -> CatalogEntry | None:
    """The release CMS published for `day` (the latest one in force on it), or None when the catalog does
    not reach that date. Corrections whose start the sources do not give are left out."""
    best: CatalogEntry | None = None
    for entry in entries(dataset):
        if not entry.effective_start_known or entry.effective_start > day:
            continue
        # The HCPCS file has no end: a quarter's file stands until the next one, within its year.
        end = entry.effective_end or date(entry.effective_start.year, 12, 31)
        if day > end:
            continue
        if best is None or (entry.effective_start, entry.correction_of is not None) >= (
                best.effective_start, best.correction_of is not None):
            best = entry
    return best


def is_loaded(entry: CatalogEntry, loaded: set[tuple[str, str]]) -> bool:
    """Whether a release of `entry` is among `loaded` ((dataset, label) pairs), in any encoding."""
    return (entry.dataset, base_label(entry.label)) in {(d, base_label(label)) for d, label in loaded}


def missing(loaded: set[tuple[str, str]], *, through: date | None = None) -> list[CatalogEntry]:
    """The catalog's releases that are not loaded (optionally only those starting on or before `through`)."""
    have = {(dataset, base_label(label)) for dataset, label in loaded}
    return [e for e in catalog() if (e.dataset, base_label(e.label)) not in have
            and (through is None or e.effective_start <= through)]
