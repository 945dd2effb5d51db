"""The app over a store that changes while it runs: the response cache, `hcpcs update` while serving,
a store created after the server started; and the start-up time."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hcpcs.interfaces.web import context as web_context
from hcpcs.interfaces.web.app import create_app
from hcpcs.interfaces.web.security import Settings
from hcpcs.store.session import Hcpcs
from tests.conftest import load_store
from tests.unit import mini_cms


@pytest.fixture()
def copy_home(mini_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(mini_home / "hcpcs.sqlite", home / "hcpcs.sqlite")
    return home


def test_repeated_get_is_served_from_cache(copy_home: Path) -> None:
    app = create_app(Hcpcs(copy_home), settings=Settings())
    client = TestClient(app)
    cache = app.state.ctx.cache
    first = client.get("/api/lookup/Z9991", params={"as_of": "2099-05-01"})
    hits = cache.hits
    second = client.get("/api/lookup/Z9991", params={"as_of": "2099-05-01"})
    assert cache.hits == hits + 1
    assert first.content == second.content and second.headers["content-type"] == "application/json"
    assert client.get("/api/lookup/Z9999", params={"as_of": "2099-05-01"}).status_code == 404  # errors not cached
    assert client.get("/api/lookup/Z9999", params={"as_of": "2099-05-01"}).status_code == 404


def test_cache_can_be_turned_off(copy_home: Path) -> None:
    app = create_app(Hcpcs(copy_home), settings=Settings(cache_entries=0))
    client = TestClient(app)
    for _ in range(2):
        assert client.get("/api/lookup/Z9991", params={"as_of": "2099-05-01"}).status_code == 200
    assert app.state.ctx.cache.hits == 0


def test_store_change_is_noticed(copy_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_context, "STORE_CHECK_SECONDS", 0.0)
    app = create_app(Hcpcs(copy_home), settings=Settings())
    client = TestClient(app)
    before = client.get("/api/lookup/Z9991", params={"as_of": "2099-05-01"}).json()
    assert before["short_description"] == "Fixture procedure two"
    generation = app.state.ctx.run.pool.generation
    # Another process (an `hcpcs update`) commits a change.
    writer = sqlite3.connect(copy_home / "hcpcs.sqlite")
    writer.execute("UPDATE hcpcs_code SET short_description = 'Changed by an update' WHERE code = 'Z9991'")
    writer.commit()
    writer.close()
    after = client.get("/api/lookup/Z9991", params={"as_of": "2099-05-01"}).json()
    assert after["short_description"] == "Changed by an update"  # not the cached answer
    assert app.state.ctx.run.pool.generation == generation + 1


def test_store_created_after_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_context, "STORE_CHECK_SECONDS", 0.0)
    home = tmp_path / "home"
    client = TestClient(create_app(home=home, settings=Settings()))
    assert client.get("/api/releases").status_code == 503
    load_store(home, mini_cms.build(tmp_path / "cms"))
    response = client.get("/api/releases")
    assert response.status_code == 200 and "RVU30B" in response.text
    assert client.get("/api/lookup/Z9991", params={"as_of": "2099-05-01"}).status_code == 200


def test_app_starts_fast(mini_home: Path) -> None:
    """Import and create the app in a fresh interpreter: well under the 2 s budget of `hcpcs serve`."""
    code = ("import time; t = time.perf_counter(); from hcpcs.interfaces.web.app import create_app; "
            f"create_app(home=__import__('pathlib').Path({str(mini_home)!r})); print(time.perf_counter() - t)")
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds = float(out.stdout.strip())
    assert seconds < 2.0, f"create_app took {seconds:.2f} s"
    assert time.perf_counter() - started < 5
