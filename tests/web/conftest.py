"""Fixtures of the web tests: a tiny store from the made-up fixture files (fast, no CMS data needed), the
store loaded from the real CMS files (once per session, ~1 minute; HCPCS_TEST_HOME may name a store
already loaded from them, to skip the load), TestClients over both, and a live uvicorn server for the
browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hcpcs.interfaces.web.app import create_app
from hcpcs.interfaces.web.security import Settings
from hcpcs.store.session import Hcpcs
from tests.conftest import load_store
from tests.unit import mini_cms


@pytest.fixture(scope="session")
def mini_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web-mini")
    return load_store(root / "home", mini_cms.build(root / "cms"))


@pytest.fixture(scope="session")
def mini_hc(mini_home: Path) -> Hcpcs:
    return Hcpcs(mini_home)


def client_for(hc: Hcpcs | None = None, **settings: object) -> TestClient:
    return TestClient(create_app(hc, settings=Settings(**settings)))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def mini_client(mini_hc: Hcpcs) -> TestClient:
    return client_for(mini_hc)


@pytest.fixture(scope="session")
def real_hc(loaded_home: Path) -> Hcpcs:
    return Hcpcs(loaded_home)


@pytest.fixture(scope="session")
def real_client(real_hc: Hcpcs) -> TestClient:
    return client_for(real_hc)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_in_thread(hc: Hcpcs, **settings: object) -> Iterator[str]:
    """The app under uvicorn (with `hcpcs serve`'s protocol and limits) on 127.0.0.1 in a background
    thread; yields its base URL."""
    import uvicorn

    from hcpcs.interfaces.web import server as web_server

    port = free_port()
    config = web_server.config(create_app(hc, settings=Settings(**settings)), "127.0.0.1", port,  # type: ignore[arg-type]
                               header_timeout=float(settings.get("header_timeout", 10.0)), lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 10 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def live_server(loaded_home: Path) -> Iterator[str]:
    yield from serve_in_thread(Hcpcs(loaded_home))


@pytest.fixture(scope="session")
def mini_live_server(mini_hc: Hcpcs) -> Iterator[str]:
    yield from serve_in_thread(mini_hc)
