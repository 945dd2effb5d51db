"""What to bill instead (hcpcs.core.guidance): the built-in table, the look-up by code, date, setting and
modifier, the HCPCS crosswalks, and the checks that refuse a malformed or uncited table."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hcpcs.core import guidance
from hcpcs.core.guidance import GuidanceError, fix_text, group_entries, parse_table, report_instead


def codes(rows: list) -> list[str]:
    return [r["code"] for r in rows]


def test_builtin_table_is_cited_and_well_formed() -> None:
    table = guidance.builtin_table()
    assert len(table.rows) >= 15
    for row in table.rows:
        kinds = {s["kind"] for s in row.sources}
        assert kinds & {"CMS", "CPT"}, f"row {row.number} cites no CMS or CPT source"
        assert row.note and row.checked, f"row {row.number} has no note or no check against the files"
        assert row.end is None or row.start <= row.end


def test_77387_before_2026_names_the_g_codes_and_77014() -> None:
    rows = report_instead("77387", date(2025, 6, 1))
    assert codes(rows) == ["G6001", "G6002", "G6017", "77014"]
    first = rows[0]
    assert first["from"] == "2015-01-01" and first["to"] == "2025-12-31" and first["setting"] == "professional"
    assert first["replaces"] == "77387" and first["modifier"] is None
    assert "CMS-1612-FC" in first["source"] and first["note"]
    # The same on a professional claim; none on a hospital outpatient claim (77387 is the OPPS code).
    assert codes(report_instead("77387", date(2025, 6, 1), "professional", modifiers=[])) == codes(rows)
    assert report_instead("77387", date(2025, 6, 1), "facility") == []


def test_dates_are_inclusive() -> None:
    assert report_instead("77387", date(2014, 12, 31)) == []
    assert codes(report_instead("77387", date(2015, 1, 1)))[0] == "G6001"
    assert codes(report_instead("77387", date(2025, 12, 31)))[0] == "G6001"
    assert all(r["modifier"] == "TC" for r in report_instead("77387", date(2026, 1, 1)))


def test_g6002_from_2026_is_77387() -> None:
    rows = report_instead("G6002", date(2026, 2, 1))
    assert codes(rows) == ["77387"] and rows[0]["setting"] == "any" and rows[0]["to"] is None
    assert codes(report_instead("G6002", date(2026, 2, 1), "facility")) == ["77387"]
    # Before 2026 G6002 is the Medicare code itself on professional claims; hospitals report 77387 or 77014.
    assert report_instead("G6002", date(2024, 8, 12), "professional") == []
    assert codes(report_instead("G6002", date(2024, 8, 12), "hospital")) == ["77387", "77014"]


def test_modifier_rows_apply_only_to_lines_with_the_modifier() -> None:
    day = date(2026, 3, 1)
    assert report_instead("77387", day, "professional", modifiers=[]) == []
    assert report_instead("77387", day, "professional", modifiers=["26"]) == []
    assert codes(report_instead("77387", day, "professional", modifiers=["TC"])) == ["77402", "77407", "77412"]
    assert [r["modifier"] for r in report_instead("77387", day)] == ["TC", "TC", "TC"]


def test_no_guidance_is_an_empty_list() -> None:
    assert report_instead("99213", date(2025, 6, 1)) == []
    assert report_instead("g6015", date(2024, 1, 1), "facility")[0]["code"] == "77385"  # case-insensitive


def test_setting_names() -> None:
    assert guidance.normalize_setting("Practitioner") == "professional"
    assert guidance.normalize_setting("hospital") == "facility"
    assert guidance.normalize_setting(None) is None
    with pytest.raises(ValueError, match="nonfacility"):
        report_instead("77387", date(2025, 6, 1), "nonfacility")


def test_cross_references_follow_the_table_rows() -> None:
    rows = report_instead("C9173", date(2026, 3, 1), cross_references="Q5148", cross_reference_release="HCPCS 2026 Jan")
    assert codes(rows) == ["Q5148"]
    assert "HCPCS 2026 Jan" in rows[0]["source"] and rows[0]["sources"][0]["kind"] == "CMS"
    # Not codes, the code itself and codes the table already names are left out.
    rows = report_instead("G6002", date(2026, 3, 1), cross_references=["CPT", "G6002", "77387", " K0037 "])
    assert codes(rows) == ["77387", "K0037"]
    assert len(group_entries(report_instead("E0970", date(2026, 3, 1), cross_references="K0037,K0042"))) == 1


def test_fix_text() -> None:
    assert fix_text([]) is None
    text = fix_text(report_instead("77387", date(2025, 6, 1), "professional", modifiers=[]))
    assert text is not None and text.startswith("Report G6001, G6002, G6017 or 77014 instead of 77387")
    assert "CMS-1612-FC" in text
    tc = fix_text(report_instead("77387", date(2026, 3, 1), "professional", modifiers=["TC"]))
    assert tc is not None and "instead of 77387-TC" in tc


def test_grouping_keeps_the_rows_alternatives_together() -> None:
    groups = group_entries(report_instead("77387", date(2025, 6, 1)))
    assert len(groups) == 1 and groups[0]["codes"] == ["G6001", "G6002", "G6017", "77014"]
    assert guidance.either(["A"]) == "A" and guidance.either(["A", "B", "C"]) == "A, B or C"


SOURCES = {"rule": {"kind": "CMS", "title": "A CMS rule"}, "blog": {"kind": "secondary", "title": "A blog"}}
ROW = {"codes": ["Z9991"], "instead": ["Z9992"], "from": date(2030, 1, 1), "setting": "any", "note": "Use Z9992.",
       "sources": ["rule"]}


@pytest.mark.parametrize(("change", "message"), [
    ({"sources": []}, "cites no source"),
    ({"sources": ["nowhere"]}, "unknown source"),
    ({"sources": ["blog"]}, "no CMS or CPT source"),
    ({"from": "2030-13-01"}, "is not a date"),
    ({"to": date(2029, 1, 1)}, "is before"),
    ({"setting": "office"}, "setting"),
    ({"instead": ["Z9991"]}, "cannot replace itself"),
    ({"codes": ["G600"]}, "not HCPCS/CPT codes"),
    ({"modifier": "XYZ"}, "not a modifier"),
    ({"note": " "}, "no note"),
    ({"colour": "red"}, "unknown key"),
])
def test_a_malformed_row_is_refused_by_number(change: dict, message: str) -> None:
    with pytest.raises(GuidanceError, match=message) as info:
        parse_table({"sources": SOURCES, "row": [ROW, {**ROW, **change}]}, "mine.toml")
    assert "mine.toml, row 2" in str(info.value)


def test_a_table_of_ones_own(tmp_path: Path) -> None:
    path = tmp_path / "payer.toml"
    path.write_text('[sources.rule]\nkind = "CMS"\ntitle = "A CMS rule"\nurl = "https://example.org/rule"\n\n'
                    '[[row]]\ncodes = ["Z9991"]\ninstead = ["Z9992", "Z9993"]\nfrom = 2030-01-01\nto = 2030-12-31\n'
                    'setting = "facility"\nnote = "Use Z9992 or Z9993."\nsources = ["rule"]\n', encoding="utf-8")
    table = guidance.load_table(path)
    rows = report_instead("Z9991", date(2030, 5, 1), "facility", table=table)
    assert codes(rows) == ["Z9992", "Z9993"] and rows[0]["source"] == "A CMS rule - https://example.org/rule"
    assert report_instead("Z9991", date(2030, 5, 1), "professional", table=table) == []
    assert report_instead("Z9991", date(2031, 1, 1), "facility", table=table) == []
    path.write_text("[[row]\n", encoding="utf-8")
    with pytest.raises(GuidanceError, match="payer.toml: not valid TOML"):
        guidance.load_table(path)
