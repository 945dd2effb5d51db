"""Where CMS publishes each dataset. `hcpcs update` (no --from) downloads the entries of this catalog.

CMS puts the NCCI files (PTP, MUE, add-on codes) behind a click-through page for the AMA CPT licence:
they cannot be fetched by a program without accepting it, so the catalog gives the page and the
instruction to download by hand and load with `hcpcs update --from FILE`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogEntry:
    dataset: str
    label: str
    url: str | None  # direct download, or None where a licence page stands in front of the file
    page: str  # the CMS page that lists the release
    note: str = ""


CMS_HCPCS_PAGE = "https://www.cms.gov/medicare/coding-billing/healthcare-common-procedure-system/quarterly-update"
CMS_RVU_PAGE = "https://www.cms.gov/medicare/payment/fee-schedules/physician/pfs-relative-value-files"
CMS_OPPS_PAGE = (
    "https://www.cms.gov/medicare/payment/prospective-payment-systems/hospital-outpatient/addendum-a-b-updates"
)
CMS_NCCI_PTP_PAGE = "https://www.cms.gov/medicare/coding-billing/ncci-medicare/medicare-ncci-procedure-procedure-ptp-edits"
CMS_NCCI_MUE_PAGE = "https://www.cms.gov/medicare/coding-billing/ncci-medicare/medicare-ncci-medically-unlikely-edits-mues"
CMS_NCCI_AOC_PAGE = "https://www.cms.gov/medicare/coding-billing/ncci-medicare/medicare-ncci-add-code-edits"

LICENCE_NOTE = (
    "CMS shows the AMA CPT licence before this download. Open the page, accept the licence, download the "
    "zip for the quarter you need, then run: hcpcs update --from PATH/TO/DOWNLOADED.zip"
)

CATALOG: list[CatalogEntry] = [
    CatalogEntry("hcpcs", "HCPCS 2026 Jan",
                 "https://www.cms.gov/files/zip/january-2026-alpha-numeric-hcpcs-file.zip", CMS_HCPCS_PAGE),
    CatalogEntry("hcpcs", "HCPCS 2020 Jan",
                 "https://www.cms.gov/files/zip/2020-alpha-numeric-hcpcs-file.zip", CMS_HCPCS_PAGE),
    CatalogEntry("mpfs", "RVU26A", "https://www.cms.gov/files/zip/rvu26a.zip", CMS_RVU_PAGE),
    CatalogEntry("mpfs", "RVU25D", "https://www.cms.gov/files/zip/rvu25d.zip", CMS_RVU_PAGE),
    CatalogEntry("mpfs", "RVU25A", "https://www.cms.gov/files/zip/rvu25a-updated-01/10/2025.zip", CMS_RVU_PAGE),
    CatalogEntry("mpfs", "RVU24A", "https://www.cms.gov/files/zip/rvu24a-updated-01/05/2024.zip", CMS_RVU_PAGE),
    CatalogEntry("opps", "OPPS Addendum B 2026 Jan",
                 "https://www.cms.gov/files/zip/january-2026-opps-addendum-b.zip", CMS_OPPS_PAGE),
    CatalogEntry("ncci_ptp_practitioner", "PTP practitioner (current quarter)", None, CMS_NCCI_PTP_PAGE,
                 LICENCE_NOTE),
    CatalogEntry("ncci_ptp_hospital", "PTP hospital (current quarter)", None, CMS_NCCI_PTP_PAGE, LICENCE_NOTE),
    CatalogEntry("ncci_mue_practitioner", "MUE (current quarter)", None, CMS_NCCI_MUE_PAGE, LICENCE_NOTE),
    CatalogEntry("ncci_aoc", "AOC (current quarter)", None, CMS_NCCI_AOC_PAGE, LICENCE_NOTE),
]
