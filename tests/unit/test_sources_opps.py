"""OPPS Addendum B parsers on workbooks written at test time in the CMS layout (invented codes) and on a
small derived-extract fixture; the OPPS status indicator table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.indicators import indicator
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import SourceFile
from hcpcs.sources.opps_addendum import (
    addendum_b_release_info,
    parse_addendum_b_derived_csv,
    parse_addendum_b_xlsx,
)
from tests.fixture_files import cms_fixtures

OPPS = cms_fixtures() / "opps"

HEADER = [
    "HCPCS Code", "Short Descriptor", " SI", "APC ", "Relative Weight ", "Payment Rate",
    "National Unadjusted Copayment ", "Minimum Unadjusted Copayment ",
    "Note: Invented note about copayments", "Drug and Device Pass-Through Expiration during Calendar Year",
    "* Indicates a Change ",
]  # fmt: skip
ROWS: list[list[Any]] = [
    ["Z9901", "Invented procedure", "S", "5612", 12.3456, 1056.78, ".", 211.36, "", "", ""],
    ["Z9902 ", "Invented packaged item", "N ", "", "", "", "", "", "", "", ""],
    ["Z9903\xa0", "Invented drug", "G", 12.0, "", "$1,234.50", 0.0, 0.0, "", "*", "*"],
    ["Z9904", "Invented visit", "V", "5012", "2.0000", "180.00", "36.00", "36.00", "*", "", ""],
]


def write_addendum(
    tmp_path: Path,
    rows: list[list[Any]],
    header: list[str] = HEADER,
    name: str = "2099_January_Web_Addendum_B.12202098.xlsx",
) -> SourceFile:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "2099 January Addendum B"
    sheet.append(["", "Addendum B.- OPPS Payment by HCPCS Code for CY 2099"])
    sheet.append(["", "Invented notice about codes."])
    sheet.append(["", "Invented notice about coverage."])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    sheet.append([])
    path = tmp_path / name
    book.save(path)
    return SourceFile.from_path(path)


def test_addendum_b_rows(tmp_path: Path) -> None:
    table = parse_addendum_b_xlsx(write_addendum(tmp_path, ROWS))
    assert table.table == "opps_addendum_b"
    assert tuple(table.columns) == TABLES["opps_addendum_b"].column_names
    assert len(table) == 4
    assert table.rows[0] == (
        "Z9901",
        "Invented procedure",
        "S",
        "5612",
        12.3456,
        1056.78,
        None,
        211.36,
        None,
        None,
        None,
        5,
    )
    assert table.rows[1] == (
        "Z9902",
        "Invented packaged item",
        "N",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        6,
    )
    assert table.rows[2] == ("Z9903", "Invented drug", "G", "0012", None, 1234.5, 0.0, 0.0, None, "*", "*", 7)
    assert table.rows[3][4:9] == (2.0, 180.0, 36.0, 36.0, "*")


def test_addendum_b_meta(tmp_path: Path) -> None:
    table = parse_addendum_b_xlsx(write_addendum(tmp_path, ROWS))
    assert table.meta["title"] == "Addendum B.- OPPS Payment by HCPCS Code for CY 2099"
    assert table.meta["calendar_year"] == 2099
    assert table.meta["notices"] == ["Invented notice about codes.", "Invented notice about coverage."]
    assert (table.meta["year"], table.meta["month"]) == (2099, 1)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2023_January_Web_Addendum_B.12212022.xlsx", {"year": 2023, "month": 1}),
        ("January 2024 Web Addendum B.xlsx", {"year": 2024, "month": 1}),
        ("October_2023_Web_Addendum_B.10102023.xlsx", {"year": 2023, "month": 10}),
        ("2022 Jul Web Addendum B.xlsx", {"year": 2022, "month": 7}),
        ("softek_derived_AddendumB_2025-10_sample.csv", {"year": 2025, "month": 10}),
        ("Addendum_B.xlsx", None),
    ],
)
def test_addendum_b_release_info(name: str, expected: dict | None) -> None:
    assert addendum_b_release_info(name) == expected


@pytest.mark.parametrize(
    ("row", "column", "value", "location", "message"),
    [
        (1, 0, "Footnote text", "cell A6", "HCPCS code"),
        (0, 5, "about 10", "cell F5", "payment rate"),
        (2, 4, "n.a.", "cell E7", "relative weight"),
    ],
)
def test_addendum_b_bad_cells(
    tmp_path: Path, row: int, column: int, value: str, location: str, message: str
) -> None:
    rows = [list(r) for r in ROWS]
    rows[row][column] = value
    with pytest.raises(SourceFormatError, match=message) as err:
        parse_addendum_b_xlsx(write_addendum(tmp_path, rows))
    assert err.value.location == location


def test_addendum_b_wrong_header_and_binary(tmp_path: Path) -> None:
    header = ["Code", "Description", "Indicator", "Group", "Weight", "Rate"]
    with pytest.raises(SourceFormatError, match="no Addendum B header"):
        parse_addendum_b_xlsx(write_addendum(tmp_path, ROWS, header=header))
    without_rate = [h if h != "Payment Rate" else "Something" for h in HEADER]
    with pytest.raises(SourceFormatError, match="payment_rate") as err:
        parse_addendum_b_xlsx(write_addendum(tmp_path, ROWS, header=without_rate))
    assert err.value.location == "row 4"
    with pytest.raises(SourceFormatError, match="XLSX"):
        parse_addendum_b_xlsx(SourceFile.from_bytes("Addendum_B.xlsx", b"\x00\x01\x02 not a workbook"))


def test_addendum_b_derived_csv() -> None:
    table = parse_addendum_b_derived_csv(SourceFile.from_path(OPPS / "AddendumB_2025-10_derived_sample.csv"))
    assert tuple(table.columns) == TABLES["opps_addendum_b"].column_names
    assert table.rows[0] == (
        "Z9901",
        "Invented service one",
        "S",
        None,
        None,
        1234.5,
        None,
        None,
        None,
        None,
        None,
        2,
    )
    assert table.rows[1][0] == "Z9902" and table.rows[1][10] == "*" and table.rows[1][5] is None
    assert table.meta["derived"] is True and table.meta["source_releases"] == ["2025-10"]
    assert (table.meta["year"], table.meta["month"]) == (2025, 10)


def test_addendum_b_derived_csv_bad_input() -> None:
    bad_header = SourceFile.from_bytes("x.csv", b"Code,Desc,SI,Rate\nZ9901,x,S,1\n")
    with pytest.raises(SourceFormatError, match="HCPCSCode") as err:
        parse_addendum_b_derived_csv(bad_header)
    assert err.value.location == "line 1"
    header = b"HCPCSCode,ShortDescriptor,StatusIndicator,PaymentRate,Changed?,Source\n"
    with pytest.raises(SourceFormatError, match="5-character") as err:
        parse_addendum_b_derived_csv(
            SourceFile.from_bytes("x.csv", header + b"Z9901,x,S,1,false,2025-10\nZZ,x,S,1,false,2025-10\n")
        )
    assert err.value.location == "line 3, field 1"
    with pytest.raises(SourceFormatError, match="payment rate") as err:
        parse_addendum_b_derived_csv(
            SourceFile.from_bytes("x.csv", header + b"Z9901,x,S,abc,false,2025-10\n")
        )
    assert err.value.location == "line 2, field 4"


def test_opps_status_indicator_table() -> None:
    table = indicator("opps_status_indicator")
    expected = {"A", "B", "C", "D", "E1", "E2", "F", "G", "H", "J1", "J2", "K", "L", "M", "N", "P"}
    expected |= {"Q1", "Q2", "Q3", "Q4", "R", "S", "T", "U", "V", "Y"}
    assert set(table.values) == expected
    assert set(table.extra["paid"]) == expected == set(table.extra["packaged"])
    assert table.extra["paid"]["S"] is True and table.extra["paid"]["E1"] is False
    assert table.extra["packaged"]["N"] is True and table.extra["packaged"]["T"] is False
    assert table.meaning("q1").startswith("STV-packaged codes")
