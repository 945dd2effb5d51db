"""MODIFIER_26_NOT_ALLOWED (error): modifier 26 (professional component) billed with a code whose
fee-schedule PC/TC indicator does not allow it. Only codes whose service splits into a professional and a
technical component (PC/TC indicator 1, and 6 for some laboratory codes) take modifier 26; a
professional-only code (indicator 2, e.g. a physician-interpretation or guidance code such as G6017), a
technical-only code (3), a global-only test (4) and the rest are billed without it. Professional claims;
the indicator of the fee-schedule release in force on the date of service.

Fails::

    {"id": "m26-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "G6017", "modifiers": ["26"]}]}

Passes::

    {"id": "m26-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "G6002", "modifiers": ["26"]}]}
"""

from __future__ import annotations

import polars as pl

from hcpcs.edits import pctc
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext

MODIFIER = "26"
SPEC = pctc.spec("MODIFIER_26_NOT_ALLOWED", 70, MODIFIER, "modifier 26 where the PC/TC indicator of the fee schedule in force refuses it")


def check(ctx: ClaimContext) -> list[Finding]:
    return pctc.modifier_findings(ctx, MODIFIER, SPEC)


def check_batch(ctx: BatchContext) -> pl.DataFrame:
    return pctc.batch_findings(ctx, MODIFIER, SPEC)
