"""The sample 837 corpus (tests/fixtures/claims/x12/, made-up 5010 data): every file is read and each has
its expected claims or error here, so a file added without expectations fails."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hcpcs.claims.readers import iter_chunks, read_claims, read_claims_file, sniff_format
from hcpcs.core.errors import ClaimFormatError

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "claims" / "x12"

# file -> {claim id: [(code, modifiers, units, minutes)]}, and the claims refused: id -> (location, fragment)
READABLE: dict[str, tuple[dict[str, list[tuple[str, tuple[str, ...], int, int | None]]], dict[str, tuple[str, str]]]] = {
    "837p_anesthesia_minutes.x12": (
        {"ANES001": [("00400", ("AA",), 1, 45), ("99100", (), 1, None)]}, {}),
    "837p_multiple_claims.x12": (
        {"MULTI001": [("77373", (), 1, None), ("77014", ("26",), 1, None)],
         "MULTI002": [("77427", (), 1, None)],
         "MULTI003": [("77301", ("26",), 1, None)],
         "MULTI004": [("77280", (), 2, None)],
         "MULTI005": [("77336", (), 1, None)]}, {}),
    "837i_outpatient.x12": (
        {"INST001": [("77385", (), 1, None), ("77014", (), 1, None)]}, {}),
    "broken_sv1_without_lx.x12": (
        {"MULTI001": [("77373", (), 1, None), ("77014", ("26",), 1, None)],
         "MULTI003": [("77301", ("26",), 1, None)],
         "MULTI004": [("77280", (), 2, None)],
         "MULTI005": [("77336", (), 1, None)]},
        {"MULTI002": ("segment 31 (SV1)", "without an LX")}),
}
UNREADABLE = {
    "broken_no_isa.x12": ("segment 1 (GS)", "ISA interchange envelope is missing"),
    "broken_no_terminators.x12": ("segment 1 (ISA)", "segment terminator is missing"),
}


def test_every_corpus_file_has_expectations() -> None:
    assert {path.name for path in CORPUS.iterdir()} == set(READABLE) | set(UNREADABLE)


@pytest.mark.parametrize("name", sorted(READABLE))
def test_corpus_file_reads_as_expected(name: str) -> None:
    expected_claims, expected_errors = READABLE[name]
    claims, errors = read_claims_file(CORPUS / name)
    assert {claim.id: [(line.code, line.modifiers, line.units, line.minutes) for line in claim.lines]
            for claim in claims} == expected_claims
    assert {error.claim_id: error.location for error in errors} == {
        claim_id: location for claim_id, (location, _) in expected_errors.items()}
    for error in errors:
        assert expected_errors[error.claim_id][1] in error.message


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_broken_envelopes_say_what_is_missing(name: str) -> None:
    location, fragment = UNREADABLE[name]
    text = (CORPUS / name).read_text()
    assert sniff_format(text[:4096]) == "x12"
    with pytest.raises(ClaimFormatError, match=fragment) as raised:
        read_claims(text, name=name)
    assert raised.value.location == f"{name}, {location}"
    with pytest.raises(ClaimFormatError, match=fragment):
        list(iter_chunks(io.BytesIO(text.encode()), name=name))


def test_anesthesia_minutes_are_kept_in_the_line_frame() -> None:
    lines = next(iter_chunks(CORPUS / "837p_anesthesia_minutes.x12")).lines
    assert lines.select("code", "units", "minutes").rows() == [("00400", 1.0, 45), ("99100", 1.0, None)]


def test_an_837i_line_without_lx_is_an_error_too() -> None:
    text = (CORPUS / "837i_outpatient.x12").read_text().replace("LX*2~\n", "").replace("SE*31*", "SE*30*")
    claims, errors = read_claims(text)
    assert claims == []
    assert [(error.claim_id, error.location) for error in errors] == [("INST001", "segment 28 (SV2)")]
    assert "without an LX" in errors[0].message


def test_terminator_missing_after_a_well_ended_isa() -> None:
    text = (CORPUS / "837p_multiple_claims.x12").read_text()
    isa, rest = text[:106], text[106:]
    with pytest.raises(ClaimFormatError, match="no segment terminator follows the GS"):
        read_claims(isa + rest.replace("~\n", ""), name="run-on.837")


def test_csv_with_a_state_column_is_still_csv() -> None:
    assert sniff_format("ST,claim_id,code\nCA,C1,77373\n") == "csv"
    assert sniff_format("GS1,claim_id\n") == "csv"
