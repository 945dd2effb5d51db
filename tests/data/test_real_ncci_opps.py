"""The NCCI and OPPS parsers on the real CMS files in the shared data folder (skipped when absent)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from hcpcs.core.indicators import indicator
from hcpcs.sources.base import SourceFile
from hcpcs.sources.edit_table import parse_edit_table
from hcpcs.sources.ncci_aoc import parse_aoc_xlsx
from hcpcs.sources.opps_addendum import parse_addendum_b_derived_csv, parse_addendum_b_xlsx

pytestmark = pytest.mark.realdata


def source(cms_data: Path, relative: str) -> SourceFile:
    path = cms_data / relative
    if not path.exists():
        pytest.skip(f"{relative} not in the CMS data folder")
    return SourceFile.from_path(path)


@pytest.fixture(scope="module")
def aoc(cms_data: Path):
    return parse_aoc_xlsx(source(cms_data, "ncci/aoc/2026q2/AOC_V2026Q2-MCR.xlsx"))


@pytest.fixture(scope="module")
def ptp_practitioner(cms_data: Path):
    return parse_edit_table(source(cms_data, "ncci/derived_2024q3/ptp_practitioner_2024q3.csv.gz"))


@pytest.fixture(scope="module")
def addendum_b(cms_data: Path):
    return parse_addendum_b_xlsx(
        source(cms_data, "opps_addendum_b/2023_jan/2023_January_Web_Addendum_B.12212022.xlsx")
    )


def test_aoc_2026q2_counts(aoc) -> None:
    assert len(aoc) == 9000
    assert Counter(row[0] for row in aoc.rows) == {"1": 8293, "2": 47, "3": 660}
    assert (aoc.meta["year"], aoc.meta["quarter"]) == (2026, 2)
    assert all(row[3] == "CCCCC" for row in aoc.rows if row[0] == "2")


def test_aoc_77293_primaries(aoc) -> None:
    rows = {row[3]: row for row in aoc.rows if row[1] == "77293"}
    assert {"77295", "77301"} <= set(rows)
    for primary in ("77295", "77301"):
        edit_type, _, addon_deleted, _, primary_deleted, effective, deleted, _, line = rows[primary]
        assert edit_type == "1"
        assert effective == "2014-01-01"
        assert addon_deleted is None and primary_deleted is None and deleted is None
        assert line > 2


def test_ptp_practitioner_2024q3(ptp_practitioner) -> None:
    assert len(ptp_practitioner) == 2_546_017
    assert sum(1 for row in ptp_practitioner.rows if row[4] is None) == 1_669_820
    edits = [row for row in ptp_practitioner.rows if row[0] == "77373" and row[1] == "G6002"]
    assert len(edits) == 1
    column1, column2, prior, effective, deletion, modifier, rationale, _ = edits[0]
    assert (column1, column2, deletion, modifier) == ("77373", "G6002", None, "0")
    assert prior is None and effective is None  # not kept in the derived table
    assert rationale == "Standards of medical/surgical practice"
    assert indicator("ncci_modifier_indicator").meaning(modifier).startswith("Not allowed")


def test_ptp_hospital_2024q3(cms_data: Path) -> None:
    table = parse_edit_table(source(cms_data, "ncci/derived_2024q3/ptp_hospital_2024q3.csv.gz"))
    assert len(table) == 1_775_818
    assert sum(1 for row in table.rows if row[4] is None) == 1_335_857
    assert table.meta["setting"] == "hospital"


def test_mue_practitioner_2024q3(cms_data: Path) -> None:
    table = parse_edit_table(source(cms_data, "ncci/derived_2024q3/mue_practitioner_2024q3.csv"))
    assert table.table == "ncci_mue" and len(table) == 14_677
    by_code = {row[0]: row for row in table.rows}
    assert by_code["J9271"][1:4] == (400, "3", "Prescribing Information")
    assert by_code["77373"][1:3] == (1, "3")
    assert Counter(row[2] for row in table.rows) == {"3": 9479, "2": 5157, "1": 41}


def test_mue_hospital_and_aoc_2024(cms_data: Path) -> None:
    mue = parse_edit_table(source(cms_data, "ncci/derived_2024q3/mue_hospital_2024q3.csv"))
    assert len(mue) == 14_628 and mue.meta["setting"] == "hospital"
    aoc = parse_edit_table(source(cms_data, "ncci/derived_2024q3/aoc_2024q2.csv"))
    assert len(aoc) == 7_465
    assert Counter(row[0] for row in aoc.rows) == {"1": 6860, "3": 569, "2": 36}


def test_addendum_b_2023(addendum_b) -> None:
    assert len(addendum_b) == 17_559
    rows = {row[0]: row for row in addendum_b.rows}
    assert len(rows) == 17_559
    sbrt = rows["77373"]
    assert sbrt[2:6] == ("S", "5626", 20.6514, 1767.45)
    assert sbrt[6] is None and sbrt[7] == 353.49
    assert rows["G6002"][2] == "B" and rows["G6002"][3] is None
    assert rows["A9591"][9] == "*" and rows["A9591"][10] == "*"
    assert addendum_b.meta["calendar_year"] == 2023 and addendum_b.meta["month"] == 1


def test_addendum_b_2023_status_indicators_are_defined(addendum_b) -> None:
    defined = indicator("opps_status_indicator").values
    assert {row[2] for row in addendum_b.rows} <= set(defined)


def test_addendum_b_derived_extracts(cms_data: Path) -> None:
    folder = "opps_addendum_b/derived_softek_extracts/"
    october = parse_addendum_b_derived_csv(
        source(cms_data, folder + "softek_derived_AddendumB_2025-10_sample.csv")
    )
    assert len(october) == 18_798 and october.meta["source_releases"] == ["2025-10"]
    assert "A4341" in {row[0] for row in october.rows}  # written with a trailing no-break space
