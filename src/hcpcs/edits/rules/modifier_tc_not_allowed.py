"""MODIFIER_TC_NOT_ALLOWED (error): modifier TC (technical component) billed with a code whose fee-schedule
PC/TC indicator does not allow it. Only codes with both a professional and a technical component (PC/TC
indicator 1, and 6 where CMS says so) take TC; professional-only codes (2) such as G6017 and 77387 on the
physician fee schedule have no technical component. Professional claims; the indicator of the
fee-schedule release in force on the date of service.

Fails::

    {"id": "mtc-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "G6017", "modifiers": ["TC"]}]}

Passes::

    {"id": "mtc-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "G6002", "modifiers": ["TC"]}]}
"""

from __future__ import annotations

import polars as pl

from hcpcs.edits import pctc
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext

MODIFIER = "TC"
SPEC = pctc.spec("MODIFIER_TC_NOT_ALLOWED", 80, MODIFIER, "modifier TC where the PC/TC indicator of the fee schedule in force refuses it")


def check(ctx: ClaimContext) -> list[Finding]:
    return pctc.modifier_findings(ctx, MODIFIER, SPEC)


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    return pctc.batch_findings(ctx, MODIFIER, SPEC)
