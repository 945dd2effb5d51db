"""Fees of a 2026 release loaded with both PPRRVU files (made-up rows in the RVU26C layout): the QP and
non-QP conversion factors, each named in the answer; NA is NA; the grid with participating,
non-participating and limiting-charge amounts; verdicts; each file alone; and the same in the CLI, the
API and the web page. Expected amounts are computed by hand from the fixture rows (half-up to the cent;
29990 and 99993 land exactly on half a cent)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hcpcs.core.errors import NotCoveredError
from hcpcs.interfaces.cli.app import app
from hcpcs.services.fees import all_localities, fee, fee_history, fee_table
from hcpcs.services.reference import lookup
from hcpcs.store.session import Hcpcs
from tests.conftest import load_store
from tests.fixture_files import cms_fixtures

BUNDLE = cms_fixtures() / "mpfs2026"
DAY = "2026-08-01"
NONQP, QP = Decimal("33.4009"), Decimal("33.5675")


def cents(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_store(tmp_path_factory.mktemp("rvu26c") / "home", BUNDLE)


@pytest.fixture(scope="module")
def hc(home: Path) -> Hcpcs:
    return Hcpcs(home)


def test_default_is_non_qp_and_qp_uses_its_factor(hc: Hcpcs) -> None:
    # 99990: work 1.50, non-facility PE 1.20, MP 0.10 -> 2.80 RVUs.
    plain = fee("99990", national=True, as_of=DAY, hc=hc)
    assert plain["amount"] == cents(Decimal("2.80") * NONQP) == 93.52
    assert plain["conversion_factor"] == 33.4009 and plain["qp"] is False
    assert plain["conversion_factor_basis"]["code"] == "nonqp"
    assert any("not qualifying APM participants, 33.4009; 33.5675 for qualifying" in n for n in plain["notices"])
    qp = fee("99990", national=True, as_of=DAY, qp=True, hc=hc)
    assert qp["amount"] == cents(Decimal("2.80") * QP) == 93.99
    assert qp["conversion_factor"] == 33.5675 and qp["conversion_factor_basis"]["code"] == "qp"
    assert qp["source"]["files"] == ["GPCI2026.csv", "PPRRVU2026_Jul_QPP.csv", "PPRRVU2026_Jul_QPP.txt"]
    # Locality NV 99012-01: (1.50 x 1.05 + 1.20 x 1.10 + 0.10 x 0.90) = 2.985 RVUs.
    assert fee("99990", locality="99012-01", as_of=DAY, hc=hc)["amount"] == cents(Decimal("2.985") * NONQP) == 99.70
    assert fee("99990", locality="99012-01", as_of=DAY, qp=True, hc=hc)["amount"] == 100.20


def test_half_cents_round_up(hc: Hcpcs) -> None:
    assert fee("29990", national=True, setting="facility", as_of=DAY, hc=hc)["amount"] == 1670.05  # 1670.045
    assert fee("29990", national=True, setting="facility", as_of=DAY, qp=True, hc=hc)["amount"] == 1678.38
    assert fee("99993", national=True, as_of=DAY, qp=True, hc=hc)["amount"] == 201.41  # 201.405, status R


def test_na_is_na(hc: Hcpcs) -> None:
    # 29990 non-facility and 79990 facility are NA in the RVU file: no amount in that setting.
    for code, setting in (("29990", "nonfacility"), ("79990", "facility")):
        result = fee(code, national=True, setting=setting, as_of=DAY, hc=hc)
        assert result["amount"] is None and result["na"] is True and result["payable"] is False
        assert "rarely or never performed" in result["na_reason"]
        assert result["verdict"]["code"] == "not_payable"
        assert result["nonparticipating_amount"] is None and result["limiting_charge"] is None
        assert result["formula"].endswith("(not payable in this setting: NA)")
        assert result["opps_cap_applied"] is False
    assert fee("29990", national=True, setting="facility", as_of=DAY, hc=hc)["na"] is False


def test_grid_participating_nonparticipating_limiting(hc: Hcpcs) -> None:
    result = fee("79990", national=True, as_of=DAY, hc=hc)
    grid = result["grid"]
    assert [r["modifier"] for r in grid["rows"]] == [None, "26", "TC"]
    professional = grid["rows"][1]["nonfacility"]
    amount = cents(Decimal("0.75") * NONQP)  # 25.05
    assert professional["amount"] == amount == 25.05
    assert professional["nonparticipating_amount"] == cents(Decimal(str(amount)) * Decimal("0.95")) == 23.80
    assert professional["limiting_charge"] == cents(Decimal(str(amount)) * Decimal("1.0925")) == 27.37
    assert grid["rows"][2]["facility"]["na"] is True and grid["rows"][2]["facility"]["amount"] is None
    # The global row is capped by the OPPS-based amount (national: from the RVU file's OPPS columns).
    capped = grid["rows"][0]["nonfacility"]
    assert capped["opps_cap_applied"] is True and capped["amount"] == cents(Decimal("2.25") * NONQP) == 75.15
    assert "does not apply where Medicare pays only on assignment" in grid["limiting_charge_note"]
    assert "clinical diagnostic laboratory" in grid["limiting_charge_note"]
    assert "grid" not in fee("79990", "26", national=True, as_of=DAY, hc=hc)


def test_opps_cap_for_qps_is_priced_at_their_factor(hc: Hcpcs) -> None:
    plain = fee("79990", locality="99012-01", as_of=DAY, hc=hc)
    assert plain["amount"] == 81.50 and "OPPSCAP file" in plain["formula"]
    qp = fee("79990", locality="99012-01", as_of=DAY, qp=True, hc=hc)
    # OPPS PE 1.70, OPPS MP 0.05: 0.50 x 1.05 + 1.70 x 1.10 + 0.05 x 0.90 = 2.44 RVUs at the QP factor.
    assert qp["amount"] == cents(Decimal("2.44") * QP) == 81.90 and "OPPS PE and MP columns" in qp["formula"]


def test_verdicts(hc: Hcpcs) -> None:
    carrier = fee("99992", national=True, as_of=DAY, hc=hc)
    assert carrier["verdict"]["code"] == "payable" and "contractor" in carrier["verdict"]["meaning"]
    assert carrier["amount"] is None
    bundled = fee("99991", national=True, as_of=DAY, hc=hc)
    assert bundled["verdict"]["code"] == "not_payable" and bundled["verdict"]["meaning"].startswith("status B")
    # 0999F is not in the QPP file: for a QP it is not in the fee schedule at all, whatever its status.
    absent = fee("0999F", national=True, as_of=DAY, qp=True, hc=hc)
    assert absent["verdict"]["code"] == "not_payable" and absent["reason"].startswith("not in the QPP file of RVU26C")
    assert fee("0999F", national=True, as_of=DAY, hc=hc)["reason"].startswith("status I")


def test_other_views_take_qp(hc: Hcpcs) -> None:
    spread = all_localities("99990", as_of=DAY, qp=True, hc=hc)
    assert spread["conversion_factor_basis"]["code"] == "qp"
    assert {i["locality"]["id"]: i["amount"] for i in spread["localities"]}["99012-01"] == 100.20
    (item,) = fee_history("99990", qp=True, hc=hc)
    assert item["amount"] == 93.99
    release = hc.release_for("mpfs", date(2026, 8, 1)).release
    table = fee_table(hc, release, qp=True)
    row = table.filter((table["hcpcs"] == "99990") & (table["mac"] == "99012")
                       & (table["locality_number"] == "01")).row(0, named=True)
    assert row["nonfacility_amount"] == 100.20
    plain = fee_table(hc, release)
    na = plain.filter(plain["hcpcs"] == "29990")
    assert na["nonfacility_amount"].null_count() == na.height


def test_lookup_shows_pric_ind(hc: Hcpcs) -> None:
    mpfs = lookup("99990", as_of=DAY, hc=hc)["mpfs"]
    assert mpfs["pricing_indicator"]["code"] == "9"
    assert mpfs["pricing_indicator"]["meaning"].startswith("Concept does not apply")


@pytest.mark.parametrize(("keep", "refused"), [("nonQPP", True), ("QPP", False)])
def test_each_file_alone_answers_its_basis(tmp_path: Path, keep: str, refused: bool) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    for path in BUNDLE.iterdir():
        if "PPRRVU" not in path.name or f"_{keep}." in path.name:
            shutil.copy(path, folder / path.name)
    hc = Hcpcs(load_store(tmp_path / "home", folder))
    with pytest.raises(NotCoveredError, match="QPP file" if refused else "non-QPP file"):
        fee("99990", national=True, as_of=DAY, qp=refused, hc=hc)
    answered = fee("99990", national=True, as_of=DAY, qp=not refused, hc=hc)
    assert answered["amount"] == (93.99 if keep == "QPP" else 93.52)


def test_cli_fee_grid_and_qp(home: Path) -> None:
    runner = CliRunner()
    env = {"HCPCS_HOME": str(home), "COLUMNS": "160"}
    shown = runner.invoke(app, ["fee", "29990", "--national", "--as-of", DAY], env=env)
    assert shown.exit_code == 1  # the non-facility global row is NA
    assert "NA" in shown.output and "$1,670.05" in shown.output and "$1,586.55" in shown.output  # 95 %
    assert "$1,824.53" in shown.output  # limiting charge: 1670.05 x 1.0925
    qp = runner.invoke(app, ["fee", "99990", "--national", "--as-of", DAY, "--qp", "--json"], env=env)
    assert qp.exit_code == 0
    data = json.loads(qp.output)
    assert data["amount"] == 93.99 and data["conversion_factor_basis"]["code"] == "qp"
    assert data["grid"]["rows"][0]["facility"]["amount"] == 73.85


def test_api_and_web_page(hc: Hcpcs) -> None:
    from fastapi.testclient import TestClient

    from hcpcs.interfaces.web.app import create_app

    client = TestClient(create_app(hc))
    body = client.get("/api/fee/99990", params={"as_of": DAY, "qp": "true"}).json()
    assert body["amount"] == 93.99 and body["conversion_factor_basis"]["code"] == "qp"
    assert client.get("/api/fee/99990", params={"as_of": DAY}).json()["amount"] == 93.52
    html = client.get("/code/79990", params={"as_of": DAY, "locality": "99012-01"}).text
    assert "33.4009" in html and "33.5675" in html and "qualifying APM participants" in html
    assert "QP $81.90" in html and "$81.50" in html  # both amounts for a 2026 date
    assert 'class="na"' in html and "Limiting charge" in html
