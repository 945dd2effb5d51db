"""Finding CMS release files in a folder, zip or single file, and grouping them into releases.

One release often arrives in several shapes at once: CMS's zip, the files extracted from it, and the
same table as CSV, fixed-width TXT and XLSX. They are grouped here by what they are (dataset and release
label), so that each release is loaded once and its encodings can be checked to agree.

Each release's period comes from CMS's own statement of it, recorded in the release's meta
(`effective_start_source`): the quarter in the file name (HCPCS, RVU, OPPS, add-on codes, edit tables),
the NCCI version of a PTP file (v302 = 2024 Q3: year 1994 + 30, quarter 2 + 1), the `_Eff_MM-DD-YYYY`
date of an MUE file, and for a correction release (RVU24AR, named by its bundle) the date CMS set for
it, from the release catalog.

Zips are opened within the archive limits of `hcpcs.sources.base.LIMITS` (members, expanded size and
ratio, one level of zips inside a zip)."""

from __future__ import annotations

import atexit
import hashlib
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from hcpcs.core.errors import SourceFormatError
from hcpcs.sources.base import LIMITS, GuardedStream, SourceFile

MONTH_NAMES = {"JAN": 1, "APR": 4, "JUL": 7, "OCT": 10}
QUARTER_LETTER = {1: "A", 4: "B", 7: "C", 10: "D"}

# File kinds by CMS file name. Order matters: the first match wins.
_KIND_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("ignored", re.compile(r"(transaction|corrections|trans_alpha|noc codes|changes_by|record.?layout|readme)", re.I)),
    ("hcpcs_anweb", re.compile(r"^HCPC\d{4}.*ANWEB.*\.(txt|xlsx)$", re.I)),
    ("hcpcs_notes", re.compile(r"^proc_notes.*\.txt$", re.I)),
    # From 2026 the PPRRVU of qualifying APM participants (QPs) beside the non-QPP one.
    ("pprrvu_qpp", re.compile(r"^PPRRVU.*[_\- ]QPP\.(csv|txt|xlsx)$", re.I)),
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
    # The CSV CMS ships beside the workbook ("508 Version of January 2025 Web Addendum B.12.31.24.csv").
    ("addendum_b", re.compile(r"web.?addendum.?b.*\.csv$", re.I)),
]

# What `hcpcs update` looks for, in words (for the error when nothing in the input is a CMS file).
LOOKED_FOR = (
    "HCPCS HCPC{year}[_{JAN,APR,JUL,OCT}]_ANWEB*.txt/.xlsx, RVU bundles (RVU26A.zip or PPRRVU*, GPCI*, "
    "*LOCCO*, ANES*, OPPSCAP* .csv/.txt/.xlsx), NCCI ccipra-/ccioph-v*-f*.txt, MCR_MUE_*_Eff_MM-DD-YYYY.csv, "
    "AOC_V{year}Q{n}*.xlsx, OPPS *Addendum B*.xlsx/.csv, edit tables ptp_/mue_/aoc_*.csv")


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
    warnings: list[str] = field(default_factory=list)

    def add(self, found: FoundFile) -> None:
        self.files.setdefault(found.kind, []).append(found)

    def content_sha256(self) -> str:
        """Identity of the release's content: the set of distinct file contents, wherever they lie."""
        digests = sorted({f.source.sha256() for files in self.files.values() for f in files})
        return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def find_files(root: Path, scratch: Path | None = None) -> tuple[list[FoundFile], list[str]]:
    """Every CMS file below `root` (a folder, a zip or one file), zips opened (a zip inside a zip is
    extracted into `scratch`, a temporary folder by default); and the names skipped."""
    found: list[FoundFile] = []
    skipped: list[str] = []
    paths = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    for path in paths:
        if path.name.startswith("."):
            continue
        name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
        if name.lower().endswith(".zip"):
            found.extend(_zip_members(path, skipped, scratch, depth=0))
            continue
        kind = classify(name)
        if kind == "ignored":
            skipped.append(str(path))
            continue
        found.append(FoundFile(kind, SourceFile.from_path(path), str(path.parent)))
    return found, skipped


def _scratch_folder(scratch: Path | None) -> Path:
    if scratch is not None:
        return scratch
    folder = Path(tempfile.mkdtemp(prefix="hcpcs-zips-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _zip_members(path: Path, skipped: list[str], scratch: Path | None, depth: int,
                 label: str | None = None) -> list[FoundFile]:
    where = label or str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise SourceFormatError(where, None, f"not a readable zip archive ({exc})") from exc
    if len(infos) > LIMITS.members:
        raise SourceFormatError(where, None, f"{len(infos):,} members: more than any CMS zip holds "
                                f"({LIMITS.members:,} at most); refused")
    declared = sum(i.file_size for i in infos)
    if declared > LIMITS.archive_bytes:
        raise SourceFormatError(where, None, f"members declare {declared:,} bytes uncompressed: more than "
                                f"{LIMITS.archive_bytes >> 30} GiB; refused")
    out = []
    for info in infos:
        member = info.filename
        if info.file_size > LIMITS.file_bytes or (
                info.file_size > LIMITS.ratio_after and info.file_size > LIMITS.ratio * max(1, info.compress_size)):
            raise SourceFormatError(f"{where}!{member}", None,
                                    f"declares {info.file_size:,} bytes from {info.compress_size:,} compressed: "
                                    "past the size or compression-ratio limits of a CMS file; refused as an "
                                    "archive bomb")
        base = Path(member).name
        if base.lower().endswith(".zip"):
            if depth + 1 > LIMITS.nesting:
                raise SourceFormatError(f"{where}!{member}", None,
                                        f"a zip nested {depth + 2} levels deep: CMS zips hold files, and "
                                        "one level of zips inside a zip is opened at most; refused")
            inner = _extract(path, info, _scratch_folder(scratch), f"{where}!{member}")
            out.extend(_zip_members(inner, skipped, scratch, depth + 1, f"{where}!{member}"))
            continue
        kind = classify(base)
        if kind == "ignored":
            skipped.append(f"{where}!{member}")
            continue
        source = SourceFile.from_zip_member(path, member)
        if label is not None:
            source = SourceFile(name=source.name, origin=f"{label}!{member}", _zip_path=path, _member=member)
        # Files in one folder of a zip belong together (a zip of several extracted bundles).
        folder = str(Path(member).parent)
        container = where if folder in ("", ".") else f"{where}!{folder}"
        out.append(FoundFile(kind, source, container))
    return out


def _extract(path: Path, info: zipfile.ZipInfo, scratch: Path, origin: str) -> Path:
    """A zip member (itself a zip) copied to `scratch` through the archive guard."""
    target = scratch / f"{len(list(scratch.iterdir()))}" / Path(info.filename).name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(path) as zf, zf.open(info) as member, target.open("wb") as out:
            stream = GuardedStream(member, origin, info.compress_size)
            while chunk := stream.read(1 << 20):
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise SourceFormatError(origin, None, f"cannot read the zip member ({exc})") from exc
    return target


def bundle_label(found: FoundFile) -> str | None:
    """The RVU bundle name of the zip or folder a file came in (`RVU24AR.zip`, `rvu26ar_1/`,
    `rvu25d-updated-09-11-2025.zip` -> 'RVU24AR', 'RVU26AR', 'RVU25D'), or None."""
    names = [Path(part).name for part in found.container.split("!")]
    for name in reversed(names):
        for token in re.split(r"[^A-Za-z0-9]+", name):
            match = _BUNDLE_NAME.match(token)
            if match:
                return match.group(0).upper()
    return None


_BUNDLE_NAME = re.compile(r"^RVU\d{2}[A-D]R?$", re.I)


def _quarter_end(start: date) -> date:
    month = start.month + 3
    year = start.year + (month > 12)
    month = month - 12 if month > 12 else month
    return date(year, month, 1) - timedelta(days=1)


def _quarter_start(year: int, quarter: int) -> date:
    return date(year, 3 * (quarter - 1) + 1, 1)


_MONTH_WORDS = {1: "January", 4: "April", 7: "July", 10: "October"}


def plan_releases(found: list[FoundFile]) -> list[ReleasePlan]:
    """Group found files into releases, naming each by what the files say about themselves."""
    from hcpcs.sources import edit_table, hcpcs_file, mpfs_rvu, ncci_aoc, ncci_mue, ncci_ptp, opps_addendum
    from hcpcs.sources.catalog import find_entry

    plans: dict[tuple[str, str], ReleasePlan] = {}

    def plan(dataset: str, label: str, start: date, end: date | None, nominal: date | None,
             row_dates: bool, start_source: str) -> ReleasePlan:
        key = (dataset, label)
        if key not in plans:
            plans[key] = ReleasePlan(dataset, label, start, end, nominal, row_dates)
            plans[key].meta["effective_start_source"] = start_source
        return plans[key]

    # Fee-schedule bundles: the PPRRVU file names the release; the locality files beside it belong to it.
    container_release: dict[str, ReleasePlan] = {}
    hcpcs_by_container: dict[str, ReleasePlan] = {}
    # The non-QPP PPRRVU names the release before its QPP twin (it is the file answering lookups).
    for f in sorted(found, key=lambda f: f.kind == "pprrvu_qpp"):
        if f.kind in ("pprrvu", "pprrvu_qpp"):
            info = mpfs_rvu.release_info(f.source)
            year, month = info["year"], info.get("quarter_month") or 1
            if year is None:
                raise SourceFormatError(f.source.origin, None, "cannot tell the fee-schedule year from the file "
                                        "name; keep the CMS name (PPRRVU25_JAN.csv, PPRRVU2026_Jan_nonQPP.csv)")
            start = date(year, month, 1)
            label = f"RVU{year % 100:02d}{QUARTER_LETTER[month]}"
            source = (f"file name {f.source.name}: the {_MONTH_WORDS[month]} {year} release ({label}), in force "
                      f"from {start} (RVU documentation, 'Update Schedule')")
            correction = None
            if bundle_label(f) == f"{label}R":
                # A correction of the quarter's release (RVU24AR): its bundle, not its member names, says so,
                # and CMS set the date it applies from.
                correction, label = label, f"{label}R"
                entry = find_entry("mpfs", label)
                if entry is not None and entry.effective_start_known:
                    start = entry.effective_start
                    source = f"{label}, CMS's correction of {correction}: {entry.effective_start_source or entry.source}"
                else:
                    source = (f"{label}, CMS's correction of {correction} (bundle {f.container}): no statement of "
                              f"the date it applies from is known; the quarter's start {start} is used")
            p = plan("mpfs", label, start, date(year, 12, 31), _quarter_end(start), False, source)
            if correction:
                p.meta["correction_of"] = correction
            p.add(f)
            container_release[f.container] = p
        elif f.kind == "hcpcs_anweb":
            info = hcpcs_file.release_info(f.source)
            start = date(info["year"], info["month"], 1)
            source = (f"file name {f.source.name}: the {_MONTH_WORDS[info['month']]} {info['year']} HCPCS file, "
                      f"in force from {start}")
            p = plan("hcpcs", info["label"], start, None, date(info["year"], 12, 31), True, source)
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
                 _quarter_end(start), True,
                 f"file name {f.source.name}: {info['year']} quarter {info['quarter']}, in force from {start}").add(f)
        elif f.kind == "ptp":
            info = info_of(f, ncci_ptp.ptp_file_info(f.source.name))
            if "year" not in info:
                raise SourceFormatError(f.source.origin, None, f"NCCI version v{info['version']} in the file name "
                                        "does not name a quarter (v302 = 2024 Q3: year 1994 + 30, quarter 2 + 1)")
            start = _quarter_start(info["year"], info["quarter"])
            digits = info["version"].split("r")[0]
            source = (f"NCCI version v{info['version']} in the file name {f.source.name}: {info['year']} "
                      f"Q{info['quarter']} (year 1994 + {digits[:-1]}, quarter {digits[-1]} + 1), in force from {start}")
            plan(f"ncci_ptp_{info['setting']}",
                 f"PTP {info['setting']} {info['year']}Q{info['quarter']} (v{info['version']})",
                 start, _quarter_end(start), _quarter_end(start), True, source).add(f)
        elif f.kind == "mue":
            info = info_of(f, ncci_mue.mue_file_info(f.source.name))
            start = info["effective"]
            plan(f"ncci_mue_{info['setting']}",
                 f"MUE {info['setting']} {start.year}Q{(start.month - 1) // 3 + 1}",
                 start, _quarter_end(start), _quarter_end(start), False,
                 f"file name {f.source.name}: effective {start} (its _Eff_ date)").add(f)
        elif f.kind == "edit_table":
            info = info_of(f, edit_table.edit_table_info(f.source.name))
            start = _quarter_start(info["year"], info["quarter"])
            kind = info["kind"]
            dataset = "ncci_aoc" if kind == "aoc" else f"ncci_{kind}_{info['setting']}"
            who = "" if kind == "aoc" else f" {info['setting']}"
            label = f"{kind.upper()}{who} {info['year']}Q{info['quarter']} (edit table)"
            p = plan(dataset, label, start, _quarter_end(start), _quarter_end(start), False,
                     f"file name {f.source.name}: {info['year']} quarter {info['quarter']}, in force from {start}")
            p.add(f)
        elif f.kind == "addendum_b":
            info = info_of(f, opps_addendum.addendum_b_release_info(f.source.name))
            start = date(info["year"], info["month"], 1)
            month_name = start.strftime("%b")
            plan("opps", f"OPPS Addendum B {info['year']} {month_name}", start, date(info["year"], 12, 31),
                 _quarter_end(start), False,
                 f"file name {f.source.name}: the {start.strftime('%B')} {info['year']} Addendum B, in force from "
                 f"{start}").add(f)
    for p in plans.values():
        if p.dataset == "hcpcs":
            _keep_newest_issue(p)
    return sorted(plans.values(), key=lambda p: (p.dataset, p.effective_start, p.label))


def _keep_newest_issue(plan: ReleasePlan) -> None:
    """CMS re-issues a quarter's HCPCS file (HCPC2026_JAN_ANWEB_12082025, then _01122026; _v2, then
    _v3): where several issues of one quarter are found, the newest is the release and the older ones are
    set aside with a warning (the TXT and XLSX of one issue stay together, checked to agree)."""
    from hcpcs.sources.hcpcs_file import issue_of

    files = plan.files.get("hcpcs_anweb", [])
    issues = {issue_of(f.source.name) for f in files}
    if len(issues) < 2 or None in issues or len({kind for kind, _ in issues}) > 1:  # type: ignore[misc]
        return
    newest = max(issues, key=lambda issue: issue[1])  # type: ignore[index]
    kept = [f for f in files if issue_of(f.source.name) == newest]
    older = sorted({f.source.name for f in files if issue_of(f.source.name) != newest})
    plan.files["hcpcs_anweb"] = kept
    plan.warnings.append(f"{plan.label}: {', '.join(older)} set aside: an older issue of the quarter than "
                         f"{kept[0].source.name}, which was loaded")
