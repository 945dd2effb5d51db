"""The release catalog (what CMS published 2022 to late 2026): its entries, the release published for a
date, the notice when that release is not loaded (the March 2024 case), RVU24AR answering from March 9,
`hcpcs releases --missing`, and `hcpcs update` without --from downloading from a local HTTP server (never
the network) and printing what to fetch by hand."""

from __future__ import annotations

import http.server
import json
import re
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hcpcs.core.tables import DATASETS
from hcpcs.interfaces.cli.app import app
from hcpcs.services.fees import fee
from hcpcs.sources import catalog
from hcpcs.sources.ncci_ptp import version_quarter
from hcpcs.store.session import Hcpcs
from tests.conftest import load_store
from tests.fixture_files import cms_fixtures

RUNNER = CliRunner()
LABELS = {
    "hcpcs": r"HCPCS 20\d\d (Jan|Apr|Jul|Oct)",
    "mpfs": r"RVU\d\d[A-D]R?",
    "opps": r"OPPS Addendum B 20\d\d (Jan|Apr|Jul|Oct)",
    "ncci_aoc": r"AOC 20\d\dQ[1-4]",
    "ncci_ptp_practitioner": r"PTP practitioner 20\d\dQ[1-4] \(v\d{3}r\d\)",
    "ncci_ptp_hospital": r"PTP hospital 20\d\dQ[1-4] \(v\d{3}r\d\)",
    "ncci_mue_practitioner": r"MUE practitioner 20\d\dQ[1-4]",
    "ncci_mue_hospital": r"MUE hospital 20\d\dQ[1-4]",
    "ncci_mue_dme": r"MUE dme 20\d\dQ[1-4]",
}


REPO_ROOT = Path(__file__).resolve().parents[2]

def test_every_entry_is_a_release_hcpcs_can_load() -> None:
    entries = catalog.catalog()
    assert len(entries) == 182
    assert {e.dataset for e in entries} == set(LABELS) and set(LABELS) <= set(DATASETS)
    for entry in entries:
        assert re.fullmatch(LABELS[entry.dataset], entry.label), entry.label
        assert entry.page.startswith("https://www.cms.gov/") and entry.source
        assert entry.url is None or entry.url.startswith("https://www.cms.gov/files/zip/")
        assert entry.effective_end is None or entry.effective_end >= entry.effective_start
        assert (entry.effective_end is None) == (entry.dataset == "hcpcs")
        if entry.version:  # NCCI quarters by version: year 1994 + first two digits, quarter third + 1
            start = entry.effective_start
            assert version_quarter(entry.version) == (start.year, (start.month - 1) // 3 + 1), entry.label
        text = " ".join((entry.source, entry.note, *entry.files))
        # Sources are addresses, never this checkout's or the temporary folder's paths.
        assert str(REPO_ROOT.parent) not in text and tempfile.gettempdir() not in text
    # Every year 2022-2026 has four quarters of each quarterly dataset.
    for dataset in LABELS:
        years = [e.effective_start.year for e in catalog.entries(dataset) if not e.correction_of]
        assert all(years.count(year) == 4 for year in range(2022, 2027)), dataset


def test_published_on_a_date() -> None:
    assert catalog.published_on("mpfs", date(2024, 3, 8)).label == "RVU24A"
    correction = catalog.published_on("mpfs", date(2024, 3, 9))
    assert correction.label == "RVU24AR" and correction.conversion_factor == 33.2875
    assert correction.correction_of == "RVU24A"
    assert catalog.published_on("mpfs", date(2024, 4, 1)).label == "RVU24B"
    # RVU26AR exists, but no source says from when it applies: RVU26A stands for the notice.
    assert catalog.published_on("mpfs", date(2026, 2, 1)).label == "RVU26A"
    assert catalog.published_on("mpfs", date(2026, 2, 1)).conversion_factor_qp == 33.5675
    assert catalog.published_on("hcpcs", date(2026, 11, 1)).label == "HCPCS 2026 Oct"
    assert catalog.published_on("ncci_ptp_practitioner", date(2026, 8, 1)).label == "PTP practitioner 2026Q3 (v322r0)"
    assert catalog.published_on("mpfs", date(2019, 6, 1)) is None
    assert catalog.base_label("PTP practitioner 2024Q3 (edit table)") == catalog.base_label(
        "PTP practitioner 2024Q3 (v302r0)")


def test_licence_pages_and_direct_downloads() -> None:
    ptp = catalog.find_entry("ncci_ptp_practitioner", "PTP practitioner 2026Q4 (v323r0)")
    assert ptp.licence_gated and not ptp.downloadable
    text = ptp.by_hand()
    assert "medicare-ncci-2026q4-practitioner-ptp-edits-ccipra-v323r0-f4.zip" in text
    assert ptp.page in text and "AMA CPT licence" in text and "hcpcs update --from" in text
    assert catalog.find_entry("hcpcs", "HCPCS 2026 Jul").downloadable
    assert catalog.find_entry("ncci_mue_practitioner", "MUE practitioner 2026Q4").downloadable


# --------------------------------------------------------------------------------------- March 2024


def _pprrvu_24(tmp_path: Path, zip_name: str) -> Path:
    text = (cms_fixtures() / "mpfs" / "PPRRVU2030_Apr.csv").read_text(encoding="latin-1").replace(
        "2030 National Physician Fee Schedule Relative Value File April Release",
        "2024 National Physician Fee Schedule Relative Value File January Release")
    if zip_name.startswith("rvu24ar"):
        text = text.replace("31.2345", "33.2875")
    with zipfile.ZipFile(tmp_path / zip_name, "w") as zf:
        zf.writestr("PPRRVU24_JAN.csv", text)
    return tmp_path / zip_name


def test_march_2024_says_rvu24ar_is_not_loaded_then_answers_from_it(tmp_path: Path) -> None:
    home = load_store(tmp_path / "home", _pprrvu_24(tmp_path, "RVU24A.zip"))
    hc = Hcpcs(home)
    march = fee("Z9991", "26", national=True, as_of="2024-03-15", hc=hc)
    assert march["release"] == "RVU24A"
    assert any("CMS published RVU24AR (effective 2024-03-09, conversion factor 33.2875) for 2024-03-15; it is "
               "not loaded" in n for n in march["notices"])
    february = fee("Z9991", "26", national=True, as_of="2024-02-15", hc=hc)
    assert not any("RVU24AR" in n for n in february["notices"])
    missing = RUNNER.invoke(app, ["releases", "--missing", "--dataset", "mpfs", "--json"],
                            env={"HCPCS_HOME": str(home)})
    listed = {e["label"]: e for e in json.loads(missing.stdout)}
    assert "RVU24AR" in listed and "RVU24A" not in listed and "RVU24B" in listed
    assert listed["RVU24B"]["downloadable"] is True and listed["RVU24AR"]["by_hand"].startswith("RVU24AR (")
    load_store(home, _pprrvu_24(tmp_path, "rvu24ar-posted-04-01-2024.zip"))
    hc = Hcpcs(home)
    corrected = fee("Z9991", "26", national=True, as_of="2024-03-15", hc=hc)
    assert corrected["release"] == "RVU24AR" and corrected["conversion_factor"] == 33.2875
    assert not any("RVU24AR" in n and "not loaded" in n for n in corrected["notices"])
    assert fee("Z9991", "26", national=True, as_of="2024-03-08", hc=hc)["release"] == "RVU24A"
    release = next(r for r in hc.releases if r.label == "RVU24AR")
    assert release.meta["correction_of"] == "RVU24A" and "March 9" in release.meta["effective_start_source"]


# ------------------------------------------------------------------------- update from the catalog


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "served"
    root.mkdir()
    handler = lambda *a, **k: _Quiet(*a, directory=str(root), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()


def _entry(**fields: object) -> catalog.CatalogEntry:
    base: dict[str, object] = {"files": (), "page": "https://www.cms.gov/example-page", "source": "test",
                               "confirmed": True, "effective_end": None}
    return catalog.CatalogEntry(**{**base, **fields})  # type: ignore[arg-type]


def test_update_downloads_what_it_can_and_says_what_to_fetch_by_hand(
        server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, root = server
    with zipfile.ZipFile(root / "hcpcs-2099-apr.zip", "w") as zf:
        for name in ("HCPC2099_APR_ANWEB_fixture.txt", "proc_notes_APR2099.txt"):
            zf.write(cms_fixtures() / "hcpcs" / name, name)
    (root / "licence.zip").write_text("<!DOCTYPE html><html>Accept the AMA licence</html>")
    entries = (
        _entry(dataset="hcpcs", label="HCPCS 2099 Apr", effective_start=date(2020, 4, 1),
               url=f"{url}/hcpcs-2099-apr.zip", zip_names=("hcpcs-2099-apr.zip",)),
        _entry(dataset="opps", label="OPPS Addendum B 2030 Apr", effective_start=date(2020, 4, 1),
               effective_end=date(2020, 6, 30), url=f"{url}/licence.zip"),
        _entry(dataset="ncci_mue_dme", label="MUE dme 2030Q1", effective_start=date(2020, 1, 1),
               effective_end=date(2020, 3, 31), url=f"{url}/gone.zip"),
        _entry(dataset="ncci_ptp_practitioner", label="PTP practitioner 2030Q2 (v362r0)",
               effective_start=date(2026, 10, 1), effective_end=date(2099, 12, 31), licence_gated=True,
               zip_names=("medicare-ncci-2030q2-practitioner-ptp-edits-ccipra-v362r0-f1.zip",),
               page="https://www.cms.gov/ptp-page"),
        _entry(dataset="ncci_ptp_practitioner", label="PTP practitioner 2030Q1 (v361r0)",
               effective_start=date(2020, 1, 1), effective_end=date(2020, 3, 31), licence_gated=True),
    )
    monkeypatch.setattr(catalog, "catalog", lambda: entries)
    monkeypatch.setattr(catalog, "_by_dataset", lambda: {e.dataset: (e,) for e in entries})
    env = {"HCPCS_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    first = RUNNER.invoke(app, ["update"], env=env)
    assert first.exit_code == 1, first.output  # two downloads failed
    assert "loaded     HCPCS 2099 Apr" in first.stdout
    assert "download failed: OPPS Addendum B 2030 Apr" in first.stderr and "CMS answered with a web page" in first.stderr
    assert "download failed: MUE dme 2030Q1" in first.stderr and "404" in first.stderr
    assert ("by hand: PTP practitioner 2030Q2 (v362r0) (2026-10-01 to 2099-12-31): from https://www.cms.gov/ptp-page "
            "download medicare-ncci-2030q2-practitioner-ptp-edits-ccipra-v362r0-f1.zip") in first.stderr
    assert "1 older release(s) without a direct download" in first.stderr
    missing = json.loads(RUNNER.invoke(app, ["releases", "--missing", "--json"], env=env).stdout)
    assert {e["label"] for e in missing} == {"OPPS Addendum B 2030 Apr", "MUE dme 2030Q1",
                                              "PTP practitioner 2030Q2 (v362r0)", "PTP practitioner 2030Q1 (v361r0)"}
    (root / "gone.zip").write_bytes(b"")  # now served, but empty: not a zip
    again = RUNNER.invoke(app, ["update"], env=env)
    assert again.exit_code == 1
    assert "downloading HCPCS 2099 Apr" not in again.stderr and "HCPCS 2099 Apr" not in again.stdout
    assert "download failed: MUE dme 2030Q1" in again.stderr and "not a zip archive" in again.stderr
