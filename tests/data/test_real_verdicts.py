"""Lookup verdicts and report-instead guidance on the real CMS rows; the guidance table checked against
the loaded files (a row that the files contradict fails here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from hcpcs.core import guidance
from hcpcs.core.errors import NotCoveredError
from hcpcs.services.fees import fee
from hcpcs.services.reference import lookup
from hcpcs.store.session import Hcpcs

pytestmark = pytest.mark.realdata


def instead(data: dict) -> list[str]:
    return [r["code"] for r in data["report_instead"]]


def test_77387_in_2025_is_not_payable_and_names_the_g_codes(hc: Hcpcs) -> None:
    data = lookup("77387", "2025-06-01", hc=hc)
    assert data["valid_on_date"] is True and data["mpfs"]["status"]["code"] == "I"
    verdict = data["verdict"]
    assert verdict["code"] == "not_payable" and verdict["release"] == "RVU25A"
    assert "status I" in verdict["meaning"] and "Medicare uses another code" in verdict["meaning"]
    assert instead(data) == ["G6001", "G6002", "G6017", "77014"]
    assert all(r["setting"] == "professional" and r["from"] == "2015-01-01" and r["to"] == "2025-12-31"
               for r in data["report_instead"])
    assert "G6001, G6002, G6017 or 77014" in verdict["meaning"]


def test_g6002_in_2026_is_invalid_and_names_77387(hc: Hcpcs) -> None:
    data = lookup("G6002", "2026-02-01", hc=hc)
    assert data["verdict"]["code"] == "invalid" and data["verdicts"]["facility"]["code"] == "invalid"
    assert "terminated 2025-12-31" in data["verdict"]["meaning"]
    assert instead(data) == ["77387"] and "CMS-1832-F" in data["report_instead"][0]["source"]
    # The HCPCS file itself names no replacement (its cross-reference field is empty).
    assert data["cross_references"] == []


@pytest.mark.parametrize(("code", "day", "setting", "verdict", "words"), [
    ("G6002", "2024-08-12", None, "payable", "status A in RVU24B"),
    ("G6017", "2024-08-12", None, "payable", "set by the Medicare contractor"),
    ("77014", "2024-08-12", None, "payable", "status A"),
    ("77385", "2024-08-12", None, "not_payable", "status I"),
    ("77417", "2025-06-01", None, "payable", "status A"),
    ("00100", "2024-08-12", None, "payable", "anesthesia"),
    ("J3420", "2025-06-01", None, "payable", "Part B drug pricing"),
    ("E0601", "2025-06-01", None, "payable", "DMEPOS"),
    ("80305", "2025-06-01", None, "not_payable", "another fee schedule"),
    ("77385", "2023-03-01", "facility", "payable", "OPPS status indicator S"),
    ("G6015", "2023-03-01", "facility", "not_payable", "status indicator B"),
    ("77014", "2023-03-01", "facility", "not_payable", "packaged"),
])
def test_verdicts_on_real_rows(hc: Hcpcs, code: str, day: str, setting: str | None, verdict: str,
                               words: str) -> None:
    result = lookup(code, day, setting=setting, hc=hc)["verdict"]
    assert result["code"] == verdict and words in result["meaning"], result


def test_hospital_g_codes_name_the_cpt_codes(hc: Hcpcs) -> None:
    data = lookup("G6015", "2023-03-01", setting="facility", hc=hc)
    assert instead(data) == ["77385", "77386"]
    assert "Report 77385 or 77386 instead" in data["verdict"]["meaning"]


def test_hcpcs_crosswalks_of_a_code_not_valid_for_medicare(hc: Hcpcs) -> None:
    data = lookup("E0970", "2026-03-01", hc=hc)
    assert data["coverage"]["code"] == "I" and data["verdict"]["code"] == "not_payable"
    assert instead(data) == ["K0037", "K0042"] and "HCPCS 2026 Jan" in data["report_instead"][0]["source"]
    # A current code's cross-reference points back at the code it replaced: history, not guidance.
    current = lookup("J3358", "2026-03-01", hc=hc)
    assert current["cross_references"] == ["Q9989"] and current["report_instead"] == []


def test_no_date_and_no_release_is_unknown_not_invalid(hc: Hcpcs) -> None:
    newest = max((r for r in hc.releases if r.dataset == "mpfs"),
                 key=lambda r: (r.effective_end, r.effective_start, r.id))
    if newest.effective_end >= date.today():
        pytest.skip(f"{newest.label} covers today: the no-data case needs a date after every fee schedule")
    data = lookup("77373", hc=hc)
    meaning = data["verdict"]["meaning"]
    assert data["verdict"]["code"] == "unknown" and data["valid_on_date"] is None
    assert f"{date.today()} (today: no date was given)" in meaning
    assert newest.label in meaning and f"--as-of {newest.effective_end}" in meaning
    with pytest.raises(NotCoveredError) as info:
        fee("77373", national=True, hc=hc)
    assert info.value.day == date.today() and info.value.dataset == "mpfs"
    assert info.value.newest["release"] == newest.label and "(today)" in str(info.value)


def test_cli_headline_and_guidance(loaded_home: Path) -> None:
    env = {**os.environ, "HCPCS_HOME": str(loaded_home), "COLUMNS": "120"}
    cli = [sys.executable, "-m", "hcpcs.interfaces.cli.app", "lookup"]
    card = subprocess.run([*cli, "77387", "--as-of", "2025-06-01"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert card.returncode == 0, card.stderr
    assert card.stdout.splitlines()[0].startswith(" 77387    Not payable ")
    assert "G6001, G6002, G6017 or 77014 instead of 77387" in card.stdout
    out = subprocess.run([*cli, "G6002", "--as-of", "2026-02-01", "--json"], capture_output=True, text=True,
                         env=env, timeout=120)
    data = json.loads(out.stdout)
    assert data["verdict"]["code"] == "invalid" and [r["code"] for r in data["report_instead"]] == ["77387"]


# ------------------------------------------------------------------------------------ the table vs the files


def mpfs_statuses(hc: Hcpcs, code: str, years: range) -> dict[str, str]:
    """The global-row status of a code in each loaded fee schedule of those years, by release."""
    out = {}
    for release in hc.releases:
        if release.dataset == "mpfs" and release.effective_start.year in years:
            row = hc.store.conn.execute("SELECT status FROM mpfs_rvu WHERE release_id = ? AND hcpcs = ? AND "
                                        "modifier = ''", (release.id, code)).fetchone()
            out[release.label] = row[0] if row else None
    return out


def test_professional_rows_match_the_fee_schedules(hc: Hcpcs) -> None:
    """Before 2026: the code replaced has status I in every loaded fee schedule; what replaces it is paid
    (A, or C contractor priced)."""
    checked = 0
    for row in guidance.builtin_table().rows:
        if row.setting != "professional" or row.modifier or row.start.year >= 2026:
            continue
        years = range(row.start.year, (row.end or date.max).year + 1)
        for code in row.codes:
            assert set(mpfs_statuses(hc, code, years).values()) == {"I"}, (row.number, code)
        for code in row.instead:
            assert set(mpfs_statuses(hc, code, years).values()) <= {"A", "C"}, (row.number, code)
        checked += 1
    assert checked >= 5


def test_facility_rows_match_addendum_b(hc: Hcpcs) -> None:
    """Before 2026: the OPPS does not recognise the code replaced (B) and recognises what replaces it."""
    opps = [r for r in hc.releases if r.dataset == "opps"]
    if not opps:
        pytest.skip("no OPPS Addendum B release loaded")
    conn = hc.store.conn

    def indicator(code: str) -> str | None:
        row = conn.execute("SELECT status_indicator FROM opps_addendum_b WHERE release_id = ? AND hcpcs = ?",
                           (opps[0].id, code)).fetchone()
        return row[0] if row else None

    for row in guidance.builtin_table().rows:
        if row.setting == "facility" and row.in_force(opps[0].effective_start):
            assert {indicator(code) for code in row.codes} == {"B"}, row.number
            assert {indicator(code) for code in row.instead} <= {"S", "N"}, row.number


def test_2026_rows_replace_codes_the_hcpcs_file_deleted(hc: Hcpcs) -> None:
    hcpcs26 = next((r for r in hc.releases if r.label == "HCPCS 2026 Jan"), None)
    if hcpcs26 is None:
        pytest.skip("HCPCS 2026 Jan is not loaded")
    for row in guidance.builtin_table().rows:
        if row.start.year < 2026:
            continue
        for code in row.codes:
            if code.startswith("G"):
                record = hc.store.conn.execute(
                    "SELECT termination_date, action_code, cross_references FROM hcpcs_code WHERE release_id = ? "
                    "AND code = ?", (hcpcs26.id, code)).fetchone()
                assert (record[0], record[1]) == ("2025-12-31", "D") and not record[2], (row.number, code)
