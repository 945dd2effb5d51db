"""The lookup verdict (payable / not_payable / invalid / unknown) worked out from lookup answers built here
by hand, and on the made-up fixture store end to end; the "no data" error that names the date used, what
is loaded and how to ask for another date."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from hcpcs.core import indicators
from hcpcs.core.errors import NotCoveredError
from hcpcs.services.lookup_verdict import verdict_for_lookup
from hcpcs.services.reference import lookup
from hcpcs.services.verdicts import COLOURS, VERDICT_CODES
from hcpcs.store.releases import Release, choose_release, not_covered
from hcpcs.store.session import Hcpcs
from tests.conftest import load_store
from tests.unit import mini_cms


def mpfs(status: str, release: str = "RVU30B") -> dict[str, Any]:
    return {"release": release, "in_file": True, "status": indicators.decode("mpfs_status", status)}


def opps(indicator: str, rate: float | None = 100.0) -> dict[str, Any]:
    return {"release": "OPPS Addendum B 2030 Jan", "in_file": True, "apc": "5621", "payment_rate": rate,
            "status_indicator": indicators.decode("opps_status_indicator", indicator)}


def answer(kind: str = "cpt", valid: bool | None = True, **fields: Any) -> dict[str, Any]:
    data = {"code": "Z9991" if kind == "level2" else "99999", "kind": kind, "as_of": "2030-05-01",
            "valid_on_date": valid, "validity": "valid on 2030-05-01", "mpfs": None, "opps": None,
            "report_instead": []}
    if kind == "level2":
        data.update({"hcpcs_release": "HCPCS 2030 Jan", "coverage": indicators.decode("hcpcs_coverage", "C"),
                     "pricing_indicators": [indicators.decode("hcpcs_pricing_indicator", "11")]})
    data.update(fields)
    return data


def pricing(*codes: str) -> list[dict[str, Any]]:
    return [indicators.decode("hcpcs_pricing_indicator", c) for c in codes]  # type: ignore[misc]


@pytest.mark.parametrize(("status", "words"), [
    ("A", "Payable under the physician fee schedule"),
    ("T", "only when no other physician fee schedule service"),
    ("R", "Special coverage instructions apply"),
    ("C", "the amount is set by the Medicare contractor"),
    ("J", "anesthesia"),
])
def test_paid_statuses_are_payable(status: str, words: str) -> None:
    result = verdict_for_lookup(answer(mpfs=mpfs(status)))
    assert result["code"] == "payable" and words in result["meaning"]
    assert result["dataset"] == "mpfs" and result["release"] == "RVU30B"


@pytest.mark.parametrize("status", ["I", "G", "B", "P", "N", "M", "E", "X"])
def test_other_statuses_are_not_payable_with_cms_meaning(status: str) -> None:
    result = verdict_for_lookup(answer(mpfs=mpfs(status)))
    assert result["code"] == "not_payable"
    assert f"status {status} in RVU30B" in result["meaning"]
    assert indicators.meaning("mpfs_status", status).split(".")[0] in result["meaning"]


def test_status_i_names_what_to_report_instead() -> None:
    instead = [{"code": c, "setting": "professional", "modifier": None} for c in ("G6001", "G6002")]
    instead.append({"code": "77402", "setting": "professional", "modifier": "TC"})  # a -TC row: not for the code
    instead.append({"code": "77014", "setting": "facility", "modifier": None})  # other setting
    result = verdict_for_lookup(answer(mpfs=mpfs("I"), report_instead=instead))
    assert result["meaning"].endswith("Report G6001 or G6002 instead.")


def test_statutory_exclusion_of_a_cpt_code_says_it_may_be_paid_elsewhere() -> None:
    result = verdict_for_lookup(answer(mpfs=mpfs("X")))
    assert result["code"] == "not_payable" and "another fee schedule" in result["meaning"]


@pytest.mark.parametrize(("status", "price", "schedule"), [
    ("E", "51", "Part B drug pricing"), ("P", "32", "the DMEPOS fee schedule"),
    ("X", "21", "the clinical laboratory fee schedule"), ("X", "52", "reasonable charge"),
])
def test_level2_excluded_from_the_pfs_but_priced_elsewhere_is_payable_there(status: str, price: str,
                                                                            schedule: str) -> None:
    result = verdict_for_lookup(answer("level2", mpfs=mpfs(status), pricing_indicators=pricing(price)))
    assert result["code"] == "payable" and result["schedule"] == schedule
    assert f"Not paid under the physician fee schedule (status {status} in RVU30B)" in result["meaning"]


def test_level2_excluded_and_not_priced_stays_not_payable() -> None:
    result = verdict_for_lookup(answer("level2", mpfs=mpfs("P"), pricing_indicators=pricing("00")))
    assert result["code"] == "not_payable" and "status P" in result["meaning"]


@pytest.mark.parametrize(("coverage", "price", "code", "words"), [
    ("C", "36", "payable", "DMEPOS fee schedule"),
    ("D", "38", "payable", "Special coverage instructions apply"),
    ("I", "36", "not_payable", "Not payable by Medicare"),
    ("S", "51", "not_payable", "Non-covered by Medicare statute"),
    ("C", "00", "not_payable", "not separately priced"),
    ("C", "11", "unknown", "prices it under the physician fee schedule"),
    ("C", "99", "unknown", "names no other pricing method"),
])
def test_level2_not_in_the_fee_schedule_by_its_hcpcs_indicators(coverage: str, price: str, code: str,
                                                                 words: str) -> None:
    data = answer("level2", mpfs={"release": "RVU30B", "in_file": False},
                  coverage=indicators.decode("hcpcs_coverage", coverage), pricing_indicators=pricing(price))
    result = verdict_for_lookup(data)
    assert result["code"] == code and words in result["meaning"], result


def test_invalid_and_unknown() -> None:
    gone = answer("level2", valid=False, validity="not valid on 2030-05-01: terminated 2029-12-31 (action D)",
                  report_instead=[{"code": "Z9992", "setting": "any", "modifier": None}])
    result = verdict_for_lookup(gone)
    assert result["code"] == "invalid"
    assert result["meaning"] == "Not a valid code on 2030-05-01: terminated 2029-12-31 (action D). Report Z9992 instead."
    unknown = verdict_for_lookup(answer(valid=None), gap=lambda dataset: f"nothing for {dataset}.")
    assert unknown["code"] == "unknown" and unknown["meaning"] == "Unknown on 2030-05-01: nothing for mpfs."
    # A valid Level II code priced under the fee schedule, on a date no fee schedule covers.
    level2 = verdict_for_lookup(answer("level2"), gap=lambda dataset: "no RVU file.")
    assert level2["code"] == "unknown" and "Valid on 2030-05-01 (HCPCS 2030 Jan)" in level2["meaning"]


@pytest.mark.parametrize(("indicator", "code", "words"), [
    ("S", "payable", "national rate $100.00"), ("Q1", "payable", "or packaged"),
    ("N", "not_payable", "packaged"), ("B", "not_payable", "Not payable on a hospital outpatient claim"),
    ("C", "not_payable", "Inpatient"),
])
def test_facility_verdicts_follow_the_opps_status_indicator(indicator: str, code: str, words: str) -> None:
    result = verdict_for_lookup(answer(opps=opps(indicator)), "facility")
    assert result["code"] == code and words in result["meaning"] and result["dataset"] == "opps"


def test_facility_without_an_opps_release_is_unknown() -> None:
    assert verdict_for_lookup(answer(), "facility")["code"] == "unknown"
    missing = verdict_for_lookup(answer(opps={"release": "OPPS 2030", "in_file": False}), "facility")
    assert missing["code"] == "unknown" and "has no row" in missing["meaning"]


def test_modifier() -> None:
    result = verdict_for_lookup({"code": "TC", "kind": "modifier", "as_of": "2030-05-01", "valid_on_date": True,
                                 "hcpcs_release": "HCPCS 2030 Jan"})
    assert result["code"] == "payable" and "paid as part of the code it modifies" in result["meaning"]


def test_every_verdict_has_a_colour() -> None:
    assert set(COLOURS) == set(VERDICT_CODES)


# ------------------------------------------------------------------------------------ fixture store


@pytest.fixture(scope="module")
def hc(tmp_path_factory: pytest.TempPathFactory) -> Hcpcs:
    root = tmp_path_factory.mktemp("verdicts")
    return Hcpcs(load_store(root / "home", mini_cms.build(root / "cms")))


def test_lookup_carries_verdicts_and_guidance_on_fixtures(hc: Hcpcs) -> None:
    paid = lookup("Z9992", "2030-05-01", hc=hc)
    assert paid["verdict"]["code"] == "payable" and paid["verdict"]["release"] == "RVU30B"
    assert set(paid["verdicts"]) == {"professional", "facility"} and paid["report_instead"] == []
    # No OPPS release is loaded: the facility verdict says so instead of guessing.
    assert paid["verdicts"]["facility"]["code"] == "unknown" and "load one" in paid["verdicts"]["facility"]["meaning"]
    assert lookup("Z9992", "2030-05-01", setting="facility", hc=hc)["verdict"]["code"] == "unknown"
    # HCPCS coverage S, with no fee schedule for 2099: not payable, although the code is valid.
    statute = lookup("Z9991", "2099-05-01", hc=hc)
    assert statute["valid_on_date"] is True and statute["verdict"]["code"] == "not_payable"
    assert lookup("Z1", "2030-05-01", hc=hc)["verdict"]["code"] == "invalid"


def test_unknown_names_the_date_used_and_what_is_loaded(hc: Hcpcs) -> None:
    # Z9990 (valid 2015 to 2098) is priced under the fee schedule (pricing indicators 13, 11); RVU30B
    # covers only 2030.
    data = lookup("Z9990", "2040-05-01", hc=hc)
    meaning = data["verdict"]["meaning"]
    assert data["verdict"]["code"] == "unknown" and data["valid_on_date"] is True
    assert "2040-05-01" in meaning and "RVU30B" in meaning and "2030-04-01 to 2030-12-31" in meaning
    assert "--as-of 2030-12-31" in meaning
    # The notices keep to what is not covered; the verdict says how to ask for another date.
    assert not any("--as-of" in n for n in data["notices"])


def release(label: str, start: date, end: date | None, dataset: str = "mpfs") -> Release:
    return Release(id=hash(label) % 1000, dataset=dataset, label=label, effective_start=start, effective_end=end,
                   row_dates=False, source_files=[], content_sha256="", row_counts={}, meta={}, loaded_at="")


RELEASES = [release("RVU30A", date(2030, 1, 1), date(2030, 12, 31)),
            release("RVU32A", date(2032, 1, 1), date(2032, 12, 31))]


def test_not_covered_after_before_and_between() -> None:
    after = not_covered(RELEASES, "mpfs", date(2033, 2, 1), date_given=True)
    assert isinstance(after, NotCoveredError)
    assert "covers 2033-02-01;" in str(after) and "the newest loaded, RVU32A, covers 2032-01-01 to 2032-12-31" in str(after)
    assert "--as-of 2032-12-31" in str(after)
    assert after.day == date(2033, 2, 1) and after.dataset == "mpfs"
    assert after.newest == {"release": "RVU32A", "effective_start": "2032-01-01", "effective_end": "2032-12-31"}
    before = not_covered(RELEASES, "mpfs", date(2029, 2, 1))
    assert "the earliest loaded, RVU30A, starts 2030-01-01" in str(before) and "--as-of 2030-01-01" in str(before)
    gap = not_covered(RELEASES, "mpfs", date(2031, 6, 1))
    assert "RVU30A (2030-01-01 to 2030-12-31) and RVU32A (2032-01-01 to 2032-12-31)" in str(gap)
    assert "(today: no date was given)" in str(not_covered(RELEASES, "mpfs", date(2031, 6, 1), date_given=False))


def test_choose_release_raises_the_worded_error() -> None:
    today = date.today()
    releases = [release("RVU-old", today - timedelta(days=800), today - timedelta(days=400))]
    with pytest.raises(NotCoveredError, match=r"\(today\)") as info:
        choose_release(releases, "mpfs", today)
    assert info.value.newest["release"] == "RVU-old"


def test_cli_card_headline_on_fixtures(hc: Hcpcs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rich.console import Console

    from hcpcs.interfaces.cli.render import lookup_card

    console = Console(width=100, record=True, color_system=None)
    console.print(lookup_card(lookup("Z9991", "2099-05-01", hc=hc)))
    text = console.export_text()
    assert text.splitlines()[0].startswith(" Z9991    Not payable ")
    assert "No replacement guidance is known" in " ".join(text.split())
    assert "Valid code yes" in " ".join(text.split())
