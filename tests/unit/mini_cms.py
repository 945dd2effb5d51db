"""A small CMS release folder assembled from the made-up fixture files, for end-to-end tests of the
loader, the store and the services without the real CMS files."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.fixture_files import cms_fixtures

FIXTURES = cms_fixtures()

FILES = [
    "hcpcs/HCPC2099_APR_ANWEB_fixture.txt",
    "hcpcs/proc_notes_APR2099.txt",
    "mpfs/PPRRVU2030_Apr.csv",
    "mpfs/PPRRVU2030_Apr.txt",
    "mpfs/GPCI2030.csv",
    "mpfs/30LOCCO.csv",
    "mpfs/ANES2030.csv",
    "mpfs/OPPSCAP_APR.csv",
    "ncci/ptp_practitioner_2024q3.csv",
    "ncci/aoc_2024q2.csv",
    "ncci/mue_hospital_2024q3.csv",
    "ncci/ccipra-v302r0-f1.txt",
    "ncci/MCR_MUE_PractitionerServices_Eff_07-01-2024.csv",
]


def build(target: Path) -> Path:
    """Copy the fixture files into `target`, one sub-folder per dataset as CMS bundles them."""
    for name in FILES:
        source = FIXTURES / name
        dest = target / name.split("/")[0] / source.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, dest)
    return target
