"""Every claim edit rule against the real July 2024 NCCI tables and fee-schedule files: the failing and
passing example claims of its docstring, and the radiation-oncology cases."""

from __future__ import annotations

import json

import pytest

from hcpcs.edits.registry import rules
from hcpcs.services import checking
from hcpcs.services.checking import Checker
from hcpcs.store.session import Hcpcs

pytestmark = pytest.mark.realdata


def docstring_example(module, heading: str) -> dict:  # noqa: ANN001
    """The JSON claim under `Fails::` or `Passes::` in a rule's docstring."""
    lines = module.__doc__.splitlines()
    start = lines.index(heading) + 1
    block = []
    for line in lines[start:]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line)
    return json.loads("\n".join(block))


RULES = {module.SPEC.id: module for module in rules()}


def check(claim: dict, **options: object) -> dict:
    """The CMS rules alone (the default policy packs off: `test_default_policy_pack` is about them)."""
    return checking.check(claim, no_packs=["all"], **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_docstring_examples(hc: Hcpcs, rule_id: str) -> None:
    module = RULES[rule_id]
    failing = check(docstring_example(module, "Fails::"), hc=hc)
    assert rule_id in {f["rule"] for f in failing["findings"]}, failing
    finding = next(f for f in failing["findings"] if f["rule"] == rule_id)
    assert finding["severity"] in ("error", "warning", "info")
    assert finding["message"]
    if finding["source"] is not None:
        assert finding["source"]["dataset"]
        # A finding names the release its row came from; DATA_NOT_COVERED is about the lack of one.
        assert finding["source"]["release"] or rule_id == "DATA_NOT_COVERED"
    passing = check(docstring_example(module, "Passes::"), hc=hc)
    assert rule_id not in {f["rule"] for f in passing["findings"]}, passing


def rules_of(result: dict) -> list[tuple[str, tuple[int, ...]]]:  # lines counted from 1
    return [(f["rule"], tuple(f["lines"])) for f in result["findings"]]


def claim(*lines: dict, dos: str = "2024-08-12", setting: str = "professional") -> dict:
    return {"id": "t", "setting": setting, "date_of_service": dos, "lines": list(lines)}


def test_radiation_oncology_cases(hc: Hcpcs) -> None:
    bundled = check(claim({"code": "77373"}, {"code": "G6002"}), hc=hc)
    assert rules_of(bundled) == [("PTP_BUNDLED", (1, 2))]
    finding = bundled["findings"][0]
    assert finding["codes"] == ["77373", "G6002"]
    assert finding["source"]["release"] == "PTP practitioner 2024Q3 (edit table)"
    assert finding["source"]["row"] > 0
    assert rules_of(check(claim({"code": "77373"}, {"code": "G6002", "modifiers": ["59"]}), hc=hc)) == [
        ("PTP_NOT_BYPASSABLE", (1, 2))]
    assert rules_of(check(claim({"code": "G6017", "modifiers": ["26"]}), hc=hc)) == [
        ("MODIFIER_26_NOT_ALLOWED", (1,))]
    assert rules_of(check(claim({"code": "77293"}), hc=hc)) == [("ADDON_WITHOUT_PRIMARY", (1,))]
    invalid = check(claim({"code": "G6002"}, dos="2026-02-01"), hc=hc)
    assert ("CODE_NOT_VALID_ON_DOS", (1,)) in rules_of(invalid)
    assert all(f["severity"] != "error" for f in invalid["findings"] if f["rule"] != "CODE_NOT_VALID_ON_DOS")
    assert check(claim({"code": "77301"}, {"code": "77293"}), hc=hc)["findings"] == []


def test_hospital_claims_use_hospital_tables(hc: Hcpcs) -> None:
    result = check(claim({"code": "77373"}, {"code": "G6002"}, setting="facility"), hc=hc)
    ptp = [f for f in result["findings"] if f["rule"].startswith("PTP_")]
    assert ptp and ptp[0]["source"]["dataset"] == "ncci_ptp_hospital"
    # PC/TC and fee-schedule status rules are professional-claim rules.
    assert not [f for f in check(claim({"code": "G6017", "modifiers": ["26"]}, setting="facility"), hc=hc)["findings"]
                if f["rule"] == "MODIFIER_26_NOT_ALLOWED"]


def test_mue_counts_units_by_adjudication_indicator(hc: Hcpcs) -> None:
    # G6002: MUE 2 with MAI 3 (date of service): units on all lines of the date add up.
    split = check(claim({"code": "G6002", "units": 2}, {"code": "G6002", "units": 1, "modifiers": ["76"]}), hc=hc)
    mue = [f for f in split["findings"] if f["rule"] == "MUE_EXCEEDED"]
    assert mue and mue[0]["lines"] == [1, 2] and "MAI 3" in mue[0]["details"]
    assert not [f for f in check(claim({"code": "G6002", "units": 2}), hc=hc)["findings"] if f["rule"] == "MUE_EXCEEDED"]


def test_lines_on_other_dates_are_not_paired(hc: Hcpcs) -> None:
    result = check(claim({"code": "77373"}, {"code": "G6002", "date_of_service": "2024-08-13"}), hc=hc)
    assert not [f for f in result["findings"] if f["rule"].startswith("PTP_")]


def test_default_policy_pack(hc: Hcpcs) -> None:
    """The radiation-oncology IGRT pack applies by default to the claims that carry its codes: G6015 (IMRT
    delivery) with G6002-26 is bundled by the payer policy although no CMS edit pairs them."""
    result = checking.check(claim({"code": "G6015"}, {"code": "G6002", "modifiers": ["26"]}), hc=hc)
    assert [(f["rule"], f["lines"]) for f in result["findings"]] == [("RADONC_IGRT_BUNDLED_INTO_DELIVERY", [1, 2])]
    assert result["verdict"]["code"] == "not_payable"
    assert result["findings"][0]["source"]["release"] == "radonc-igrt"
    assert check(claim({"code": "G6015"}, {"code": "G6002", "modifiers": ["26"]}), hc=hc)["findings"] == []
    assert checking.check(claim({"code": "99213"}), hc=hc)["findings"] == []


def test_policy_pack(hc: Hcpcs) -> None:
    checker = Checker(hc, packs=["radiation_oncology_igrt"])
    result = checker.check(claim({"code": "77385"}, {"code": "G6002", "modifiers": ["TC"]}))
    found = {f["rule"]: f for f in result["findings"]}
    assert "RADONC_IGRT_BUNDLED_INTO_DELIVERY" in found
    assert found["RADONC_IGRT_BUNDLED_INTO_DELIVERY"]["citation"]
    assert found["RADONC_IGRT_BUNDLED_INTO_DELIVERY"]["source"]["dataset"] == "policy-pack"
    assert "RADONC_IMRT_DELIVERY_USE_G_CODES" in found
    g6017 = checker.check(claim({"code": "G6017", "modifiers": ["26"]}))
    assert "RADONC_G6017_NO_26" in {f["rule"] for f in g6017["findings"]}


def test_codes_added_after_the_release_in_force_are_dated_by_the_later_file(hc: Hcpcs) -> None:
    """HCPCS 2020 answers for 2024 (no later file loaded before 2026), but A2001, added 2022-01-01, is
    dated by the cumulative 2026 file: valid in 2024, not yet valid in 2021. Both engines agree."""
    from hcpcs.edits.batch import check_batch_result, result_dicts
    from hcpcs.services.checking import as_claim

    claims = [claim({"code": "A2001"}, dos="2024-08-12"), claim({"code": "A2001"}, dos="2021-06-01")]
    claims[1]["id"] = "t2"
    single = [check(c, hc=hc) for c in claims]  # (no pack applies to A2001 either way)
    assert "CODE_NOT_VALID_ON_DOS" not in {f["rule"] for f in single[0]["findings"]}
    early = [f for f in single[1]["findings"] if f["rule"] == "CODE_NOT_VALID_ON_DOS"]
    assert early and "takes effect 2022-01-01" in early[0]["message"] and early[0]["source"]["release"] == "HCPCS 2026 Jan"
    assert list(result_dicts(check_batch_result([as_claim(c) for c in claims], hc), hc)) == single


def test_status_severity_follows_cms_meaning(hc: Hcpcs) -> None:
    # Venipuncture (status X) is paid under the clinical laboratory fee schedule, not the PFS: a warning.
    result = check(claim({"code": "99213"}, {"code": "36415"}), hc=hc)
    statuses = [(f["rule"], f["severity"]) for f in result["findings"]]
    assert statuses == [("STATUS_NOT_PAYABLE", "warning")]
    assert "another Medicare fee schedule" in result["findings"][0]["message"]
    # 77385 (status I): Medicare uses another code; an error.
    assert [(f["rule"], f["severity"]) for f in check(claim({"code": "77385"}), hc=hc)["findings"]] == [
        ("STATUS_NOT_PAYABLE", "error")]
