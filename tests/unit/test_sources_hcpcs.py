"""Unit tests of the HCPCS alpha-numeric (ANWEB) and processing-notes parsers, on made-up fixture files
in the official 320-character layout (tests/fixtures/hcpcs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.indicators import indicator
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import SourceFile
from hcpcs.sources.hcpcs_file import parse_anweb_txt, parse_anweb_xlsx, release_info
from hcpcs.sources.proc_notes import parse_proc_notes

ANWEB_NAME = "HCPC2099_APR_ANWEB_fixture.txt"
NOTES_NAME = "proc_notes_APR2099.txt"
COLUMNS = TABLES["hcpcs_code"].column_names


@pytest.fixture()
def anweb(fixtures: Path) -> SourceFile:
    return SourceFile.from_path(fixtures / "hcpcs" / ANWEB_NAME)


@pytest.fixture()
def anweb_lines(anweb: SourceFile) -> list[str]:
    return anweb.text().splitlines()


def as_dicts(table) -> dict[str, dict]:
    return {row[0]: dict(zip(table.columns, row, strict=True)) for row in table.rows}


def from_lines(lines: list[str], name: str = ANWEB_NAME) -> SourceFile:
    return SourceFile.from_bytes(name, ("\r\n".join(lines) + "\r\n").encode("latin-1"))


def with_field(line: str, column: int, text: str) -> str:
    """`line` with `text` written from 1-based `column` on."""
    return line[: column - 1] + text + line[column - 1 + len(text) :]


# --- TXT ---------------------------------------------------------------------------------------------


def test_txt_one_row_per_code_in_file_order(anweb: SourceFile) -> None:
    table = parse_anweb_txt(anweb)
    assert table.table == "hcpcs_code"
    assert tuple(table.columns) == COLUMNS
    assert [(r[0], r[1]) for r in table.rows] == [
        ("Z1", "modifier"), ("ZZ", "modifier"), ("Z9990", "procedure"), ("Z9991", "procedure"),
        ("Z9992", "procedure"),
    ]
    assert table.meta["procedure_count"] == 3
    assert table.meta["modifier_count"] == 2
    assert table.meta["label"] == "HCPCS 2099 Apr"


def test_txt_every_field_of_a_full_record(anweb: SourceFile) -> None:
    row = as_dicts(parse_anweb_txt(anweb))["Z9990"]
    assert row == {
        "code": "Z9990",
        "record_kind": "procedure",
        "sequence": "00100",
        "long_description": "Made-up procedure with every detail field filled in, whose long description "
        "wraps over two continuation lines: the second one is cut short as in the 2020 file",
        "short_description": "Fixture procedure one",
        "pricing_indicators": "13,11",
        "multiple_pricing_indicator": "A",
        "cim_references": "60-9,65-10",
        "mcm_references": "2049,4107.9",
        "statute": "1833(t)",
        "lab_certifications": "340,630",
        "cross_references": "Z9991,Z9992",
        "coverage": "D",
        "asc_group": "YY",
        "asc_effective_date": "2099-04-01",
        "mog_group": "102",
        "mog_policy_indicator": "1",
        "mog_effective_date": "2099-04-01",
        "processing_note": "0002",
        "betos": "I4B",
        "type_of_service": "1,P,R",
        "anesthesia_base_units": "0",
        "added_date": "2015-01-01",
        "action_effective_date": "2099-01-01",
        "termination_date": "2098-12-31",
        "action_code": "D",
        "source_line": 9,
    }


def test_txt_modifier_with_continuation(anweb: SourceFile) -> None:
    rows = as_dicts(parse_anweb_txt(anweb))
    z1 = rows["Z1"]
    assert z1["record_kind"] == "modifier"
    assert z1["long_description"] == (
        "Made-up modifier used by the unit tests of the HCPCS alpha-numeric file parser, "
        "its long description continues on this second line"
    )
    assert z1["short_description"] == "Fixture modifier one"
    assert z1["source_line"] == 6  # the first record line, after the 5-line preamble
    assert z1["pricing_indicators"] is None and z1["betos"] is None and z1["anesthesia_base_units"] is None
    assert rows["ZZ"]["termination_date"] == "2099-03-31"
    assert rows["ZZ"]["action_code"] == "D"


def test_txt_blank_fields_are_none_and_long_lines_are_accepted(anweb: SourceFile, anweb_lines) -> None:
    assert len(anweb_lines[11]) > 320  # Z9991 carries trailing blanks past column 320, as G9871 in 2026
    row = as_dicts(parse_anweb_txt(anweb))["Z9991"]
    assert row["termination_date"] is None
    assert row["cim_references"] is None
    assert row["type_of_service"] == "9"
    assert row["long_description"] == "Made-up procedure on one line"


def test_txt_lines_without_crlf_and_without_preamble(anweb_lines) -> None:
    data = "\n".join(anweb_lines[5:]).encode("latin-1")
    table = parse_anweb_txt(SourceFile.from_bytes(ANWEB_NAME, data))
    assert len(table) == 5
    assert table.rows[0][-1] == 1


@pytest.mark.parametrize(
    ("line_number", "change", "expected"),
    [
        (10, lambda line: with_field(line, 11, "5"), "record id 3, 4, 7 or 8"),
        (10, lambda line: "GARBAGE LINE", "expected a HCPCS record"),
        (9, lambda line: with_field(line, 269, "2015013X"), "expected a date YYYYMMDD"),
        (9, lambda line: with_field(line, 285, "20981399"), "expected a date YYYYMMDD"),
        (9, lambda line: with_field(line, 1, "Z99 0"), "procedure code"),
        (8, lambda line: with_field(line, 1, "X"), "modifier"),
        (9, lambda line: line + " " * 20 + "SPILL", "beyond column 320"),
        (13, lambda line: line[:150], "truncated"),
    ],
)
def test_txt_malformed_line_names_its_number(anweb_lines, line_number, change, expected) -> None:
    lines = list(anweb_lines)
    lines[line_number - 1] = change(lines[line_number - 1])
    with pytest.raises(SourceFormatError) as caught:
        parse_anweb_txt(from_lines(lines))
    assert caught.value.location is not None and caught.value.location.startswith(f"line {line_number}")
    assert expected in caught.value.problem
    assert caught.value.file == ANWEB_NAME


def test_txt_continuation_without_its_head(anweb_lines) -> None:
    lines = list(anweb_lines)
    del lines[8]  # Z9990's first line: its continuation now follows ZZ's
    with pytest.raises(SourceFormatError, match=r"line 9: continuation line .* does not follow"):
        parse_anweb_txt(from_lines(lines))


def test_txt_data_opening_with_a_continuation(anweb_lines) -> None:
    with pytest.raises(SourceFormatError, match=r"line 1: continuation line \(record id 8\) of modifier 'Z1'"):
        parse_anweb_txt(from_lines(anweb_lines[6:]))


def test_txt_modifier_continuation_after_procedure(anweb_lines) -> None:
    lines = list(anweb_lines)
    lines.insert(9, lines[6])  # Z1's record-8 line after Z9990's first line
    with pytest.raises(SourceFormatError, match=r"line 10: continuation line \(record id 8\)"):
        parse_anweb_txt(from_lines(lines))


def test_txt_truncated_file(anweb: SourceFile) -> None:
    data = anweb.read_bytes()
    cut = data[: data.index(b"\r\nZ9992") + 2 + 200]
    with pytest.raises(SourceFormatError, match="line 13: record is 200 characters long"):
        parse_anweb_txt(SourceFile.from_bytes(ANWEB_NAME, cut))


@pytest.mark.parametrize(
    "data",
    [b"", b"\r\n\r\n", b"PROCESSING NOTES\r\nnot a record at all\r\n", b"\x00\x01\x02\x03binary" * 50,
     b"PK\x03\x04 a zip, not the text file"],
)
def test_txt_garbage_files(data: bytes) -> None:
    with pytest.raises(SourceFormatError):
        parse_anweb_txt(SourceFile.from_bytes(ANWEB_NAME, data))


# --- release_info ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "year", "month", "label"),
    [
        ("HCPC2026_JAN_ANWEB_01122026.txt", 2026, 1, "HCPCS 2026 Jan"),
        ("HCPC2026_JAN_ANWEB_01122026.xlsx", 2026, 1, "HCPCS 2026 Jan"),
        ("HCPC2020_ANWEB_w_disclaimer.txt", 2020, 1, "HCPCS 2020 Jan"),
        ("HCPC2019_CONTR_ANWEB.txt", 2019, 1, "HCPCS 2019 Jan"),
        ("HCPC2025_APR_ANWEB_v2.txt", 2025, 4, "HCPCS 2025 Apr"),
        ("HCPC2025_JUL_ANWEB_v3.txt", 2025, 7, "HCPCS 2025 Jul"),
        ("HCPC2024_OCT_ANWEB.xlsx", 2024, 10, "HCPCS 2024 Oct"),
        ("proc_notes_JAN2026.txt", 2026, 1, "HCPCS 2026 Jan"),
        ("january-2026-alpha-numeric-hcpcs-file.zip", 2026, 1, "HCPCS 2026 Jan"),
        ("july-2025-alpha-numeric-hcpcs-file.zip", 2025, 7, "HCPCS 2025 Jul"),
    ],
)
def test_release_info_from_cms_names(name: str, year: int, month: int, label: str) -> None:
    assert release_info(SourceFile.from_bytes(name, b"")) == {"year": year, "month": month, "label": label}


def test_release_info_without_year() -> None:
    with pytest.raises(SourceFormatError, match="no release year"):
        release_info(SourceFile.from_bytes("HCPC_ANWEB.txt", b""))


# --- XLSX ------------------------------------------------------------------------------------------

XLSX_HEADER = [
    "HCPC", "SEQNUM", "RECID", "LONG DESCRIPTION", "SHORT DESCRIPTION", "PRICE1", "PRICE2", "PRICE3",
    "PRICE4", "MULT_PI", "CIM1", "CIM2", "CIM3", "MCM1", "MCM2", "MCM3", "STATUTE", "LABCERT1", "LABCERT2",
    "LABCERT3", "LABCERT4", "LABCERT5", "LABCERT6", "LABCERT7", "LABCERT8", "XREF1", "XREF2", "XREF3",
    "XREF4", "XREF5", "COV", "ASC_GRP", "ASC_DT", "OPPS", "OPPS_PI", "OPPS_DT", "PROCNOTE", "BETOS", "TOS1",
    "TOS2", "TOS3", "TOS4", "TOS5", "ANEST_BU", "ADD DT", "ACT EFF DT", "TERM DT", "ACTION CD",
]
# Fixed-width slices (0-based) of the TXT record that feed each XLSX column, after the first five.
_SLICES = (
    [(119 + 2 * i, 121 + 2 * i) for i in range(4)] + [(127, 128)]
    + [(128 + 6 * i, 134 + 6 * i) for i in range(3)] + [(146 + 8 * i, 154 + 8 * i) for i in range(3)]
    + [(170, 180)] + [(180 + 3 * i, 183 + 3 * i) for i in range(8)]
    + [(204 + 5 * i, 209 + 5 * i) for i in range(5)]
    + [(229, 230), (230, 232), (232, 240), (240, 243), (243, 244), (244, 252), (252, 256), (256, 259)]
    + [(260 + i, 261 + i) for i in range(5)] + [(265, 268), (268, 276), (276, 284), (284, 292), (292, 293)]
)


def xlsx_rows_from_txt(lines: list[str]) -> list[list[object]]:
    """The fixture's records the way CMS lays them out in the XLSX: 4-digit SEQNUM, one row per record
    line (the 2019 XLSX keeps a RECID 4 row), modifier codes with their 3 leading blanks."""
    rows: list[list[object]] = []
    for line in lines:
        if len(line) < 11 or line[10] not in "3478":
            continue
        line = line.ljust(320)
        row: list[object] = [line[0:5], line[5:9], line[10], line[11:91].strip(), line[91:119].strip()]
        row += [line[a:b] if (a, b) == (265, 268) else line[a:b].strip() for a, b in _SLICES]
        rows.append(row)
    return rows


def write_xlsx(path: Path, rows: list[list[object]], header: list[str] = XLSX_HEADER) -> SourceFile:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Made-up disclaimer paragraph above the header, as in the 2019 and 2020 workbooks."])
    sheet.append([])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return SourceFile.from_path(path)


def test_xlsx_gives_the_same_rows_as_txt(tmp_path: Path, anweb: SourceFile, anweb_lines) -> None:
    rows = xlsx_rows_from_txt(anweb_lines)
    rows[2][44] = 19990101  # a date typed as a number, as some cells of the CMS workbooks are
    source = write_xlsx(tmp_path / "HCPC2099_APR_ANWEB_fixture.xlsx", rows)
    from_xlsx = parse_anweb_xlsx(source)
    from_txt = parse_anweb_txt(anweb)
    assert tuple(from_xlsx.columns) == COLUMNS
    assert [r[:-1] for r in from_xlsx.rows] == [r[:-1] for r in from_txt.rows]
    assert [r[-1] for r in from_xlsx.rows] == [4, 6, 7, 10, 11]  # spreadsheet rows of the first lines
    assert from_xlsx.meta["label"] == "HCPCS 2099 Apr"


def test_xlsx_header_found_by_names_in_any_order(tmp_path: Path, anweb_lines) -> None:
    rows = xlsx_rows_from_txt(anweb_lines)
    order = list(reversed(range(len(XLSX_HEADER))))
    reordered = [[r[i] for i in order] for r in rows]
    source = write_xlsx(tmp_path / "HCPC2099_ANWEB.xlsx", reordered, [XLSX_HEADER[i] for i in order])
    table = parse_anweb_xlsx(source)
    assert [r[0] for r in table.rows] == ["Z1", "ZZ", "Z9990", "Z9991", "Z9992"]
    assert as_dicts(table)["Z9990"]["pricing_indicators"] == "13,11"


def test_xlsx_without_header(tmp_path: Path, anweb_lines) -> None:
    source = write_xlsx(tmp_path / "HCPC2099_ANWEB.xlsx", xlsx_rows_from_txt(anweb_lines), ["A"] * 48)
    with pytest.raises(SourceFormatError, match="no header row"):
        parse_anweb_xlsx(source)


def test_xlsx_header_missing_a_column(tmp_path: Path, anweb_lines) -> None:
    header = [("BETOS_X" if h == "BETOS" else h) for h in XLSX_HEADER]
    source = write_xlsx(tmp_path / "HCPC2099_ANWEB.xlsx", xlsx_rows_from_txt(anweb_lines), header)
    with pytest.raises(SourceFormatError, match=r"row 3: header row lacks the column\(s\) BETOS"):
        parse_anweb_xlsx(source)


def test_xlsx_bad_cells_are_named(tmp_path: Path, anweb_lines) -> None:
    rows = xlsx_rows_from_txt(anweb_lines)
    rows[3][2] = "9"
    with pytest.raises(SourceFormatError, match=r"cell C7: expected RECID"):
        parse_anweb_xlsx(write_xlsx(tmp_path / "a.xlsx", rows))
    rows = xlsx_rows_from_txt(anweb_lines)
    rows[3][44] = "not a date"
    with pytest.raises(SourceFormatError, match=r"cell AS7: added date: expected a date YYYYMMDD"):
        parse_anweb_xlsx(write_xlsx(tmp_path / "b.xlsx", rows))
    rows = xlsx_rows_from_txt(anweb_lines)
    del rows[3]  # Z9990's first row: its continuation rows now follow ZZ
    with pytest.raises(SourceFormatError, match=r"row 7: continuation row"):
        parse_anweb_xlsx(write_xlsx(tmp_path / "c.xlsx", rows))


def test_xlsx_not_a_workbook(anweb: SourceFile) -> None:
    with pytest.raises(SourceFormatError, match="not an XLSX workbook"):
        parse_anweb_xlsx(SourceFile.from_bytes("HCPC2099_ANWEB.xlsx", anweb.read_bytes()))


# --- processing notes ------------------------------------------------------------------------------


def test_proc_notes(fixtures: Path) -> None:
    table = parse_proc_notes(SourceFile.from_path(fixtures / "hcpcs" / NOTES_NAME))
    assert table.table == "hcpcs_note"
    assert tuple(table.columns) == TABLES["hcpcs_note"].column_names
    assert table.rows == [
        ("0001", "THIS MADE-UP PROCESSING NOTE WAS DELETED 1/1/97."),
        ("0002", "THIS MADE-UP NOTE (Z9990) WRAPS OVER TWO LINES OF THE BOX."),
        ("0003", "A NOTE INDENTED WITH TABS AS IN THE LATER CMS NOTES. ITS SECOND LINE HAS NO MARGIN AND ITS "
                 "THIRD ENDS THE NOTE."),
        ("0004", "LAST NOTE."),
    ]


def test_proc_notes_duplicate_number(fixtures: Path) -> None:
    text = (fixtures / "hcpcs" / NOTES_NAME).read_text(encoding="latin-1") + "\n          0002--AGAIN.   *\n"
    with pytest.raises(SourceFormatError, match=r"line \d+: processing note 0002 appears twice"):
        parse_proc_notes(SourceFile.from_bytes(NOTES_NAME, text.encode("latin-1")))


@pytest.mark.parametrize("data", [b"", b"PROCESSING NOTES\r\n____\r\n", b"\x00\x00\x00 binary"])
def test_proc_notes_without_notes(data: bytes) -> None:
    with pytest.raises(SourceFormatError):
        parse_proc_notes(SourceFile.from_bytes(NOTES_NAME, data))


# --- indicator tables ------------------------------------------------------------------------------

HCPCS_INDICATORS = {
    "pricing_indicators": "hcpcs_pricing_indicator",
    "multiple_pricing_indicator": "hcpcs_multiple_pricing_indicator",
    "coverage": "hcpcs_coverage",
    "betos": "hcpcs_betos",
    "type_of_service": "hcpcs_type_of_service",
    "action_code": "hcpcs_action_code",
    "lab_certifications": "hcpcs_lab_certification",
    "asc_group": "hcpcs_asc_group",
    "mog_group": "hcpcs_mog_group",
    "mog_policy_indicator": "hcpcs_mog_policy_indicator",
}


@pytest.mark.parametrize("key", sorted({*HCPCS_INDICATORS.values(), "hcpcs_record_id"}))
def test_indicator_tables_load(key: str) -> None:
    table = indicator(key)
    assert table.name and "recordlayout" in table.source
    assert table.values
    for code, meaning in table.values.items():
        assert code == code.strip() and meaning.strip(), code
        assert meaning != meaning.upper(), f"{key} {code}: write meanings in sentence case"


def test_indicator_meanings_from_the_record_layout() -> None:
    assert indicator("hcpcs_betos").meaning("I4B") == "Imaging/procedure - other"
    assert indicator("hcpcs_betos").meaning("M3") == "Emergency room visit"
    assert indicator("hcpcs_pricing_indicator").meaning("13").startswith(
        "Physician fee schedule: price established by carriers"
    )
    assert indicator("hcpcs_coverage").meaning("S") == "Non-covered by Medicare statute."
    assert indicator("hcpcs_action_code").meaning("D") == "Discontinue procedure or modifier code."
    assert indicator("hcpcs_type_of_service").meaning("6") == "Therapeutic radiology."
    assert indicator("hcpcs_lab_certification").meaning("340").startswith("Toxicology")
    assert indicator("hcpcs_multiple_pricing_indicator").meaning("a") == (
        "Not applicable as HCPCS priced under one methodology."
    )


def test_every_fixture_value_has_a_meaning(anweb: SourceFile) -> None:
    table = parse_anweb_txt(anweb)
    for column, key in HCPCS_INDICATORS.items():
        index = table.columns.index(column)
        for row in table.rows:
            for value in (row[index] or "").split(","):
                if value:
                    assert indicator(key).meaning(value), f"{column} {value!r} of {row[0]}"
