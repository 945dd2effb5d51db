"""Checking one claim: every rule's row-wise `check` runs over a `ClaimContext` (its lines grouped by date
of service, the edit tables in force on each date), in the registry's order, then the policy packs, then the
rules that report what could not be checked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Any

from hcpcs.claims.model import Claim
from hcpcs.edits import registry
from hcpcs.edits.finding import ClaimResult, Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.tables import EditTables
from hcpcs.store.session import Hcpcs


@cache
def _checks() -> tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]:
    """The `check` functions of the screening rules, of the rules run before the policy packs, and of those
    run after them."""
    modules = registry.rules()
    return (tuple(m.check for m in modules if m.SPEC.screen),
            tuple(m.check for m in modules if not m.SPEC.last and not m.SPEC.screen),
            tuple(m.check for m in modules if m.SPEC.last))


def check_claim(claim: Claim, hc: Hcpcs, *, tables: EditTables | None = None, as_of: date | None = None,
                packs: Sequence[Any] = ()) -> ClaimResult:
    tables = tables or EditTables(hc)
    ctx = ClaimContext(claim, tables, as_of)
    findings: list[Finding] = []
    screens, before, after = _checks()
    for rule_check in screens:
        findings.extend(rule_check(ctx))
    if findings:  # a claim the screens refuse is not checked further
        return ClaimResult(claim.id, findings, ctx.notices)
    for rule_check in before:
        findings.extend(rule_check(ctx))
    for pack in packs:
        findings.extend(pack.check(ctx))
    for rule_check in after:
        findings.extend(rule_check(ctx))
    return ClaimResult(claim.id, findings, ctx.notices)
