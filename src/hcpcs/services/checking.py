"""The claim-checking entry points of the library: `check` for one claim, `check_claims` for a stream."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from hcpcs.claims.model import Claim, ClaimError
from hcpcs.claims.readers import ClaimOrError, read_claim_items
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import ClaimInputError
from hcpcs.edits.engine import check_claim
from hcpcs.edits.packs import PolicyPack, builtin_packs, load_pack
from hcpcs.edits.tables import EditTables
from hcpcs.services.results import ClaimResult
from hcpcs.store.session import Hcpcs, default

__all__ = ["Checker", "Claim", "ClaimError", "ClaimOrError", "PolicyPack", "builtin_packs", "check", "load_pack",
           "read_claim_items"]


def as_claim(claim: Claim | dict[str, Any]) -> Claim:
    """A Claim from the JSON form of the public contract (or a Claim as is)."""
    if isinstance(claim, Claim):
        return claim
    if not isinstance(claim, dict):
        raise ClaimInputError("a claim must be a JSON object")
    from hcpcs.claims.objects import claim_from_dict

    return claim_from_dict(claim)


def resolve_packs(packs: Sequence[str | PolicyPack]) -> list[PolicyPack]:
    return [p if isinstance(p, PolicyPack) else load_pack(p) for p in packs]


class Checker:
    """Checks claims against one store, keeping the edit tables it has read in memory between claims."""

    def __init__(self, hc: Hcpcs | None = None, *, packs: Sequence[str | PolicyPack] = (),
                 as_of: str | date | None = None) -> None:
        self.hc = hc or default()
        self.tables = EditTables(self.hc)
        self.packs = resolve_packs(packs)
        self.as_of = parse_date(as_of, "as-of date") if as_of else None

    def check(self, claim: Claim | dict[str, Any]) -> ClaimResult:
        return check_claim(as_claim(claim), self.hc, tables=self.tables, as_of=self.as_of,
                           packs=self.packs).to_dict()

    def check_all(self, items: Iterable[Claim | ClaimError]) -> Iterator[ClaimResult]:
        for item in items:
            if isinstance(item, ClaimError):
                out = item.to_dict()
                out["findings"] = []
                yield out
            else:
                yield self.check(item)


_checkers: dict[tuple[int, tuple[str, ...], str | None], Checker] = {}


def check(claim: Claim | dict[str, Any], *, as_of: str | date | None = None,
          packs: Sequence[str] = (), hc: Hcpcs | None = None) -> ClaimResult:
    """Check one claim; returns `{"id", "findings": [...]}` as documented in the README."""
    hc = hc or default()
    key = (id(hc), tuple(packs), str(as_of) if as_of else None)
    checker = _checkers.get(key)
    if checker is None:
        checker = _checkers[key] = Checker(hc, packs=packs, as_of=as_of)
    return checker.check(claim)


BATCH_FROM_CLAIMS = 50_000  # `engine="auto"` checks this many claims or more with the batch engine
ENGINES = ("auto", "single", "batch")


def check_items(items: Sequence[ClaimOrError], hc: Hcpcs | None = None, *, as_of: str | date | None = None,
                packs: Sequence[str | PolicyPack] = (), engine: str = "auto",
                should_stop: Callable[[], bool] | None = None) -> list[ClaimResult]:
    """The per-claim results of claims read by `read_claim_items`, in the same order (a bad record becomes
    `{"id", "error", "findings": []}`). `engine`: single (claim by claim), batch (vectorised; CMS rules
    only) or auto (batch from BATCH_FROM_CLAIMS claims when no policy pack is used). `should_stop` is asked
    between claims (single engine) and between chunks (batch engine); when it answers True the work stops
    with CheckStoppedError."""
    from hcpcs.core.errors import CheckStoppedError, InvalidInputError

    if engine not in ENGINES:
        raise InvalidInputError(f"engine {engine!r}: use {', '.join(ENGINES)}")
    if engine == "batch" and packs:
        raise InvalidInputError("policy packs run on the single engine: use --engine single (or auto) with --policy")
    hc = hc or default()
    claims = [item for item in items if isinstance(item, Claim)]
    if engine == "batch" or (engine == "auto" and not packs and len(claims) >= BATCH_FROM_CLAIMS):
        from hcpcs.edits.batch import iter_check_batch, result_dicts

        day = parse_date(as_of, "as-of date") if as_of else None
        # In chunks of claims, so that memory stays bounded however large the input.
        checked = iter(result for part in iter_check_batch(claims, hc, as_of=day, with_notices=True)
                       for result in result_dicts(part, hc))
    else:
        checker = Checker(hc, packs=packs, as_of=as_of)
        checked = (checker.check(claim) for claim in claims)
    results = []
    for item in items:
        if should_stop is not None and should_stop():
            raise CheckStoppedError("claim checking was stopped: its time budget is spent")
        if isinstance(item, Claim):
            results.append(next(checked))
        else:
            error = item.to_dict()
            error["findings"] = []
            results.append(error)
    return results
