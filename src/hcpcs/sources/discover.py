"""Finding CMS release files in a folder, zip or single file, and grouping them into releases.

One release often arrives in several shapes at once: CMS's zip, the files extracted from it, and the
same table as CSV, fixed-width TXT and XLSX. They are grouped here by what they are (dataset and release
label), so that each release is loaded once and its encodings can be checked to agree."""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from hcpcs.core.errors import SourceFormatError
from hcpcs.sources.base import SourceFile

MONTH_NAMES = {"JAN": 1, "APR": 4, "JUL": 7, "OCT": 10}
QUARTER_LETTER = {1: "A", 4: "B", 7: "C", 10: "D"}

# File kinds by CMS file name. Order matters: the first match wins.
_KIND_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("ignored", re.compile(r"(transaction|corrections|trans_alpha|noc codes|changes_by|record.?layout|readme)", re.I)),
    ("hcpcs_anweb", re.compile(r"^HCPC\d{4}.*ANWEB.*\.(txt|xlsx)$", re.I)),
    ("hcpcs_notes", re.compile(r"^proc_notes.*\.txt$", re.I)),
    ("pprrvu", re.compile(r"^PPRRVU.*\.(csv|txt|xlsx)$", re.I)),
    ("gpci", re.compile(r"^GPCI\d{4}.*\.(csv|txt|xlsx)$", re.I)),
    ("locco", re.compile(r"^\d{2}LOCCO.*\.(csv|txt|xlsx)$", re.I)),
    ("anes", re.compile(r"^ANES\d{4}.*\.(csv|txt|xlsx)$", re.I)),
    ("oppscap", re.compile(r"^OPPSCAP.*\.(csv|txt|xlsx)$", re.I)),
    ("aoc", re.compile(r"^AOC_V\d{4}Q\d.*\.xlsx$", re.I)),
    ("ptp", re.compile(r"^cci(pra|oph)-v\d+r\d+-f\d\.txt$", re.I)),
    ("mue", re.compile(r"^MCR_MUE_.*\.csv$", re.I)),
    ("edit_table", re.compile(r"^(ptp|mue|aoc)_.*\.csv$", re.I)),
    ("addendum_b", re.compile(r"addendum.?b.*\.xlsx$", re.I)),
]


def classify(name: str) -> str:
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(name):
            return kind
    return "ignored"


@dataclass
class FoundFile:
    kind: str
    source: SourceFile
    container: str  # the folder or zip it was found in: files of one bundle share it


@dataclass
class ReleasePlan:
    """A release to load: which dataset, its label and period, and the files that make it up, by kind
    (several files of one kind are other encodings of the same table, or numbered parts of it)."""

    dataset: str
    label: str
    effective_start: date
    effective_end: date | None
    nominal_end: date | None
    row_dates: bool
    files: dict[str, list[FoundFile]] = field(default_factory=dict)
    meta: dict[str, object] = field(default_factory=dict)

    def add(self, found: FoundFile) -> None:
        self.files.setdefault(found.kind, []).append(found)

    def content_sha256(self) -> str:
        """Identity of the release's content: the set of distinct file contents, wherever they lie."""
        digests = sorted({f.source.sha256() for files in self.files.values() for f in files})
        return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def find_files(root: Path) -> tuple[list[FoundFile], list[str]]:
    """Every CMS file below `root` (a folder, a zip or one file), zips opened; and the names skipped."""
    found: list[FoundFile] = []
    skipped: list[str] = []
    paths = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    for path in paths:
        if path.name.startswith("."):
            continue
        name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
        if name.lower().endswith(".zip"):
            found.extend(_zip_members(path, skipped))
            continue
        kind = classify(name)
        if kind == "ignored":
            skipped.append(str(path))
            continue
        found.append(FoundFile(kind, SourceFile.from_path(path), str(path.parent)))
    return found, skipped


def _zip_members(path: Path, skipped: list[str]) -> list[FoundFile]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise SourceFormatError(str(path), None, f"not a readable zip archive ({exc})") from exc
    if bad is not None:
        raise SourceFormatError(str(path), bad, "zip member is corrupt (CRC check failed)")
    out = []
    for member in names:
        kind = classify(Path(member).name)
        if kind == "ignored":
            skipped.append(f"{path}!{member}")
            continue
        out.append(FoundFile(kind, SourceFile.from_zip_member(path, member), str(path)))
    return out


def _quarter_end(start: date) -> date:
    month = start.month + 3
    year = start.year + (month > 12)
    month = month - 12 if month > 12 else month
    return date(year, month, 1) - timedelta(days=1)


def _quarter_start(year: int, quarter: int) -> date:
    return date(year, 3 * (quarter - 1) + 1, 1)


def plan_releases(found: list[FoundFile]) -> list[ReleasePlan]:
    """Group found files into releases, naming each by what the files say about themselves."""
    from hcpcs.sources import edit_table, hcpcs_file, mpfs_rvu, ncci_aoc, ncci_mue, ncci_ptp, opps_addendum

    plans: dict[tuple[str, str], ReleasePlan] = {}

    def plan(dataset: str, label: str, start: date, end: date | None, nominal: date | None,
             row_dates: bool) -> ReleasePlan:
        key = (dataset, label)
        if key not in plans:
            plans[key] = ReleasePlan(dataset, label, start, end, nominal, row_dates)
        return plans[key]

    # Fee-schedule bundles: the PPRRVU file names the release; the locality files beside it belong to it.
    container_release: dict[str, ReleasePlan] = {}
    hcpcs_by_container: dict[str, ReleasePlan] = {}
    for f in found:
        if f.kind == "pprrvu":
            info = mpfs_rvu.release_info(f.source)
            year, month = info["year"], info.get("quarter_month") or 1
            start = date(year, month, 1)
            label = f"RVU{year % 100:02d}{QUARTER_LETTER[month]}"
            p = plan("mpfs", label, start, date(year, 12, 31), _quarter_end(start), False)
            p.add(f)
            container_release[f.container] = p
        elif f.kind == "hcpcs_anweb":
            info = hcpcs_file.release_info(f.source)
            start = date(info["year"], info["month"], 1)
            p = plan("hcpcs", info["label"], start, None, date(info["year"], 12, 31), True)
            p.add(f)
            hcpcs_by_container[f.container] = p
    def info_of(f: FoundFile, info: dict | None) -> dict:
        if not info:
            raise SourceFormatError(f.source.origin, None, "cannot tell which release this file is from its "
                                    "name; keep the CMS file name (it carries the year and quarter)")
        return info

    for f in found:
        if f.kind in {"gpci", "locco", "anes", "oppscap"}:
            owner = container_release.get(f.container)
            if owner is None:
                raise SourceFormatError(
                    f.source.origin, None,
                    "a fee-schedule locality file without a PPRRVU file beside it: load the whole RVU "
                    "bundle (the CMS zip or all its extracted files) so the file's release is known",
                )
            owner.add(f)
        elif f.kind == "hcpcs_notes":
            owner = hcpcs_by_container.get(f.container)
            if owner is None:
                raise SourceFormatError(
                    f.source.origin, None,
                    "a processing-notes file without the HCPCS file beside it: load it with its release",
                )
            owner.add(f)
        elif f.kind == "aoc":
            info = info_of(f, ncci_aoc.aoc_release_info(f.source.name))
            start = _quarter_start(info["year"], info["quarter"])
            plan("ncci_aoc", f"AOC {info['year']}Q{info['quarter']}", start, _quarter_end(start),
                 _quarter_end(start), True).add(f)
        elif f.kind == "ptp":
            info = info_of(f, ncci_ptp.ptp_file_info(f.source.name))
            start = _quarter_start(info["year"], info["quarter"])
            plan(f"ncci_ptp_{info['setting']}",
                 f"PTP {info['setting']} {info['year']}Q{info['quarter']} (v{info['version']})",
                 start, _quarter_end(start), _quarter_end(start), True).add(f)
        elif f.kind == "mue":
            info = info_of(f, ncci_mue.mue_file_info(f.source.name))
            start = info["effective"]
            plan(f"ncci_mue_{info['setting']}",
                 f"MUE {info['setting']} {start.year}Q{(start.month - 1) // 3 + 1}",
                 start, _quarter_end(start), _quarter_end(start), False).add(f)
        elif f.kind == "edit_table":
            info = info_of(f, edit_table.edit_table_info(f.source.name))
            start = _quarter_start(info["year"], info["quarter"])
            kind = info["kind"]
            dataset = "ncci_aoc" if kind == "aoc" else f"ncci_{kind}_{info['setting']}"
            who = "" if kind == "aoc" else f" {info['setting']}"
            label = f"{kind.upper()}{who} {info['year']}Q{info['quarter']} (edit table)"
            p = plan(dataset, label, start, _quarter_end(start), _quarter_end(start), False)
            p.add(f)
        elif f.kind == "addendum_b":
            info = info_of(f, opps_addendum.addendum_b_release_info(f.source.name))
            start = date(info["year"], info["month"], 1)
            month_name = start.strftime("%b")
            plan("opps", f"OPPS Addendum B {info['year']} {month_name}", start, date(info["year"], 12, 31),
                 _quarter_end(start), False).add(f)
    return sorted(plans.values(), key=lambda p: (p.dataset, p.effective_start, p.label))
