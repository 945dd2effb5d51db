"""Shared test fixtures. Real-data tests read the CMS files from ../shared/data/cms (or $HCPCS_TEST_DATA)
and skip with a message when that folder is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixture_files import cms_fixtures

REPO = Path(__file__).resolve().parents[1]
FIXTURES = cms_fixtures()
CMS_DATA = Path(os.environ.get("HCPCS_TEST_DATA", REPO.parent / "shared" / "data" / "cms"))


@pytest.fixture(scope="session")
def cms_data() -> Path:
    if not CMS_DATA.is_dir():
        pytest.skip(
            f"CMS data folder not found at {CMS_DATA}; set HCPCS_TEST_DATA to a folder holding the CMS "
            "release files (the layout of ../shared/data/cms) to run the real-data tests"
        )
    return CMS_DATA


@pytest.fixture()
def fixtures() -> Path:
    return FIXTURES


def load_store(home: Path, source: Path) -> Path:
    """Load the CMS files (or fixture files) under `source` into a new store at `home`."""
    from hcpcs.services.update import run_update
    from hcpcs.store.db import open_store

    store = open_store(home, readonly=False)
    try:
        run_update(store, str(source))
    finally:
        store.close()
    return home


@pytest.fixture(scope="session")
def loaded_home(cms_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store loaded from the real CMS files once per test session (about a minute). HCPCS_TEST_HOME may
    name a store already loaded from them, to skip the load while developing."""
    ready = os.environ.get("HCPCS_TEST_HOME")
    if ready and (Path(ready) / "hcpcs.sqlite").exists():
        return Path(ready)
    return load_store(tmp_path_factory.mktemp("hcpcs-home"), cms_data)


@pytest.fixture(scope="session")
def hc(loaded_home: Path):  # noqa: ANN201
    from hcpcs.store.session import Hcpcs

    return Hcpcs(loaded_home)
