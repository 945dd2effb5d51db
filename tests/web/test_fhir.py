"""FHIR terminology operations; every answer is parsed back with the fhir.resources model classes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters

from hcpcs.core.codes import AMA_NOTICE

HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
HCPCS_HTTPS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
CPT = "http://www.ama-assn.org/go/cpt"


def parameters(response: Any) -> Parameters:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    return Parameters.model_validate_json(response.content)


def outcome(response: Any, status: int) -> OperationOutcome:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    return OperationOutcome.model_validate_json(response.content)


def value(params: Parameters, name: str) -> Any:
    for p in params.parameter or []:
        if p.name == name:
            return next(v for k, v in p.model_dump(mode="json", exclude_none=True).items() if k.startswith("value"))
    raise KeyError(name)


def props(params: Parameters) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for p in params.parameter or []:
        if p.name == "property":
            parts = {part.name: part.model_dump(mode="json", exclude_none=True) for part in p.part}
            out.setdefault(parts["code"]["valueCode"], []).append(parts)
    return out


def test_metadata(mini_client: TestClient) -> None:
    response = mini_client.get("/fhir/metadata")
    statement = CapabilityStatement.model_validate_json(response.content)
    assert statement.fhirVersion == "4.0.1"
    operations = {op.name for op in statement.rest[0].resource[0].operation}
    assert operations == {"lookup", "validate-code"}


def test_code_system(mini_client: TestClient) -> None:
    system = CodeSystem.model_validate_json(mini_client.get("/fhir/CodeSystem/hcpcs").content)
    assert system.url == HCPCS and system.content == "not-present"
    assert {"betos", "termination-date", "inactive"} <= {p.code for p in system.property}


def test_lookup(mini_client: TestClient) -> None:
    params = parameters(mini_client.get("/fhir/CodeSystem/$lookup",
                                        params={"system": HCPCS_HTTPS, "code": "Z9991", "date": "2099-05-01"}))
    assert value(params, "name") == "HCPCS Level II"
    assert value(params, "display") == "Fixture procedure two"
    assert value(params, "version") == "HCPCS 2099 Apr"
    designations = {(d.part[1].valueCoding.system, d.part[1].valueCoding.code): d.part[2].valueString
                    for d in params.parameter if d.name == "designation"}
    # Designation uses from HL7 Terminology and SNOMED CT, no private system.
    assert designations[("http://terminology.hl7.org/CodeSystem/designation-usage", "display")] == \
        "Fixture procedure two"
    assert ("http://snomed.info/sct", "900000000000003001") in designations
    assert all(d.part[0].valueCode == "en" for d in params.parameter if d.name == "designation")
    found = props(params)
    assert found["inactive"][0]["value"]["valueBoolean"] is False
    assert found["action-code"][0]["value"]["valueCode"] == "N"
    assert found["action-code"][0]["description"]["valueString"]


def test_lookup_with_date_after_termination(mini_client: TestClient) -> None:
    params = parameters(mini_client.get("/fhir/CodeSystem/$lookup",
                                        params={"system": HCPCS, "code": "Z9990", "date": "2099-05-01T10:00:00Z"}))
    found = props(params)
    assert found["inactive"][0]["value"]["valueBoolean"] is True
    assert found["termination-date"][0]["value"]["valueDateTime"] == "2098-12-31"


def test_lookup_post_parameters(mini_client: TestClient) -> None:
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "system", "valueUri": HCPCS}, {"name": "code", "valueCode": "Z9991"},
        {"name": "date", "valueDateTime": "2099-05-01"}]}
    params = parameters(mini_client.post("/fhir/CodeSystem/$lookup", json=body))
    assert value(params, "display") == "Fixture procedure two"
    bad = mini_client.post("/fhir/CodeSystem/$lookup", json={"resourceType": "Parameters", "parameter": [{"x": 1}]})
    outcome(bad, 400)


@pytest.mark.parametrize(("query", "status", "expression"), [
    ({"system": HCPCS, "code": "Z9999", "date": "2099-05-01"}, 404, "code"),
    ({"system": HCPCS, "code": "Z9991", "date": "1990-01-01"}, 404, "date"),
    ({"system": HCPCS, "code": "not a code"}, 404, "code"),
    ({"system": HCPCS}, 400, "code"),
    ({"code": "Z9991"}, 400, "system"),
    ({"system": "http://snomed.info/sct", "code": "Z9991"}, 404, "system"),
    ({"system": HCPCS, "code": "Z9991", "date": "01/05/2099"}, 400, "date"),
    ({"system": HCPCS, "code": "Z9991", "version": "HCPCS 1999 Jan"}, 404, "version"),
    ({"system": HCPCS, "code": "Z9991", "version": "HCPCS 2099 Apr", "date": "2099-01-01"}, 400, "date"),
    ({"system": HCPCS, "code": "Z9991", "coding": f"{HCPCS}|Z9990"}, 400, "coding.code"),
    ({"coding": "http://loinc.org|Z9991"}, 404, "coding.system"),
])
def test_lookup_errors(mini_client: TestClient, query: dict[str, str], status: int, expression: str) -> None:
    result = outcome(mini_client.get("/fhir/CodeSystem/$lookup", params=query), status)
    issue = result.issue[0]
    assert issue.severity == "error" and issue.diagnostics
    assert issue.expression == [expression]


def test_validate_code_honours_date(mini_client: TestClient) -> None:
    def check(day: str) -> Parameters:
        return parameters(mini_client.get("/fhir/CodeSystem/$validate-code",
                                          params={"url": HCPCS, "code": "Z9990", "date": day}))

    before, after = check("2098-06-01"), check("2099-05-01")
    assert value(before, "result") is True
    assert value(after, "result") is False
    assert "2098-12-31" in value(after, "message")
    assert value(after, "display") == "Fixture procedure one"


def test_validate_code_unknown_and_display(mini_client: TestClient) -> None:
    unknown = parameters(mini_client.get("/fhir/CodeSystem/$validate-code",
                                         params={"system": HCPCS, "code": "Z9999", "date": "2099-05-01"}))
    assert value(unknown, "result") is False and "Z9999" in value(unknown, "message")
    wrong = parameters(mini_client.get("/fhir/CodeSystem/$validate-code", params={
        "system": HCPCS, "code": "Z9991", "date": "2099-05-01", "display": "Something else"}))
    assert value(wrong, "result") is False
    right = parameters(mini_client.get("/fhir/CodeSystem/$validate-code", params={
        "system": HCPCS, "code": "Z9991", "date": "2099-05-01", "display": "fixture procedure two"}))
    assert value(right, "result") is True
    outcome(mini_client.get("/fhir/CodeSystem/$validate-code", params={"code": "Z9991"}), 400)


def test_lookup_by_coding_get_and_post(mini_client: TestClient) -> None:
    got = parameters(mini_client.get("/fhir/CodeSystem/$lookup", params={"coding": f"{HCPCS}|Z9991", "date": "2099-05-01"}))
    assert value(got, "display") == "Fixture procedure two"
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "coding", "valueCoding": {"system": HCPCS, "code": "Z9991", "version": "HCPCS 2099 Apr"}}]}
    posted = parameters(mini_client.post("/fhir/CodeSystem/$lookup", json=body))
    assert value(posted, "display") == "Fixture procedure two" and value(posted, "version") == "HCPCS 2099 Apr"
    # Answered as of the version's effective date, and said so.
    assert props(posted)["as-of"][0]["value"]["valueDateTime"] == "2099-04-01"
    both = {"resourceType": "Parameters", "parameter": [
        {"name": "system", "valueUri": HCPCS}, {"name": "code", "valueCode": "Z9990"},
        {"name": "coding", "valueCoding": {"system": HCPCS, "code": "Z9991"}}]}
    assert outcome(mini_client.post("/fhir/CodeSystem/$lookup", json=both), 400).issue[0].expression == ["coding.code"]


def test_lookup_version_by_month_and_canonical(mini_client: TestClient) -> None:
    by_month = parameters(mini_client.get("/fhir/CodeSystem/$lookup", params={"system": HCPCS, "code": "Z9991",
                                                                               "version": "2099-04"}))
    assert value(by_month, "version") == "HCPCS 2099 Apr"
    canonical = parameters(mini_client.get("/fhir/CodeSystem/$validate-code", params={
        "url": f"{HCPCS}|HCPCS 2099 Apr", "code": "Z9991"}))
    assert value(canonical, "result") is True and value(canonical, "version") == "HCPCS 2099 Apr"
    unknown = outcome(mini_client.get("/fhir/CodeSystem/$validate-code", params={
        "url": HCPCS, "code": "Z9991", "version": "HCPCS 1999 Jan"}), 404)
    assert "HCPCS 2099 Apr" in unknown.issue[0].diagnostics  # the versions that are loaded
    assert unknown.issue[0].details.coding[0].code == "not-found"


def test_lookup_property_filter(mini_client: TestClient) -> None:
    params = parameters(mini_client.get("/fhir/CodeSystem/$lookup", params=[
        ("system", HCPCS), ("code", "Z9991"), ("date", "2099-05-01"), ("property", "inactive"),
        ("property", "termination-date")]))
    assert set(props(params)) <= {"inactive", "termination-date"} and "inactive" in props(params)
    assert not [p for p in params.parameter if p.name in ("designation", "version")]
    assert value(params, "display") and value(params, "name")  # 1..1 whatever the filter
    with_designation = parameters(mini_client.get("/fhir/CodeSystem/$lookup", params=[
        ("system", HCPCS), ("code", "Z9991"), ("date", "2099-05-01"), ("property", "designation")]))
    assert not props(with_designation) and [p for p in with_designation.parameter if p.name == "designation"]


def test_validate_code_no_data_is_not_invalid(mini_client: TestClient) -> None:
    """No release covers the date: an OperationOutcome saying so (and what is loaded, and how to ask for
    another date), never result=false."""
    for response in (
        mini_client.get("/fhir/CodeSystem/$validate-code", params={"url": HCPCS, "code": "Z9991", "date": "1990-01-01"}),
        mini_client.post("/fhir/CodeSystem/$validate-code", json={"resourceType": "Parameters", "parameter": [
            {"name": "coding", "valueCoding": {"system": HCPCS, "code": "Z9991"}},
            {"name": "date", "valueDate": "1990-01-01"}]}),
    ):
        result = outcome(response, 404)
        text = result.issue[0].diagnostics
        assert "1990-01-01" in text and "HCPCS 2099 Apr" in text and "date=" in text
        assert result.issue[0].code == "not-found" and result.issue[0].expression == ["date"]


def test_validate_code_coding_and_codeable_concept(mini_client: TestClient) -> None:
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "coding", "valueCoding": {"system": HCPCS, "code": "Z9990"}}, {"name": "date", "valueDate": "2099-05-01"}]}
    terminated = parameters(mini_client.post("/fhir/CodeSystem/$validate-code", json=body))
    assert value(terminated, "result") is False and "2098-12-31" in value(terminated, "message")
    issues = next(p.resource for p in terminated.parameter if p.name == "issues")
    assert issues.issue[0].details.coding[0].code == "invalid-code"
    assert value(terminated, "code") == "Z9990" and value(terminated, "system") == HCPCS
    concept = {"resourceType": "Parameters", "parameter": [
        {"name": "codeableConcept", "valueCodeableConcept": {"coding": [
            {"system": "http://loinc.org", "code": "1-8"}, {"system": HCPCS, "code": "Z9991"}]}},
        {"name": "date", "valueDate": "2099-05-01"}]}
    assert value(parameters(mini_client.post("/fhir/CodeSystem/$validate-code", json=concept)), "result") is True
    # R4 names the system `url`; `system` is accepted too.
    by_url = parameters(mini_client.get("/fhir/CodeSystem/$validate-code",
                                        params={"url": HCPCS, "code": "Z9991", "date": "2099-05-01"}))
    by_system = parameters(mini_client.get("/fhir/CodeSystem/$validate-code",
                                           params={"system": HCPCS, "code": "Z9991", "date": "2099-05-01"}))
    assert value(by_url, "result") is True and value(by_system, "result") is True
    # The fixture releases are in 2099: with no date (today), no release covers it, and the answer says so.
    default_day = outcome(mini_client.get("/fhir/CodeSystem/$validate-code", params={"url": HCPCS, "code": "Z9991"}), 404)
    assert "today" in default_day.issue[0].diagnostics


def test_fhir_bodies_nested_or_large_are_refused(mini_client: TestClient) -> None:
    nested = b'{"resourceType": "Parameters", "parameter": [' + b"[" * 20_000 + b"]" * 20_000 + b"]}"
    for path in ("/fhir/CodeSystem/$lookup", "/fhir/CodeSystem/$validate-code"):
        refused = outcome(mini_client.post(path, content=nested, headers={"content-type": "application/fhir+json"}), 400)
        assert "nests" in refused.issue[0].diagnostics
    big = b'{"resourceType": "Parameters", "parameter": [], "id": "' + b"x" * 70_000 + b'"}'
    outcome(mini_client.post("/fhir/CodeSystem/$lookup", content=big, headers={"content-type": "application/json"}), 413)
    not_parameters = outcome(mini_client.post("/fhir/CodeSystem/$lookup", json={"resourceType": "Patient"}), 400)
    assert "Parameters" in not_parameters.issue[0].diagnostics


def test_fhirpy_client_against_live_server(mini_live_server: str) -> None:
    """A FHIR client library (fhirpy) calling the operations over HTTP, GET and POST."""
    from fhirpy import SyncFHIRClient

    client = SyncFHIRClient(f"{mini_live_server}/fhir")
    got = Parameters.model_validate(client.execute("CodeSystem/$lookup", method="get",
                                                   params={"system": HCPCS, "code": "Z9991", "date": "2099-05-01"}))
    assert value(got, "display") == "Fixture procedure two"
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "coding", "valueCoding": {"system": HCPCS, "code": "Z9991", "version": "HCPCS 2099 Apr"}}]}
    checked = Parameters.model_validate(client.execute("CodeSystem/$validate-code", method="post", data=body))
    assert value(checked, "result") is True and value(checked, "version") == "HCPCS 2099 Apr"
    statement = CapabilityStatement.model_validate(client.execute("metadata", method="get"))
    assert statement.fhirVersion == "4.0.1"


def test_unknown_fhir_path_is_operation_outcome(mini_client: TestClient) -> None:
    outcome(mini_client.get("/fhir/Patient/1"), 404)


@pytest.mark.realdata
def test_real_g6002(real_client: TestClient) -> None:
    params = parameters(real_client.get("/fhir/CodeSystem/$lookup",
                                        params={"system": HCPCS_HTTPS, "code": "G6002", "date": "2026-02-01"}))
    assert value(params, "display") == "Stereoscopic x-ray guidance"
    assert props(params)["inactive"][0]["value"]["valueBoolean"] is True
    valid = parameters(real_client.get("/fhir/CodeSystem/$validate-code",
                                       params={"system": HCPCS_HTTPS, "code": "G6002", "date": "2026-02-01"}))
    assert value(valid, "result") is False
    assert "2025-12-31" in value(valid, "message")
    earlier = parameters(real_client.get("/fhir/CodeSystem/$validate-code",
                                         params={"system": HCPCS_HTTPS, "code": "G6002", "date": "2024-08-12"}))
    assert value(earlier, "result") is True


@pytest.mark.realdata
def test_real_cpt_answered_from_imported_file_with_notice(real_client: TestClient) -> None:
    params = parameters(real_client.get("/fhir/CodeSystem/$lookup",
                                        params={"system": CPT, "code": "77373", "date": "2024-08-12"}))
    assert value(params, "name") == "CPT"
    assert value(params, "display")  # the descriptor of the user's own PPRRVU file (not asserted: AMA text)
    assert props(params)["notice"][0]["value"]["valueString"] == AMA_NOTICE
    # A CPT code is not a HCPCS Level II code under the CPT system check, and a Level II code is not CPT.
    outcome(real_client.get("/fhir/CodeSystem/$lookup", params={"system": CPT, "code": "G6002"}), 404)


@pytest.mark.realdata
def test_real_default_date_is_stated(real_client: TestClient) -> None:
    today = parameters(real_client.get("/fhir/CodeSystem/$lookup", params=[
        ("system", HCPCS), ("code", "G6002"), ("property", "inactive")]))
    assert set(props(today)) == {"inactive", "as-of"}
    valid = parameters(real_client.get("/fhir/CodeSystem/$validate-code", params={"url": HCPCS, "code": "A0425"}))
    assert "today" in value(valid, "message")


@pytest.mark.realdata
def test_real_version_answers_from_that_release(real_client: TestClient) -> None:
    """`version=HCPCS 2020 Jan` answers from that release, not the one in force today."""
    old = parameters(real_client.get("/fhir/CodeSystem/$lookup", params={
        "system": HCPCS, "code": "G6002", "version": "HCPCS 2020 Jan"}))
    assert value(old, "version") == "HCPCS 2020 Jan"
    assert props(old)["as-of"][0]["value"]["valueDateTime"] == "2020-01-01"
    assert props(old)["inactive"][0]["value"]["valueBoolean"] is False
    valid = parameters(real_client.get("/fhir/CodeSystem/$validate-code", params={
        "url": HCPCS, "code": "G6002", "version": "HCPCS 2020 Jan"}))
    assert value(valid, "result") is True and value(valid, "version") == "HCPCS 2020 Jan"
    new = parameters(real_client.get("/fhir/CodeSystem/$validate-code", params={
        "url": HCPCS, "code": "G6002", "version": "HCPCS 2026 Jan"}))
    assert value(new, "result") is False and value(new, "version") == "HCPCS 2026 Jan"
    clash = outcome(real_client.get("/fhir/CodeSystem/$validate-code", params={
        "url": HCPCS, "code": "G6002", "version": "HCPCS 2020 Jan", "date": "2026-02-01"}), 400)
    assert "HCPCS 2020 Jan" in clash.issue[0].diagnostics


@pytest.mark.realdata
def test_real_cpt_with_no_fee_schedule_for_today_is_no_data(real_client: TestClient) -> None:
    """77373 with no date when no fee-schedule release covers today: not `result: false`."""
    from datetime import date

    newest_end = max(r.effective_end for r in real_client.app.state.ctx.hc.releases if r.dataset == "mpfs")
    if newest_end >= date.today():
        pytest.skip("a loaded fee-schedule release covers today")
    response = real_client.get("/fhir/CodeSystem/$validate-code", params={"url": CPT, "code": "77373"})
    result = outcome(response, 404)
    text = result.issue[0].diagnostics
    assert "today" in text and "fee schedule" in text and "date=" in text
