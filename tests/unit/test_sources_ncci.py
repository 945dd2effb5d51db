"""NCCI parsers (PTP text, MUE CSV, add-on code workbook) and the plain-CSV edit table import, on
fixture files written in the official layouts with invented codes."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.indicators import indicator
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import SourceFile
from hcpcs.sources.edit_table import edit_table_info, parse_edit_table
from hcpcs.sources.ncci_aoc import aoc_release_info, parse_aoc_xlsx
from hcpcs.sources.ncci_mue import mue_file_info, parse_mue_csv
from hcpcs.sources.ncci_ptp import parse_ptp_txt, ptp_file_info, version_quarter
from tests.fixture_files import cms_fixtures

NCCI = cms_fixtures() / "ncci"
PTP_FIXTURE = NCCI / "ccipra-v302r0-f1.txt"
MUE_FIXTURE = NCCI / "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv"


def text_source(name: str, text: str, encoding: str = "latin-1") -> SourceFile:
    return SourceFile.from_bytes(name, text.encode(encoding))


def fixture_lines(path: Path) -> list[str]:
    return path.read_text(encoding="latin-1").splitlines()


def ptp_with(lines: list[str], name: str = "ccipra-v302r0-f1.txt") -> SourceFile:
    return text_source(name, "\r\n".join(lines) + "\r\n")


# --------------------------------------------------------------------------------------------------
# PTP
# --------------------------------------------------------------------------------------------------


def test_ptp_rows_columns_and_markers() -> None:
    table = parse_ptp_txt(SourceFile.from_path(PTP_FIXTURE))
    assert table.table == "ncci_ptp"
    assert tuple(table.columns) == TABLES["ncci_ptp"].column_names
    assert len(table) == 5
    first, retired, deleted, *_ = table.rows
    assert first == (
        "Z9901",
        "Z9902",
        1,
        "1996-01-01",
        None,
        "1",
        "Standards of medical/surgical practice",
        7,
    )
    assert retired == (
        "Z9901",
        "Z9903",
        0,
        "2018-07-01",
        "2019-12-31",
        "0",
        "Mutually exclusive procedures",
        8,
    )
    assert deleted[5] == "9" and deleted[3] == deleted[4] == "2020-01-01"
    assert table.rows[-1][7] == 11


def test_ptp_meta_from_file_and_name() -> None:
    table = parse_ptp_txt(SourceFile.from_path(PTP_FIXTURE))
    assert table.meta["title"] == "Column1/Column2 Edits"
    assert table.meta["notice"].startswith("Example notice")
    assert table.meta["setting"] == "practitioner"
    assert (table.meta["year"], table.meta["quarter"], table.meta["part"]) == (2024, 3, 1)


def test_ptp_older_upper_case_name_and_hospital_setting() -> None:
    table = parse_ptp_txt(SourceFile.from_path(NCCI / "ccioph-v281r0-f2.TXT"))
    assert [r[:3] for r in table.rows] == [("Z9911", "Z9912", 0), ("Z9911", "Z9913", 1)]
    assert table.meta["setting"] == "hospital" and table.meta["part"] == 2
    assert (table.meta["year"], table.meta["quarter"]) == (2022, 2)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ccipra-v302r0-f1.txt", {"setting": "practitioner", "version": "302r0", "part": 1, "year": 2024, "quarter": 3}),
        ("ccioph-v302r0-f4.txt", {"setting": "hospital", "version": "302r0", "part": 4, "year": 2024, "quarter": 3}),
        ("ccipra-v281r0-f1.TXT", {"setting": "practitioner", "version": "281r0", "part": 1, "year": 2022, "quarter": 2}),
        ("ccipra-v300r1-f3.txt", {"setting": "practitioner", "version": "300r1", "part": 3, "year": 2024, "quarter": 1}),
        ("ccipra-v293r0-f2.txt", {"setting": "practitioner", "version": "293r0", "part": 2, "year": 2023, "quarter": 4}),
    ],
)  # fmt: skip
def test_ptp_file_info(name: str, expected: dict) -> None:
    assert ptp_file_info(name) == expected


def test_ptp_file_info_other_names() -> None:
    assert ptp_file_info("ptp_practitioner_2024q3.csv") is None
    assert ptp_file_info("README.txt") is None
    assert version_quarter("30.2") == (2024, 3)
    assert version_quarter("307r0") is None  # no quarter 8


def test_ptp_data_start_found_by_content() -> None:
    lines = fixture_lines(PTP_FIXTURE)
    # an extra notice line before the header moves the data down one line
    table = parse_ptp_txt(ptp_with([lines[0], "Another notice line", *lines[1:]]))
    assert len(table) == 5 and table.rows[0][7] == 8


def test_ptp_blank_trailing_lines_ignored() -> None:
    lines = fixture_lines(PTP_FIXTURE)
    assert len(parse_ptp_txt(ptp_with([*lines, "", "   "]))) == 5


def test_ptp_wrong_header() -> None:
    lines = fixture_lines(PTP_FIXTURE)
    bad = [lines[0], lines[1], "Code A\tCode B\tFlag\tFrom\tTo\tMod\tWhy", *lines[6:]]
    with pytest.raises(SourceFormatError) as err:
        parse_ptp_txt(ptp_with(bad))
    assert err.value.location == "lines 1-3" and "column header" in err.value.problem


def test_ptp_non_code_in_column_1() -> None:
    lines = fixture_lines(PTP_FIXTURE)
    lines[8] = lines[8].replace("Z9901", "Z99-1", 1)
    with pytest.raises(SourceFormatError) as err:
        parse_ptp_txt(ptp_with(lines))
    assert err.value.location == "line 9" and "column 1" in err.value.problem
    assert err.value.file == "ccipra-v302r0-f1.txt"


def test_ptp_malformed_first_row_is_reported_not_skipped() -> None:
    lines = fixture_lines(PTP_FIXTURE)
    lines[6] = lines[6].replace("Z9901", "Z9901X", 1)
    with pytest.raises(SourceFormatError) as err:
        parse_ptp_txt(ptp_with(lines))
    assert err.value.location == "line 7"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [("20180701", "2018-7-1", "effective date"), ("20191231", "20191331", "deletion date")],
)
def test_ptp_bad_date(old: str, new: str, field: str) -> None:
    lines = fixture_lines(PTP_FIXTURE)
    lines[7] = lines[7].replace(old, new)
    with pytest.raises(SourceFormatError) as err:
        parse_ptp_txt(ptp_with(lines))
    assert err.value.location == "line 8" and field in err.value.problem


def test_ptp_bad_modifier_and_prior_flag() -> None:
    lines = fixture_lines(PTP_FIXTURE)
    modifier = list(lines)
    modifier[9] = modifier[9].replace("\t0\t", "\t2\t")
    with pytest.raises(SourceFormatError, match="modifier indicator") as err:
        parse_ptp_txt(ptp_with(modifier))
    assert err.value.location == "line 10"
    prior = list(lines)
    prior[10] = prior[10].replace("\t\t2023", "\tY\t2023")
    with pytest.raises(SourceFormatError, match="prior-1996") as err:
        parse_ptp_txt(ptp_with(prior))
    assert err.value.location == "line 11"


def test_ptp_short_row() -> None:
    lines = fixture_lines(PTP_FIXTURE)
    lines[8] = "Z9901\tZ9904\t\t20200101"
    with pytest.raises(SourceFormatError, match="7 tab-separated fields") as err:
        parse_ptp_txt(ptp_with(lines))
    assert err.value.location == "line 9"


def test_ptp_binary_and_empty() -> None:
    with pytest.raises(SourceFormatError, match="binary"):
        parse_ptp_txt(SourceFile.from_bytes("ccipra-v302r0-f1.txt", b"\x00\x01\x02garbage" * 50))
    with pytest.raises(SourceFormatError, match="no PTP edit rows"):
        parse_ptp_txt(text_source("ccipra-v302r0-f1.txt", "\n".join(fixture_lines(PTP_FIXTURE)[:6])))


def test_ptp_is_fast_enough() -> None:
    head = fixture_lines(PTP_FIXTURE)[:6]
    body = [
        f"Z{i // 500:04d}\t{i % 9000:04d}Z\t\t20200101\t*\t{'019'[i % 3]}\tMutually exclusive"
        for i in range(200_000)
    ]
    import time

    started = time.perf_counter()
    table = parse_ptp_txt(ptp_with(head + body))
    assert len(table) == 200_000
    assert time.perf_counter() - started < 5  # 2,000,000 rows take a few seconds


# --------------------------------------------------------------------------------------------------
# MUE
# --------------------------------------------------------------------------------------------------


def test_mue_rows_and_multiline_notice() -> None:
    table = parse_mue_csv(SourceFile.from_path(MUE_FIXTURE))
    assert table.table == "ncci_mue" and tuple(table.columns) == TABLES["ncci_mue"].column_names
    assert table.rows[0] == ("Z9901", 1, "2", "Code Descriptor / CPT Instruction", 8)
    assert [r[2] for r in table.rows] == ["2", "3", "1", "3", "2"]
    assert table.rows[3][1] == 400
    assert [r[4] for r in table.rows] == [8, 9, 10, 11, 12]
    assert table.meta["setting"] == "practitioner"
    assert table.meta["effective"] == "2024-07-01"
    assert "line two" in table.meta["notice"]


def test_mue_file_info() -> None:
    assert mue_file_info("MCR_MUE_PractitionerServices_Eff_07-01-2024.csv") == {
        "setting": "practitioner", "effective": date(2024, 7, 1), "year": 2024, "quarter": 3,
    }  # fmt: skip
    assert mue_file_info("MCR_MUE_OutpatientHospitalServices_Eff_10-01-2024.csv")["setting"] == "hospital"
    assert mue_file_info("MCR_MUE_DMESupplierServices_Eff_01-01-2025.xlsx")["effective"] == date(2025, 1, 1)
    assert mue_file_info("mue_practitioner_2024q3.csv") is None


def mue_text(
    header_values: str = "Practitioner Services MUE Values", rows: str = "Z9901,1,1 Line Edit,CMS Policy\n"
) -> str:
    return (
        '"Invented notice\nsecond line",,,\n'
        f'"HCPCS/\nCPT Code",{header_values},MUE Adjudication Indicator,MUE Rationale\n' + rows
    )


def test_mue_settings_from_header() -> None:
    hospital = parse_mue_csv(text_source("x.csv", mue_text("Outpatient Hospital Services MUE Values")))
    assert hospital.meta["setting"] == "hospital"
    dme = parse_mue_csv(text_source("x.csv", mue_text("DME Supplier Services MUE Values")))
    assert dme.meta["setting"] == "dme"
    with pytest.raises(SourceFormatError, match="file name says practitioner"):
        parse_mue_csv(
            text_source(
                "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv",
                mue_text("DME Supplier Services MUE Values"),
            )
        )


@pytest.mark.parametrize("mai", ["2 Line Edit", "4", "3 Date of Service Edit: Policy", "Line Edit"])
def test_mue_bad_mai(mai: str) -> None:
    source = text_source("x.csv", mue_text(rows=f"Z9901,1,{mai},CMS Policy\n"))
    with pytest.raises(SourceFormatError, match="adjudication indicator") as err:
        parse_mue_csv(source)
    assert err.value.location == "line 5, field 3"


def test_mue_bad_code_units_and_header() -> None:
    with pytest.raises(SourceFormatError, match="HCPCS/CPT code") as err:
        parse_mue_csv(
            text_source("x.csv", mue_text(rows="Z9901,1,1,CMS Policy\nNOT A CODE,1,1,CMS Policy\n"))
        )
    assert err.value.location == "line 6, field 1"
    with pytest.raises(SourceFormatError, match="whole number") as err:
        parse_mue_csv(text_source("x.csv", mue_text(rows="Z9901,one,1,CMS Policy\n")))
    assert err.value.location == "line 5, field 2"
    with pytest.raises(SourceFormatError, match="no MUE header"):
        parse_mue_csv(text_source("x.csv", "Code,Units,Indicator,Why\nZ9901,1,1,CMS Policy\n"))
    with pytest.raises(SourceFormatError, match="binary"):
        parse_mue_csv(SourceFile.from_bytes("x.csv", b"PK\x03\x04\x00\x00binary"))


def test_mue_xlsx_twin(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Invented notice"])
    sheet.append(
        [
            "HCPCS/\nCPT Code",
            "Practitioner Services MUE Values",
            "MUE Adjudication Indicator",
            "MUE Rationale",
        ]
    )
    sheet.append(["Z9901", 3, "3 Date of Service Edit: Clinical", "Clinical: Data"])
    sheet.append(["Z9902", "x", "1 Line Edit", "CMS Policy"])
    path = tmp_path / "MCR_MUE_PractitionerServices_Eff_07-01-2024.xlsx"
    book.save(path)
    with pytest.raises(SourceFormatError) as err:
        parse_mue_csv(SourceFile.from_path(path))
    assert err.value.location == "cell B4"
    sheet.delete_rows(4)
    book.save(path)
    assert parse_mue_csv(SourceFile.from_path(path)).rows == [("Z9901", 3, "3", "Clinical: Data", 3)]


# --------------------------------------------------------------------------------------------------
# AOC
# --------------------------------------------------------------------------------------------------

AOC_HEADER = [
    "AOC_Edit_Type", "Add-On_Code", "AOC_DelDT", "Primary_Code", "Primary_Code_DelDT",
    "AOC_Edit_EffDT", "AOC_Edit_DelDT", "Special_Instruction_Notes",
]  # fmt: skip
AOC_ROWS = [
    ["2", "Z9950", "", "CCCCC", "", "2013091", "", "Contractor Defined Primary Codes"],
    ["1", "Z9951", "", "Z9901", "", "2014001", "", ""],
    ["1", "Z9951", "2020366", "Z9902", "2019365", "2014001", "2020366", ""],
    ["3", "Z9952", "*", "Z9903", "*", 2018274.0, "*", "Invented note"],
]


def write_aoc(tmp_path: Path, rows: list[list], name: str = "AOC_V2026Q2-MCR.xlsx") -> SourceFile:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Invented notice, line one.\nLine two."])
    sheet.append(AOC_HEADER)
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return SourceFile.from_path(path)


def test_aoc_rows(tmp_path: Path) -> None:
    table = parse_aoc_xlsx(write_aoc(tmp_path, AOC_ROWS))
    assert table.table == "ncci_aoc" and tuple(table.columns) == TABLES["ncci_aoc"].column_names
    assert table.rows[0] == (
        "2",
        "Z9950",
        None,
        "CCCCC",
        None,
        "2013-04-01",
        None,
        "Contractor Defined Primary Codes",
        3,
    )
    assert table.rows[2] == (
        "1",
        "Z9951",
        "2020-12-31",
        "Z9902",
        "2019-12-31",
        "2014-01-01",
        "2020-12-31",
        None,
        5,
    )
    assert table.rows[3] == ("3", "Z9952", None, "Z9903", None, "2018-10-01", None, "Invented note", 6)
    assert table.meta["year"] == 2026 and table.meta["quarter"] == 2
    assert table.meta["notice"] == "Invented notice, line one. Line two."


def test_aoc_text_export(tmp_path: Path) -> None:
    lines = ["Invented notice", "\t".join(AOC_HEADER)] + [
        "\t".join(str(v) for v in row[:5]) + "\t2014001\t\t" for row in AOC_ROWS
    ]
    table = parse_aoc_xlsx(text_source("AOC_V2026Q2-MCR.txt", "\r\n".join(lines)))
    assert len(table) == 4 and table.rows[1][:6] == ("1", "Z9951", None, "Z9901", None, "2014-01-01")


def test_aoc_release_info() -> None:
    assert aoc_release_info("AOC_V2026Q2-MCR.xlsx") == {"year": 2026, "quarter": 2, "program": "medicare"}
    assert aoc_release_info("AOC_V2024Q3-MCD.xlsx")["program"] == "medicaid"
    assert aoc_release_info("aoc_2024q2.csv") is None


@pytest.mark.parametrize(
    ("column", "value", "cell", "message"),
    [
        (0, "4", "A4", "edit type"),
        (1, "+Z995", "B4", "add-on code"),
        (3, "", "D4", "primary code"),
        (5, "2014-01-01", "F4", "Julian"),
        (6, "2014400", "G4", "Julian"),
    ],
)
def test_aoc_bad_cells(tmp_path: Path, column: int, value: str, cell: str, message: str) -> None:
    rows = [list(r) for r in AOC_ROWS]
    rows[1][column] = value
    with pytest.raises(SourceFormatError, match=message) as err:
        parse_aoc_xlsx(write_aoc(tmp_path, rows))
    assert err.value.location == f"cell {cell}"


def test_aoc_wrong_header_and_binary(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["Type", "Code", "Other"])
    book.active.append(["1", "Z9951", "Z9901"])
    path = tmp_path / "AOC_V2026Q2-MCR.xlsx"
    book.save(path)
    with pytest.raises(SourceFormatError, match="no add-on code header"):
        parse_aoc_xlsx(SourceFile.from_path(path))
    with pytest.raises(SourceFormatError, match="XLSX"):
        parse_aoc_xlsx(SourceFile.from_bytes("AOC_V2026Q2-MCR.xlsx", b"\x00\x01 not a workbook"))


# --------------------------------------------------------------------------------------------------
# Edit table import
# --------------------------------------------------------------------------------------------------


def test_edit_table_ptp() -> None:
    table = parse_edit_table(SourceFile.from_path(NCCI / "ptp_practitioner_2024q3.csv"))
    assert table.table == "ncci_ptp" and tuple(table.columns) == TABLES["ncci_ptp"].column_names
    assert table.rows == [
        ("Z9901", "Z9902", None, None, None, "1", "Standards of medical/surgical practice", 2),
        ("Z9901", "Z9903", None, None, "2019-12-31", "0", "Mutually exclusive procedures", 3),
        ("Z9905", "0001Z", None, None, "2020-01-01", "9", "Misuse of Column Two code with Column One code", 4),
    ]
    assert table.meta["kind"] == "ptp" and table.meta["setting"] == "practitioner"
    assert (table.meta["year"], table.meta["quarter"]) == (2024, 3)


def test_edit_table_mue_and_aoc() -> None:
    mue = parse_edit_table(SourceFile.from_path(NCCI / "mue_hospital_2024q3.csv"))
    assert mue.table == "ncci_mue" and mue.meta["setting"] == "hospital"
    assert mue.rows[1] == ("Z9902", 12, "3", "Clinical: Data", 3)
    aoc = parse_edit_table(SourceFile.from_path(NCCI / "aoc_2024q2.csv"))
    assert aoc.table == "ncci_aoc" and aoc.meta["setting"] is None
    assert aoc.rows[0] == ("2", "Z9950", None, "CCCCC", None, None, None, None, 2)
    assert [r[0] for r in aoc.rows] == ["2", "1", "1", "3"]


def test_edit_table_optional_columns_any_order_and_formats() -> None:
    text = (
        "Modifier_Indicator,Column2,Column1,Effective_Date,Deletion_Date,Prior_1996\n"
        "1,Z9902,Z9901,20240101,*,*\n"
        "0,Z9903,Z9901,01/15/2023,2023-12-31,0\n"
    )
    table = parse_edit_table(text_source("payer_ptp.csv", text))
    assert table.rows == [
        ("Z9901", "Z9902", 1, "2024-01-01", None, "1", None, 2),
        ("Z9901", "Z9903", 0, "2023-01-15", "2023-12-31", "0", None, 3),
    ]
    assert "year" not in table.meta


def test_edit_table_mai_words_tabs_gzip_and_latin1(tmp_path: Path) -> None:
    text = "hcpcs_code\tmue_units\tmue_mai\tmue_rationale\nZ9901\t2\t2 Date of Service Edit: Policy\tNote caf\xe9\n"
    path = tmp_path / "mue_dme_2025q1.csv.gz"
    path.write_bytes(gzip.compress(text.encode("latin-1")))
    table = parse_edit_table(SourceFile.from_path(path))
    assert table.rows == [("Z9901", 2, "2", "Note caf\xe9", 2)]
    assert table.meta["setting"] == "dme"


@pytest.mark.parametrize(
    ("text", "location", "message"),
    [
        ("code_a,code_b\nZ9901,Z9902\n", "line 1", "no known edit table"),
        ("column1,column2,modifier_indicator,delete_dt\nZ9901,Z9902,1,\n", "line 1", "unknown column"),
        ("column1,column2,rationale\nZ9901,Z9902,x\n", "line 1", "missing required"),
        ("column1,column2,modifier_indicator\nZ9901,Z9902,1\nZ9901,Z99,1\n", "line 3, field 2", "column2"),
        ("column1,column2,modifier_indicator\nZ9901,Z9902,5\n", "line 2, field 3", "modifier_indicator"),
        (
            "column1,column2,modifier_indicator,deletion_date\nZ9901,Z9902,1,2024-02-30\n",
            "line 2, field 4",
            "deletion_date",
        ),
        ("column1,column2,modifier_indicator\nZ9901,Z9902\n", "line 2", "expected 3 fields"),
        ("hcpcs_code,mue_units,mue_mai\nZ9901,1,2 Line Edit\n", "line 2, field 3", "adjudication"),
        ("hcpcs_code,mue_units\nZ9901,-1\n", "line 2, field 2", "whole number"),
        ("primary_code,add_on_code,aoc_edit_type\nZ9901,Z9951,7\n", "line 2, field 3", "aoc_edit_type"),
    ],
)
def test_edit_table_bad_input(text: str, location: str, message: str) -> None:
    with pytest.raises(SourceFormatError, match=message) as err:
        parse_edit_table(text_source("table.csv", text))
    assert err.value.location == location


def test_edit_table_name_kind_mismatch_and_binary() -> None:
    with pytest.raises(SourceFormatError, match="file name says mue"):
        parse_edit_table(text_source("mue_practitioner_2024q3.csv", "column1,column2,modifier_indicator\n"))
    with pytest.raises(SourceFormatError, match="binary"):
        parse_edit_table(SourceFile.from_bytes("ptp.csv", b"\x1f\x8b\x00\x00binary"))


def test_edit_table_info() -> None:
    assert edit_table_info("ptp_practitioner_2024q3.csv.gz") == {
        "kind": "ptp", "setting": "practitioner", "year": 2024, "quarter": 3,
    }  # fmt: skip
    assert edit_table_info("ptp_hospital_2024q3.csv")["setting"] == "hospital"
    assert edit_table_info("mue_practitioner_2024q3.csv")["kind"] == "mue"
    assert edit_table_info("aoc_2024q2.csv") == {"kind": "aoc", "setting": None, "year": 2024, "quarter": 2}
    assert edit_table_info("ccipra-v302r0-f1.txt") is None


# --------------------------------------------------------------------------------------------------
# Indicator tables
# --------------------------------------------------------------------------------------------------


def test_ncci_indicator_tables() -> None:
    assert set(indicator("ncci_modifier_indicator").values) == {"0", "1", "9"}
    assert indicator("ncci_modifier_indicator").extra["bypassable"]["1"] is True
    mai = indicator("ncci_mai")
    assert set(mai.values) == {"1", "2", "3"} and mai.extra["absolute"]["2"] is True
    assert mai.meaning("1").startswith("Line edit")
    aoc = indicator("ncci_aoc_edit_type")
    assert "CCCCC" in aoc.values["2"] and aoc.extra["open_primary_list"]["1"] is False
    modifiers = indicator("ptp_associated_modifiers")
    expected = {"E1", "E2", "E3", "E4", "FA", "TA", "LT", "RT", "LC", "LD", "RC", "LM", "RI"}
    expected |= {f"F{i}" for i in range(1, 10)} | {f"T{i}" for i in range(1, 10)}
    expected |= {"24", "25", "57", "58", "78", "79", "27", "59", "91", "XE", "XS", "XP", "XU"}
    assert set(modifiers.values) == expected == set(modifiers.extra["category"])
    assert modifiers.extra["category"]["79"] == "global surgery"
