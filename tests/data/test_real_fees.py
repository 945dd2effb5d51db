"""Fee-schedule amounts on the real RVU files: CMS anchors, and the whole RVU25D x GPCI table computed a
second way here, in exact integer arithmetic."""

from __future__ import annotations

import random
from datetime import date

import pytest

from hcpcs.core.errors import InvalidInputError, NotCoveredError
from hcpcs.services.fees import fee, fee_history, fee_table, opps_fee
from hcpcs.store.session import Hcpcs

pytestmark = pytest.mark.realdata
Q4_2025 = "2025-11-01"


@pytest.mark.parametrize(("code", "modifier", "amount"), [
    ("G6002", None, 73.43), ("G6002", "26", 20.05), ("77301", None, 1797.82),
])
def test_national_anchors(hc: Hcpcs, code: str, modifier: str | None, amount: float) -> None:
    result = fee(code, modifier, national=True, as_of=Q4_2025, hc=hc)
    assert result["release"] == "RVU25D"
    assert result["amount"] == amount
    assert result["payable"] is True
    assert result["conversion_factor"] == pytest.approx(32.3465)
    assert "32.3465" in result["formula"]


def test_not_payable_and_carrier_priced(hc: Hcpcs) -> None:
    status_i = fee("77385", national=True, as_of=Q4_2025, hc=hc)
    assert status_i["payable"] is False and status_i["amount"] is None
    assert status_i["reason"].startswith("status I: Not valid for Medicare purposes")
    carrier = fee("G6017", national=True, as_of=Q4_2025, hc=hc)
    assert carrier["payable"] is False and carrier["amount"] is None
    assert "carrier" in carrier["reason"].lower() or "contractor" in carrier["reason"].lower()


def test_opps_cap_in_san_francisco(hc: Hcpcs) -> None:
    result = fee("70496", locality="01112-05", as_of=Q4_2025, hc=hc)
    assert result["opps_cap_applied"] is True
    assert result["amount"] == 343.62
    assert "364.27" in result["formula"]


def test_locality_by_state_and_county(hc: Hcpcs) -> None:
    by_county = fee("G6002", state="CA", county="San Mateo", as_of=Q4_2025, hc=hc)
    assert by_county["locality"]["id"] == "01112-05"
    by_id = fee("G6002", locality="0111205", as_of=Q4_2025, hc=hc)
    assert by_id["amount"] == by_county["amount"]
    statewide = fee("G6002", state="Alabama", as_of=Q4_2025, hc=hc)
    assert statewide["locality"]["id"] == "10112-00"


def test_quarterly_release_without_gpci_uses_same_year(hc: Hcpcs) -> None:
    result = fee("G6002", locality="01112-05", as_of="2024-08-01", hc=hc)
    assert result["release"] == "RVU24B"
    assert any("RVU24A" in n for n in result["notices"])


@pytest.mark.parametrize("kwargs", [
    {"locality": "99999-99"}, {"state": "CA", "county": "Nowhere Land"}, {"state": "XX"},
    {"modifier": "TC", "national": True, "code": "G6017"},
])
def test_bad_input(hc: Hcpcs, kwargs: dict) -> None:
    code = kwargs.pop("code", "G6002")
    with pytest.raises(InvalidInputError):
        fee(code, as_of=Q4_2025, hc=hc, **kwargs)


def test_date_without_fee_schedule(hc: Hcpcs) -> None:
    with pytest.raises(NotCoveredError, match="2026-02-01"):
        fee("G6002", national=True, as_of="2026-02-01", hc=hc)


def test_history_lists_every_release(hc: Hcpcs) -> None:
    items = fee_history("G6002", hc=hc)
    assert [i["release"] for i in items] == ["RVU22A", "RVU23A", "RVU23D", "RVU24A", "RVU24B", "RVU25A", "RVU25D"]
    assert items[-1]["amount"] == 73.43


def test_opps_rate(hc: Hcpcs) -> None:
    result = opps_fee("77373", "2023-02-01", hc=hc)
    assert result["status_indicator"]["code"] == "S"
    assert result["apc"] == "5626"
    assert result["payment_rate"] == pytest.approx(1767.45)


def _cents(rvus: list[str], gpcis: list[str], cf: str) -> int:
    """(sum of RVU x GPCI) x CF, rounded half up to the cent, in exact integer arithmetic."""
    total = sum(round(float(r) * 100) * round(float(g) * 1000) for r, g in zip(rvus, gpcis, strict=True))
    exact = total * round(float(cf) * 10000)  # units of 1e-9 dollars
    return (exact + 5_000_000 // 1) // 10_000_000 if exact >= 0 else -((-exact + 5_000_000) // 10_000_000)


def test_whole_table_equals_reference_computation(hc: Hcpcs) -> None:
    release = hc.release_for("mpfs", date(2025, 11, 1)).release
    table = fee_table(hc, release)
    rvu = {(r["hcpcs"], r["modifier"]): r for r in hc.store.conn.execute(
        "SELECT * FROM mpfs_rvu WHERE release_id = ?", (release.id,))}
    gpci = {(r["mac"], r["locality_number"]): r for r in hc.store.conn.execute(
        "SELECT * FROM mpfs_gpci WHERE release_id = ?", (release.id,))}
    capped_codes = {(r[0], r[1]) for r in hc.store.conn.execute(
        "SELECT DISTINCT hcpcs, modifier FROM mpfs_opps_cap WHERE release_id = ?", (release.id,))}
    assert table.height == len(rvu) * len(gpci)
    worst = 0.0
    compared = na_cells = 0
    for row in table.iter_rows(named=True):
        r = rvu[(row["hcpcs"], row["modifier"])]
        g = gpci[(row["mac"], row["locality_number"])]
        if r["status"] not in ("A", "R", "T"):
            assert row["nonfacility_amount"] is None and row["facility_amount"] is None
            continue
        if (row["hcpcs"], row["modifier"]) in capped_codes or r["nonfac_pe_opps"] or r["mp_opps"]:
            continue  # capped imaging services are checked below against the OPPSCAP file
        for setting, pe, na in (("nonfacility", r["nonfac_pe_rvu"], r["nonfac_na"]),
                                ("facility", r["fac_pe_rvu"], r["fac_na"])):
            if na:  # NA is NA: no amount in that setting
                assert row[f"{setting}_amount"] is None
                na_cells += 1
                continue
            expected = _cents([str(r["work_rvu"]), str(pe), str(r["mp_rvu"])],
                              [str(g["pw_gpci"]), str(g["pe_gpci"]), str(g["mp_gpci"])], str(r["conv_factor"])) / 100
            worst = max(worst, abs(row[f"{setting}_amount"] - expected))
            compared += 1
    assert compared > 1_400_000 and na_cells > 100_000
    assert worst < 0.005


def test_scalar_and_table_agree_on_a_sample(hc: Hcpcs) -> None:
    release = hc.release_for("mpfs", date(2025, 11, 1)).release
    table = fee_table(hc, release).filter(
        __import__("polars").col("nonfacility_amount").is_not_null())
    rng = random.Random(7)
    for index in rng.sample(range(table.height), 300):
        row = table.row(index, named=True)
        for setting in ("nonfacility", "facility"):
            one = fee(row["hcpcs"], row["modifier"] or None, locality=f"{row['mac']}-{row['locality_number']}",
                      setting=setting, as_of=Q4_2025, hc=hc)
            expected = row[f"{setting}_amount"]
            if expected is None:  # NA in this setting
                assert one["amount"] is None and one["na"] is True, (row, setting)
            else:
                assert one["amount"] == pytest.approx(expected, abs=0.001), (row, setting)
            assert one["opps_cap_applied"] == row[f"{setting}_capped"]
