"""`hcpcs update`: find the CMS release files (downloaded from CMS, or from a folder, zip or URL the user
names), parse them, and write them into the store in one transaction.

An update never makes the data worse. It takes the store's write lock first (a second update is told the
store is busy), and refuses, with one line naming the file, row and value, a release whose table has no
data rows, a bundle that lacks tables the loaded release of the same name has, and values CMS could not
have published (`hcpcs.sources.checks`); `replace=True` (`--replace`) loads such a release anyway.
An input in which nothing is recognised, an archive past the limits of a CMS file, a full disk: each is
one clear error, and the data loaded before stays exactly as it was."""

from __future__ import annotations

import errno
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from hcpcs.core.errors import HcpcsError, InvalidInputError, UpdateRefusedError
from hcpcs.core.tables import TABLES
from hcpcs.sources import catalog as cms_catalog
from hcpcs.sources.base import LIMITS
from hcpcs.sources.bundle import ParsedRelease, parse_release
from hcpcs.sources.checks import out_of_bounds, without_rows
from hcpcs.sources.discover import LOOKED_FOR, ReleasePlan, find_files, plan_releases
from hcpcs.store.db import Store, default_home, open_store
from hcpcs.store.loader import begin_update, loaded_sha, write_releases
from hcpcs.store.releases import Release, list_releases

NOTHING_CHANGED = "nothing was loaded; the data loaded before is unchanged"


@dataclass
class UpdateReport:
    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)  # what to download by hand, and where
    manual_more: int = 0  # older licence-page releases not loaded either (`hcpcs releases --missing`)
    downloaded: list[str] = field(default_factory=list)
    failed_downloads: list[str] = field(default_factory=list)
    replaced_despite: list[str] = field(default_factory=list)  # refusals overridden by replace=True
    seconds: float = 0.0
    rows: int = 0


class Progress:
    """What the update reports while it works; the CLI plugs a Rich progress bar in here."""

    def start(self, total_releases: int) -> None: ...
    def release(self, label: str) -> None: ...
    def file(self, name: str) -> None: ...
    def rows(self, label: str, count: int) -> None: ...
    def download(self, name: str) -> None: ...
    def done(self) -> None: ...


def _download_name(url: str, entry: cms_catalog.CatalogEntry | None) -> str:
    """The file name a download is saved under: the CMS zip name (its slashes made dashes, so that
    'rvu25a-updated-01/10/2025.zip' keeps the bundle's name), else the URL's last part."""
    name = entry.zip_names[0] if entry and entry.zip_names else url.rstrip("/").rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name.replace("/", "-")).strip("-") or "download"
    return name


def _download(url: str, folder: Path, entry: cms_catalog.CatalogEntry | None = None) -> Path:
    """Stream a download into `folder`, refusing past the archive limits and refusing a web page where a
    file was expected (CMS answers a licence-gated link with its licence page)."""
    import httpx

    target = folder / _download_name(url, entry)
    limit = LIMITS.archive_bytes
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
            response.raise_for_status()
            size = 0
            with target.open("wb") as out:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise HcpcsError(f"{url}: the download exceeds {limit >> 30} GiB, more than any CMS "
                                         f"release; stopped ({NOTHING_CHANGED})")
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise HcpcsError(f"could not download {url}: {exc}") from exc
    except OSError as exc:
        raise _os_error(exc, f"saving {url} to {target}") from exc
    with target.open("rb") as saved:
        head = saved.read(512)
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")) or b"<html" in head.lower():
        page = f" ({entry.page})" if entry else ""
        raise HcpcsError(f"{url}: CMS answered with a web page, not the file (a licence page or a moved link); "
                         f"download it by hand from its page{page} and run hcpcs update --from FILE")
    if target.suffix.lower() == ".zip" and not head.startswith(b"PK"):
        raise HcpcsError(f"{url}: the download is not a zip archive ({len(head)} bytes begin it: not what CMS "
                         "publishes there)")
    return target


def missing_releases(home: Path | None = None, *, dataset: str | None = None,
                     today: date | None = None) -> list[dict[str, object]]:
    """The releases CMS published up to `today` that the store in `home` lacks (in any encoding), each
    with where to get it: `hcpcs update` downloads those with `downloadable`, `by_hand` says how to get
    the others."""
    from hcpcs.core.errors import DataNotLoadedError

    try:
        store = open_store(home or default_home(), readonly=True)
    except DataNotLoadedError:
        loaded: set[tuple[str, str]] = set()
    else:
        try:
            loaded = {(r.dataset, r.label) for r in list_releases(store.conn)}
        finally:
            store.close()
    out = []
    for entry in cms_catalog.missing(loaded, through=today or date.today()):
        if dataset and entry.dataset != dataset:
            continue
        item = entry.to_dict()
        item["by_hand"] = None if entry.downloadable else entry.by_hand()
        out.append(item)
    return out


def data_folder() -> Path:
    """The data folder updates write to: $HCPCS_HOME, else the per-user data folder."""
    return default_home()


def update_store(home: Path | None, source: str | None = None, *, verify: bool = True,
                 progress: Progress | None = None, replace: bool = False, today: date | None = None) -> UpdateReport:
    """`run_update` on the store in `home` (created when absent)."""
    try:
        store = open_store(home or default_home(), readonly=False)
    except sqlite3.OperationalError as exc:
        raise _sqlite_error(exc, home or default_home()) from exc
    try:
        return run_update(store, source, verify=verify, progress=progress, replace=replace, today=today)
    finally:
        store.close()


def _os_error(exc: OSError, doing: str) -> HcpcsError:
    if exc.errno == errno.ENOSPC:
        return HcpcsError(f"the disk is full ({doing}); {NOTHING_CHANGED}: free some space and run the "
                          "update again")
    return HcpcsError(f"{doing}: {exc.strerror or exc}; {NOTHING_CHANGED}")


def _sqlite_error(exc: sqlite3.Error, where: Path | str) -> HcpcsError:
    text = str(exc)
    if "full" in text:
        return HcpcsError(f"the disk is full: writing the store at {where} failed ({text}); {NOTHING_CHANGED}: "
                          "free some space and run the update again")
    if "locked" in text or "busy" in text:
        return HcpcsError(f"another hcpcs update is writing to {where}; wait until it finishes, then run this "
                          f"one again ({NOTHING_CHANGED})")
    return HcpcsError(f"the store at {where} could not be written ({text}); {NOTHING_CHANGED}")


def run_update(store: Store, source: str | None = None, *, verify: bool = True,
               progress: Progress | None = None, replace: bool = False, today: date | None = None) -> UpdateReport:
    progress = progress or Progress()
    report = UpdateReport()
    started = time.perf_counter()
    today = today or date.today()
    try:
        workdir = Path(tempfile.mkdtemp(prefix="hcpcs-update-"))
    except OSError as exc:
        raise _os_error(exc, "making a temporary folder") from exc
    begin_update(store)
    try:
        roots = _roots(store, source, workdir, report, progress, today)
        plans: list[ReleasePlan] = []
        for root in roots:
            found, skipped = find_files(root, workdir)
            report.skipped_files.extend(skipped)
            plans.extend(plan_releases(found))
        if not plans:
            _nothing_recognised(source, roots, report)
        loaded = {(r.dataset, r.label): r for r in list_releases(store.conn)}
        todo = []
        for plan in plans:
            if loaded_sha(store, plan.dataset, plan.label) == plan.content_sha256():
                report.unchanged.append(plan.label)
            else:
                todo.append(plan)
        progress.start(len(todo))

        def parsed() -> Iterator[ParsedRelease]:
            for plan in todo:
                progress.release(plan.label)
                result = parse_release(plan, verify=verify, on_file=progress.file)
                refusal = _refusal(result, loaded.get((plan.dataset, plan.label)))
                if refusal and not replace:
                    raise UpdateRefusedError(f"refused {plan.label}: {refusal}; {NOTHING_CHANGED} (pass --replace "
                                             "to load it anyway)")
                if refusal:
                    report.replaced_despite.append(f"{plan.label}: {refusal}")
                report.warnings.extend(result.warnings)
                report.rows += sum(result.row_counts.values())
                yield result
                del result  # written: let it go before the next release is parsed

        def on_rows(label: str, count: int) -> None:
            progress.rows(label, count)

        report.loaded = write_releases(store, parsed(), on_rows=on_rows)
        store.conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(store)
        raise _sqlite_error(exc, store.path) from exc
    except OSError as exc:
        _rollback(store)
        raise _os_error(exc, "reading the input or writing the store") from exc
    except BaseException:
        _rollback(store)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if report.loaded:
        try:
            store.optimize()
        except sqlite3.Error as exc:
            report.warnings.append(f"the store's query statistics were not refreshed ({exc})")
    _refresh_table_cache(store, report, progress)
    progress.done()
    report.seconds = time.perf_counter() - started
    return report


def _rollback(store: Store) -> None:
    try:
        if store.conn.in_transaction:
            store.conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # the transaction is already gone; SQLite keeps the last committed state


def _roots(store: Store, source: str | None, workdir: Path, report: UpdateReport, progress: Progress,
           today: date) -> list[Path]:
    """Where to read from: the downloads of the catalog's missing releases (no --from), a download of a
    URL, or the file or folder named."""
    if source is None:
        return _download_missing(store, workdir, report, progress, today)
    if source.startswith(("http://", "https://")):
        progress.download(source)
        return [_download(source, workdir)]
    path = Path(source).expanduser()
    if not path.exists():
        raise InvalidInputError(f"--from {source}: no such file or folder")
    return [path]


def _download_missing(store: Store, workdir: Path, report: UpdateReport, progress: Progress,
                      today: date) -> list[Path]:
    """Download every published release the store lacks that CMS lets a program download, and list what
    must be downloaded by hand (the files behind the AMA licence page): those in force today or later in
    full, the older ones as a count."""
    loaded = {(r.dataset, r.label) for r in list_releases(store.conn)}
    wanted = cms_catalog.missing(loaded, through=today)
    roots = []
    for entry in wanted:
        if not entry.downloadable:
            continue
        assert entry.url is not None
        progress.download(entry.label)
        try:
            roots.append(_download(entry.url, workdir, entry))
            report.downloaded.append(entry.label)
        except HcpcsError as exc:
            report.failed_downloads.append(f"{entry.label}: {exc}")
    by_hand = [e for e in wanted if not e.downloadable]
    current = [e for e in by_hand if e == cms_catalog.published_on(e.dataset, today)
               or e.effective_start > today or (e.effective_end is not None and e.effective_end >= today)]
    report.manual = [e.by_hand() for e in current]
    report.manual_more = len(by_hand) - len(current)
    if not roots and not report.failed_downloads and not report.manual:
        report.warnings.append("every release in the catalog that CMS lets a program download is loaded")
    return roots


def _nothing_recognised(source: str | None, roots: list[Path], report: UpdateReport) -> None:
    if source is None:
        return  # the catalog had nothing to download, or every download failed (reported as such)
    skipped = report.skipped_files
    shown = ", ".join(Path(name.split("!")[-1]).name for name in skipped[:5])
    more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    what = f"its {len(skipped)} file(s) ({shown}{more}) are not CMS release files" if skipped else "it is empty"
    raise HcpcsError(f"nothing to load in {roots[0] if roots else source}: {what}. Looked for {LOOKED_FOR}")


_TABLE_WORDS = {"mpfs_rvu": "RVU (PPRRVU)", "mpfs_rvu_qp": "QPP RVU (PPRRVU ..._QPP)", "mpfs_gpci": "GPCI",
                "mpfs_locality_county": "locality/county", "mpfs_anes_cf": "anesthesia",
                "mpfs_opps_cap": "OPPS-cap", "hcpcs_note": "processing notes"}


def _refusal(result: ParsedRelease, loaded: Release | None) -> str | None:
    """Why this release must not replace what is loaded (or load at all), or None."""
    for table in result.tables:
        problem = without_rows(table) or out_of_bounds(table)
        if problem:
            if loaded is not None:
                problem += f", where the loaded {loaded.label} has {sum(loaded.row_counts.values()):,} rows"
            return problem
    if loaded is None:
        return None
    have = {name for name, count in result.row_counts.items() if count}
    lacking = [name for name, count in loaded.row_counts.items() if count and name not in have]
    kinds = {f.get("kind") for f in result.files}
    lacking_kinds = sorted({f.get("kind") for f in loaded.source_files} - kinds - {None})
    if lacking or lacking_kinds:
        files = sorted({f["name"] for f in loaded.source_files
                        if f.get("kind") in lacking_kinds or _table_of(f.get("kind")) in lacking})
        words = ", ".join(_TABLE_WORDS.get(name, TABLES[name].title) for name in lacking) if lacking else \
            ", ".join(str(k) for k in lacking_kinds)
        new_files = ", ".join(sorted({f["name"] for f in result.files}))
        return (f"the loaded {loaded.label} has {words} table(s) ({', '.join(files)}) that the files given "
                f"({new_files}) lack: load the whole bundle")
    return None


def _table_of(kind: str | None) -> str | None:
    return next((spec.name for spec in TABLES.values() if kind in spec.file_kinds), None)


ProgressFactory = Callable[[], Progress]


def _refresh_table_cache(store: Store, report: UpdateReport, progress: Progress) -> None:
    """Drop the columnar cache files (Arrow IPC beside the database, read by the batch checker) of
    releases no longer stored. The batch checker writes a release's files the first time it reads the
    release from the database, so an update does not pay for tables nobody checks claims against."""
    from hcpcs.store.cache import prune_table_cache

    try:
        prune_table_cache(store)
    except OSError as exc:
        report.warnings.append(f"old columnar cache files could not be removed ({exc})")
