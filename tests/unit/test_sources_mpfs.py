"""The RVU-bundle parsers (PPRRVU, GPCI, LOCCO, ANES, OPPSCAP) on small made-up files in the CMS
layouts (tests/fixtures/mpfs), and the MPFS indicator tables. XLSX variants are written at test time
from the CSV fixtures with openpyxl, storing every numeric-looking cell as a number as CMS workbooks do
(10004.0 for HCPCS 10004, 26.0 for modifier 26)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.indicators import indicator
from hcpcs.core.tables import TABLES
from hcpcs.sources.anes import parse_anes
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.gpci import parse_gpci
from hcpcs.sources.locality_county import parse_locco
from hcpcs.sources.mpfs_rvu import parse_pprrvu, release_info, rvu_fingerprint
from hcpcs.sources.oppscap import parse_oppscap
from tests.fixture_files import cms_fixtures

FIXTURES = cms_fixtures() / "mpfs"
MPFS_INDICATORS = (
    "mpfs_status",
    "mpfs_pctc",
    "mpfs_global_days",
    "mpfs_mult_proc",
    "mpfs_bilat_surg",
    "mpfs_asst_surg",
    "mpfs_co_surg",
    "mpfs_team_surg",
    "mpfs_phys_supervision",
    "mpfs_na_indicator",
    "mpfs_diag_imaging_family",
    "mpfs_calculation_flag",
    "mpfs_not_used_for_medicare",
)
_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def fixture(name: str) -> SourceFile:
    return SourceFile.from_path(FIXTURES / name)


def variant(name: str, text: str) -> SourceFile:
    """A fixture rewritten in memory, under the fixture's own file name."""
    return SourceFile.from_bytes(name, text.encode("latin-1"), origin=f"{name} (test variant)")


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_bytes().decode("latin-1")


def csv_to_xlsx(name: str) -> SourceFile:
    """The CSV fixture as a workbook, numeric-looking cells stored as numbers (as in CMS workbooks)."""
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for record in csv.reader(io.StringIO(fixture_text(name), newline="")):
        if record and record[0] == "\x1a":
            record = [""] * len(record)  # openpyxl refuses control characters; CMS sheets hold a blank
        sheet.append([float(cell) if _NUMBER.match(cell) else cell for cell in record])
    buffer = io.BytesIO()
    workbook.save(buffer)
    xlsx_name = name.rsplit(".", 1)[0] + ".xlsx"
    return SourceFile.from_bytes(xlsx_name, buffer.getvalue(), origin=f"{xlsx_name} (from {name})")


def data(table: ParsedTable) -> list[tuple]:
    """Rows without source_line."""
    return [row[:-1] for row in table.rows]


def by_key(table: ParsedTable, *key: str) -> dict:
    columns = list(table.columns)
    found = {}
    for row in table.rows:
        record = dict(zip(columns, row, strict=True))
        found[tuple(record[name] for name in key)] = record
    return found


# ---------------------------------------------------------------------------------------------------
# PPRRVU
# ---------------------------------------------------------------------------------------------------


def test_pprrvu_csv_rows_and_meta() -> None:
    table = parse_pprrvu(fixture("PPRRVU2030_Apr.csv"))
    assert table.table == "mpfs_rvu"
    assert tuple(table.columns) == TABLES["mpfs_rvu"].column_names
    assert len(table) == 9  # the Ctrl-Z trailer row is not data
    assert table.meta == {
        "conversion_factor": 31.2345,
        "title": "2030 National Physician Fee Schedule Relative Value File April Release",
        "released": "2030-03-15",
        "year": 2030,
        "quarter_month": 4,
        "release_label": "RVU30B",
        "payment_basis": None,
        "pricing_indicators": [],
    }
    rows = by_key(table, "hcpcs", "modifier")
    glob = rows[("Z9991", "")]
    assert glob["status"] == "A"
    assert glob["pctc"] == "1"
    assert glob["work_rvu"] == 0.5 and isinstance(glob["work_rvu"], float)
    assert glob["nonfac_na"] == "" and glob["fac_na"] == "NA"
    assert glob["nonfac_total"] == 2.64
    assert glob["diag_imaging_family"] == "88"
    assert glob["source_line"] == 12
    assert rows[("Z9991", "26")]["work_rvu"] == 0.5
    assert rows[("Z9991", "TC")]["work_rvu"] == 0.0
    assert rows[("Z9993", "53")]["global_days"] == "090"
    scope = rows[("Z9992", "")]
    assert (scope["mult_proc"], scope["endo_base"], scope["nonfac_na"]) == ("3", "Z9993", "NA")
    assert (scope["preop"], scope["intraop"], scope["postop"]) == (0.1, 0.8, 0.1)
    assert rows[("00009", "")]["description"] == "Made-up anesthesia, general"  # quoted comma
    flagged = rows[("Z9994", "")]
    assert (flagged["not_used_for_medicare"], flagged["phys_supervision"]) == ("+", "6A")
    assert rows[("Z9995", "")]["nonfac_pe_rvu"] == 456.78


def test_pprrvu_txt_gives_the_csv_rows() -> None:
    from_csv = parse_pprrvu(fixture("PPRRVU2030_Apr.csv"))
    from_txt = parse_pprrvu(fixture("PPRRVU2030_Apr.txt"))
    assert data(from_txt) == data(from_csv)
    assert from_txt.rows[0][-1] == 3  # after the two HDR lines
    assert from_txt.meta["title"] is None  # the TXT has no title: the release comes from the file name
    for key in ("conversion_factor", "year", "quarter_month", "release_label"):
        assert from_txt.meta[key] == from_csv.meta[key]
    assert rvu_fingerprint(from_txt) == rvu_fingerprint(from_csv)


def test_pprrvu_xlsx_gives_the_csv_rows() -> None:
    from_csv = parse_pprrvu(fixture("PPRRVU2030_Apr.csv"))
    from_xlsx = parse_pprrvu(csv_to_xlsx("PPRRVU2030_Apr.csv"))
    assert from_xlsx.rows == from_csv.rows  # one record a line, so even the row numbers agree
    assert from_xlsx.meta == from_csv.meta


def test_pprrvu_header_found_by_names_not_line_numbers() -> None:
    text = fixture_text("PPRRVU2030_Apr.csv")
    shifted = parse_pprrvu(variant("PPRRVU2030_Apr.csv", ",,An extra notice line" + "," * 28 + "\r\n" + text))
    assert data(shifted) == data(parse_pprrvu(fixture("PPRRVU2030_Apr.csv")))
    assert shifted.rows[0][-1] == 12


def test_pprrvu_columns_mapped_by_header_names() -> None:
    # Swap the WORK RVU and MP RVU columns everywhere (header block included): values follow names.
    records = list(csv.reader(io.StringIO(fixture_text("PPRRVU2030_Apr.csv"), newline="")))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for record in records:
        if len(record) > 10:
            record[5], record[10] = record[10], record[5]
        writer.writerow(record)
    swapped = parse_pprrvu(variant("PPRRVU2030_Apr.csv", out.getvalue()))
    assert data(swapped) == data(parse_pprrvu(fixture("PPRRVU2030_Apr.csv")))


def test_pprrvu_single_row_header_without_title() -> None:
    names = (
        "HCPCS,MOD,DESCRIPTION,STATUS CODE,NOT USED FOR MEDICARE PAYMENT,WORK RVU,NON-FAC PE RVU,"
        "NON-FAC NA INDICATOR,FACILITY PE RVU,FACILITY NA INDICATOR,MP RVU,NON-FACILITY TOTAL,FACILITY TOTAL,"
        "PCTC IND,GLOB DAYS,PRE OP,INTRA OP,POST OP,MULT PROC,BILAT SURG,ASST SURG,CO- SURG,TEAM SURG,"
        "ENDO BASE,CONV FACTOR,PHYSICIAN SUPERVISION OF DIAGNOSTIC PROCEDURES,CALCULATION FLAG,"
        "DIAGNOSTIC IMAGING FAMILY INDICATOR,NON-FACILITY PE USED FOR OPPS PAYMENT AMOUNT,"
        "FACILITY PE USED FOR OPPS PAYMENT AMOUNT,MP USED FOR OPPS PAYMENT AMOUNT"
    )
    lines = fixture_text("PPRRVU2030_Apr.csv").split("\r\n")
    body = "\r\n".join([names, *lines[10:]])
    table = parse_pprrvu(variant("PPRRVU30_APR.csv", body))
    assert data(table) == data(parse_pprrvu(fixture("PPRRVU2030_Apr.csv")))
    assert (table.meta["year"], table.meta["quarter_month"], table.meta["title"]) == (2030, 4, None)


def test_pprrvu_not_a_cms_file() -> None:
    with pytest.raises(SourceFormatError, match="HCPCS,MOD"):
        parse_pprrvu(fixture("not_cms.csv"))
    with pytest.raises(SourceFormatError, match=r"\.csv, \.txt or \.xlsx"):
        parse_pprrvu(SourceFile.from_bytes("PPRRVU2030_Apr.pdf", b"%PDF-1.4"))
    with pytest.raises(SourceFormatError, match="not an XLSX workbook"):
        parse_pprrvu(SourceFile.from_bytes("PPRRVU2030_Apr.xlsx", b"HCPCS,MOD\r\n"))


def test_pprrvu_truncated_csv_names_the_line() -> None:
    text = fixture_text("PPRRVU2030_Apr.csv")
    cut = text.index("Z9995,") + 40
    with pytest.raises(SourceFormatError) as error:
        parse_pprrvu(variant("PPRRVU2030_Apr.csv", text[:cut]))
    assert error.value.location == "line 19"
    assert "truncated" in error.value.problem


def test_pprrvu_truncated_txt_names_the_line() -> None:
    text = fixture_text("PPRRVU2030_Apr.txt")
    cut = text.index("Z9995") + 100
    with pytest.raises(SourceFormatError) as error:
        parse_pprrvu(variant("PPRRVU2030_Apr.txt", text[:cut]))
    assert error.value.location == "line 11"
    assert "171-character" in error.value.problem


def test_pprrvu_truncated_xlsx() -> None:
    whole = csv_to_xlsx("PPRRVU2030_Apr.csv").read_bytes()
    with pytest.raises(SourceFormatError, match="cannot read the workbook"):
        parse_pprrvu(SourceFile.from_bytes("PPRRVU2030_Apr.xlsx", whole[: len(whole) // 2]))


def test_pprrvu_non_number_in_an_rvu_column() -> None:
    text = fixture_text("PPRRVU2030_Apr.csv").replace(
        "Made-up imaging test,A,,0.50,2.10", "Made-up imaging test,A,,0.5O,2.10", 1
    )
    with pytest.raises(SourceFormatError) as error:
        parse_pprrvu(variant("PPRRVU2030_Apr.csv", text))
    assert error.value.location == "line 12, column 6 (WORK RVU)"
    assert "expected a number, found '0.5O'" in error.value.problem
    assert "PPRRVU2030_Apr.csv" in str(error.value)

    lines = fixture_text("PPRRVU2030_Apr.txt").split("\r\n")
    lines[3] = lines[3][:59] + "  x.50" + lines[3][65:]
    with pytest.raises(SourceFormatError) as error:
        parse_pprrvu(variant("PPRRVU2030_Apr.txt", "\r\n".join(lines)))
    assert error.value.location == "line 4, positions 60-65 (work_rvu)"


def test_pprrvu_non_number_in_an_xlsx_cell() -> None:
    openpyxl = pytest.importorskip("openpyxl")
    source = csv_to_xlsx("PPRRVU2030_Apr.csv")
    workbook = openpyxl.load_workbook(io.BytesIO(source.read_bytes()))
    workbook.active["K13"] = "n/a"
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(SourceFormatError) as error:
        parse_pprrvu(SourceFile.from_bytes("PPRRVU2030_Apr.xlsx", buffer.getvalue()))
    assert error.value.location == "cell K13 (MP RVU)"


def test_pprrvu_misaligned_txt_record() -> None:
    lines = fixture_text("PPRRVU2030_Apr.txt").split("\r\n")
    lines[4] = " " + lines[4][:-1]
    with pytest.raises(SourceFormatError) as error:
        parse_pprrvu(variant("PPRRVU2030_Apr.txt", "\r\n".join(lines)))
    assert error.value.location.startswith("line 5")


def test_pprrvu_conversion_factor_must_agree() -> None:
    text = fixture_text("PPRRVU2030_Apr.csv")
    last = text.rindex("31.2345")
    with pytest.raises(SourceFormatError, match="conversion factor 31.2346 differs"):
        parse_pprrvu(variant("PPRRVU2030_Apr.csv", text[:last] + "31.2346" + text[last + 7 :]))


def test_pprrvu_missing_column() -> None:
    text = fixture_text("PPRRVU2030_Apr.csv").replace(
        ",STATUS,MEDICARE ,WORK,", ",STATUS,MEDICARE ,LABOR,", 1
    )
    with pytest.raises(SourceFormatError, match="work_rvu"):
        parse_pprrvu(variant("PPRRVU2030_Apr.csv", text))


def test_pprrvu_txt_needs_a_cms_name() -> None:
    with pytest.raises(SourceFormatError, match="cannot tell the release"):
        parse_pprrvu(variant("rvu.txt", fixture_text("PPRRVU2030_Apr.txt")))


# ---------------------------------------------------------------------------------------------------
# GPCI, LOCCO, ANES, OPPSCAP
# ---------------------------------------------------------------------------------------------------


def test_gpci_csv_with_footnotes() -> None:
    table = parse_gpci(fixture("GPCI2030.csv"))
    assert tuple(table.columns) == TABLES["mpfs_gpci"].column_names
    assert data(table) == [
        ("99912", "ZA", "00", "ZETA STATE", 1.0, 0.912, 0.5),
        ("09902", "ZB", "01", "BETA TOWN", 1.5, 1.1, 0.61),
        ("99902", "ZB", "99", "REST OF BETA", 1.0, 1.0, 0.7),
        ("99922", "ZC", "07", "GAMMA CITY (NORTH, EAST CNTY)", 1.023, 1.104, 0.951),
    ]
    assert table.meta["year"] == 2030
    assert table.meta["footnotes"][0] == "MAC Assignments as of January 1, 2030"
    assert [row[-1] for row in table.rows] == [4, 5, 6, 7]


def test_gpci_encodings_agree() -> None:
    from_csv = parse_gpci(fixture("GPCI2030.csv"))
    assert data(parse_gpci(fixture("GPCI2030.txt"))) == data(from_csv)
    from_xlsx = parse_gpci(csv_to_xlsx("GPCI2030.csv"))
    assert from_xlsx.rows == from_csv.rows
    assert rvu_fingerprint(from_xlsx) == rvu_fingerprint(from_csv)


def test_gpci_bad_input() -> None:
    with pytest.raises(SourceFormatError, match="GPCI header"):
        parse_gpci(fixture("not_cms.csv"))
    text = fixture_text("GPCI2030.csv").replace("1.5,1.1,0.61", "1.5,high,0.61")
    with pytest.raises(SourceFormatError) as error:
        parse_gpci(variant("GPCI2030.csv", text))
    assert error.value.location == "line 5, column 6 (2030 PE GPCI)"
    text = fixture_text("GPCI2030.csv") + "99932,ZD,01,LATE ROW,1,1,1\r\n"
    with pytest.raises(SourceFormatError, match="after the footnotes"):
        parse_gpci(variant("GPCI2030.csv", text))
    lines = fixture_text("GPCI2030.txt").split("\r\n")
    lines[4] = lines[4].replace("1.100", "1.1x0")
    with pytest.raises(SourceFormatError) as error:
        parse_gpci(variant("GPCI2030.txt", "\r\n".join(lines)))
    assert error.value.location == "line 5 (PE GPCI)"


def test_locco_carries_the_state_down() -> None:
    table = parse_locco(fixture("30LOCCO.csv"))
    assert tuple(table.columns) == TABLES["mpfs_locality_county"].column_names
    assert data(table) == [
        ("99912", "00", "ZETA STATE", "STATEWIDE", "ALL COUNTIES"),
        ("09902", "01", "BETA STATE", "BETA TOWN", "NORTH, SOUTH AND EAST"),
        ("09902", "99", "BETA STATE", "REST OF STATE", "ALL OTHER COUNTIES"),
        ("99922", "07", "GAMMA STATE", "GAMMA CITY", "GAMMA"),
    ]
    assert table.meta["year"] == 2030 and table.meta["notices"] == []
    assert parse_locco(csv_to_xlsx("30LOCCO.csv")).rows == table.rows


def test_locco_txt_state_group_without_a_name() -> None:
    # As in the CMS 2024/2025 TXT (California): a state group opens without its state name. Carrying the
    # previous state down would be wrong, so the rows get None and a notice says where.
    table = parse_locco(fixture("30LOCCO.txt"))
    rows = data(table)
    assert rows[:3] == data(parse_locco(fixture("30LOCCO.csv")))[:3]
    assert rows[3] == ("99922", "07", None, "GAMMA CITY", "GAMMA")
    assert table.meta["notices"] == [
        "line 10: the first row of a state group has no state name; its rows get no state"
    ]


def test_anes_csv_and_national_cf() -> None:
    table = parse_anes(fixture("ANES2030.csv"))
    assert tuple(table.columns) == TABLES["mpfs_anes_cf"].column_names
    assert table.meta == {"year": 2030, "national_anes_cf": 20.1234}
    assert data(table)[:2] == [("99912", "00", "ZETA STATE", 19.87), ("09902", "01", "BETA TOWN", 28.5)]
    assert parse_anes(csv_to_xlsx("ANES2030.csv")).rows == table.rows


def test_anes_txt_cents_and_cut_names() -> None:
    from_csv = parse_anes(fixture("ANES2030.csv"))
    from_txt = parse_anes(fixture("ANES2030.txt"))
    assert from_txt.meta == {"year": 2030, "national_anes_cf": None}
    assert [row[3] for row in from_txt.rows] == [row[3] for row in from_csv.rows]
    assert from_txt.rows[3][2] == from_csv.rows[3][2][:40]
    assert rvu_fingerprint(from_txt, ignore=("locality_name",)) == rvu_fingerprint(
        from_csv, ignore=("locality_name",)
    )
    assert rvu_fingerprint(from_txt) != rvu_fingerprint(from_csv)


def test_anes_bad_cf() -> None:
    text = fixture_text("ANES2030.csv").replace("19.87 ", "N/A")
    with pytest.raises(SourceFormatError) as error:
        parse_anes(variant("ANES2030.csv", text))
    assert error.value.location == "line 2, column 4 (National Anes CF of 20.1234)"
    with pytest.raises(SourceFormatError, match="line 2"):
        parse_anes(variant("ANES2030.txt", fixture_text("ANES2030.txt").replace("2850", "28,5")))


def test_oppscap_encodings_agree() -> None:
    from_csv = parse_oppscap(fixture("OPPSCAP_APR.csv"))
    assert tuple(from_csv.columns) == TABLES["mpfs_opps_cap"].column_names
    assert data(from_csv)[0] == ("Z9991", "", "A", "99912", "00", 61.2, 75.35)
    assert from_csv.meta == {"year": None, "quarter_month": 4}
    assert data(parse_oppscap(fixture("OPPSCAP_APR.txt"))) == data(from_csv)
    assert parse_oppscap(csv_to_xlsx("OPPSCAP_APR.csv")).rows == from_csv.rows


def test_oppscap_bad_input() -> None:
    with pytest.raises(SourceFormatError, match="OPPSCAP header"):
        parse_oppscap(fixture("not_cms.csv"))
    text = fixture_text("OPPSCAP_APR.csv")
    with pytest.raises(SourceFormatError) as error:  # truncated in the middle of line 4
        parse_oppscap(variant("OPPSCAP_APR.csv", text[: text.index("44.00,58.01") + 2]))
    assert error.value.location == "line 4"
    text = fixture_text("OPPSCAP_APR.txt").replace("   44.00", "   4x.00")
    with pytest.raises(SourceFormatError, match="facility price"):
        parse_oppscap(variant("OPPSCAP_APR.txt", text))


def test_every_parser_rejects_an_empty_file() -> None:
    for parser, name in (
        (parse_pprrvu, "PPRRVU2030_Apr.csv"),
        (parse_gpci, "GPCI2030.csv"),
        (parse_locco, "30LOCCO.csv"),
        (parse_anes, "ANES2030.csv"),
        (parse_oppscap, "OPPSCAP_APR.csv"),
        (parse_pprrvu, "PPRRVU2030_Apr.txt"),
        (parse_gpci, "GPCI2030.txt"),
        (parse_locco, "30LOCCO.txt"),
        (parse_anes, "ANES2030.txt"),
        (parse_oppscap, "OPPSCAP_APR.txt"),
    ):
        with pytest.raises(SourceFormatError):
            parser(SourceFile.from_bytes(name, b""))


# ---------------------------------------------------------------------------------------------------
# release_info, rvu_fingerprint
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "year", "month"),
    [
        ("PPRRVU25_JAN.csv", 2025, 1),
        ("PPRRVU2025_Oct.txt", 2025, 10),
        ("PPRRVU24_APR.csv.gz", 2024, 4),
        ("PPRRVU23_OCT.csv", 2023, 10),
        ("PPRRVU2026_Jan_nonQPP.csv", 2026, 1),
        ("GPCI2025.csv", 2025, None),
        ("25LOCCO.txt", 2025, None),
        ("ANES2025.xlsx", 2025, None),
        ("OPPSCAP_JAN.csv", None, 1),
        ("OPPSCAP_Oct.xlsx", None, 10),
        ("RVU25A.zip", 2025, 1),
        ("RVU24D.zip", 2024, 10),
        ("RVU25AR.zip", 2025, 1),
        ("notes.txt", None, None),
    ],
)
def test_release_info(name: str, year: int | None, month: int | None) -> None:
    assert release_info(name) == {"year": year, "quarter_month": month}


def test_release_info_of_a_zip_member_uses_the_zip_name() -> None:
    source = SourceFile.from_zip_member(Path("/data/RVU25A.zip"), "OPPSCAP_JAN.csv")
    assert release_info(source) == {"year": 2025, "quarter_month": 1}
    assert release_info(SourceFile.from_path(Path("/data/OPPSCAP_JAN.csv"))) == {
        "year": None,
        "quarter_month": 1,
    }


def test_fingerprint_ignores_order_line_numbers_and_description_spacing() -> None:
    table = parse_pprrvu(fixture("PPRRVU2030_Apr.csv"))
    shuffled = list(reversed(table.rows))
    description = table.columns.index("description")
    respaced = [
        (
            *row[:description],
            "  " + row[description].replace(" ", "   ") + " ",
            *row[description + 1 : -1],
            999,
        )
        for row in shuffled
    ]
    other = ParsedTable(table.table, table.columns, respaced, table.source, {})
    assert rvu_fingerprint(other) == rvu_fingerprint(table)
    changed = [(*table.rows[0][:5], 9.99, *table.rows[0][6:]), *table.rows[1:]]
    assert rvu_fingerprint(ParsedTable(table.table, table.columns, changed, table.source)) != rvu_fingerprint(
        table
    )


# ---------------------------------------------------------------------------------------------------
# Indicator tables
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", MPFS_INDICATORS)
def test_indicator_table_loads(key: str) -> None:
    table = indicator(key)
    assert table.name and table.source.startswith(("RVU25D.pdf", "PPRRVU"))
    assert table.values
    for code, meaning in table.values.items():
        assert meaning.strip() and not meaning[0].islower(), code
        assert meaning != meaning.upper(), f"{key} {code}: not in sentence case"


def test_indicator_value_sets() -> None:
    assert set(indicator("mpfs_status").values) == set("ABCDEFGHIJMNPRTX")
    assert set(indicator("mpfs_pctc").values) == {str(n) for n in range(10)}
    assert set(indicator("mpfs_global_days").values) == {"000", "010", "090", "MMM", "XXX", "YYY", "ZZZ"}
    assert set(indicator("mpfs_bilat_surg").values) == {"0", "1", "2", "3", "9"}
    for key in ("mpfs_asst_surg", "mpfs_co_surg", "mpfs_team_surg"):
        assert set(indicator(key).values) == {"0", "1", "2", "9"}
    assert set(indicator("mpfs_phys_supervision").values) == {
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "21",
        "22",
        "66",
        "6A",
        "77",
        "7A",
        "09",
    }
    assert indicator("mpfs_phys_supervision").meaning("6a") == indicator("mpfs_phys_supervision").meaning(
        "6A"
    )


def test_pctc_modifier_allowances() -> None:
    pctc = indicator("mpfs_pctc")
    allowed_26 = pctc.extra["modifier_26_allowed"]
    allowed_tc = pctc.extra["modifier_tc_allowed"]
    assert set(allowed_26) == set(allowed_tc) == set(pctc.values)
    assert all(isinstance(flag, bool) for flag in [*allowed_26.values(), *allowed_tc.values()])
    assert {code for code, flag in allowed_26.items() if flag} == {"1", "6"}
    assert {code for code, flag in allowed_tc.items() if flag} == {"1"}
    for code in ("0", "2", "3", "4", "5"):
        assert "Modifiers 26 and TC cannot be used" in pctc.values[code]
    assert "Modifiers 26 and TC can be used" in pctc.values["1"]
    assert "Modifier TC cannot be used" in pctc.values["6"]


def test_fixture_values_all_have_meanings() -> None:
    table = parse_pprrvu(fixture("PPRRVU2030_Apr.csv"))
    columns = {
        "status": "mpfs_status",
        "pctc": "mpfs_pctc",
        "global_days": "mpfs_global_days",
        "mult_proc": "mpfs_mult_proc",
        "bilat_surg": "mpfs_bilat_surg",
        "asst_surg": "mpfs_asst_surg",
        "co_surg": "mpfs_co_surg",
        "team_surg": "mpfs_team_surg",
        "phys_supervision": "mpfs_phys_supervision",
        "nonfac_na": "mpfs_na_indicator",
        "fac_na": "mpfs_na_indicator",
        "diag_imaging_family": "mpfs_diag_imaging_family",
        "calculation_flag": "mpfs_calculation_flag",
        "not_used_for_medicare": "mpfs_not_used_for_medicare",
    }
    for column, key in columns.items():
        index = table.columns.index(column)
        for row in table.rows:
            if row[index]:
                assert indicator(key).meaning(row[index]), (column, row[index])
