"""The server holds: claim checks off the event loop (large ones in a worker process) with the time budget
enforced on the work, the /check page under the same keys and limits as the API, header and body read
deadlines, JSON nesting limits before parsing, and bounded caches."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hcpcs.interfaces.web.context import ResponseCache
from hcpcs.store.session import Hcpcs
from tests.web.conftest import client_for, serve_in_thread
from tests.web.test_api import CLAIM, assert_problem

HTML = {"accept": "text/html"}
CSV = "claim_id,date_of_service,code\nA,2024-08-12,Z9901\nA,2024-08-12,Z9902\n"


def large_claim(lines: int, claim_id: str = "L") -> dict:
    codes = ["Z9901", "Z9902", "Z9990", "Z9991"]
    return {"id": claim_id, "date_of_service": "2024-08-12", "lines": [{"code": codes[i % 4]} for i in range(lines)]}


# ------------------------------------------------------------------------------------ the /check page


def test_check_page_needs_the_api_key_when_keys_are_set(mini_hc: Hcpcs) -> None:
    client = client_for(mini_hc, api_keys=("k-one",))
    form = client.get("/check", headers=HTML).text
    assert 'name="api_key"' in form
    refused = client.post("/check", data={"claims": CSV}, headers=HTML)
    assert refused.status_code == 401 and "API key" in refused.text and "PTP_BUNDLED" not in refused.text
    assert refused.headers["www-authenticate"].startswith("Bearer")
    wrong = client.post("/check", data={"claims": CSV, "api_key": "nope"}, headers=HTML)
    assert wrong.status_code == 401
    in_form = client.post("/check", data={"claims": CSV, "api_key": "k-one"}, headers=HTML)
    assert in_form.status_code == 200 and "PTP_BUNDLED" in in_form.text
    in_header = client.post("/check", data={"claims": CSV}, headers={**HTML, "x-api-key": "k-one"})
    assert in_header.status_code == 200
    # Without keys configured the page asks for none.
    assert 'name="api_key"' not in client_for(mini_hc).get("/check", headers=HTML).text


def test_check_page_has_the_api_limits(mini_hc: Hcpcs) -> None:
    client = client_for(mini_hc, max_claims=2, max_body_bytes=4096)
    many = "claim_id,date_of_service,code\n" + "".join(f"C{i},2024-08-12,Z9901\n" for i in range(3))
    over = client.post("/check", data={"claims": many}, headers=HTML)
    assert over.status_code == 413 and "at most 2" in over.text
    assert_problem(client.post("/api/check", content=many, headers={"content-type": "text/csv"}), 413,
                   "content-too-large")
    huge = client.post("/check", data={"claims": "x" * 10_000}, headers=HTML)
    assert huge.status_code == 413
    long_claim = client.post("/check", data={"claims": json.dumps(large_claim(1000)), "format": "json"},
                             headers=HTML)
    assert long_claim.status_code == 413  # over the body limit here; the line limit is tested below


# ------------------------------------------------------------------------------------ worker processes


@pytest.fixture(scope="module")
def process_client(mini_hc: Hcpcs) -> Iterator[TestClient]:
    client = client_for(mini_hc, check_processes=1)
    yield client
    client.app.state.ctx.checks.stop()


def test_large_claims_are_checked_in_a_worker_process(process_client: TestClient, mini_client: TestClient) -> None:
    claim = large_claim(60)
    in_process = process_client.post("/api/check", json=claim)
    assert in_process.status_code == 200
    pool = process_client.app.state.ctx.checks.pool
    assert pool is not None and pool.pids(), "the large claim did not go to a worker process"
    # The same findings as the single claim checked in the server's own thread.
    in_thread = client_for(mini_client.app.state.ctx.hc_or_none, check_processes=0).post("/api/check", json=claim)
    assert in_process.json() == in_thread.json()
    # Small ones stay in the server, and the page uses the same lanes.
    assert process_client.post("/api/check", json=CLAIM).status_code == 200
    page = process_client.post("/check", data={"claims": json.dumps([claim, CLAIM]), "format": "json"}, headers=HTML)
    assert page.status_code == 200 and "Claim L" in page.text


def test_worker_errors_are_problems(process_client: TestClient) -> None:
    bad = large_claim(60)
    bad["lines"][5]["units"] = "lots"
    body = assert_problem(process_client.post("/api/check", json=bad), 422, "invalid-claim")
    assert "lines[5].units" in body["detail"]
    assert_problem(process_client.post("/api/check", json=large_claim(1000)), 413, "content-too-large")


def test_a_claim_over_budget_is_stopped_in_the_worker(mini_hc: Hcpcs) -> None:
    """A job whose budget is spent is stopped by the worker (or the worker killed and replaced), answered
    503, and the next request is served."""
    from hcpcs.interfaces.web.checks import CheckLimits, Job, Worker

    worker = Worker(mini_hc.store.path, 8192)
    try:
        body = json.dumps([large_claim(50, f"C{i}") for i in range(400)]).encode()
        started = time.monotonic()
        answer = worker.run(Job(body, "json", CheckLimits(1000, 32), (), "body", time.time() + 0.05, False))
        assert answer[0] in ("stopped", "killed") and time.monotonic() - started < 10
        quick = worker.run(Job(json.dumps(CLAIM).encode(), "json", CheckLimits(1000, 32), (), "body",
                               time.time() + 10, False))
        assert quick[0] == "json" and json.loads(quick[2])["id"] == "A"
    finally:
        worker.stop()


def test_checks_in_threads_stop_at_the_budget(mini_hc: Hcpcs) -> None:
    """With no worker process, a request over budget is answered 503 and its thread stops checking (the
    one pooled connection is free again at once)."""
    client = client_for(mini_hc, check_processes=0, worker_threads=1, timeout_seconds=0.01)
    claims = [{"id": f"C{i}", "date_of_service": "2024-08-12", "lines": [{"code": "Z9901"}, {"code": "Z9902"}]}
              for i in range(1000)]
    started = time.monotonic()
    response = client.post("/api/check", json=claims)
    assert response.status_code == 503, "the whole batch was checked within its budget"
    assert_problem(response, 503, "request-timeout")
    assert time.monotonic() - started < 3
    again = time.monotonic()
    assert client.post("/api/check", json={**CLAIM, "lines": CLAIM["lines"][:1]}).status_code in (200, 503)
    assert time.monotonic() - again < 1.5


# ------------------------------------------------------------------------------------ JSON nesting


def test_deeply_nested_json_is_refused_before_parsing(mini_client: TestClient) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    body = assert_problem(mini_client.post("/api/check", content=nested, headers={"content-type": "application/json"}),
                          400, "malformed-body")
    assert "nests 100000 levels" in body["detail"]
    page = mini_client.post("/check", data={"claims": nested.decode(), "format": "json"}, headers=HTML)
    assert page.status_code == 400


# ------------------------------------------------------------------------------------ caches


def test_response_cache_is_bounded_by_entries_and_bytes() -> None:
    cache = ResponseCache(max_entries=100, max_bytes=64 * 1024)
    for i in range(1000):
        cache.put(("k", i), b"x" * 1000)
    stats = cache.stats()
    assert stats["bytes"] <= 64 * 1024 and stats["entries"] <= 100
    assert cache.get(("k", 999)) is not None and cache.get(("k", 0)) is None
    cache.put("big", b"x" * 10_000)  # over a sixteenth of the byte bound: not kept
    assert cache.get("big") is None
    off = ResponseCache(max_entries=0)
    off.put("k", b"v")
    assert off.get("k") is None


def test_pooled_connections_have_a_small_page_cache(mini_hc: Hcpcs) -> None:
    client = client_for(mini_hc, sqlite_cache_kib=2048)
    pool = client.app.state.ctx.run.pool
    connection, generation = pool.acquire(1.0)  # as every worker thread and the event loop get theirs
    try:
        assert connection.store.conn.execute("PRAGMA cache_size").fetchone()[0] == -2048
    finally:
        pool.release(connection, generation)


# ------------------------------------------------------------------------------------ read deadlines


@pytest.fixture(scope="module")
def strict_server(mini_hc: Hcpcs) -> Iterator[str]:
    yield from serve_in_thread(mini_hc, header_timeout=0.5, body_timeout=0.5)


def _host_port(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


def _read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    started = time.monotonic()
    sock.settimeout(limit)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return data, time.monotonic() - started


def test_a_slow_request_head_is_dropped(strict_server: str) -> None:
    with socket.create_connection(_host_port(strict_server)) as sock:
        sock.sendall(b"GET /api/releases HTTP/1.1\r\nHost: x\r\n")
        data, waited = _read_until_closed(sock, 5)
    assert data == b"" and waited < 3, "the connection was not closed by the header deadline"
    # A whole request head in time is answered as usual, and the connection then waits for the next one.
    with socket.create_connection(_host_port(strict_server)) as sock:
        sock.sendall(b"GET /api/releases HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(12).endswith(b"200")


def test_a_slow_body_is_answered_408(strict_server: str) -> None:
    with socket.create_connection(_host_port(strict_server)) as sock:
        sock.sendall(b"POST /api/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"id\":")
        data, waited = _read_until_closed(sock, 5)
    assert data.startswith(b"HTTP/1.1 408") and b"body-timeout" in data and waited < 3


def test_hcpcs_serve_runs_with_the_limits(mini_home) -> None:  # noqa: ANN001
    """`hcpcs serve` in its own process: answers, and drops a request head that does not arrive in time."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.web.conftest import free_port

    port = free_port()
    env = {**os.environ, "HCPCS_HOME": str(mini_home), "HCPCS_HEADER_TIMEOUT": "0.5"}
    hcpcs = str(Path(sys.executable).with_name("hcpcs"))
    server = subprocess.Popen([hcpcs, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"GET /api/releases HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    assert sock.recv(12).endswith(b"200")
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "hcpcs serve did not answer within 30 s"
                time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /api/releases HTTP/1.1\r\n")
            data, waited = _read_until_closed(sock, 5)
        assert data == b"" and waited < 3
    finally:
        server.terminate()
        server.wait(timeout=10)
