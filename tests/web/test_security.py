"""Protection: security headers, API keys, CORS off by default, the time budget, and no claim contents
in the logs."""

from __future__ import annotations

import logging
import time

import anyio
import pytest
from fastapi.testclient import TestClient

from hcpcs.interfaces.web.context import Runner
from hcpcs.interfaces.web.problems import Problem
from hcpcs.interfaces.web.security import Settings
from hcpcs.store.session import Hcpcs
from tests.web.conftest import client_for
from tests.web.test_api import CLAIM, assert_problem


def _csp(response) -> dict[str, str]:  # noqa: ANN001
    policy = response.headers["content-security-policy"]
    return {part.split()[0]: part for part in (p.strip() for p in policy.split(";")) if part}


@pytest.mark.parametrize("path", ["/", "/search?q=fixture", "/check", "/releases", "/code/Z9991?as_of=2099-05-01"])
def test_page_security_headers(mini_client: TestClient, path: str) -> None:
    response = mini_client.get(path, headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = _csp(response)
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text  # no inline scripts at all
    assert " style=" not in response.text  # no inline styles either (the CSP forbids them)


def test_api_answers_carry_headers_too(mini_client: TestClient) -> None:
    response = mini_client.get("/api/releases")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_cors_is_off_by_default(mini_client: TestClient) -> None:
    response = mini_client.get("/api/releases", headers={"origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = mini_client.options("/api/check", headers={
        "origin": "https://elsewhere.example", "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_when_configured(mini_hc: Hcpcs) -> None:
    client = client_for(mini_hc, cors_origins=("https://app.example",))
    response = client.get("/api/releases", headers={"origin": "https://app.example"})
    assert response.headers["access-control-allow-origin"] == "https://app.example"


def test_api_keys(mini_hc: Hcpcs) -> None:
    client = client_for(mini_hc, api_keys=("k-one", "k-two"))
    body = assert_problem(client.get("/api/releases"), 401, "unauthorized", "X-API-Key")
    assert body["status"] == 401
    assert client.get("/api/releases").headers["www-authenticate"].startswith("Bearer")
    assert_problem(client.get("/api/releases", headers={"x-api-key": "wrong"}), 401, "unauthorized")
    assert client.get("/api/releases", headers={"x-api-key": "k-two"}).status_code == 200
    assert client.get("/api/releases", headers={"authorization": "Bearer k-one"}).status_code == 200
    assert client.post("/api/check", json=CLAIM, headers={"x-api-key": "k-one"}).status_code == 200
    fhir = client.get("/fhir/metadata")
    assert fhir.status_code == 401 and fhir.json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/metadata", headers={"x-api-key": "k-one"}).status_code == 200
    # Pages and the API description stay open.
    assert client.get("/", headers={"accept": "text/html"}).status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCPCS_API_KEYS", " a , b,,")
    monkeypatch.setenv("HCPCS_MAX_CLAIMS", "10")
    monkeypatch.setenv("HCPCS_REQUEST_TIMEOUT", "2.5")
    monkeypatch.delenv("HCPCS_CORS_ORIGINS", raising=False)
    settings = Settings.from_env()
    assert settings.api_keys == ("a", "b")
    assert settings.max_claims == 10 and settings.timeout_seconds == 2.5 and settings.cors_origins == ()
    monkeypatch.setenv("HCPCS_MAX_CLAIMS", "lots")
    with pytest.raises(ValueError, match="HCPCS_MAX_CLAIMS"):
        Settings.from_env()


def test_runner_stops_a_slow_call() -> None:
    runner = Runner(None, timeout=0.2)

    async def main() -> None:
        started = time.monotonic()
        with pytest.raises(Problem) as caught:
            await runner(time.sleep, 2)
        assert caught.value.status == 503 and caught.value.slug == "request-timeout"
        assert time.monotonic() - started < 1.5

    anyio.run(main)


def test_runner_interrupts_runaway_sql(mini_home) -> None:  # noqa: ANN001
    hc = Hcpcs(mini_home)
    runner = Runner(hc, timeout=0.3, threads=1)
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"

    def query(sql: str) -> list:
        return runner.current().store.conn.execute(sql).fetchall()

    async def main() -> None:
        started = time.monotonic()
        with pytest.raises(Problem) as caught:
            await runner(query, endless)
        assert caught.value.slug == "request-timeout"
        assert time.monotonic() - started < 2
        # The query was stopped, not abandoned: the one pooled connection is free and still works.
        assert (await runner(query, "SELECT 1"))[0][0] == 1

    anyio.run(main)
    hc.close()


def test_concurrent_requests_do_not_block(mini_hc: Hcpcs) -> None:
    """Many lookups at once through the live ASGI app (a shared connection with a progress handler would
    deadlock here)."""
    import httpx

    from hcpcs.interfaces.web.app import create_app

    app = create_app(mini_hc, settings=Settings(worker_threads=3))

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            with anyio.fail_after(20):
                responses = []

                async def one(url: str) -> None:
                    responses.append(await client.get(url))

                urls = ["/api/lookup/Z9991?as_of=2099-05-01", "/api/edits/Z9901?as_of=2024-08-12",
                        "/api/search?q=fixture", "/api/similar/Z9991", "/api/fee/Z9991?as_of=2030-05-01&all_localities=true",
                        "/code/Z9991?as_of=2030-05-01"]
                async with anyio.create_task_group() as group:
                    for i in range(60):
                        group.start_soon(one, f"{urls[i % len(urls)]}{'&' if '?' in urls[i % len(urls)] else '?'}n={i}")
        assert [r.status_code for r in responses] == [200] * 60

    anyio.run(main)


def test_no_claim_contents_in_logs(mini_hc: Hcpcs, caplog: pytest.LogCaptureFixture,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from hcpcs.services.checking import Checker

    def explode(self, claim):  # noqa: ANN001, ANN202
        raise ValueError(f"cannot check {claim.id} with {claim.lines[0].code}")

    monkeypatch.setattr(Checker, "check", explode)
    client = client_for(mini_hc)
    secret = {"id": "PATIENT-SECRET-77", "date_of_service": "2024-08-12", "lines": [{"code": "Z9901"}]}
    with caplog.at_level(logging.DEBUG):
        response = client.post("/api/check", json=secret)
    assert_problem(response, 500, "internal-error")
    assert "PATIENT-SECRET-77" not in response.text
    assert "ValueError" in caplog.text  # the failure is logged...
    assert "PATIENT-SECRET-77" not in caplog.text  # ...without the claim
