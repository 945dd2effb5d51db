"""Releases, their true periods and what is missing, on the real CMS files; NA and the fee grid as CMS's
look-up tool shows them (G6002 in San Francisco, 27130 and 90471 from CMS's tables of CY 2023/2024
payment for selected procedures)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hcpcs.services.fees import fee
from hcpcs.services.reference import lookup
from hcpcs.services.update import missing_releases
from hcpcs.store.session import Hcpcs

pytestmark = pytest.mark.realdata


def test_every_release_says_where_its_start_came_from(hc: Hcpcs) -> None:
    for release in hc.releases:
        source = release.meta["effective_start_source"]
        assert f"in force from {release.effective_start}" in source or "effective" in source, release.label
    aoc = next(r for r in hc.releases if r.label == "AOC 2026Q2")
    assert aoc.meta["effective_start_source"] == "file name AOC_V2026Q2-MCR.xlsx: 2026 quarter 2, in force from 2026-04-01"
    rvu = next(r for r in hc.releases if r.label == "RVU25D")
    assert rvu.meta["effective_start_source"].startswith("file name PPRRVU2025_Oct.csv: the October 2025 release")
    assert rvu.meta["conversion_factors"] == {"all": 32.3465}


def test_march_2024_names_the_missing_correction(hc: Hcpcs) -> None:
    result = fee("99490", national=True, as_of="2024-03-15", hc=hc)
    assert (result["release"], result["amount"], result["conversion_factor"]) == ("RVU24A", 61.56, 32.7442)
    assert any("CMS published RVU24AR (effective 2024-03-09, conversion factor 33.2875)" in n for n in result["notices"])
    assert not any("RVU24AR" in n for n in fee("99490", national=True, as_of="2024-03-08", hc=hc)["notices"])


def test_missing_lists_published_releases_not_loaded(loaded_home: Path) -> None:
    missing = {(e["dataset"], e["label"]) for e in missing_releases(loaded_home, today=date(2026, 12, 2))}
    assert ("mpfs", "RVU24AR") in missing and ("mpfs", "RVU26D") in missing and ("hcpcs", "HCPCS 2026 Oct") in missing
    assert ("mpfs", "RVU24A") not in missing and ("mpfs", "RVU25D") not in missing
    # The July 2024 edit tables are that quarter's release in another encoding.
    assert ("ncci_ptp_practitioner", "PTP practitioner 2024Q3 (v302r0)") not in missing
    assert ("ncci_ptp_practitioner", "PTP practitioner 2024Q4 (v303r0)") in missing


@pytest.mark.parametrize(("code", "setting", "as_of"), [
    ("G6002", "facility", "2025-11-01"), ("27130", "nonfacility", "2023-06-01"), ("90471", "facility", "2024-06-01"),
])
def test_na_is_na_where_cms_shows_na(hc: Hcpcs, code: str, setting: str, as_of: str) -> None:
    result = fee(code, "", locality="01112-05", setting=setting, as_of=as_of, hc=hc)
    assert result["amount"] is None and result["na"] is True and result["payable"] is False
    assert result["verdict"]["code"] == "not_payable"


def test_grid_for_san_francisco(hc: Hcpcs) -> None:
    grid = fee("G6002", locality="01112-05", as_of="2025-11-01", hc=hc)["grid"]
    rows = {r["modifier"]: r for r in grid["rows"]}
    assert set(rows) == {None, "26", "TC"}
    cell = rows[None]["nonfacility"]
    assert (cell["amount"], cell["nonparticipating_amount"], cell["limiting_charge"]) == (99.07, 94.12, 108.23)
    assert rows[None]["facility"]["na"] is True and rows[None]["facility"]["amount"] is None
    assert rows["26"]["facility"]["amount"] == 23.65


def test_national_anchors_unchanged_with_basis(hc: Hcpcs) -> None:
    assert fee("G6002", national=True, as_of="2025-11-01", hc=hc)["amount"] == 73.43
    professional = fee("G6002", "26", national=True, as_of="2025-11-01", hc=hc)
    assert professional["amount"] == 20.05 and professional["conversion_factor_basis"]["code"] == "all"
    assert fee("77301", national=True, as_of="2025-11-01", hc=hc)["amount"] == 1797.82
    assert lookup("G6002", as_of="2025-11-01", hc=hc)["mpfs"]["pricing_indicator"] is None
