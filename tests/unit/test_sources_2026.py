"""The 2026 layouts and the release names of 2022-2026: the 32-column PPRRVU with PRIC IND (read by caption,
in any column order), the QPP and non-QPP files of one bundle, RVU26A's two work GPCIs, 26LOCCO, ANES2026,
OPPSCAP, the Addendum B CSV, quarterly HCPCS names and re-issues, NCCI versions, MUE `_Eff_` dates, and
RVU24AR named by its bundle. Made-up rows in the CMS layouts (tests/fixtures/mpfs2026), plus the real 2026
rows of ../shared/data/formats-2026 where present (an excerpt: parsed, never loaded as a release)."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from datetime import date
from pathlib import Path

import pytest

from hcpcs.core.indicators import decode
from hcpcs.core.tables import TABLES
from hcpcs.sources.anes import parse_anes
from hcpcs.sources.base import SourceFile
from hcpcs.sources.bundle import parse_release
from hcpcs.sources.discover import classify, find_files, plan_releases
from hcpcs.sources.gpci import parse_gpci
from hcpcs.sources.hcpcs_file import issue_of, release_info
from hcpcs.sources.locality_county import parse_locco
from hcpcs.sources.mpfs_rvu import parse_pprrvu, payment_basis
from hcpcs.sources.ncci_mue import mue_file_info
from hcpcs.sources.ncci_ptp import ptp_file_info
from hcpcs.sources.opps_addendum import addendum_b_release_info, parse_addendum_b_csv
from hcpcs.sources.oppscap import parse_oppscap
from tests.conftest import CMS_DATA
from tests.fixture_files import cms_fixtures

BUNDLE = cms_fixtures() / "mpfs2026"
FORMATS_2026 = CMS_DATA.parent / "formats-2026"
COLUMNS = list(TABLES["mpfs_rvu"].column_names)


def source(name: str, folder: Path = BUNDLE) -> SourceFile:
    return SourceFile.from_path(folder / name)


def column(table, name: str) -> list:  # noqa: ANN001
    index = list(table.columns).index(name)
    return [row[index] for row in table.rows]


def by_code(table) -> dict:  # noqa: ANN001
    return {(row[0], row[1]): dict(zip(table.columns, row, strict=True)) for row in table.rows}


# ------------------------------------------------------------------------------------------------ PPRRVU


def test_2026_pprrvu_keeps_pric_ind_and_names_its_basis() -> None:
    nonqp = parse_pprrvu(source("PPRRVU2026_Jul_nonQPP.csv"))
    qp = parse_pprrvu(source("PPRRVU2026_Jul_QPP.csv"))
    assert len(nonqp) == 10 and len(qp) == 9
    assert set(column(nonqp, "pricing_indicator")) == {"9"} and set(column(qp, "pricing_indicator")) == {"1"}
    assert (nonqp.meta["conversion_factor"], qp.meta["conversion_factor"]) == (33.4009, 33.5675)
    assert (nonqp.meta["payment_basis"], qp.meta["payment_basis"]) == ("nonqp", "qp")
    assert nonqp.meta["release_label"] == "RVU26C" and nonqp.meta["released"] == "2026-06-30"
    row = by_code(nonqp)[("29990", "")]
    # The columns after PRIC IND are not shifted by it.
    assert (row["team_surg"], row["endo_base"], row["conv_factor"], row["phys_supervision"]) == ("0", "", 33.4009, "09")
    assert row["nonfac_na"] == "NA" and row["fac_na"] == ""


def test_2026_pprrvu_txt_reads_position_121_and_agrees_with_the_csv() -> None:
    for name in ("PPRRVU2026_Jul_nonQPP", "PPRRVU2026_Jul_QPP"):
        csv_rows = {k: {c: v for c, v in r.items() if c != "source_line"}
                    for k, r in by_code(parse_pprrvu(source(f"{name}.csv"))).items()}
        txt_rows = {k: {c: v for c, v in r.items() if c != "source_line"}
                    for k, r in by_code(parse_pprrvu(source(f"{name}.txt"))).items()}
        assert txt_rows == csv_rows


def _reordered(text: str, order: list[int]) -> str:
    """The CSV with its columns moved (every row, header rows included)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for record in csv.reader(io.StringIO(text, newline="")):
        if len(record) < len(order):
            writer.writerow(record)
            continue
        writer.writerow([record[i] for i in order] + record[len(order):])
    return out.getvalue()


def test_pprrvu_columns_are_found_by_caption_not_position() -> None:
    text = (BUNDLE / "PPRRVU2026_Jul_nonQPP.csv").read_text(encoding="latin-1")
    width = 32
    order = list(range(width))
    # PRIC IND (23) to the far right, the RVU columns reversed, DESCRIPTION first.
    order.remove(23)
    order.append(23)
    order[5:11] = reversed(order[5:11])
    order.remove(2)
    order.insert(0, 2)
    moved = SourceFile.from_bytes("PPRRVU2026_Jul_nonQPP.csv", _reordered(text, order).encode("latin-1"))
    original = parse_pprrvu(source("PPRRVU2026_Jul_nonQPP.csv"))
    shuffled = parse_pprrvu(moved)
    strip = lambda t: {k: {c: v for c, v in r.items() if c != "source_line"} for k, r in by_code(t).items()}  # noqa: E731
    assert strip(shuffled) == strip(original)


def test_payment_basis_from_the_name() -> None:
    assert payment_basis("PPRRVU2026_Jan_nonQPP.csv") == "nonqp"
    assert payment_basis("PPRRVU2026_Oct_QPP.xlsx") == "qp"
    assert payment_basis("PPRRVU2025_Oct.csv") is None
    assert classify("PPRRVU2026_Apr_QPP.txt") == "pprrvu_qpp"
    assert classify("PPRRVU2026_Apr_nonQPP.txt") == "pprrvu"


def test_pric_ind_meaning_from_the_rvu26_documentation() -> None:
    assert decode("mpfs_pricing_indicator", "1")["meaning"].startswith("QPP indicator applies to qualifying providers")
    assert decode("mpfs_pricing_indicator", "9")["meaning"].startswith("Concept does not apply")


# ------------------------------------------------------------------------------ the other files of the bundle


def test_gpci_2026_uses_the_floored_work_gpci() -> None:
    table = parse_gpci(source("GPCI2026.csv", cms_fixtures() / "mpfs2026a"))
    rows = {(r[0], r[2]): r for r in table.rows}
    # REST OF NEVADA: 0.950 without the floor, 1.000 with it; CMS pays with the floor.
    assert rows[("99012", "99")][4] == 1.0 and rows[("99602", "21")][4] == 1.0
    assert table.meta["work_gpci_column"] == "2026 PW GPCI (with 1.0 Floor)"


def test_gpci_26locco_anes_oppscap_2026() -> None:
    gpci = parse_gpci(source("GPCI2026.csv"))
    assert len(gpci) == 4 and gpci.meta["year"] == 2026
    assert gpci.meta["work_gpci_column"] == "2026 PW GPCI (with 1.0 Floor)***"
    assert ("99402", "AK", "01", "ALASKA (FIXTURE)", 1.5, 1.05, 0.6) in [r[:-1] for r in gpci.rows]
    locco = parse_locco(source("26LOCCO.csv"))
    assert {(r[0], r[1]) for r in locco.rows} == {("99402", "01"), ("99012", "01"), ("99012", "99"), ("99602", "21")}
    anes = parse_anes(source("ANES2026.csv"))
    assert anes.meta["national_anes_cf"] == 20.0 and len(anes) == 4
    cap = parse_oppscap(source("OPPSCAP_Jul.csv"))
    assert len(cap) == 8 and cap.meta["quarter_month"] == 7


@pytest.mark.realdata
def test_real_2026_rows_parse_in_their_layout() -> None:
    if not FORMATS_2026.is_dir():
        pytest.skip(f"the real 2026 rows are not at {FORMATS_2026}")
    table = parse_pprrvu(source("PPRRVU2026_Jul_nonQPP.csv", FORMATS_2026))
    assert len(table) == 265
    assert set(column(table, "pricing_indicator")) == {"9"}
    assert table.meta["conversion_factor"] == 33.4009 and table.meta["payment_basis"] == "nonqp"
    rows = by_code(table)
    assert (rows[("77387", "")]["status"], rows[("77387", "")]["pctc"]) == ("A", "1")
    assert rows[("77387", "26")]["status"] == "A" and rows[("77387", "TC")]["status"] == "B"
    assert {rows[(c, "")]["pctc"] for c in ("77402", "77407", "77412")} == {"3"}
    assert not any(code.startswith("G60") for code, _ in rows) and ("77385", "") not in rows
    gpci = parse_gpci(source("GPCI2026.csv", FORMATS_2026))
    assert len(gpci) == 109 and gpci.meta["work_gpci_column"].startswith("2026 PW GPCI (with 1.0 Floor)")
    assert min(r[6] for r in gpci.rows) == pytest.approx(0.296)


# ---------------------------------------------------------------------------------------- one bundle, two bases


def test_qpp_and_nonqpp_are_one_release_with_two_conversion_factors() -> None:
    found, _ = find_files(BUNDLE)
    (plan,) = plan_releases(found)
    assert (plan.dataset, plan.label, plan.effective_start) == ("mpfs", "RVU26C", date(2026, 7, 1))
    assert sorted(plan.files) == ["anes", "gpci", "locco", "oppscap", "pprrvu", "pprrvu_qpp"]
    parsed = parse_release(plan)
    assert parsed.meta["conversion_factors"] == {"nonqp": 33.4009, "qp": 33.5675}
    assert parsed.row_counts["mpfs_rvu"] == 10 and parsed.row_counts["mpfs_rvu_qp"] == 9
    assert parsed.meta["conversion_factor"] == 33.4009  # the non-QPP file answers lookups
    assert "1 row(s) only in PPRRVU2026_Jul_nonQPP.csv (statuses I)" in parsed.meta["qpp_check"]
    assert not parsed.warnings
    assert "PPRRVU2026_Jul_nonQPP.csv" in plan.meta["effective_start_source"]


@pytest.mark.parametrize(("keep", "basis", "rows"), [("nonQPP", "nonqp", 10), ("QPP", "qp", 9)])
def test_each_pprrvu_file_alone(tmp_path: Path, keep: str, basis: str, rows: int) -> None:
    for path in BUNDLE.iterdir():
        if "PPRRVU" not in path.name or f"_{keep}." in path.name:
            shutil.copy(path, tmp_path / path.name)
    (plan,) = plan_releases(find_files(tmp_path)[0])
    parsed = parse_release(plan)
    assert list(parsed.meta["conversion_factors"]) == [basis]
    assert parsed.row_counts == {**parsed.row_counts, "mpfs_rvu": rows} and "mpfs_rvu_qp" not in parsed.row_counts


def test_qpp_rows_that_disagree_are_reported(tmp_path: Path) -> None:
    for path in BUNDLE.iterdir():
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "PPRRVU2026_Jul_QPP.txt").unlink()
    qpp = tmp_path / "PPRRVU2026_Jul_QPP.csv"
    qpp.write_text(qpp.read_text(encoding="latin-1").replace("99990,,Fixture office visit,A,,1.50",
                                                             "99990,,Fixture office visit,A,,1.60"), encoding="latin-1")
    (plan,) = plan_releases(find_files(tmp_path)[0])
    parsed = parse_release(plan)
    assert any("99990 differs between PPRRVU2026_Jul_nonQPP.csv and PPRRVU2026_Jul_QPP.csv in work_rvu" in w
               for w in parsed.warnings)


# ------------------------------------------------------------------------------------------- RVU24AR


def test_rvu24ar_is_named_by_its_bundle_and_starts_march_9(tmp_path: Path) -> None:
    text = (cms_fixtures() / "mpfs" / "PPRRVU2030_Apr.csv").read_text(encoding="latin-1")
    text = text.replace("2030 National Physician Fee Schedule Relative Value File April Release",
                        "2024 National Physician Fee Schedule Relative Value File January Release")
    bundles = {"RVU24A.zip": "RVU24A", "rvu24ar-posted-04-01-2024.zip": "RVU24AR"}
    labels = {}
    for zip_name in bundles:
        with zipfile.ZipFile(tmp_path / zip_name, "w") as zf:
            zf.writestr("PPRRVU24_JAN.csv", text)
        (plan,) = plan_releases(find_files(tmp_path / zip_name)[0])
        labels[plan.label] = plan
    assert sorted(labels) == ["RVU24A", "RVU24AR"]
    assert labels["RVU24A"].effective_start == date(2024, 1, 1)
    correction = labels["RVU24AR"]
    assert correction.effective_start == date(2024, 3, 9)
    assert correction.meta["correction_of"] == "RVU24A"
    assert "March 9" in correction.meta["effective_start_source"]
    assert correction.effective_end == date(2024, 12, 31)


# ----------------------------------------------------------------------------- HCPCS, NCCI, MUE, Addendum B


@pytest.mark.parametrize(("name", "label"), [
    ("HCPC2026_JAN_ANWEB_01122026.txt", "HCPCS 2026 Jan"), ("HCPC2026_JAN_ANWEB_12292025.xlsx", "HCPCS 2026 Jan"),
    ("HCPC2026_APR_ANWEB.txt", "HCPCS 2026 Apr"), ("HCPC2026_JUL_ANWEB_06172026.txt", "HCPCS 2026 Jul"),
    ("HCPC2025_OCT_ANWEB_v3.xlsx", "HCPCS 2025 Oct"), ("HCPC2020_ANWEB_w_disclaimer.txt", "HCPCS 2020 Jan"),
    ("HCPC2019_CONTR_ANWEB.txt", "HCPCS 2019 Jan"),
])
def test_quarterly_hcpcs_names(name: str, label: str) -> None:
    assert classify(name) == "hcpcs_anweb"
    assert release_info(SourceFile.from_bytes(name, b""))["label"] == label


def test_hcpcs_reissues_keep_the_newest(tmp_path: Path) -> None:
    assert issue_of("HCPC2026_JAN_ANWEB_12082025.txt") == ("date", 20251208)
    assert issue_of("HCPC2025_OCT_ANWEB_v2.txt") == ("version", 2)
    assert issue_of("HCPC2020_ANWEB_w_disclaimer.txt") is None
    fixture = (cms_fixtures() / "hcpcs" / "HCPC2099_APR_ANWEB_fixture.txt").read_bytes()
    for name in ("HCPC2099_APR_ANWEB_03012099.txt", "HCPC2099_APR_ANWEB_03202099.txt"):
        (tmp_path / name).write_bytes(fixture)
    (plan,) = plan_releases(find_files(tmp_path)[0])
    assert [f.source.name for f in plan.files["hcpcs_anweb"]] == ["HCPC2099_APR_ANWEB_03202099.txt"]
    assert "HCPC2099_APR_ANWEB_03012099.txt set aside: an older issue" in plan.warnings[0]


@pytest.mark.parametrize(("name", "year", "quarter"), [
    ("ccipra-v302r0-f1.txt", 2024, 3), ("ccipra-v313r0-f1.TXT", 2025, 4), ("ccioph-v320r0-f4.txt", 2026, 1),
    ("ccipra-v322r0-f2.TXT", 2026, 3), ("ccioph-v323r0-f1.txt", 2026, 4),
])
def test_ncci_quarters_by_version(name: str, year: int, quarter: int) -> None:
    info = ptp_file_info(name)
    assert (info["year"], info["quarter"]) == (year, quarter)


def test_ptp_and_mue_periods_record_where_their_dates_came_from(tmp_path: Path) -> None:
    fixtures = cms_fixtures() / "ncci"
    for name in ("ccipra-v302r0-f1.txt", "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv"):
        shutil.copy(fixtures / name, tmp_path / name)
    plans = {p.dataset: p for p in plan_releases(find_files(tmp_path)[0])}
    ptp = plans["ncci_ptp_practitioner"]
    assert ptp.effective_start == date(2024, 7, 1)
    assert "year 1994 + 30, quarter 2 + 1" in ptp.meta["effective_start_source"]
    assert "_Eff_" in plans["ncci_mue_practitioner"].meta["effective_start_source"]
    assert mue_file_info("MCR_MUE_DMESupplierServices_Eff_10-01-2026.csv")["effective"] == date(2026, 10, 1)


def test_addendum_b_csv_2026_layout() -> None:
    name = "2026 July Web Addendum B.07.13.26.csv"
    assert classify(name) == classify("508 Version of January 2025 Web Addendum B.12.31.24.csv") == "addendum_b"
    assert addendum_b_release_info(name) == {"year": 2026, "month": 7}
    table = parse_addendum_b_csv(SourceFile.from_path(cms_fixtures() / "opps" / name))
    rows = {r[0]: dict(zip(table.columns, r, strict=True)) for r in table.rows}
    assert rows["Z9991"]["payment_rate"] == 88.91 and rows["Z9991"]["apc"] == "5521"
    assert rows["Z9993"]["payment_rate"] == 1136.02 and rows["Z9993"]["status_indicator"] == "J2"
    assert rows["Z9992"]["payment_rate"] is None and rows["Z9991"]["source_line"] == 8
    assert table.meta["title"].startswith("Addendum B.-Final OPPS Payment by HCPCS Code for CY 2026")
