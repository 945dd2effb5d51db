"""`hcpcs update`: find the CMS release files (downloaded from CMS, or from a folder, zip or URL the user
names), parse them, and write them into the store in one transaction."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hcpcs.core.errors import HcpcsError, InvalidInputError
from hcpcs.sources.bundle import ParsedRelease, parse_release
from hcpcs.sources.catalog import CATALOG
from hcpcs.sources.discover import ReleasePlan, find_files, plan_releases
from hcpcs.store.db import Store, default_home, open_store
from hcpcs.store.loader import loaded_sha, write_releases


@dataclass
class UpdateReport:
    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rows: int = 0


class Progress:
    """What the update reports while it works; the CLI plugs a Rich progress bar in here."""

    def start(self, total_releases: int) -> None: ...
    def release(self, label: str) -> None: ...
    def file(self, name: str) -> None: ...
    def rows(self, label: str, count: int) -> None: ...
    def done(self) -> None: ...


def _download(url: str, folder: Path) -> Path:
    import httpx

    name = url.rstrip("/").rsplit("/", 1)[-1] or "download"
    target = folder / name
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
            response.raise_for_status()
            with target.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise HcpcsError(f"could not download {url}: {exc}") from exc
    return target


def data_folder() -> Path:
    """The data folder updates write to: $HCPCS_HOME, else the per-user data folder."""
    return default_home()


def update_store(home: Path | None, source: str | None = None, *, verify: bool = True,
                 progress: Progress | None = None) -> UpdateReport:
    """`run_update` on the store in `home` (created when absent)."""
    store = open_store(home or default_home(), readonly=False)
    try:
        return run_update(store, source, verify=verify, progress=progress)
    finally:
        store.close()


def run_update(store: Store, source: str | None = None, *, verify: bool = True,
               progress: Progress | None = None) -> UpdateReport:
    progress = progress or Progress()
    report = UpdateReport()
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="hcpcs-update-"))
    try:
        roots: list[Path] = []
        if source is None:
            for entry in CATALOG:
                if entry.url is None:
                    report.manual.append(f"{entry.label}: {entry.note} ({entry.page})")
                    continue
                roots.append(_download(entry.url, workdir))
        elif source.startswith(("http://", "https://")):
            roots.append(_download(source, workdir))
        else:
            path = Path(source).expanduser()
            if not path.exists():
                raise InvalidInputError(f"--from {source}: no such file or folder")
            roots.append(path)
        plans: list[ReleasePlan] = []
        for root in roots:
            found, skipped = find_files(root)
            report.skipped_files.extend(skipped)
            plans.extend(plan_releases(found))
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
                report.warnings.extend(result.warnings)
                report.rows += sum(result.row_counts.values())
                yield result

        def on_rows(label: str, count: int) -> None:
            progress.rows(label, count)

        report.loaded = write_releases(store, parsed(), on_rows=on_rows)
        if report.loaded:
            store.optimize()
        _refresh_table_cache(store, report, progress)
        progress.done()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report


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
