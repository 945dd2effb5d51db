"""A store loaded once per test session from the real CMS files (../shared/data/cms)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hcpcs.service import Hcpcs
from hcpcs.store.db import open_store
from hcpcs.update import run_update


@pytest.fixture(scope="session")
def loaded_home(cms_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("hcpcs-home")
    store = open_store(home, readonly=False)
    try:
        run_update(store, str(cms_data))
    finally:
        store.close()
    return home


@pytest.fixture(scope="session")
def hc(loaded_home: Path) -> Hcpcs:
    return Hcpcs(loaded_home)
