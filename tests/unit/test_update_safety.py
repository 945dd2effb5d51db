"""An update never makes the data worse: one test per bad input, each asserting the one-line message (file,
row, value), exit status 2 and that `hcpcs releases --json` is unchanged; `--replace` overrides a refusal.
Archive bombs are refused with bounded memory (measured in a child process)."""

from __future__ import annotations

import gzip
import io
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hcpcs.interfaces.cli.app import app
from tests.fixture_files import cms_fixtures
from tests.unit import mini_cms

RUNNER = CliRunner()


def hcpcs(home: Path, *args: str):  # noqa: ANN201 - click.testing.Result
    return RUNNER.invoke(app, list(args), env={"HCPCS_HOME": str(home), "COLUMNS": "100"})


@pytest.fixture()
def loaded(tmp_path: Path) -> tuple[Path, Path]:
    """A store loaded from the mini CMS folder, and that folder."""
    cms = mini_cms.build(tmp_path / "cms")
    home = tmp_path / "home"
    assert hcpcs(home, "update", "--from", str(cms)).exit_code == 0
    return home, cms


def releases_json(home: Path) -> str:
    result = hcpcs(home, "releases", "--json")
    assert result.exit_code == 0
    return result.stdout


def refused(home: Path, source: Path, *expected: str, extra: tuple[str, ...] = ()) -> str:
    """Run an update that must fail: exit 2, one `error:` line holding every `expected` text, the loaded
    releases unchanged. Returns the error line."""
    before = releases_json(home)
    result = hcpcs(home, "update", "--from", str(source), *extra)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    assert "the data loaded before is unchanged" in errors[0]
    assert "Traceback" not in result.output
    assert releases_json(home) == before
    return errors[0]


def folder_with(tmp_path: Path, name: str, content: str | bytes) -> Path:
    folder = tmp_path / "input"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode("latin-1") if isinstance(content, str) else content)
    return folder


def edited_bundle(tmp_path: Path, cms: Path, name: str, edit: Callable[[str], str]) -> Path:
    """The mini RVU bundle with one file edited (its TXT twin left out)."""
    folder = tmp_path / "bundle"
    shutil.copytree(cms / "mpfs", folder)
    (folder / "PPRRVU2030_Apr.txt").unlink()
    path = folder / name
    path.write_text(edit(path.read_text(encoding="latin-1")), encoding="latin-1")
    return folder


# ------------------------------------------------------------------------------------ refused releases


def test_header_only_table_is_refused(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, _ = loaded
    header = '"column1","column2","modifier_indicator","deletion_date","rationale"\n'
    line = refused(home, folder_with(tmp_path, "ptp_practitioner_2024q3.csv", header),
                   "refused PTP practitioner 2024Q3 (edit table)", "ptp_practitioner_2024q3.csv",
                   "no data rows", "the loaded PTP practitioner 2024Q3 (edit table) has 3 rows", "--replace")
    assert "0 rows" in line


def test_bundle_missing_tables_is_refused(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, cms = loaded
    folder = folder_with(tmp_path, "PPRRVU2030_Apr.csv", (cms / "mpfs" / "PPRRVU2030_Apr.csv").read_bytes())
    refused(home, folder, "refused RVU30B", "GPCI", "locality/county", "anesthesia", "OPPS-cap",
            "GPCI2030.csv", "30LOCCO.csv", "ANES2030.csv", "OPPSCAP_APR.csv", "load the whole bundle")


def test_replace_overrides_a_refusal(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, cms = loaded
    folder = folder_with(tmp_path, "PPRRVU2030_Apr.csv", (cms / "mpfs" / "PPRRVU2030_Apr.csv").read_bytes())
    before = releases_json(home)
    result = hcpcs(home, "update", "--from", str(folder), "--replace")
    assert result.exit_code == 0, result.output
    assert "loaded     RVU30B" in result.stdout and "replaced (--replace): RVU30B" in result.stderr
    assert releases_json(home) != before


def test_negative_rvu_is_refused(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, cms = loaded
    folder = edited_bundle(tmp_path, cms, "PPRRVU2030_Apr.csv", lambda text: text.replace(
        "Z9991,,Made-up imaging test,A,,0.50,", "Z9991,,Made-up imaging test,A,,-99999999.00,"))
    refused(home, folder, "refused RVU30B", "PPRRVU2030_Apr.csv, line 12 (work_rvu): -99,999,999.0",
            "RVUs are never negative")


def test_gpci_outside_its_range_is_refused(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, cms = loaded
    folder = edited_bundle(tmp_path, cms, "GPCI2030.csv", lambda text: text.replace(
        "99902,ZB,99,REST OF BETA**,1.000,1.000,0.7", "99902,ZB,99,REST OF BETA**,1.000,1.000,7.5"))
    refused(home, folder, "GPCI2030.csv, line 6 (mp_gpci): 7.5", "between 0.1 and 5")


def test_date_before_1980_is_refused(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, _ = loaded
    text = ('"column1","column2","modifier_indicator","effective_date"\n"Z9901","Z9902","1","2019-01-01"\n'
            '"Z9901","Z9903","0","1975-01-01"\n')
    refused(home, folder_with(tmp_path, "ptp_practitioner_2024q3.csv", text),
            "ptp_practitioner_2024q3.csv, line 3 (effective_date): '1975-01-01'", "no dates before 1980")


def test_mue_units_beyond_999999_are_refused(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, _ = loaded
    text = '"hcpcs_code","mue_units","mue_mai"\n"Z9901",1,2\n"Z9902",1000000,3\n'
    refused(home, folder_with(tmp_path, "mue_hospital_2024q3.csv", text),
            "mue_hospital_2024q3.csv, line 3 (units): 1,000,000", "up to 999,999")


def test_ptp_modifier_indicator_outside_0_1_9_is_refused(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, _ = loaded
    text = '"column1","column2","modifier_indicator"\n"Z9901","Z9902","1"\n"Z9901","Z9903","7"\n'
    refused(home, folder_with(tmp_path, "ptp_practitioner_2024q3.csv", text),
            "ptp_practitioner_2024q3.csv, line 3", "modifier_indicator: expected 0, 1 or 9, found '7'")


# --------------------------------------------------------------------------------- nothing recognised


def test_empty_folder(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, _ = loaded
    (tmp_path / "empty").mkdir()
    refused(home, tmp_path / "empty", "nothing to load in", "it is empty", "Looked for HCPCS HCPC{year}")


def test_empty_zip(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, _ = loaded
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    refused(home, tmp_path / "empty.zip", "nothing to load in", "empty.zip", "Looked for")


def test_zip_without_a_cms_member(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, _ = loaded
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as zf:
        zf.writestr("holiday.jpg", b"\xff\xd8 not a CMS file")
        zf.writestr("notes.txt", "nothing here")
    refused(home, tmp_path / "photos.zip", "its 2 file(s) (holiday.jpg, notes.txt) are not CMS release files",
            "Looked for", "PPRRVU")


# ------------------------------------------------------------------------------------------ archives


def test_too_many_members(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, _ = loaded
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as zf:
        for number in range(2001):
            zf.writestr(f"part{number}.txt", "x")
    refused(home, tmp_path / "many.zip", "many.zip", "2,001 members", "refused")


def test_zip_nested_too_deep(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, cms = loaded
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.write(cms / "ncci" / "aoc_2024q2.csv", "aoc_2024q2.csv")
    middle = tmp_path / "middle.zip"
    with zipfile.ZipFile(middle, "w") as zf:
        zf.write(inner, "inner.zip")
    with zipfile.ZipFile(tmp_path / "outer.zip", "w") as zf:
        zf.write(middle, "middle.zip")
    refused(home, tmp_path / "outer.zip", "outer.zip!middle.zip!inner.zip", "nested 3 levels deep")


def test_one_level_of_nesting_is_opened(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    home, cms = loaded
    inner = tmp_path / "aoc.zip"
    text = (cms / "ncci" / "aoc_2024q2.csv").read_text() + '"Z9904","Z9952",3\n'
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("aoc_2024q2.csv", text)
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as zf:
        zf.write(inner, "downloads/aoc.zip")
    result = hcpcs(home, "update", "--from", str(tmp_path / "all.zip"))
    assert result.exit_code == 0, result.output
    assert "loaded     AOC 2024Q2 (edit table)" in result.stdout


GIB_AND_A_HALF = 1536


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1.5 MB zip and a 1.5 MB .gz, each expanding to 1.5 GiB of zeros, under CMS file names."""
    folder = tmp_path_factory.mktemp("bombs")
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(folder / "RVU30B.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf, \
            zf.open("PPRRVU2030_Apr.csv", "w", force_zip64=True) as member:
        for _ in range(GIB_AND_A_HALF):
            member.write(zeros)
    (folder / "gz").mkdir()
    with gzip.open(folder / "gz" / "ptp_practitioner_2024q3.csv.gz", "wb", compresslevel=9) as out:
        for _ in range(GIB_AND_A_HALF):
            out.write(zeros)
    return folder


def _peak_child_mib(home: Path, source: Path) -> tuple[subprocess.CompletedProcess, float]:
    script = ("import resource, subprocess, sys; "
              "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
              "sys.stdout.write(done.stderr); "
              "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(done.returncode)")
    done = subprocess.run([sys.executable, "-c", script, sys.executable, "-m", "hcpcs.interfaces.cli.app",
                           "update", "--from", str(source), "--home", str(home)],
                          capture_output=True, text=True, timeout=600)
    peak = next(int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("PEAK"))
    return done, peak / 1024


@pytest.mark.parametrize("name", ["RVU30B.zip", "gz"])
def test_archive_bombs_are_refused_with_bounded_memory(loaded: tuple[Path, Path], bombs: Path, name: str) -> None:
    home, _ = loaded
    before = releases_json(home)
    done, peak_mib = _peak_child_mib(home, bombs / name)
    assert done.returncode == 2, done.stdout
    assert "refused" in done.stdout and ("archive bomb" in done.stdout)
    assert "PPRRVU2030_Apr.csv" in done.stdout or "ptp_practitioner_2024q3.csv.gz" in done.stdout
    assert peak_mib < 1024, f"peak memory {peak_mib:.0f} MiB"
    assert releases_json(home) == before


def test_guarded_stream_stops_a_lying_zip_header(tmp_path: Path) -> None:
    """A member whose directory entry understates its size is still stopped while it is read."""
    from hcpcs.core.errors import SourceFormatError
    from hcpcs.sources.base import ArchiveLimits, GuardedStream

    data = gzip.compress(bytes(8 << 20))
    with pytest.raises(SourceFormatError, match="expands more than 10 times"):
        stream = GuardedStream(gzip.GzipFile(fileobj=io.BytesIO(data)), "fake.gz", len(data),
                               ArchiveLimits(ratio=10, ratio_after=1 << 20))
        while stream.read(1 << 16):
            pass


# -------------------------------------------------------------------------------- disk and concurrency


def test_full_disk(loaded: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    home, _ = loaded
    from hcpcs.store import loader

    original = loader.begin_update

    def no_room(store):  # noqa: ANN001, ANN202
        original(store)
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite then answers SQLITE_FULL

    monkeypatch.setattr(loader, "begin_update", no_room)
    monkeypatch.setattr("hcpcs.services.update.begin_update", no_room)
    refused(home, cms_fixtures() / "mpfs2026", "the disk is full", "hcpcs.sqlite", "free some space")


def test_second_concurrent_update(loaded: tuple[Path, Path]) -> None:
    home, cms = loaded
    holder = sqlite3.connect(home / "hcpcs.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # what a running update holds
    try:
        refused(home, cms_fixtures() / "mpfs2026", "another hcpcs update is writing to", "wait until it finishes")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert hcpcs(home, "update", "--from", str(cms_fixtures() / "mpfs2026")).exit_code == 0

