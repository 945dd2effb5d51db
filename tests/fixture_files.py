"""The made-up fixture files in the official CMS layouts, under the CMS file names the loaders recognise.

In the repository they carry neutral names, so that no tracked file is named like a CMS release file
(CMS files are never committed); the first call copies them, renamed, into a temporary folder that the
tests read."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

STORED = Path(__file__).resolve().parent / "fixtures"

# Stored path (relative to tests/fixtures) -> the CMS file name the tests see.
CMS_NAMES = {
    "hcpcs/level2-2099-apr.fixture.txt": "HCPC2099_APR_ANWEB_fixture.txt",
    "mpfs/rvu-2030-apr.fixture.csv": "PPRRVU2030_Apr.csv",
    "mpfs/rvu-2030-apr.fixture.txt": "PPRRVU2030_Apr.txt",
    "mpfs/gpci-2030.fixture.csv": "GPCI2030.csv",
    "mpfs/gpci-2030.fixture.txt": "GPCI2030.txt",
    "mpfs/locality-county-2030.fixture.csv": "30LOCCO.csv",
    "mpfs/locality-county-2030.fixture.txt": "30LOCCO.txt",
    "ncci/ptp-practitioner-v302r0-part1.fixture.txt": "ccipra-v302r0-f1.txt",
    "ncci/ptp-hospital-v281r0-part2.fixture.TXT": "ccioph-v281r0-f2.TXT",
    # The 2026 layouts (an RVU26C-style July bundle with both PPRRVU files; RVU26A's two work GPCIs).
    "mpfs2026/rvu-2026-jul-nonqpp.fixture.csv": "PPRRVU2026_Jul_nonQPP.csv",
    "mpfs2026/rvu-2026-jul-nonqpp.fixture.txt": "PPRRVU2026_Jul_nonQPP.txt",
    "mpfs2026/rvu-2026-jul-qpp.fixture.csv": "PPRRVU2026_Jul_QPP.csv",
    "mpfs2026/rvu-2026-jul-qpp.fixture.txt": "PPRRVU2026_Jul_QPP.txt",
    "mpfs2026/gpci-2026.fixture.csv": "GPCI2026.csv",
    "mpfs2026/locality-county-2026.fixture.csv": "26LOCCO.csv",
    "mpfs2026/anes-2026.fixture.csv": "ANES2026.csv",
    "mpfs2026/oppscap-2026-jul.fixture.csv": "OPPSCAP_Jul.csv",
    "mpfs2026a/gpci-2026-jan-two-work-columns.fixture.csv": "GPCI2026.csv",
    "opps/addendum-b-2026-jul.fixture.csv": "2026 July Web Addendum B.07.13.26.csv",
}


@cache
def cms_fixtures() -> Path:
    """A folder with every fixture file under its CMS name, one sub-folder per dataset."""
    root = Path(tempfile.mkdtemp(prefix="hcpcs-fixtures-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    for path in STORED.rglob("*"):
        if path.is_file():
            relative = path.relative_to(STORED).as_posix()
            target = root / relative
            if relative in CMS_NAMES:
                target = target.with_name(CMS_NAMES[relative])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return root
