"""Fees, claim edits, lookups and update-from-URL on the made-up fixture releases: these run everywhere,
with or without the real CMS files."""

from __future__ import annotations

import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from hcpcs.core.errors import InvalidInputError, UnknownCodeError
from hcpcs.services.checking import Checker
from hcpcs.services.fees import fee
from hcpcs.services.reference import lookup
from hcpcs.services.update import run_update
from hcpcs.store.db import open_store
from hcpcs.store.session import Hcpcs
from tests.conftest import load_store
from tests.unit import mini_cms


@pytest.fixture(scope="module")
def hc(tmp_path_factory: pytest.TempPathFactory) -> Hcpcs:
    root = tmp_path_factory.mktemp("mini")
    return Hcpcs(load_store(root / "home", mini_cms.build(root / "cms")))


def test_fee_formula_on_fixture(hc: Hcpcs) -> None:
    # Z9991 global: (0.50 x 1.5 + 2.10 x 1.1 + 0.04 x 0.61) x 31.2345 in locality 09902-01, rounded half up.
    result = fee("Z9991", locality="09902-01", as_of="2030-05-01", hc=hc)
    expected = round((0.50 * 1.5 + 2.10 * 1.1 + 0.04 * 0.61) * 31.2345 + 1e-9, 2)
    assert result["amount"] == pytest.approx(min(expected, result["opps_cap_amount"] or expected))
    national = fee("Z9991", "26", national=True, as_of="2030-05-01", hc=hc)
    assert national["amount"] == round(0.73 * 31.2345, 2)
    assert fee("Z9994", national=True, as_of="2030-05-01", hc=hc)["payable"] is False
    assert fee("Z9995", national=True, as_of="2030-05-01", hc=hc)["amount"] is None
    with pytest.raises(InvalidInputError):
        fee("Z9992", "26", national=True, as_of="2030-05-01", hc=hc)


def test_lookup_on_fixture(hc: Hcpcs) -> None:
    data = lookup("Z9991", "2030-05-01", hc=hc)
    assert data["mpfs"]["release"] == "RVU30B"
    assert data["mpfs"]["modifier_26_allowed"] is True
    with pytest.raises(UnknownCodeError):
        lookup("Z1234", "2030-05-01", hc=hc)


def claim(*lines: dict, dos: str = "2024-08-01") -> dict:
    return {"id": "f", "setting": "professional", "date_of_service": dos, "lines": list(lines)}


def rules(result: dict) -> set[str]:
    return {f["rule"] for f in result["findings"]}


def test_edits_on_fixture_tables(hc: Hcpcs) -> None:
    checker = Checker(hc)
    # Official PTP fixture: Z9901/Z9902 indicator 1, in force since 1996.
    assert "PTP_BUNDLED" in rules(checker.check(claim({"code": "Z9901"}, {"code": "Z9902"})))
    assert "PTP_BYPASSED_BY_MODIFIER" in rules(checker.check(claim({"code": "Z9901"}, {"code": "Z9902", "modifiers": ["XU"]})))
    # Z9901/Z9903 was deleted 2019-12-31: no edit in 2024, an edit in 2019.
    assert not {"PTP_BUNDLED", "PTP_NOT_BYPASSABLE"} & rules(checker.check(claim({"code": "Z9901"}, {"code": "Z9903"})))
    old = Checker(hc, as_of="2019-06-01").check(claim({"code": "Z9901"}, {"code": "Z9903", "modifiers": ["59"]}))
    assert "PTP_NOT_BYPASSABLE" in rules(old)
    # MUE practitioner fixture: Z9901 1 unit, MAI 2 (per date of service).
    mue = checker.check(claim({"code": "Z9901"}, {"code": "Z9901", "modifiers": ["76"]}))
    assert "MUE_EXCEEDED" in rules(mue)
    # Add-on Z9951 needs Z9901 or Z9902 (type 1); Z9950 is contractor-defined (type 2: warning).
    assert "ADDON_WITHOUT_PRIMARY" in rules(Checker(hc).check(claim({"code": "Z9951"}, dos="2024-05-01")))
    type2 = Checker(hc).check(claim({"code": "Z9950"}, dos="2024-05-01"))
    assert [f["severity"] for f in type2["findings"] if f["rule"] == "ADDON_WITHOUT_PRIMARY"] == ["warning"]


def test_update_from_url(tmp_path: Path) -> None:
    folder = mini_cms.build(tmp_path / "cms")
    bundle = tmp_path / "served" / "RVU30B.zip"
    bundle.parent.mkdir()
    with zipfile.ZipFile(bundle, "w") as zf:
        for name in ("PPRRVU2030_Apr.csv", "GPCI2030.csv", "30LOCCO.csv", "ANES2030.csv", "OPPSCAP_APR.csv"):
            zf.write(folder / "mpfs" / name, name)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204
            super().__init__(*args, directory=str(bundle.parent), **kwargs)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        store = open_store(tmp_path / "home", readonly=False)
        report = run_update(store, f"http://127.0.0.1:{server.server_address[1]}/RVU30B.zip")
        assert report.loaded == ["RVU30B"]
        from hcpcs.core.errors import HcpcsError

        with pytest.raises(HcpcsError, match="could not download"):
            run_update(store, f"http://127.0.0.1:{server.server_address[1]}/missing.zip")
        store.close()
    finally:
        server.shutdown()


@pytest.mark.parametrize("engine", ["single", "batch"])
def test_anesthesia_minutes_are_not_units_for_mue(hc: Hcpcs, engine: str) -> None:
    # Z9901 has an MUE of 1 (MAI 2): 45 minutes (SV103 MJ) are one service; 2 units (UN) are over it.
    from hcpcs.claims.readers import read_claim_items
    from hcpcs.services.checking import check_items

    corpus = Path(__file__).resolve().parents[1] / "fixtures" / "claims" / "x12" / "837p_anesthesia_minutes.x12"
    text = corpus.read_text().replace("HC:00400:AA", "HC:Z9901").replace("HC:99100", "HC:Z9902:59")
    text = text.replace("20260110", "20240801")

    def mue(x12: str) -> list[dict]:
        (result,) = check_items(read_claim_items(x12)[0], hc, engine=engine)
        return [f for f in result["findings"] if f["rule"] == "MUE_EXCEEDED"]

    assert mue(text) == []
    assert mue(text.replace("*MJ*45*", "*UN*2*"))


@pytest.mark.parametrize("written", ["Z9991-26", "z9991 26", "Z9991 - 26"])
def test_a_code_written_with_its_modifier(hc: Hcpcs, written: str) -> None:
    from hcpcs.core.errors import MalformedCodeError
    from hcpcs.services.listing import edits_for_code
    from hcpcs.services.search import search

    looked_up = lookup(written, "2030-05-01", hc=hc)
    assert looked_up["code"] == "Z9991" and looked_up["modifier"]["code"] == "26"
    assert any(n.startswith("Z9991-26:") for n in looked_up["notices"])
    assert "modifier" not in lookup("Z9991", "2030-05-01", hc=hc)
    priced = fee(written, national=True, as_of="2030-05-01", hc=hc)
    assert priced["modifier"] == "26"
    assert priced["amount"] == fee("Z9991", "26", national=True, as_of="2030-05-01", hc=hc)["amount"]
    with pytest.raises(MalformedCodeError, match="modifier TC was asked for too"):
        fee(written, "TC", national=True, as_of="2030-05-01", hc=hc)
    edits = edits_for_code(written, as_of="2030-05-01", hc=hc)
    assert edits["code"] == "Z9991" and any("modifier 26" in n for n in edits["notices"])
    assert [r["code"] for r in search(written, hc=hc)["results"]] == ["Z9991"]
