"""The loader end to end on made-up fixture files: discovery, release grouping, idempotence, atomicity,
bad input, and the choice of release by date."""

from __future__ import annotations

import gzip
import sqlite3
import zipfile
from datetime import date
from pathlib import Path

import pytest

from hcpcs.core.errors import DataNotLoadedError, NotCoveredError, SourceFormatError
from hcpcs.services.update import run_update
from hcpcs.store.db import open_store
from hcpcs.store.releases import choose_release
from hcpcs.store.session import Hcpcs
from tests.unit import mini_cms


@pytest.fixture()
def cms_folder(tmp_path: Path) -> Path:
    return mini_cms.build(tmp_path / "cms")


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def load(home: Path, source: Path | str):  # noqa: ANN201
    store = open_store(home, readonly=False)
    try:
        return run_update(store, str(source))
    finally:
        store.close()


def snapshot(home: Path) -> list[tuple]:
    conn = sqlite3.connect(home / "hcpcs.sqlite")
    try:
        releases = conn.execute("SELECT dataset, label, content_sha256, row_counts FROM release ORDER BY 1, 2").fetchall()
        counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()
                  for t in ("hcpcs_code", "mpfs_rvu", "ncci_ptp", "ncci_mue", "ncci_aoc")]
        return releases + counts
    finally:
        conn.close()


def test_loads_every_release_with_counts(cms_folder: Path, home: Path) -> None:
    report = load(home, cms_folder)
    assert sorted(report.loaded) == sorted([
        "HCPCS 2099 Apr", "RVU30B", "AOC 2024Q2 (edit table)", "MUE hospital 2024Q3 (edit table)",
        "MUE practitioner 2024Q3", "PTP practitioner 2024Q3 (edit table)", "PTP practitioner 2024Q3 (v302r0)",
    ])
    hc = Hcpcs(home)
    by_label = {r.label: r for r in hc.releases}
    rvu = by_label["RVU30B"]
    assert rvu.dataset == "mpfs"
    assert rvu.effective_start == date(2030, 4, 1)
    assert rvu.effective_end == date(2030, 12, 31)
    assert rvu.row_counts["mpfs_rvu"] == 9
    assert rvu.row_counts["mpfs_gpci"] == 4
    assert rvu.meta["conversion_factor"] == pytest.approx(31.2345)
    # The CSV and the fixed-width TXT of the same PPRRVU were checked against each other.
    assert any("PPRRVU2030_Apr.txt" in line for line in rvu.meta["encodings_agree"])
    assert {f["name"] for f in rvu.source_files} >= {"PPRRVU2030_Apr.csv", "PPRRVU2030_Apr.txt", "GPCI2030.csv"}
    assert all(len(f["sha256"]) == 64 for f in rvu.source_files)
    ptp = by_label["PTP practitioner 2024Q3 (v302r0)"]
    assert (ptp.effective_start, ptp.effective_end, ptp.row_dates) == (date(2024, 7, 1), date(2024, 9, 30), True)
    assert ptp.row_counts == {"ncci_ptp": 5}


def test_same_files_twice_change_nothing(cms_folder: Path, home: Path) -> None:
    load(home, cms_folder)
    before = snapshot(home)
    report = load(home, cms_folder)
    assert report.loaded == []
    assert len(report.unchanged) == 7
    assert snapshot(home) == before


def test_same_release_from_a_zip_is_recognised(cms_folder: Path, home: Path, tmp_path: Path) -> None:
    load(home, cms_folder)
    before = snapshot(home)
    bundle = tmp_path / "RVU30B.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for name in ("PPRRVU2030_Apr.csv", "PPRRVU2030_Apr.txt", "GPCI2030.csv", "30LOCCO.csv", "ANES2030.csv",
                     "OPPSCAP_APR.csv"):
            zf.write(cms_folder / "mpfs" / name, name)
    report = load(home, bundle)
    assert report.unchanged == ["RVU30B"]
    assert snapshot(home) == before


def test_failed_update_leaves_previous_data(cms_folder: Path, home: Path) -> None:
    load(home, cms_folder)
    before = snapshot(home)
    # A second PTP release whose file is broken half-way: nothing of this update may land.
    bad = cms_folder / "ncci" / "ccipra-v303r0-f1.txt"
    text = (cms_folder / "ncci" / "ccipra-v302r0-f1.txt").read_text(encoding="latin-1")
    bad.write_text(text + "Z9906\tZ9907\t\tNOTADATE\t*\t1\tMade-up\n", encoding="latin-1")
    (cms_folder / "hcpcs" / "HCPC2099_APR_ANWEB_fixture.txt").write_text(
        (cms_folder / "hcpcs" / "HCPC2099_APR_ANWEB_fixture.txt").read_text(encoding="latin-1").replace(
            "Fixture procedure one", "Fixture procedure ONE"), encoding="latin-1")
    with pytest.raises(SourceFormatError) as info:
        load(home, cms_folder)
    assert "ccipra-v303r0-f1.txt" in str(info.value)
    assert "line" in str(info.value)
    assert snapshot(home) == before


def test_interrupted_update_leaves_previous_data(cms_folder: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load(home, cms_folder)
    before = snapshot(home)
    (cms_folder / "mpfs" / "PPRRVU2030_Apr.csv").write_text(
        (cms_folder / "mpfs" / "PPRRVU2030_Apr.csv").read_text().replace("Made-up imaging test", "Changed test"))
    (cms_folder / "mpfs" / "PPRRVU2030_Apr.txt").unlink()
    from hcpcs.store import loader

    original = loader.index_descriptors

    def interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        original(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loader, "index_descriptors", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load(home, cms_folder)
    assert snapshot(home) == before


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("RVU30B.zip", b"PK\x03\x04 truncated zip", "zip"),
        ("PPRRVU2030_Apr.csv", b"name,age\nalice,3\n", "PPRRVU2030_Apr.csv"),
        ("HCPC2099_ANWEB.txt", bytes(range(256)) * 8, "HCPC2099_ANWEB.txt"),
        ("AOC_V2030Q1-MCR.xlsx", b"not a workbook", "AOC_V2030Q1-MCR.xlsx"),
        ("ccipra-v302r0-f1.txt", b"\x00\x01\x02 binary", "ccipra-v302r0-f1.txt"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, home: Path, name: str, content: bytes, expected: str) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / name).write_bytes(content)
    with pytest.raises(SourceFormatError) as info:
        load(home, folder)
    assert expected in str(info.value)


def test_gzip_stored_file_loads_like_plain(cms_folder: Path, home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "gz"
    folder.mkdir()
    for name in ("ptp_practitioner_2024q3.csv",):
        (folder / f"{name}.gz").write_bytes(gzip.compress((cms_folder / "ncci" / name).read_bytes()))
    report = load(home, folder)
    assert report.loaded == ["PTP practitioner 2024Q3 (edit table)"]


def test_missing_source_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    from hcpcs.core.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="no such file"):
        load(home, tmp_path / "nowhere")


def test_reader_without_data_says_run_update(tmp_path: Path) -> None:
    with pytest.raises(DataNotLoadedError, match="hcpcs update"):
        Hcpcs(tmp_path / "empty")


def test_release_choice_by_date(cms_folder: Path, home: Path) -> None:
    load(home, cms_folder)
    hc = Hcpcs(home)
    # Fee schedule: only its own calendar year; later quarters of the year get a notice.
    choice = hc.release_for("mpfs", date(2030, 5, 1))
    assert choice.release.label == "RVU30B" and choice.notices == []
    later = hc.release_for("mpfs", date(2030, 8, 1))
    assert later.release.label == "RVU30B"
    assert any("not loaded" in n for n in later.notices)
    with pytest.raises(NotCoveredError, match="2031-01-01"):
        hc.release_for("mpfs", date(2031, 1, 1))
    with pytest.raises(NotCoveredError):
        hc.release_for("mpfs", date(2030, 3, 31))
    # HCPCS answers for earlier dates by its row dates, with a notice saying which release answered.
    early = hc.release_for("hcpcs", date(2050, 1, 1))
    assert not early.in_force and "answers from the effective and deletion dates" in early.notices[0]
    # Two PTP releases for one quarter: the official file (rows with their own dates) wins.
    assert hc.release_for("ncci_ptp_practitioner", date(2024, 8, 1)).release.label.endswith("(v302r0)")
    # MUE edit tables carry no dates: outside their quarter they do not answer.
    with pytest.raises(NotCoveredError):
        hc.release_for("ncci_mue_hospital", date(2024, 12, 1))
    # The official PTP file carries row dates, so it answers for a later quarter with a notice.
    after = hc.release_for("ncci_ptp_practitioner", date(2025, 2, 1))
    assert not after.in_force and after.release.label.endswith("(v302r0)")


def test_choose_release_needs_a_loaded_dataset() -> None:
    with pytest.raises(DataNotLoadedError):
        choose_release([], "mpfs", date(2024, 1, 1))


def test_migration_2_keeps_the_fee_schedule_rows(tmp_path: Path) -> None:
    """A store of schema 1 gains PRIC IND (after TEAM SURG) and the QPP table; its RVU rows survive."""
    from hcpcs.store.db import Store
    from hcpcs.store.schema import MIGRATIONS

    path = tmp_path / "hcpcs.sqlite"
    old = sqlite3.connect(path)
    old.executescript(f"{MIGRATIONS[0]}\nPRAGMA user_version=1;")
    old.execute("INSERT INTO release VALUES (1, 'mpfs', 'RVU25D', '2025-10-01', '2025-12-31', 0, '[]', 'x', "
                "'{}', '{}', 'now')")
    old.execute("INSERT INTO mpfs_rvu (release_id, hcpcs, modifier, status, work_rvu, team_surg, endo_base, "
                "conv_factor, source_line) VALUES (1, 'G6002', '', 'A', 0.39, '0', '', 32.3465, 11)")
    old.commit()
    old.close()
    store = Store(path)
    assert store.schema_version == len(MIGRATIONS) >= 2
    row = store.conn.execute("SELECT * FROM mpfs_rvu").fetchone()
    assert (row["hcpcs"], row["work_rvu"], row["team_surg"], row["pricing_indicator"], row["conv_factor"],
            row["source_line"]) == ("G6002", 0.39, "0", None, 32.3465, 11)
    assert store.conn.execute("SELECT count(*) FROM mpfs_rvu_qp").fetchone()[0] == 0
    store.close()
