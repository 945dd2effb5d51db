"""The RVU-bundle parsers on the real CMS files in ../shared/data/cms/mpfs_rvu (skipped when absent):
RVU22A, 23A, 24A, 25A (original zips), 25D (extracted files), and the lone PPRRVU CSVs of 23D and 24B.
Only codes, CMS indicator values, RVUs and locality figures are asserted, never descriptors."""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from hcpcs.core.indicators import indicator
from hcpcs.core.tables import TABLES
from hcpcs.sources.anes import parse_anes
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.gpci import parse_gpci
from hcpcs.sources.locality_county import parse_locco
from hcpcs.sources.mpfs_rvu import parse_pprrvu, rvu_fingerprint
from hcpcs.sources.oppscap import parse_oppscap

pytestmark = pytest.mark.realdata

# release -> (zip under mpfs_rvu or None for the extracted 25D folder, {kind: file stem})
BUNDLES: dict[str, tuple[str | None, dict[str, str]]] = {
    "22A": (
        "2022_rvu22a_jan/RVU22A.zip",
        {
            "pprrvu": "PPRRVU22_JAN",
            "gpci": "GPCI2022",
            "locco": "22LOCCO",
            "anes": "ANES2022",
            "oppscap": "OPPSCAP_JAN",
        },
    ),
    "23A": (
        "2023_rvu23a_jan/RVU23A.zip",
        {
            "pprrvu": "PPRRVU23_JAN",
            "gpci": "GPCI2023",
            "locco": "23LOCCO",
            "anes": "ANES2023",
            "oppscap": "OPPSCAP_JAN",
        },
    ),
    "24A": (
        "2024_rvu24a_jan/RVU24A.zip",
        {
            "pprrvu": "PPRRVU24_JAN",
            "gpci": "GPCI2024",
            "locco": "24LOCCO",
            "anes": "ANES2024",
            "oppscap": "OPPSCAP_JAN",
        },
    ),
    "25A": (
        "2025_rvu25a_jan/RVU25A.zip",
        {
            "pprrvu": "PPRRVU25_JAN",
            "gpci": "GPCI2025",
            "locco": "25LOCCO",
            "anes": "ANES2025",
            "oppscap": "OPPSCAP_JAN",
        },
    ),
    "25D": (
        None,
        {
            "pprrvu": "PPRRVU2025_Oct",
            "gpci": "GPCI2025",
            "locco": "25LOCCO",
            "anes": "ANES2025",
            "oppscap": "OPPSCAP_Oct",
        },
    ),
}
LONE_PPRRVU = {"23D": "2023_rvu23d_oct/PPRRVU23_OCT.csv.gz", "24B": "2024_rvu24b_apr/PPRRVU24_APR.csv.gz"}
PARSERS = {
    "pprrvu": parse_pprrvu,
    "gpci": parse_gpci,
    "locco": parse_locco,
    "anes": parse_anes,
    "oppscap": parse_oppscap,
}
ENCODINGS = ("csv", "txt", "xlsx")
INDICATOR_COLUMNS = {
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


def source(cms: Path, release: str, kind: str, encoding: str) -> SourceFile:
    zip_path, stems = BUNDLES[release]
    name = f"{stems[kind]}.{encoding}"
    if zip_path:
        return SourceFile.from_zip_member(cms / "mpfs_rvu" / zip_path, name)
    folder = cms / "mpfs_rvu" / "2025_rvu25d_oct"
    path = folder / name
    return SourceFile.from_path(path if path.exists() else folder / f"{name}.gz")


@cache
def _parsed(cms: Path, release: str, kind: str, encoding: str) -> ParsedTable:
    return PARSERS[kind](source(cms, release, kind, encoding))


def parsed(cms: Path, release: str, kind: str, encoding: str = "csv") -> ParsedTable:
    return _parsed(cms, release, kind, encoding)


@cache
def lone_pprrvu(cms: Path, release: str) -> ParsedTable:
    return parse_pprrvu(SourceFile.from_path(cms / "mpfs_rvu" / LONE_PPRRVU[release]))


def all_pprrvu(cms: Path) -> dict[str, ParsedTable]:
    tables = {release: parsed(cms, release, "pprrvu") for release in BUNDLES}
    tables.update({release: lone_pprrvu(cms, release) for release in LONE_PPRRVU})
    return tables


def records(table: ParsedTable, hcpcs: str) -> dict[str, dict]:
    columns = list(table.columns)
    return {row[1]: dict(zip(columns, row, strict=True)) for row in table.rows if row[0] == hcpcs}


def field_differences(base: ParsedTable, other: ParsedTable) -> list[str]:
    """Every field (all rows, all columns but source_line) where two encodings disagree."""
    found = []
    if len(base.rows) != len(other.rows):
        found.append(f"row count {len(base.rows)} != {len(other.rows)}")
    for a, b in zip(base.rows, other.rows, strict=False):
        for index, column in enumerate(base.columns[:-1]):
            if a[index] != b[index] or type(a[index]) is not type(b[index]):
                found.append(f"{a[0]} {a[1]} {column}: {a[index]!r} != {b[index]!r} (line {b[-1]})")
    return found


# ---------------------------------------------------------------------------------------------------
# PPRRVU
# ---------------------------------------------------------------------------------------------------


def test_25d_pprrvu(cms_data: Path) -> None:
    table = parsed(cms_data, "25D", "pprrvu")
    assert tuple(table.columns) == TABLES["mpfs_rvu"].column_names
    assert len(table) == 19090
    assert table.meta == {
        "conversion_factor": 32.3465,
        "title": "2025 National Physician Fee Schedule Relative Value File October Release",
        "released": "2025-09-11",
        "year": 2025,
        "quarter_month": 10,
        "release_label": "RVU25D",
        "payment_basis": None,
        "pricing_indicators": [],
    }
    assert table.rows[0][-1] == 11  # 10 header lines


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_25d_g6002_and_77385(cms_data: Path, encoding: str) -> None:
    table = parsed(cms_data, "25D", "pprrvu", encoding)
    g6002 = records(table, "G6002")
    assert set(g6002) == {"", "26", "TC"}
    glob = g6002[""]
    assert (glob["status"], glob["pctc"]) == ("A", "1")
    assert glob["work_rvu"] == 0.39
    assert glob["nonfac_pe_rvu"] == 1.85
    assert glob["mp_rvu"] == 0.03
    assert glob["nonfac_total"] == 2.27
    assert (glob["nonfac_na"], glob["fac_na"]) == ("", "NA")
    assert glob["conv_factor"] == 32.3465
    assert (g6002["26"]["work_rvu"], g6002["26"]["nonfac_total"]) == (0.39, 0.62)
    assert (g6002["TC"]["work_rvu"], g6002["TC"]["nonfac_total"]) == (0.0, 1.65)
    assert records(table, "77385")[""]["status"] == "I"


@pytest.mark.parametrize("release", list(BUNDLES))
@pytest.mark.parametrize("encoding", ("txt", "xlsx"))
def test_pprrvu_encodings_give_the_csv_rows(cms_data: Path, release: str, encoding: str) -> None:
    """Field by field, all rows, same order: the TXT and XLSX of a release equal its CSV."""
    base = parsed(cms_data, release, "pprrvu", "csv")
    other = parsed(cms_data, release, "pprrvu", encoding)
    assert field_differences(base, other)[:20] == []
    for key in ("conversion_factor", "year", "quarter_month", "release_label"):
        assert other.meta[key] == base.meta[key]
    assert rvu_fingerprint(other) == rvu_fingerprint(base)


@pytest.mark.parametrize(
    ("release", "factor", "label", "rows"),
    [
        ("22A", 34.6062, "RVU22A", 17600),
        ("23A", 33.8872, "RVU23A", 18010),
        ("23D", 33.8872, "RVU23D", 18168),
        ("24A", 32.7442, "RVU24A", 18499),
        ("24B", 33.2875, "RVU24B", 18534),
        ("25A", 32.3465, "RVU25A", 18865),
        ("25D", 32.3465, "RVU25D", 19090),
    ],
)
def test_conversion_factor_of_each_release(
    cms_data: Path, release: str, factor: float, label: str, rows: int
) -> None:
    table = all_pprrvu(cms_data)[release]
    assert table.meta["conversion_factor"] == factor
    assert table.meta["release_label"] == label
    assert len(table) == rows


def test_every_indicator_value_has_a_meaning(cms_data: Path) -> None:
    unknown: Counter = Counter()
    seen: Counter = Counter()
    for release, table in all_pprrvu(cms_data).items():
        for column, key in INDICATOR_COLUMNS.items():
            index = table.columns.index(column)
            table_of_key = indicator(key)
            for value in {row[index] for row in table.rows}:
                if value == "":
                    continue
                seen[column] += 1
                if table_of_key.meaning(value) is None:
                    unknown[(release, column, value)] += 1
    assert not unknown
    assert all(seen[column] for column in INDICATOR_COLUMNS)


def test_component_rows_agree_with_pctc_modifier_rules(cms_data: Path) -> None:
    """-26 rows only where the PC/TC table allows modifier 26, -TC rows only where it allows TC."""
    pctc = indicator("mpfs_pctc")
    allowed = {"26": pctc.extra["modifier_26_allowed"], "TC": pctc.extra["modifier_tc_allowed"]}
    for table in all_pprrvu(cms_data).values():
        columns = list(table.columns)
        modifier, pctc_index = columns.index("modifier"), columns.index("pctc")
        for row in table.rows:
            if row[modifier] in allowed:
                assert allowed[row[modifier]][row[pctc_index]], (row[0], row[modifier], row[pctc_index])
        # Indicator 6 (laboratory physician interpretation) is billed as its -26 row only.
        assert {row[modifier] for row in table.rows if row[pctc_index] == "6"} == {"26"}


# ---------------------------------------------------------------------------------------------------
# GPCI, LOCCO, ANES, OPPSCAP
# ---------------------------------------------------------------------------------------------------


def test_25d_gpci(cms_data: Path) -> None:
    table = parsed(cms_data, "25D", "gpci")
    assert len(table) == 109
    assert table.meta["year"] == 2025
    localities = {(row[0], row[2]): row for row in table.rows}
    assert len(localities) == 109
    assert localities[("02102", "01")][1:7] == ("AK", "01", "ALASKA", 1.5, 1.081, 0.592)
    assert localities[("03602", "21")][3] == "WYOMING"  # 'WYOMING**' without its footnote marks
    assert all(not row[3].endswith("*") for row in table.rows)
    assert any("MAC Assignments" in note for note in table.meta["footnotes"])


def test_gpci_2022_zero_padding(cms_data: Path) -> None:
    table = parsed(cms_data, "22A", "gpci")  # the 2022 CSV writes 2102 and 1 for 02102 and 01
    assert len(table) == 112
    assert all(len(row[0]) == 5 and len(row[2]) == 2 for row in table.rows)


def test_25d_anes(cms_data: Path) -> None:
    table = parsed(cms_data, "25D", "anes")
    assert table.meta == {"year": 2025, "national_anes_cf": 20.3178}
    assert len(table) == 109
    by_locality = {(row[0], row[1]): row for row in table.rows}
    assert by_locality[("10112", "00")][2:4] == ("ALABAMA", 19.31)
    assert parsed(cms_data, "24A", "anes").meta == {"year": 2024, "national_anes_cf": None}


def test_25d_locco(cms_data: Path) -> None:
    table = parsed(cms_data, "25D", "locco")
    assert len(table) == 110
    assert table.meta["notices"] == []
    california = [row for row in table.rows if row[0] in ("01112", "01182")]
    assert len(california) == 29 and {row[2] for row in california} == {"CALIFORNIA"}
    assert all(row[2] for row in table.rows)
    assert parsed(cms_data, "22A", "locco").meta["year"] == 2022  # its title says 2021


def test_25d_oppscap(cms_data: Path) -> None:
    table = parsed(cms_data, "25D", "oppscap")
    assert len(table) == 16100
    assert table.meta == {"year": None, "quarter_month": 10}
    assert parsed(cms_data, "25A", "oppscap").meta == {"year": 2025, "quarter_month": 1}  # year from the zip
    assert {row[1] for row in table.rows} == {"", "TC"}
    # The October 2025 caps are the January 2025 caps, unchanged.
    assert rvu_fingerprint(table) == rvu_fingerprint(parsed(cms_data, "25A", "oppscap"))


# ---------------------------------------------------------------------------------------------------
# The three encodings of each release agree (or differ exactly as documented)
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("release", list(BUNDLES))
@pytest.mark.parametrize("kind", ("gpci", "oppscap"))
def test_identical_encodings(cms_data: Path, release: str, kind: str) -> None:
    base = parsed(cms_data, release, kind, "csv")
    for encoding in ("txt", "xlsx"):
        other = parsed(cms_data, release, kind, encoding)
        assert field_differences(base, other)[:20] == []
        assert rvu_fingerprint(other) == rvu_fingerprint(base)


@pytest.mark.parametrize("release", list(BUNDLES))
def test_anes_encodings(cms_data: Path, release: str) -> None:
    """XLSX = CSV. The TXT cuts locality names to 40 characters and has no national CF: its fingerprint
    matches over the other columns, and each name is the start of the CSV name."""
    base = parsed(cms_data, release, "anes", "csv")
    assert rvu_fingerprint(parsed(cms_data, release, "anes", "xlsx")) == rvu_fingerprint(base)
    txt = parsed(cms_data, release, "anes", "txt")
    assert rvu_fingerprint(txt, ignore=("locality_name",)) == rvu_fingerprint(base, ignore=("locality_name",))
    for ours, theirs in zip(txt.rows, base.rows, strict=True):
        assert ours[2] == theirs[2][:40]
    assert txt.meta["national_anes_cf"] is None


@pytest.mark.parametrize("release", list(BUNDLES))
def test_locco_encodings(cms_data: Path, release: str) -> None:
    """XLSX = CSV. The TXT cuts counties to 58 characters; from 2024 its California rows have no state
    name (left None, with a notice) and its Los Angeles (01182/18) and San Francisco (01112/05) rows are
    worded differently. The (MAC, locality) pairs agree."""
    base = parsed(cms_data, release, "locco", "csv")
    assert rvu_fingerprint(parsed(cms_data, release, "locco", "xlsx")) == rvu_fingerprint(base)
    txt = parsed(cms_data, release, "locco", "txt")
    ignore = ("state", "fee_schedule_area", "counties")
    assert rvu_fingerprint(txt, ignore=ignore) == rvu_fingerprint(base, ignore=ignore)
    reworded = {("01182", "18"), ("01112", "05")} if release in ("24A", "25A", "25D") else set()
    for ours, theirs in zip(txt.rows, base.rows, strict=True):
        assert ours[:2] == theirs[:2]
        if ours[:2] in reworded:
            continue
        assert ours[3] == theirs[3]
        assert ours[4] == theirs[4][:58].rstrip()
    missing_state = [row for row in txt.rows if row[2] is None]
    if release in ("24A", "25A", "25D"):
        assert {row[0] for row in missing_state} == {"01112", "01182"} and len(missing_state) == 29
        assert len(txt.meta["notices"]) == 1
    else:
        assert missing_state == [] and txt.meta["notices"] == []
        assert [row[2] for row in txt.rows] == [row[2] for row in base.rows]
