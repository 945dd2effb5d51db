"""X12 837P / 837I claim reader."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from hcpcs.claims.model import Claim, ClaimError
from hcpcs.claims.readers import iter_claims, read_claims, read_claims_file
from hcpcs.claims.x12 import iter_837
from hcpcs.core.errors import ClaimInputError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "claims"
PROFESSIONAL = (FIXTURES / "claims_837p.x12").read_text()


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_837p_fixture_two_claims() -> None:
    claims, errors = read_claims_file(FIXTURES / "claims_837p.x12")
    assert errors == []
    first, second = claims
    assert first.id == "TESTCLM001"
    assert first.setting == "professional"
    assert first.date_of_service == date(2024, 8, 12)
    assert [(line.code, line.modifiers, line.units) for line in first.lines] == [
        ("77373", (), 1), ("G6002", (), 1)
    ]
    assert first.lines[0].charge == 1500.0
    assert first.lines[0].diagnosis_pointers == ("1", "2")
    assert first.place_of_service == "11"
    assert first.diagnosis_codes == ("C3490", "Z5111")
    assert first.provider == "1000000004"  # rendering NM1*82 wins over billing NM1*85
    assert first.extra["billing_provider"] == "1234567893"
    assert first.extra["claim_frequency"] == "1"
    assert first.extra["total_charge"] == 1600.0

    assert second.id == "TESTCLM002"
    assert [(line.code, line.modifiers) for line in second.lines] == [("77301", ("26",)), ("77293", ())]
    assert second.lines[0].place_of_service == "22"
    assert second.lines[0].date_of_service == date(2024, 8, 6)
    assert second.lines[1].date_of_service == date(2024, 8, 5)  # RD8 range -> its first day
    assert second.date_of_service == date(2024, 8, 5)  # the earliest line date
    assert second.provider == "1234567893"  # no rendering provider: the billing provider


def test_837p_is_sniffed() -> None:
    claims, errors = read_claims(PROFESSIONAL.encode())
    assert [claim.id for claim in claims] == ["TESTCLM001", "TESTCLM002"] and errors == []
    assert read_claims(PROFESSIONAL, "x12")[0] == claims


def test_fixtures_are_valid_for_pyx12s_full_validation() -> None:
    import pyx12.params
    import pyx12.x12n_document

    for fixture in ("claims_837p.x12", "claims_837i.x12"):
        acknowledgement = io.StringIO()
        assert pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(), src_file=str(FIXTURES / fixture), fd_997=acknowledgement, fd_html=None
        ), fixture


def test_broken_837p_bad_claims_are_errors_others_read() -> None:
    claims, errors = read_claims_file(FIXTURES / "claims_837p_broken.x12")
    assert [claim.id for claim in claims] == ["GOOD0002"]
    assert claims[0].lines[0].code == "77427"
    found = {error.claim_id: error for error in errors}
    assert found["BADQUAL01"].location == "segment 19 (SV1)"
    assert "'ER'" in found["BADQUAL01"].message and "HC" in found["BADQUAL01"].message
    assert found["NODATE03"].location == "segment 28 (SV1)"
    assert "DTP*472" in found["NODATE03"].message
    assert found["SHORT004"].location == "segment 31 (SV1)"
    assert "at least 4" in found["SHORT004"].message
    assert len(errors) == 3


def test_837i_fixture_is_facility() -> None:
    claims, errors = read_claims_file(FIXTURES / "claims_837i.x12")
    assert errors == []
    (claim,) = claims
    assert claim.setting == "facility"
    assert claim.place_of_service is None
    assert [(line.code, line.modifiers, line.units) for line in claim.lines] == [
        ("77385", ("TC",), 5), ("77014", (), 1)
    ]
    assert claim.date_of_service == date(2024, 8, 5)
    assert claim.diagnosis_codes == ("C3490", "Z5111")
    assert claim.extra["facility_type_code"] == "13"
    assert claim.extra["revenue_codes"] == ["0333", "0333"]
    assert claim.extra["revenue_only_lines"] == 1
    assert claim.extra["transaction"] == "837I"


def test_837i_statement_date_when_lines_have_none() -> None:
    text = (FIXTURES / "claims_837i.x12").read_text()
    text = text.replace("DTP*472*D8*20240805~\n", "").replace("DTP*472*D8*20240806~\n", "")
    text = edit(text, "SE*32*", "SE*30*")
    claims, errors = read_claims(text)
    assert errors == []
    assert claims[0].date_of_service == date(2024, 8, 1)
    assert all(line.date_of_service is None for line in claims[0].lines)


def test_other_separators() -> None:
    text = PROFESSIONAL.replace("*", "|").replace(":", ">").replace("~\n", "\n")
    claims, errors = read_claims(text)
    assert errors == []
    assert claims[1].lines[0].modifiers == ("26",)


@pytest.mark.parametrize(
    ("old", "new", "claim_id", "location", "fragment"),
    [
        ("SV1*HC:G6002*100*UN*1***1~", "SV1*HC:G6002*100*DA*1***1~", "TESTCLM001", "segment 28 (SV1)", "UN or MJ"),
        ("SV1*HC:G6002*100*UN*1***1~", "SV1*HC:G6002*100*MJ*0***1~", "TESTCLM001", "segment 28 (SV1)", "minutes"),
        ("SV1*HC:G6002*100*UN*1***1~", "SV1*HC:G6002*100*UN*0***1~", "TESTCLM001", "segment 28 (SV1)", "greater than 0"),
        ("SV1*HC:G6002*100*UN*1***1~", "SV1*HC:G600*100*UN*1***1~", "TESTCLM001", "segment 28 (SV1)", "SV101-2"),
        ("SV1*HC:G6002*100*UN*1***1~", "SV1*HC:G6002:XYZ*100*UN*1***1~", "TESTCLM001", "segment 28 (SV1)", "modifier"),
        ("DTP*472*D8*20240812~\nLX*2", "DTP*472*D8*20240231~\nLX*2", "TESTCLM001", "segment 26 (DTP)", "calendar"),
        ("DTP*472*D8*20240812~\nLX*2", "DTP*472*D8~\nLX*2", "TESTCLM001", "segment 26 (DTP)", "at least 3"),
        ("11:B:1", "XX:B:1", "TESTCLM001", "segment 21 (CLM)", "CLM05-1"),
        ("CLM*TESTCLM002*300", "CLM**300", None, "segment 37 (CLM)", "CLM01"),
        ("SV1*HC:77293", "SV2*0333*HC:77293", "TESTCLM002", "segment 43 (SV2)", "SV2 service line"),
    ],
)
def test_bad_segment_makes_one_claim_an_error(
    old: str, new: str, claim_id: str | None, location: str, fragment: str
) -> None:
    claims, errors = read_claims(edit(PROFESSIONAL, old, new))
    assert len(claims) == 1
    assert len(errors) == 1
    (error,) = errors
    assert (error.claim_id, error.location) == (claim_id, location)
    assert fragment in error.message


def test_envelope_count_error_is_reported_but_claims_read() -> None:
    claims, errors = read_claims(edit(PROFESSIONAL, "SE*43*", "SE*40*"))
    assert len(claims) == 2
    assert errors == [ClaimError(None, "segment 45 (SE)", "SE count of 40 for SE02=0001 is wrong. I count 43")]


def test_truncated_file() -> None:
    cut = PROFESSIONAL[: PROFESSIONAL.index("DTP*472*RD8") + 12]
    claims, errors = read_claims(cut)
    assert [claim.id for claim in claims] == ["TESTCLM001"]
    assert errors[0].claim_id == "TESTCLM002"
    assert errors[0].location == "segment 44 (DTP)"
    assert "truncated" in errors[0].message
    assert any("Transaction Set Trailer" in error.message for error in errors[1:])


def test_missing_trailers_make_the_open_claim_an_error() -> None:
    cut = PROFESSIONAL[: PROFESSIONAL.index("SE*")]
    claims, errors = read_claims(cut)
    assert [claim.id for claim in claims] == ["TESTCLM001"]
    assert errors[0].claim_id == "TESTCLM002" and "truncated" in errors[0].message
    assert {error.location for error in errors[1:]} == {"end of file"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("GS*HC*A*B*20240815*1200*1*X*005010X222A1~ST*837*0001~", "ISA interchange envelope is missing"),
        (PROFESSIONAL.replace("*240815*", "*2408*", 1), "not an X12 interchange"),
        (PROFESSIONAL.replace("00501", "00601", 1), "not an X12 interchange"),
        (PROFESSIONAL.replace("ST*837*", "ST*835*"), "not a claim"),
        (PROFESSIONAL.replace("005010X222A1", "005010X224A2"), "is not read"),
        (edit(PROFESSIONAL, "ST*837*0001*005010X222A1~\n", ""), "trailer has no matching"),
    ],
)
def test_unreadable_interchange_raises(text: str, fragment: str) -> None:
    with pytest.raises(ClaimInputError, match=fragment):
        read_claims(text, "x12", name="batch.837")


def test_iter_837_streams_a_large_interchange(tmp_path: Path) -> None:
    head = PROFESSIONAL[: PROFESSIONAL.index("HL*2*1")]
    body = PROFESSIONAL[PROFESSIONAL.index("HL*2*1") : PROFESSIONAL.index("SE*")]
    parts = [head]
    hl = 1
    for index in range(600):
        chunk = body.replace("TESTCLM00", f"C{index}-")
        chunk = chunk.replace("HL*2*1*", f"HL*{hl + 1}*1*").replace("HL*3*1*", f"HL*{hl + 2}*1*")
        hl += 2
        parts.append(chunk)
    segments = sum(part.count("~") for part in parts) - 2  # minus ISA and GS
    parts.append(f"SE*{segments + 1}*0001~\nGE*1*1~\nIEA*1*000000001~\n")
    path = tmp_path / "big.837"
    path.write_text("".join(parts))
    with path.open(encoding="ascii") as handle:
        items = iter_837(handle, name="big.837")
        first = next(items)
        assert isinstance(first, Claim) and first.id == "C0-1"
        assert handle.tell() < path.stat().st_size / 4
        rest = list(items)
    assert len(rest) == 1_199
    assert all(isinstance(item, Claim) for item in rest)
    assert sum(1 for _ in iter_claims(path)) == 1_200
