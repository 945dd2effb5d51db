"""Shared test fixtures. Real-data tests read the CMS files from ../shared/data/cms (or $HCPCS_TEST_DATA)
and skip with a message when that folder is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
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
