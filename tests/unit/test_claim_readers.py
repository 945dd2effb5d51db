"""Claim readers: JSON, JSON Lines, CSV, format sniffing, per-claim errors and streaming."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest

from hcpcs.claims.model import Claim, ClaimError
from hcpcs.claims.objects import claim_from_dict
from hcpcs.claims.readers import iter_claims, read_claims, read_claims_file, sniff_format
from hcpcs.claims.values import (
    BadValue,
    normalize_code,
    parse_iso_date,
    parse_modifiers,
    parse_place_of_service,
    parse_setting,
    parse_units,
)
from hcpcs.core.errors import ClaimInputError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "claims"


def by_id(claims: list[Claim]) -> dict[str, Claim]:
    return {claim.id: claim for claim in claims}


def errors_by_id(errors: list[ClaimError]) -> dict[str | None, ClaimError]:
    return {error.claim_id: error for error in errors}


# ------------------------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("77373", "77373"), (" g6002 ", "G6002"), ("0001u", "0001U"), ("3008F", "3008F"), (77373, "77373")],
)
def test_normalize_code_accepts_hcpcs_and_cpt_shapes(raw: object, expected: str) -> None:
    assert normalize_code(raw) == expected


@pytest.mark.parametrize("raw", ["7737", "773733", "G600", "GG002", "0001X", "", None, 12.5, "７７３７３"])
def test_normalize_code_rejects_other_shapes(raw: object) -> None:
    with pytest.raises(BadValue):
        normalize_code(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("26,59", ("26", "59")), ("26 59", ("26", "59")), ("26;59", ("26", "59")), (" tc ", ("TC",)),
        (["26", "xu"], ("26", "XU")), (["26,59"], ("26", "59")), ("", ()), (None, ()), ([], ()),
    ],
)
def test_parse_modifiers(raw: object, expected: tuple[str, ...]) -> None:
    assert parse_modifiers(raw) == expected


@pytest.mark.parametrize("raw", ["XYZ", "2", ["26", "5!"], [True]])
def test_parse_modifiers_rejects_bad_modifiers(raw: object) -> None:
    with pytest.raises(BadValue):
        parse_modifiers(raw)


@pytest.mark.parametrize(("raw", "expected"), [(1, 1), (3, 3), (2.0, 2), ("4", 4), (" 5 ", 5), ("2.0", 2)])
def test_parse_units_accepts_whole_numbers(raw: object, expected: int) -> None:
    assert parse_units(raw) == expected
    assert isinstance(parse_units(raw), int)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (0, "greater than 0"), (-1, "greater than 0"), ("-2", "greater than 0"), (1.5, "whole number"),
        ("1.5", "whole number"), ("two", "whole number"), (True, "whole number"), ("", "empty"),
        (float("nan"), "whole number"), ("inf", "plausible count"), ([1], "whole number"),
    ],
)
def test_parse_units_rejects_with_a_clear_message(raw: object, fragment: str) -> None:
    with pytest.raises(BadValue, match=fragment):
        parse_units(raw)


def test_parse_iso_date_is_strict() -> None:
    assert parse_iso_date("2024-08-12") == date(2024, 8, 12)
    assert parse_iso_date(date(2024, 8, 12)) == date(2024, 8, 12)
    # The typed forms (tests/unit/test_typed_values.py) and nothing else.
    for bad in ("2024-8-12", "2024-02-30", "2024-W33-1", "12.08.2024", 20240812):
        with pytest.raises(BadValue):
            parse_iso_date(bad)


def test_parse_setting_defaults_to_professional() -> None:
    assert parse_setting(None) == "professional"
    assert parse_setting("") == "professional"
    assert parse_setting(" Facility ") == "facility"
    assert parse_setting("institutional") == "facility"
    with pytest.raises(BadValue, match="professional"):
        parse_setting("hospital")


def test_parse_place_of_service() -> None:
    assert parse_place_of_service("11") == "11"
    assert parse_place_of_service(22) == "22"
    assert parse_place_of_service("1") == "01"
    assert parse_place_of_service("") is None
    with pytest.raises(BadValue):
        parse_place_of_service("office")


# --------------------------------------------------------------------------------------------- JSON


def test_claim_from_dict_full_claim() -> None:
    claim = claim_from_dict(
        {
            "id": 42, "setting": "facility", "date_of_service": "2024-08-12", "place_of_service": 22,
            "provider": "1234567893", "diagnosis_codes": "C3490, Z5111", "payer": "EXAMPLE",
            "lines": [
                {"code": " 77301 ", "modifiers": "26 59", "units": "2", "charge": "10.50", "diagnosis_pointers": [1]},
                {"code": "g6002", "date_of_service": "2024-08-13", "place_of_service": "19", "ndc": "X"},
            ],
        }
    )
    assert claim.id == "42"
    assert claim.setting == "facility"
    assert claim.date_of_service == date(2024, 8, 12)
    assert claim.place_of_service == "22"
    assert claim.diagnosis_codes == ("C3490", "Z5111")
    first, second = claim.lines
    assert (first.code, first.modifiers, first.units, first.charge) == ("77301", ("26", "59"), 2, 10.5)
    assert first.diagnosis_pointers == ("1",)
    assert (second.code, second.units, second.date_of_service, second.place_of_service) == (
        "G6002", 1, date(2024, 8, 13), "19"
    )
    assert claim.line_date(0) == date(2024, 8, 12)
    assert claim.line_date(1) == date(2024, 8, 13)
    assert claim.extra == {"payer": "EXAMPLE", "line_extra": [{}, {"ndc": "X"}]}


def test_claim_date_defaults_to_earliest_line_date() -> None:
    claim = claim_from_dict(
        {"id": "A", "lines": [{"code": "77427", "date_of_service": "2024-08-14"},
                              {"code": "77336", "date_of_service": "2024-08-12"}]}
    )
    assert claim.date_of_service == date(2024, 8, 12)
    assert claim.setting == "professional"


def test_claim_without_any_date_names_the_field() -> None:
    with pytest.raises(ClaimInputError) as info:
        claim_from_dict({"id": "A", "lines": [{"code": "77427"}]})
    assert info.value.claim_id == "A"
    assert info.value.location == "date_of_service"


def test_json_fixture() -> None:
    claims, errors = read_claims_file(FIXTURES / "claims.json")
    assert errors == []
    claims_by_id = by_id(claims)
    assert list(claims_by_id) == ["JSON001", "JSON002"]
    first = claims_by_id["JSON001"]
    assert [line.code for line in first.lines] == ["77373", "G6002", "77336"]
    assert first.lines[0].modifiers == ("59",)
    assert first.lines[2].date_of_service == date(2024, 8, 13)
    assert first.provider == "1234567893"
    assert first.extra == {"payer": "EXAMPLE PAYER"}
    second = claims_by_id["JSON002"]
    assert second.setting == "facility"
    assert second.lines[0].modifiers == ("26", "59")


def test_json_bad_claims_are_errors_and_good_claims_still_read() -> None:
    claims, errors = read_claims_file(FIXTURES / "claims_mixed.json")
    assert [claim.id for claim in claims] == ["GOOD1", "GOOD2"]
    assert by_id(claims)["GOOD2"].lines[0].units == 2
    found = errors_by_id(errors)
    assert found["NEGUNITS"].location == "claims[1].lines[1].units"
    assert "greater than 0" in found["NEGUNITS"].message
    assert found["BADSETTING"].location == "claims[2].setting"
    assert "hospital" in found["BADSETTING"].message
    assert found["BADDATE"].location == "claims[3].date_of_service"
    assert "YYYY-MM-DD" in found["BADDATE"].message
    assert found[None].location == "claims[4].id"
    assert found["NOLINES"].location == "claims[5].lines"
    assert len(errors) == 5


def test_json_single_object_and_wrapper() -> None:
    single = '{"id": "S1", "date_of_service": "2024-08-12", "lines": [{"code": "77427"}]}'
    claims, errors = read_claims(single)
    assert [claim.id for claim in claims] == ["S1"] and errors == []
    claims, errors = read_claims('{"claims": [' + single + ', {"id": "S2"}]}')
    assert [claim.id for claim in claims] == ["S1"]
    assert errors[0].claim_id == "S2" and errors[0].location == "claims[1].lines"


def test_json_line_that_is_not_an_object() -> None:
    claims, errors = read_claims('[{"id": "A", "date_of_service": "2024-08-12", "lines": [{"code": "77427"}]}, 7]')
    assert [claim.id for claim in claims] == ["A"]
    assert errors == [ClaimError(None, "claims[1]", "expected a claim object, found the number 7")]


def test_invalid_json_as_a_whole_raises_with_line_and_column() -> None:
    with pytest.raises(ClaimInputError) as info:
        read_claims('[\n  {"id": "A",]\n]', name="batch.json")
    assert info.value.location == "batch.json, line 2, column 14"
    assert "not valid JSON" in str(info.value)


def test_json_of_the_wrong_kind_raises() -> None:
    with pytest.raises(ClaimInputError, match="list of claims"):
        read_claims("42", "json")
    with pytest.raises(ClaimInputError, match="must be a list"):
        read_claims('{"claims": 3}')


# --------------------------------------------------------------------------------------- JSON Lines


def test_jsonl_fixture_bad_line_among_good_ones() -> None:
    claims, errors = read_claims_file(FIXTURES / "claims.jsonl")
    assert [claim.id for claim in claims] == ["L001", "L004"]
    assert by_id(claims)["L004"].setting == "facility"
    assert errors[0].claim_id is None and errors[0].location == "line 3"
    assert "not valid JSON" in errors[0].message
    assert errors[1] == ClaimError(
        "L003", "line 4, lines[0].units", "units must be a whole number (units of service), not 1.5"
    )


def test_jsonl_whose_first_line_is_not_json_raises() -> None:
    with pytest.raises(ClaimInputError, match="not JSON Lines"):
        read_claims('{\n  "id": "A"\n}', "jsonl")


# ---------------------------------------------------------------------------------------------- CSV


def test_csv_fixture_groups_rows_by_claim_id() -> None:
    claims, errors = read_claims_file(FIXTURES / "claims.csv")
    assert errors == []
    assert [claim.id for claim in claims] == ["CSV001", "CSV002"]
    first, second = claims
    assert first.setting == "professional" and second.setting == "facility"
    assert first.date_of_service == date(2024, 8, 12)
    assert [line.code for line in first.lines] == ["77373", "G6002", "77336"]
    assert first.lines[0].modifiers == ("59",)
    assert first.lines[0].charge == 1500.0
    assert first.lines[2].date_of_service == date(2024, 8, 13)
    assert first.lines[2].place_of_service == "22"
    assert first.place_of_service == "11"
    assert first.extra == {"Payer": "EXAMPLE PAYER"}
    assert [line.modifiers for line in second.lines] == [("26",), ()]


def test_csv_bad_rows_make_claim_errors() -> None:
    claims, errors = read_claims_file(FIXTURES / "claims_mixed.csv")
    assert [claim.id for claim in claims] == ["OK1", "OK2"]
    assert [line.code for line in claims[0].lines] == ["77373", "G6002"]
    assert claims[1].lines[0].modifiers == ("26", "GC") and claims[1].lines[0].units == 2
    found = errors_by_id(errors)
    assert found["BADUNITS"].location == "line 3 (units)"
    assert found["CONFLICT"].location == "line 6 (date_of_service)"
    assert "line_date_of_service" in found["CONFLICT"].message
    assert found[None].location == "line 7 (claim_id)"
    assert found["BADCODE"].location == "line 8 (code)"
    assert found["BADMOD"].location == "line 9 (modifiers)"
    assert len(errors) == 5


def test_csv_aliases_modifier_columns_and_tabs() -> None:
    text = "ID\tdos\tCPT\tmodifiers\tmodifier1\tmod2\tUnits\n\nC1\t2024-08-12\t77301\t26\tgc\t\t\n"
    claims, errors = read_claims(text, "csv")
    assert errors == []
    assert claims[0].lines[0].modifiers == ("26", "GC")
    assert claims[0].lines[0].units == 1


def test_csv_conflicting_setting_and_missing_date() -> None:
    text = (
        "claim_id,setting,date_of_service,code\n"
        "A,professional,2024-08-12,77427\nA,facility,,77336\n"
        "B,,,77427\n"
        "C,,,77427\n"
    )
    claims, errors = read_claims(text)
    assert claims == []
    found = errors_by_id(errors)
    assert found["A"].location == "line 3 (setting)"
    assert "conflicts" in found["A"].message
    assert found["B"].location == "line 4"
    assert "date_of_service" in found["B"].message


def test_csv_line_dates_give_the_claim_date() -> None:
    text = "claim_id,code,line_dos\nA,77427,2024-08-14\nA,77336,2024-08-12\n"
    claims, errors = read_claims(text)
    assert errors == [] and claims[0].date_of_service == date(2024, 8, 12)


def test_csv_row_with_too_many_cells() -> None:
    claims, errors = read_claims("claim_id,date_of_service,code\nA,2024-08-12,77427,extra\n")
    assert errors == [ClaimError("A", "line 2", "the row has 4 cells but the header has 3 columns")]


def test_csv_quoted_multiline_cell_keeps_line_numbers() -> None:
    text = 'claim_id,date_of_service,code,note\nA,2024-08-12,77427,"two\nlines"\nB,2024-08-12,7742,\n'
    claims, errors = read_claims(text)
    assert [claim.id for claim in claims] == ["A"]
    assert claims[0].extra == {"note": "two\nlines"}
    assert errors[0].location == "line 4 (code)"


def test_csv_without_claim_id_or_code_column_raises() -> None:
    with pytest.raises(ClaimInputError, match="no claim_id column"):
        read_claims("hello,world\n1,2\n")
    with pytest.raises(ClaimInputError, match="no code column"):
        read_claims("claim_id,units\nA,1\n")
    with pytest.raises(ClaimInputError, match="both mean code"):
        read_claims("claim_id,code,cpt\nA,77427,77427\n")


# ------------------------------------------------------------------------------ sniffing, unreadable


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('[{"id": 1}]', "json"),
        ('{\n  "id": "A",\n  "lines": []\n}', "json"),
        ('{"id": "A"}', "json"),
        ('{"id": "A"}\n{"id": "B"}\n', "jsonl"),
        ('\ufeff  \n{"id": "A"}\n{"id": "B"}', "jsonl"),
        ("ISA*00*", "x12"),
        ("\r\n ISA*00*", "x12"),
        ("claim_id,code\nA,77427", "csv"),
    ],
)
def test_sniff_format(head: str, expected: str) -> None:
    assert sniff_format(head) == expected


def test_sniffed_formats_read_the_same_claims() -> None:
    rows = [
        {"id": "A", "date_of_service": "2024-08-12", "lines": [{"code": "77427"}]},
        {"id": "B", "date_of_service": "2024-08-13", "lines": [{"code": "77336", "units": 2}]},
    ]
    as_json = read_claims(json.dumps(rows))[0]
    as_jsonl = read_claims("\n".join(json.dumps(row) for row in rows).encode())[0]
    as_csv = read_claims("claim_id,dos,code,units\nA,2024-08-12,77427,\nB,2024-08-13,77336,2\n")[0]
    assert [c.to_dict() for c in as_json] == [c.to_dict() for c in as_jsonl] == [c.to_dict() for c in as_csv]


def test_utf8_bom_is_accepted() -> None:
    claims, errors = read_claims("\ufeffclaim_id,date_of_service,code\nA,2024-08-12,77427\n".encode())
    assert [claim.id for claim in claims] == ["A"] and errors == []


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (bytes(range(256)) * 4, "binary"),
        ("claim_id,code\nA,77427".encode("utf-16"), "UTF-16"),
        ("claim_id,code\nA,caf\xe9".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unreadable_input_raises(data: bytes, fragment: str) -> None:
    with pytest.raises(ClaimInputError, match=fragment) as info:
        read_claims(data, name="upload.bin")
    assert "upload.bin" in str(info.value)


def test_unknown_format_and_missing_file_raise() -> None:
    with pytest.raises(ClaimInputError, match="unknown claim format"):
        read_claims("claim_id,code\nA,77427\n", "yaml")
    with pytest.raises(ClaimInputError, match="cannot read"):
        read_claims_file(FIXTURES / "does_not_exist.json")
    with pytest.raises(ClaimInputError, match="cannot read"):
        list(iter_claims(FIXTURES / "does_not_exist.json"))


def test_format_aliases() -> None:
    text = '{"id": "A", "date_of_service": "2024-08-12", "lines": [{"code": "77427"}]}\n'
    assert [claim.id for claim in read_claims(text, "ndjson")[0]] == ["A"]
    assert [claim.id for claim in read_claims(text, "JSON")[0]] == ["A"]


# ---------------------------------------------------------------------------------------- streaming


def _jsonl_claims(count: int) -> bytes:
    return "".join(
        json.dumps({"id": f"S{i}", "date_of_service": "2024-08-12",
                    "lines": [{"code": "77427", "units": 1}, {"code": "77336"}]}) + "\n"
        for i in range(count)
    ).encode()


def test_iter_claims_streams_jsonl_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(_jsonl_claims(8_000))
    size = path.stat().st_size
    with path.open("rb") as handle:
        items = iter_claims(handle)
        first = next(items)
        assert isinstance(first, Claim) and first.id == "S0"
        assert handle.tell() < size / 4
        rest = list(items)
    assert len(rest) == 7_999 and all(isinstance(item, Claim) for item in rest)
    assert sum(1 for _ in iter_claims(path)) == 8_000


def test_iter_claims_streams_csv_and_text_files(tmp_path: Path) -> None:
    rows = ["claim_id,date_of_service,code,units"]
    for i in range(10_000):
        rows += [f"C{i},2024-08-12,77427,1", f"C{i},2024-08-12,77336,1"]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(rows) + "\n")
    with path.open("rb") as handle:
        items = iter_claims(handle)
        first = next(items)
        assert isinstance(first, Claim) and len(first.lines) == 2
        assert handle.tell() < path.stat().st_size / 4
    with path.open(encoding="utf-8") as text_handle:
        assert sum(1 for _ in iter_claims(text_handle)) == 10_000
    assert [item.id for item in iter_claims(io.StringIO("\n".join(rows[:5])))] == ["C0", "C1"]


def test_iter_claims_csv_rows_of_a_claim_must_be_consecutive() -> None:
    items = list(iter_claims(FIXTURES / "claims.csv"))
    assert [type(item).__name__ for item in items] == ["Claim", "Claim", "ClaimError", "ClaimError"]
    assert items[2].claim_id == "CSV001" and items[2].location == "line 4 (Claim_ID)"
    assert "sort the file by claim_id" in items[2].message


def test_iter_claims_on_json_and_errors_match_read_claims() -> None:
    items = list(iter_claims(FIXTURES / "claims_mixed.json"))
    claims, errors = read_claims_file(FIXTURES / "claims_mixed.json")
    assert [item for item in items if isinstance(item, Claim)] == claims
    assert [item for item in items if isinstance(item, ClaimError)] == errors


def test_iter_claims_rejects_a_non_file() -> None:
    with pytest.raises(ClaimInputError):
        list(iter_claims(42))  # type: ignore[arg-type]
