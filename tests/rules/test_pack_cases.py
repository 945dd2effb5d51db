"""Policy packs of every kind, checked by both engines on a store without the CMS files: the same findings,
in the same order, from the pack's templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcpcs.claims.frame import chunk_of
from hcpcs.claims.objects import claim_or_error
from hcpcs.edits.packs import parse_pack
from hcpcs.services.checking import StreamChecker
from hcpcs.services.outputs import claim_json
from tests.rules.test_rule_cases import build_store

PACK = """
[pack]
id = "case-pack"
name = "Case pack"
citation = "Made up for the tests"
codes = ["A0001"]

[[rule]]
id = "CASE_BUNDLED"
kind = "bundled-into"
codes = ["A0001", "A0002"]
into = ["B0001", "B0002"]
modifiers = ["", "26"]
message = "{code} ({modifier_text}) is bundled into {into}."
fix = "Remove {code}."

[[rule]]
id = "CASE_NO_TC"
kind = "modifier-not-allowed"
codes = ["A0001"]
modifiers = ["TC", "59"]
severity = "warning"
effective = { start = "2099-01-01", end = "2099-06-30" }
message = "{code} cannot take modifier {modifier}."

[[rule]]
id = "CASE_NEEDS"
kind = "requires-primary"
codes = ["A0003"]
primaries = ["B0001"]
severity = "warning"
message = "{code} needs one of {primaries}."

[[rule]]
id = "CASE_FACILITY"
kind = "not-payable-in-setting"
codes = ["A0001"]
setting = "facility"
message = "{code} is not paid on a facility claim."

[[rule]]
id = "CASE_INSTEAD"
kind = "use-instead"
codes = ["A0004"]
instead = ["B0004"]
setting = "professional"
effective = { start = "2099-01-01" }
message = "Report {instead} instead of {code}."
"""

CLAIMS = [
    {"id": "bundle", "date_of_service": "2099-02-01",
     "lines": [{"code": "B0002"}, {"code": "A0001"}, {"code": "B0001"}, {"code": "A0002", "modifiers": ["26"]},
               {"code": "A0002", "modifiers": ["TC"]}]},
    {"id": "modifiers", "date_of_service": "2099-02-01",
     "lines": [{"code": "A0001", "modifiers": ["59", "TC"]}, {"code": "A0001", "modifiers": ["TC"],
                                                             "date_of_service": "2099-08-01"}]},
    {"id": "primary", "date_of_service": "2099-02-01",
     "lines": [{"code": "A0003"}, {"code": "A0003", "date_of_service": "2099-02-02"},
               {"code": "B0001", "date_of_service": "2099-02-02"}]},
    {"id": "setting", "setting": "facility", "date_of_service": "2099-02-01", "lines": [{"code": "A0001"}]},
    {"id": "instead", "date_of_service": "2099-02-01", "lines": [{"code": "A0004"}, {"code": "A0004"}]},
    {"id": "none", "date_of_service": "2099-02-01", "lines": [{"code": "B0001"}]},
]
EXPECTED = {  # lines counted from 1, as the JSON contract gives them
    "bundle": [("CASE_BUNDLED", [1, 2]), ("CASE_BUNDLED", [1, 4])],
    "modifiers": [("CASE_NO_TC", [1]), ("CASE_NO_TC", [1])],
    "primary": [("CASE_NEEDS", [1])],
    "setting": [("CASE_FACILITY", [1])],
    "instead": [("CASE_INSTEAD", [1]), ("CASE_INSTEAD", [2])],
    "none": [],
}


@pytest.fixture(scope="module")
def hc(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return build_store({}, Path(tmp_path_factory.mktemp("pack-store")))


@pytest.mark.parametrize("engine", ["single", "batch"])
def test_pack_kinds(hc, engine: str) -> None:  # noqa: ANN001
    pack = parse_pack(PACK, "case_pack.toml")
    items = [claim_or_error(c, f"claims[{i}]", ".") for i, c in enumerate(CLAIMS)]
    checked = StreamChecker(hc, packs=[pack], no_packs=["all"], engine=engine).check(chunk_of(items, 0))
    results = [json.loads(text) for text in claim_json(checked)]
    for result in results:
        found = [(f["rule"], f["lines"]) for f in result["findings"] if f["rule"].startswith("CASE_")]
        assert found == EXPECTED[result["id"]], (result["id"], found)
        for finding in result["findings"]:
            if finding["rule"].startswith("CASE_"):
                assert finding["source"] == {"dataset": "policy-pack", "release": "case-pack", "row": finding["rule"],
                                             "pack": "Case pack", "file": "case_pack.toml"}
                assert finding["citation"] == "Made up for the tests"
    by_id = {r["id"]: r for r in results}
    assert by_id["bundle"]["findings"][0]["message"] == "A0001 (global) is bundled into B0001, B0002."
    assert by_id["bundle"]["findings"][1]["message"] == "A0002 (-26) is bundled into B0001, B0002."
    assert [f["message"] for f in by_id["modifiers"]["findings"] if f["rule"] == "CASE_NO_TC"] == [
        "A0001 cannot take modifier TC.", "A0001 cannot take modifier 59."]
    assert [f["message"] for f in by_id["instead"]["findings"] if f["rule"] == "CASE_INSTEAD"][0] == (
        "Report B0004 instead of A0004.")


def test_engines_agree_on_packs(hc) -> None:  # noqa: ANN001
    pack = parse_pack(PACK, "case_pack.toml")
    items = [claim_or_error(c, f"claims[{i}]", ".") for i, c in enumerate(CLAIMS)]
    out = {}
    for engine in ("single", "batch"):
        checked = StreamChecker(hc, packs=[pack], no_packs=["all"], engine=engine).check(chunk_of(items, 0))
        out[engine] = [json.loads(text) for text in claim_json(checked)]
    assert out["single"] == out["batch"]
