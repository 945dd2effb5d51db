"""The HCPCS alpha-numeric and processing-notes parsers on the real CMS files in ../shared/data/cms
(skipped when that folder is absent). Only Level II codes and CMS processing notes are asserted."""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from hcpcs.core.indicators import indicator
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.hcpcs_file import parse_anweb_txt, parse_anweb_xlsx
from hcpcs.sources.proc_notes import parse_proc_notes

pytestmark = pytest.mark.realdata

ZIP_2026 = "hcpcs/2026_jan/january-2026-alpha-numeric-hcpcs-file.zip"
ZIP_2020 = "hcpcs/2020_annual/2020-Alpha-Numeric-HCPCS-File.zip"
ZIP_2019 = "hcpcs/2019_annual/2019-Alpha-Numeric-HCPCS-File.zip"


@cache
def _parse(path: Path, member: str | None, parser) -> ParsedTable:
    source = SourceFile.from_zip_member(path, member) if member else SourceFile.from_path(path)
    return parser(source)


def txt_2026(cms: Path) -> ParsedTable:
    return _parse(cms / "hcpcs/2026_jan/HCPC2026_JAN_ANWEB_01122026.txt.gz", None, parse_anweb_txt)


def xlsx_2026(cms: Path) -> ParsedTable:
    return _parse(cms / ZIP_2026, "HCPC2026_JAN_ANWEB_01122026.xlsx", parse_anweb_xlsx)


def txt_2020(cms: Path) -> ParsedTable:
    return _parse(cms / "hcpcs/2020_annual/HCPC2020_ANWEB_w_disclaimer.txt.gz", None, parse_anweb_txt)


def txt_2019(cms: Path) -> ParsedTable:
    return _parse(cms / ZIP_2019, "HCPC2019_CONTR_ANWEB.txt", parse_anweb_txt)


def xlsx_2019(cms: Path) -> ParsedTable:
    return _parse(cms / ZIP_2019, "HCPC2019_CONTR_ANWEB.xlsx", parse_anweb_xlsx)


def by_code(table: ParsedTable) -> dict[tuple[str, str], dict]:
    return {(r[0], r[1]): dict(zip(table.columns, r, strict=True)) for r in table.rows}


@pytest.mark.parametrize(
    ("load", "procedures", "modifiers", "label"),
    [
        (txt_2026, 8623, 383, "HCPCS 2026 Jan"),
        (xlsx_2026, 8623, 383, "HCPCS 2026 Jan"),
        (txt_2020, 6710, 369, "HCPCS 2020 Jan"),
        (txt_2019, 6440, 360, "HCPCS 2019 Jan"),
        (xlsx_2019, 6440, 360, "HCPCS 2019 Jan"),
    ],
)
def test_code_counts(cms_data: Path, load, procedures: int, modifiers: int, label: str) -> None:
    table = load(cms_data)
    kinds = Counter(row[1] for row in table.rows)
    assert kinds == {"procedure": procedures, "modifier": modifiers}
    assert table.meta["label"] == label
    # one row per code and kind
    assert len({(row[0], row[1]) for row in table.rows}) == len(table.rows)


def test_2026_g6002_discontinued(cms_data: Path) -> None:
    row = by_code(txt_2026(cms_data))[("G6002", "procedure")]
    assert row["long_description"] == (
        "Stereoscopic x-ray guidance for localization of target volume for the delivery of radiation therapy"
    )  # first line ends at "delivery"; "of radiation therapy" is its continuation line (RIC 4)
    assert row["short_description"] == "Stereoscopic x-ray guidance"
    assert row["sequence"] == "00100"
    assert row["betos"] == "I4B"
    assert row["type_of_service"] == "6"
    assert row["pricing_indicators"] == "13"
    assert row["multiple_pricing_indicator"] == "A"
    assert row["coverage"] == "C"
    assert row["added_date"] == "2015-01-01"
    assert row["action_code"] == "D"
    assert row["termination_date"] == "2025-12-31"
    assert row["action_effective_date"] == "2026-01-01"
    assert row["anesthesia_base_units"] == "0"
    assert row["source_line"] == 6457


def test_2020_g6002_active(cms_data: Path) -> None:
    row = by_code(txt_2020(cms_data))[("G6002", "procedure")]
    assert row["long_description"].endswith("for the delivery of radiation therapy")
    assert row["termination_date"] is None
    assert row["action_code"] == "N"
    assert row["action_effective_date"] == "2015-01-01"
    assert row["betos"] == "I4B" and row["pricing_indicators"] == "13"
    assert row["source_line"] == 4332  # after the 9-line disclaimer


def test_2026_tc_modifier_joined_over_seven_lines(cms_data: Path) -> None:
    row = by_code(txt_2026(cms_data))[("TC", "modifier")]
    assert row["short_description"] == "Technical component"
    assert row["long_description"].startswith("Technical component; under certain circumstances, a charge")
    assert row["long_description"].endswith("will then be used to build customary and prevailing profiles")
    assert "  " not in row["long_description"]


def test_2026_multi_valued_fields(cms_data: Path) -> None:
    rows = by_code(txt_2026(cms_data))
    assert rows[("A4635", "procedure")]["type_of_service"] == "A,P,R"
    assert rows[("A4635", "procedure")]["cim_references"] == "60-9"
    assert rows[("G0101", "procedure")]["processing_note"] == "0064"


def test_2026_processing_notes(cms_data: Path) -> None:
    source = SourceFile.from_path(cms_data / "hcpcs/2026_jan/proc_notes_JAN2026.txt")
    notes = dict(parse_proc_notes(source).rows)
    assert list(notes) == [f"{n:04d}" for n in range(1, 235)]
    assert notes["0088"] == (
        '"S" CODES ARE UNIQUE TEMPORARY CODES ESTABLISHED BY BCBSA AND HIAA FOR PRIVATE PAYOR USE. '
        "THEY ARE NOT VALID NOR PAYABLE BY MEDICARE."
    )
    assert notes["0183"] == (  # wrapped over three lines, the first without the '*' margin
        "NCD 220.6 POSITRON EMISSION TOMOGRAPHY (PET) SCANS, (EFFECTIVE 4/6/2009) (REV. 120; "
        "ISSUED 5/6/2010; EFFECTIVE DATE: 4/3/2009; IMPLEMENTATION DATE: 10/30/2009)."
    )
    assert not any("*" in text or "\t" in text or "  " in text for text in notes.values())
    used = {row[18] for row in txt_2026(cms_data).rows if row[18]}
    assert used <= set(notes)


@pytest.mark.parametrize(("zip_name", "member", "count"), [
    (ZIP_2020, "proc_notes_2020.txt", 220), (ZIP_2019, "proc_notes_2019.txt", 218),
])
def test_older_processing_notes(cms_data: Path, zip_name: str, member: str, count: int) -> None:
    table = parse_proc_notes(SourceFile.from_zip_member(cms_data / zip_name, member))
    assert [row[0] for row in table.rows] == [f"{n:04d}" for n in range(1, count + 1)]


def test_zip_member_txt_matches_extracted_copy(cms_data: Path) -> None:
    from_zip = _parse(cms_data / ZIP_2026, "HCPC2026_JAN_ANWEB_01122026.txt", parse_anweb_txt)
    assert from_zip.rows == txt_2026(cms_data).rows
    from_zip = _parse(cms_data / ZIP_2020, "HCPC2020_ANWEB_w_disclaimer.txt", parse_anweb_txt)
    assert from_zip.rows == txt_2020(cms_data).rows


def _differences(txt: ParsedTable, xlsx: ParsedTable) -> dict[str, list[tuple[str, object, object]]]:
    """Field-by-field differences, source_line aside: column -> [(code, txt value, xlsx value)]."""
    assert list(txt.columns) == list(xlsx.columns)
    a, b = by_code(txt), by_code(xlsx)
    assert a.keys() == b.keys()
    found: dict[str, list[tuple[str, object, object]]] = {}
    for key, row in a.items():
        for column in txt.columns[:-1]:
            if row[column] != b[key][column]:
                found.setdefault(column, []).append((key[0], row[column], b[key][column]))
    return found


def _check_known_differences(txt: ParsedTable, xlsx: ParsedTable, extra_occurrences: dict) -> int:
    """CMS's own TXT and XLSX disagree in two ways, the same in 2019 and 2026; anything else fails.

    1. For about 115 codes (mostly added 1982-1988, never changed since) the TXT repeats the
       code-added date as the action effective date where the XLSX leaves ACT EFF DT blank.
    2. A few codes have one more occurrence of a repeating field in the XLSX than in the TXT
       (`extra_occurrences`: code -> (column, txt value, xlsx value)).
    Everything else -- long descriptions joined from the continuation lines, every code, indicator and
    date -- is identical. Returns the number of differences of kind 1."""
    found = _differences(txt, xlsx)
    rows = by_code(txt)
    action_dates = found.pop("action_effective_date", [])
    for code, txt_value, xlsx_value in action_dates:
        kind = "modifier" if len(code) == 2 else "procedure"
        assert xlsx_value is None and txt_value == rows[(code, kind)]["added_date"], code
    others = {code: (column, t, x) for column, diffs in found.items() for code, t, x in diffs}
    assert others == extra_occurrences
    return len(action_dates)


def test_2026_txt_and_xlsx_agree(cms_data: Path) -> None:
    blank_action_dates = _check_known_differences(
        txt_2026(cms_data), xlsx_2026(cms_data), {"C9248": ("pricing_indicators", "53", "53,11")}
    )
    assert blank_action_dates == 117


def test_2019_txt_and_xlsx_agree(cms_data: Path) -> None:
    blank_action_dates = _check_known_differences(
        txt_2019(cms_data), xlsx_2019(cms_data),
        {"E0210": ("type_of_service", "A,L,P", "A,L,P,R"), "E0776": ("type_of_service", "A,E,P", "A,E,P,R")},
    )
    assert blank_action_dates == 115


INDICATOR_COLUMNS = {
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


@pytest.mark.parametrize("load", [txt_2026, txt_2020, txt_2019])
def test_every_occurring_indicator_value_has_a_meaning(cms_data: Path, load) -> None:
    table = load(cms_data)
    missing: set[tuple[str, str]] = set()
    for column, key in INDICATOR_COLUMNS.items():
        index = table.columns.index(column)
        table_of_meanings = indicator(key)
        for row in table.rows:
            for value in (row[index] or "").split(","):
                if value and not table_of_meanings.meaning(value):
                    missing.add((column, value))
    assert not missing


def test_2026_betos_values_occurring(cms_data: Path) -> None:
    betos = Counter(row[19] for row in txt_2026(cms_data).rows)
    assert betos[None] == 383  # modifiers carry none
    assert len(betos) - 1 == 71
    assert {"I4B", "O1L", "Z2", "M3", "P0"} <= set(betos)
