"""One parser for every typed date (CLI options, web parameters, claim inputs) and codes written with a
modifier (`G6002-26`)."""

from __future__ import annotations

import io
from datetime import date

import polars as pl
import pytest

from hcpcs.claims.frame import typed_dates
from hcpcs.claims.readers import iter_chunks, read_claims
from hcpcs.claims.values import BadValue, parse_iso_date
from hcpcs.core.codes import code_and_modifier, split_modifier
from hcpcs.core.dates import parse_date, read_date
from hcpcs.core.errors import InvalidInputError, MalformedCodeError


@pytest.mark.parametrize("text", ["2024-08-12", "08/12/2024", "8/12/2024", "20240812", " 2024-08-12 "])
def test_every_typed_form_is_the_same_day(text: str) -> None:
    assert read_date(text) == date(2024, 8, 12)
    assert parse_date(text, "as-of date") == date(2024, 8, 12)
    assert parse_iso_date(text) == date(2024, 8, 12)


@pytest.mark.parametrize("text", ["2024-8-12", "12.08.2024", "08/12/24", "2024/08/12", "Aug 12 2024", "", "2024081"])
def test_other_forms_are_refused_naming_the_accepted_ones(text: str) -> None:
    with pytest.raises(InvalidInputError, match="YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD"):
        parse_date(text, "as-of date")
    with pytest.raises(BadValue, match="MM/DD/YYYY"):
        parse_iso_date(text)


def test_day_first_dates_are_not_guessed() -> None:
    with pytest.raises(InvalidInputError, match="month comes first"):
        parse_date("13/12/2024")
    with pytest.raises(InvalidInputError, match="real calendar date"):
        parse_date("20240230")


def test_column_wise_dates_agree_with_the_row_wise_parser() -> None:
    texts = ["2024-08-12", "08/12/2024", "8/2/2024", "20240812", "13/12/2024", "2024-02-30", "12.08.2024", " 20240101 "]
    column = pl.DataFrame({"d": texts}).select(typed_dates(pl.col("d")))["d"].to_list()
    for text, day in zip(texts, column, strict=True):
        try:
            expected: date | None = read_date(text)
        except ValueError:
            expected = None
        assert day == expected, text


CSV_CLAIMS = "claim_id,code,date_of_service\nC1,77373,08/12/2024\nC2,77373,20240813\nC3,77373,13/12/2024\n"


def test_csv_claims_take_us_and_compact_dates_row_wise() -> None:
    claims, errors = read_claims(CSV_CLAIMS, name="claims.csv")
    assert [(claim.id, claim.date_of_service) for claim in claims] == [("C1", date(2024, 8, 12)), ("C2", date(2024, 8, 13))]
    assert [error.claim_id for error in errors] == ["C3"] and "month comes first" in errors[0].message


def test_csv_claims_take_us_and_compact_dates_column_wise() -> None:
    chunks = list(iter_chunks(io.BytesIO(CSV_CLAIMS.encode()), name="claims.csv"))
    lines = pl.concat([chunk.lines for chunk in chunks])
    assert dict(zip(lines["claim_id"], lines["dos"], strict=True)) == {"C1": date(2024, 8, 12), "C2": date(2024, 8, 13)}
    errors = pl.concat([chunk.errors for chunk in chunks])
    assert errors["claim_id"].to_list() == ["C3"]


def test_json_claims_take_us_dates() -> None:
    text = '{"id": "J1", "date_of_service": "08/12/2024", "lines": [{"code": "77373", "date_of_service": "20240813"}]}'
    claims, errors = read_claims(text, name="claims.json")
    assert not errors
    assert claims[0].date_of_service == date(2024, 8, 12)
    assert claims[0].lines[0].date_of_service == date(2024, 8, 13)


@pytest.mark.parametrize(("text", "expected"), [
    ("G6002-26", ("G6002", "26")), ("g6002 tc", ("G6002", "TC")), (" 77385 - 59 ", ("77385", "59")),
    ("G6002", ("G6002", None)), ("G6001-G6017", ("G6001-G6017", None)), ("26", ("26", None)),
    ("774*", ("774*", None)), ("G6002-2", ("G6002-2", None)),
])
def test_split_modifier(text: str, expected: tuple[str, str | None]) -> None:
    assert split_modifier(text) == expected


def test_code_and_modifier_refuses_two_different_modifiers() -> None:
    assert code_and_modifier("G6002-26", None) == ("G6002", "26")
    assert code_and_modifier("G6002-26", "-26") == ("G6002", "26")
    assert code_and_modifier("g6002", "tc") == ("G6002", "TC")
    with pytest.raises(MalformedCodeError):
        code_and_modifier("G6002-26", "TC")
