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
    designations = [p for p in params.parameter if p.name == "designation"]
    assert [d.part[0].valueCoding.code for d in designations] == ["short", "long"]
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
