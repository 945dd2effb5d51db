"""Lookups on real CMS rows, checked against the files themselves read independently here."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pytest

from hcpcs.core.errors import MalformedCodeError, UnknownCodeError
from hcpcs.services.reference import history, lookup
from hcpcs.store.session import Hcpcs

pytestmark = pytest.mark.realdata
CODES = ["G6001", "G6002", "G6015", "G6017", "77014", "77293", "77301", "77373", "77385", "77387"]


def pprrvu_rows(cms_data: Path, path: str) -> dict[tuple[str, str], dict[str, str]]:
    """The PPRRVU CSV read plainly: header row found by its first cells, rows keyed by code and modifier."""
    text = gzip.decompress((cms_data / path).read_bytes()).decode("latin-1")
    rows = list(csv.reader(io.StringIO(text)))
    start = next(i for i, r in enumerate(rows) if r[:2] == ["HCPCS", "MOD"])
    names = [" ".join(rows[j][k] for j in range(start - 3, start + 1)).split() for k in range(len(rows[start]))]
    out = {}
    for row in rows[start + 1:]:
        if row and row[0]:
            out[(row[0], row[1])] = dict(zip([" ".join(n) for n in names], row, strict=False))
    return out


def anweb_rows(cms_data: Path, path: str) -> dict[str, str]:
    """First record line of each code in the 320-column HCPCS file."""
    text = gzip.decompress((cms_data / path).read_bytes()).decode("latin-1")
    return {line[:5]: line for line in text.splitlines() if len(line) > 11 and line[10] == "3"}


@pytest.fixture(scope="module")
def rvu24b(cms_data: Path) -> dict:
    return pprrvu_rows(cms_data, "mpfs_rvu/2024_rvu24b_apr/PPRRVU24_APR.csv.gz")


@pytest.fixture(scope="module")
def anweb2020(cms_data: Path) -> dict:
    return anweb_rows(cms_data, "hcpcs/2020_annual/HCPC2020_ANWEB_w_disclaimer.txt.gz")


@pytest.mark.parametrize("code", CODES)
def test_lookup_matches_the_files_in_force(hc: Hcpcs, rvu24b: dict, anweb2020: dict, code: str) -> None:
    data = lookup(code, "2024-08-01", hc=hc)
    assert data["code"] == code
    mpfs = data["mpfs"]
    assert mpfs["release"] == "RVU24B"
    row = rvu24b[(code, "")]
    assert mpfs["status"]["code"] == row["STATUS CODE"]
    assert mpfs["status"]["meaning"]
    assert mpfs["pctc"]["code"] == row["PCTC IND"]
    assert mpfs["global_days"]["code"] == row["GLOB DAYS"]
    assert mpfs["work_rvu"] == pytest.approx(float(row["WORK RVU"]))
    assert mpfs["by_modifier"]["global"]["nonfacility_pe_rvu"] == pytest.approx(float(row["NON-FAC PE RVU"]))
    for modifier in ("26", "TC"):
        if (code, modifier) in rvu24b:
            assert mpfs["by_modifier"][modifier]["status"]["code"] == rvu24b[(code, modifier)]["STATUS CODE"]
    if code.startswith("G"):
        line = anweb2020[code]
        assert data["kind"] == "level2"
        assert data["hcpcs_release"] == "HCPCS 2020 Jan"
        assert data["short_description"] == line[91:119].strip()
        assert data["betos"]["code"] == line[256:259].strip()
        assert [t["code"] for t in data["type_of_service"]] == [c for c in line[260:265] if c.strip()]
        assert data["coverage"]["code"] == line[229]
        assert data["added_date"] == f"{line[268:272]}-{line[272:274]}-{line[274:276]}"
        assert data["valid_on_date"] is True
        assert all(item["meaning"] for item in data["pricing_indicators"])
        assert data["betos"]["meaning"] and data["coverage"]["meaning"]
        assert any("not loaded" in n for n in data["notices"])
    else:
        assert data["kind"] == "cpt"
        assert data["long_description"] is None
        assert any("American Medical Association" in n for n in data["notices"])


def test_g6002_on_2024_and_2026(hc: Hcpcs) -> None:
    before = lookup("G6002", "2024-06-01", hc=hc)
    assert before["valid_on_date"] is True
    assert before["long_description"].startswith("Stereoscopic x-ray guidance for localization of target volume")
    assert before["long_description"].endswith("delivery of radiation therapy")
    assert before["mpfs"]["release"] == "RVU24B"
    assert before["mpfs"]["modifier_26_allowed"] is True and before["mpfs"]["modifier_tc_allowed"] is True
    after = lookup("G6002", "2026-02-01", hc=hc)
    assert after["valid_on_date"] is False
    assert after["termination_date"] == "2025-12-31"
    assert after["action"]["code"] == "D"
    assert "terminated 2025-12-31" in after["validity"]
    assert after["mpfs"] is None  # no 2026 fee schedule is loaded: said in notices
    assert any("2026-02-01" in n for n in after["notices"])


def test_g6017_is_professional_only(hc: Hcpcs) -> None:
    data = lookup("G6017", "2024-08-01", hc=hc)
    assert data["mpfs"]["status"]["code"] == "C"
    assert data["mpfs"]["modifier_26_allowed"] is False
    assert data["mpfs"]["modifier_tc_allowed"] is False


def test_addon_and_edit_sections(hc: Hcpcs) -> None:
    addon = lookup("77293", "2024-08-01", hc=hc)["addon"]
    assert addon["is_addon"] is True
    assert {"77295", "77301"} <= set(addon["primary_codes"])
    assert addon["edit_type"]["code"] == "1"
    primary = lookup("77301", "2024-08-01", hc=hc)["addon"]
    assert "77293" in primary["addons_of_this_primary"]
    ptp = lookup("G6002", "2024-08-12", hc=hc)["ptp"]["practitioner"]
    assert ptp["as_column2"] >= 1
    assert any(p["column1"] == "77373" and p["modifier_indicator"]["code"] == "0"
               for p in ptp["first_as_column2"]) or ptp["as_column2"] > 10


def test_modifiers(hc: Hcpcs) -> None:
    tc = lookup("TC", "2024-08-01", hc=hc)
    assert tc["kind"] == "modifier"
    assert "technical" in tc["long_description"].lower()
    pc = lookup("26", "2024-08-01", hc=hc)
    assert pc["kind"] == "modifier" and "professional" in pc["long_description"].lower()


def test_processing_note_text(hc: Hcpcs) -> None:
    row = hc.store.conn.execute(
        "SELECT code FROM hcpcs_code h JOIN release r ON r.id = h.release_id WHERE r.label = 'HCPCS 2026 Jan' "
        "AND processing_note IS NOT NULL AND termination_date IS NULL LIMIT 1").fetchone()
    data = lookup(row[0], "2026-03-01", hc=hc)
    assert data["processing_note"]["number"] and len(data["processing_note"]["text"]) > 10


def test_bad_codes(hc: Hcpcs) -> None:
    with pytest.raises(MalformedCodeError):
        lookup("G60", hc=hc)
    with pytest.raises(UnknownCodeError):
        lookup("Z9999", "2024-08-01", hc=hc)


def test_history_shows_discontinuation(hc: Hcpcs) -> None:
    events = history("G6002", hc=hc)["events"]
    discontinued = [e for e in events if e["event"] == "discontinued"]
    assert discontinued and discontinued[0]["release"] == "HCPCS 2026 Jan"
    assert {"field": "termination_date", "label": "Terminated", "old": None, "new": "2025-12-31"} in discontinued[0]["changes"]
