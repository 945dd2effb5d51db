"""The REST API on the made-up fixture store: every endpoint, the library's dicts as bodies, and problem
details with the right status and field for bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hcpcs.services import fees
from hcpcs.services.reference import history, lookup
from hcpcs.store.session import Hcpcs
from tests.web.conftest import client_for

PROBLEM = "application/problem+json"


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def assert_problem(response: Any, status: int, slug: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert isinstance(body["errors"], list)
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


# ------------------------------------------------------------------------------------ reference


def test_lookup_body_is_the_library_dict(mini_client: TestClient, mini_hc: Hcpcs) -> None:
    response = mini_client.get("/api/lookup/Z9991", params={"as_of": "2099-05-01"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == as_json(lookup("Z9991", "2099-05-01", hc=mini_hc))


def test_lookup_normalizes_code_and_honours_date(mini_client: TestClient) -> None:
    body = mini_client.get("/api/lookup/z9990", params={"as_of": "2099-05-01"}).json()
    assert body["code"] == "Z9990"
    assert body["valid_on_date"] is False
    assert "2098-12-31" in body["validity"]


def test_lookup_unknown_code_is_404(mini_client: TestClient) -> None:
    body = assert_problem(mini_client.get("/api/lookup/Z9999", params={"as_of": "2099-05-01"}), 404,
                          "unknown-code", "code")
    assert body["instance"] == "/api/lookup/Z9999"
    assert body["errors"][0]["in"] == "path"


def test_lookup_before_every_release_is_404_not_covered(mini_client: TestClient) -> None:
    body = assert_problem(mini_client.get("/api/lookup/Z9991", params={"as_of": "1990-01-01"}), 404,
                          "not-covered", "as_of")
    assert body["errors"][0]["in"] == "query"
    # Which date was used, what the newest loaded releases cover, how to ask for another date.
    assert "1990-01-01" in body["detail"] and "HCPCS 2099 Apr" in body["detail"] and "RVU30B" in body["detail"]
    assert "?as_of=YYYY-MM-DD" in body["detail"]


def test_not_covered_without_a_date_says_today(mini_client: TestClient) -> None:
    from datetime import date

    body = assert_problem(mini_client.get("/api/lookup/Z9991"), 404, "not-covered", "as_of")
    assert f"today, {date.today()}, as no as_of was given" in body["detail"]
    fee = assert_problem(mini_client.get("/api/fee/Z9991", params={"as_of": "2031-05-01"}), 404, "not-covered")
    assert "RVU30B (2030-04-01 to 2030-12-31)" in fee["detail"]


@pytest.mark.parametrize("code", ["ABC", "1234", "G60021", "G-002"])
def test_lookup_malformed_code_is_422(mini_client: TestClient, code: str) -> None:
    assert_problem(mini_client.get(f"/api/lookup/{code}"), 422, "malformed-code", "code")


@pytest.mark.parametrize("bad", ["2026-13-01", "02.01.2026", "13/02/2030", "yesterday", "2026-02-30"])
def test_bad_date_is_422_naming_as_of(mini_client: TestClient, bad: str) -> None:
    assert_problem(mini_client.get("/api/lookup/Z9991", params={"as_of": bad}), 422, "invalid-input", "as_of")


def test_search(mini_client: TestClient) -> None:
    body = mini_client.get("/api/search", params={"q": "fixture", "limit": 3}).json()
    assert body["mode"] == "text"
    assert body["count"] == len(body["results"]) <= 3
    assert all(r["code"].startswith("Z") for r in body["results"])


def test_search_by_range_and_filters(mini_client: TestClient) -> None:
    body = mini_client.get("/api/search", params={"q": "Z9990-Z9992", "active_on": "2099-05-01"}).json()
    assert body["mode"] == "codes"
    assert [r["code"] for r in body["results"]] == ["Z9991", "Z9992"]  # Z9990 ended 2098-12-31


def test_search_validation(mini_client: TestClient) -> None:
    assert_problem(mini_client.get("/api/search"), 422, "validation-error", "q")
    assert_problem(mini_client.get("/api/search", params={"q": "x", "limit": 0}), 422, "validation-error", "limit")
    assert_problem(mini_client.get("/api/search", params={"q": "x", "limit": "many"}), 422, "validation-error", "limit")
    assert_problem(mini_client.get("/api/search", params={"q": "fixture", "active_on": "soon"}), 422,
                   "invalid-input", "active_on")
    # No letter or digit: refused by the documented pattern before the search runs.
    assert_problem(mini_client.get("/api/search", params={"q": "!!!"}), 422, "validation-error", "q")


def test_similar_and_history(mini_client: TestClient, mini_hc: Hcpcs) -> None:
    similar = mini_client.get("/api/similar/Z9991", params={"limit": 2}).json()
    assert similar["code"] == "Z9991" and len(similar["similar"]) <= 2
    assert all(s["reasons"] for s in similar["similar"])
    assert mini_client.get("/api/history/Z9991").json() == as_json(history("Z9991", hc=mini_hc))
    assert_problem(mini_client.get("/api/history/Z9999"), 404, "unknown-code", "code")
    assert_problem(mini_client.get("/api/similar/Z9999"), 404, "unknown-code", "code")


def test_diff(mini_client: TestClient) -> None:
    body = mini_client.get("/api/diff", params={"from": "HCPCS 2099 Apr", "to": "HCPCS 2099 Apr"}).json()
    assert body["counts"] == {"added": 0, "discontinued": 0, "removed": 0, "changed": 0}
    assert_problem(mini_client.get("/api/diff", params={"from": "HCPCS 1900 Jan", "to": "HCPCS 2099 Apr"}), 404,
                   "unknown-release", "from")
    assert_problem(mini_client.get("/api/diff", params={"from": "HCPCS 2099 Apr"}), 422, "validation-error", "to")
    assert_problem(mini_client.get("/api/diff", params={"from": "HCPCS 2099 Apr", "to": "RVU30B"}), 422,
                   "invalid-input")


def test_releases(mini_client: TestClient, mini_hc: Hcpcs) -> None:
    body = mini_client.get("/api/releases").json()
    assert body == as_json([r.to_dict() for r in mini_hc.releases])
    only = mini_client.get("/api/releases", params={"dataset": "mpfs"}).json()
    assert [r["label"] for r in only] == ["RVU30B"]


# ------------------------------------------------------------------------------------ fees and edits


def test_fee_national_and_locality(mini_client: TestClient, mini_hc: Hcpcs) -> None:
    body = mini_client.get("/api/fee/Z9991", params={"as_of": "2030-05-01"}).json()
    assert body == as_json(fees.fee("Z9991", as_of="2030-05-01", hc=mini_hc))
    local = mini_client.get("/api/fee/Z9991", params={"as_of": "2030-05-01", "locality": "09902-01",
                                                      "setting": "facility", "modifier": "26"}).json()
    assert local == as_json(fees.fee("Z9991", "26", locality="09902-01", setting="facility", as_of="2030-05-01",
                                     hc=mini_hc))
    assert local["locality"]["id"] == "09902-01"


def test_fee_variants(mini_client: TestClient, mini_hc: Hcpcs) -> None:
    spread = mini_client.get("/api/fee/Z9991", params={"as_of": "2030-05-01", "all_localities": "true"}).json()
    assert spread == as_json(fees.all_localities("Z9991", as_of="2030-05-01", hc=mini_hc))
    past = mini_client.get("/api/fee/Z9991", params={"history": "true"}).json()
    assert past == as_json(fees.fee_history("Z9991", hc=mini_hc))
    both = mini_client.get("/api/fee/Z9991", params={"history": "true", "opps": "true"})
    assert_problem(both, 422, "invalid-input", "history")


def test_fee_errors(mini_client: TestClient) -> None:
    assert_problem(mini_client.get("/api/fee/Z9991", params={"as_of": "2030-05-01", "locality": "99"}), 422,
                   "validation-error", "locality")
    assert_problem(mini_client.get("/api/fee/Z9991", params={"as_of": "2030-05-01", "locality": "99999-99"}), 422,
                   "invalid-input", "locality")
    assert_problem(mini_client.get("/api/fee/Z9991", params={"as_of": "2030-05-01", "setting": "home"}), 422,
                   "validation-error", "setting")
    assert_problem(mini_client.get("/api/fee/Z9991", params={"as_of": "2030-05-01", "modifier": "59"}), 422,
                   "validation-error", "modifier")
    # No fee-schedule release covers 2031: valid request, nothing loaded answers it.
    assert_problem(mini_client.get("/api/fee/Z9991", params={"as_of": "2031-05-01"}), 404, "not-covered", "as_of")
    # No OPPS release at all in this store (other data is): no release answers, as for a date not covered.
    assert_problem(mini_client.get("/api/fee/Z9991", params={"opps": "true"}), 404, "not-covered")


def test_edits(mini_client: TestClient) -> None:
    body = mini_client.get("/api/edits/Z9901", params={"as_of": "2024-08-12"}).json()
    assert body["code"] == "Z9901"
    assert [e["column2"] for e in body["ptp"]["as_column1"]] == ["Z9902"]
    assert_problem(mini_client.get("/api/edits/Z9901", params={"setting": "dme"}), 422, "validation-error", "setting")
    assert_problem(mini_client.get("/api/edits/Z99", params={}), 422, "malformed-code", "code")


# ------------------------------------------------------------------------------------ claims

CLAIM = {"id": "A", "date_of_service": "2024-08-12", "lines": [{"code": "Z9901"}, {"code": "Z9902"}]}


def test_check_one_claim(mini_client: TestClient) -> None:
    body = mini_client.post("/api/check", json=CLAIM).json()
    assert body["id"] == "A"
    finding = next(f for f in body["findings"] if f["rule"] == "PTP_BUNDLED")
    assert finding["codes"] == ["Z9901", "Z9902"] and finding["lines"] == [1, 2]


def test_check_array_keeps_order_and_reports_bad_claims(mini_client: TestClient) -> None:
    bad = {"id": "B", "date_of_service": "2024-08-12", "lines": [{"code": "Z9901", "units": 0}]}
    body = mini_client.post("/api/check", json=[CLAIM, bad, {**CLAIM, "id": "C"}]).json()
    assert [r["id"] for r in body] == ["A", "B", "C"]
    assert body[1]["error"]["location"] == "claims[1].lines[0].units"
    assert body[1]["findings"] == []
    wrapped = mini_client.post("/api/check", json={"claims": [CLAIM]}).json()
    assert isinstance(wrapped, list) and wrapped[0]["id"] == "A"


def test_check_csv_body(mini_client: TestClient) -> None:
    csv = "claim_id,date_of_service,code\nA,2024-08-12,Z9901\nA,2024-08-12,Z9902\n"
    response = mini_client.post("/api/check", content=csv, headers={"content-type": "text/csv"})
    assert response.status_code == 200
    assert any(f["rule"] == "PTP_BUNDLED" for f in response.json()[0]["findings"])


def test_check_bad_single_claim_names_the_field(mini_client: TestClient) -> None:
    bad = {"id": "B", "date_of_service": "2024-08-12", "lines": [{"code": "Z9901", "units": -2}]}
    body = assert_problem(mini_client.post("/api/check", json=bad), 422, "invalid-claim", "lines[0].units")
    assert body["errors"][0]["in"] == "body"
    assert_problem(mini_client.post("/api/check", json={"id": "B", "lines": []}), 422, "invalid-claim", "lines")


def test_check_malformed_json_is_400(mini_client: TestClient) -> None:
    response = mini_client.post("/api/check", content=b'{"id": "A", "lines": [', headers={"content-type": "application/json"})
    body = assert_problem(response, 400, "malformed-body", "body")
    assert "line 1" in body["detail"]
    assert_problem(mini_client.post("/api/check", content=b"", headers={"content-type": "application/json"}), 400,
                   "malformed-body", "body")
    not_utf8 = mini_client.post("/api/check", content=b'{"id": "\xff"}', headers={"content-type": "application/json"})
    assert_problem(not_utf8, 400, "malformed-body", "body")


def test_check_unknown_pack(mini_client: TestClient) -> None:
    response = mini_client.post("/api/check", params={"packs": "/etc/passwd.toml"}, json=CLAIM)
    assert_problem(response, 422, "validation-error", "packs")


def test_check_with_builtin_pack(mini_client: TestClient) -> None:
    response = mini_client.post("/api/check", params={"packs": "radonc-igrt"}, json=CLAIM)
    assert response.status_code == 200


def test_oversize_batch_is_413(mini_hc: Hcpcs) -> None:
    client = client_for(mini_hc, max_claims=3)
    assert client.post("/api/check", json=[CLAIM] * 3).status_code == 200
    body = assert_problem(client.post("/api/check", json=[CLAIM] * 4), 413, "content-too-large", "body")
    assert "at most 3" in body["detail"]
    csv = "claim_id,date_of_service,code\n" + "".join(f"C{i},2024-08-12,Z9901\n" for i in range(4))
    assert_problem(client.post("/api/check", content=csv, headers={"content-type": "text/csv"}), 413,
                   "content-too-large")


def test_oversize_body_is_413(mini_hc: Hcpcs) -> None:
    client = client_for(mini_hc, max_body_bytes=1024)
    big = json.dumps([CLAIM] * 40)
    assert len(big) > 1024
    assert_problem(client.post("/api/check", content=big, headers={"content-type": "application/json"}), 413,
                   "content-too-large", "body")

    def chunks():  # no Content-Length: the limit is enforced on the stream
        for _ in range(40):
            yield json.dumps(CLAIM).encode()

    assert_problem(client.post("/api/check", content=chunks(), headers={"content-type": "application/json"}), 413,
                   "content-too-large")


def test_unknown_route_and_method(mini_client: TestClient) -> None:
    assert_problem(mini_client.get("/api/nothing"), 404, "not-found")
    assert_problem(mini_client.delete("/api/releases"), 405, "method-not-allowed")


def test_openapi_and_docs(mini_client: TestClient) -> None:
    spec = mini_client.get("/openapi.json").json()
    for path in ("/api/lookup/{code}", "/api/search", "/api/similar/{code}", "/api/history/{code}", "/api/diff",
                 "/api/fee/{code}", "/api/edits/{code}", "/api/check", "/api/releases",
                 "/fhir/CodeSystem/$lookup", "/fhir/CodeSystem/$validate-code", "/fhir/metadata"):
        assert path in spec["paths"], path
    lookup_responses = spec["paths"]["/api/lookup/{code}"]["get"]["responses"]
    assert PROBLEM in lookup_responses["404"]["content"]
    docs = mini_client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    assert "'sha256-" in docs.headers["content-security-policy"]


def test_no_store_answers_503(tmp_path) -> None:  # noqa: ANN001
    from hcpcs.interfaces.web.app import create_app
    from hcpcs.interfaces.web.security import Settings

    client = TestClient(create_app(home=tmp_path, settings=Settings()))
    assert_problem(client.get("/api/releases"), 503, "data-not-loaded")
    assert_problem(client.get("/api/lookup/G6002"), 503, "data-not-loaded")
    home = client.get("/", headers={"accept": "text/html"})
    assert home.status_code == 200 and "No data loaded" in home.text


@pytest.mark.parametrize("typed", ["2030-05-01", "05/01/2030", "20300501"])
def test_dates_in_every_typed_form(mini_client: TestClient, typed: str) -> None:
    body = mini_client.get("/api/lookup/Z9991", params={"as_of": typed}).json()
    assert body["as_of"] == "2030-05-01"


@pytest.mark.parametrize("written", ["Z9991-26", "Z9991 26"])
def test_codes_written_with_a_modifier(mini_client: TestClient, written: str) -> None:
    looked_up = mini_client.get(f"/api/lookup/{written}", params={"as_of": "2030-05-01"}).json()
    assert looked_up["code"] == "Z9991" and looked_up["modifier"]["code"] == "26"
    priced = mini_client.get(f"/api/fee/{written}", params={"as_of": "2030-05-01", "national": True}).json()
    assert priced["modifier"] == "26"
    found = mini_client.get("/api/search", params={"q": written}).json()
    assert [r["code"] for r in found["results"]] == ["Z9991"]


def test_search_page_says_how_many_it_shows(mini_client: TestClient) -> None:
    page = mini_client.get("/search", params={"q": "Z99*"}).text
    assert "6 results" in page and "until 2098-12-31" in page
