"""The claim-checking entry points of the library: `check` for one claim, `check_claims` for a stream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from hcpcs.claims.model import Claim, ClaimError
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import ClaimInputError
from hcpcs.edits.engine import check_claim
from hcpcs.edits.packs import PolicyPack, load_pack
from hcpcs.edits.tables import EditTables
from hcpcs.store.session import Hcpcs, default


def as_claim(claim: Claim | dict[str, Any]) -> Claim:
    """A Claim from the JSON form of the public contract (or a Claim as is)."""
    if isinstance(claim, Claim):
        return claim
    if not isinstance(claim, dict):
        raise ClaimInputError("a claim must be a JSON object")
    from hcpcs.claims.readers import claim_from_dict

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

    def check(self, claim: Claim | dict[str, Any]) -> dict[str, Any]:
        return check_claim(as_claim(claim), self.hc, tables=self.tables, as_of=self.as_of,
                           packs=self.packs).to_dict()

    def check_all(self, items: Iterable[Claim | ClaimError]) -> Iterator[dict[str, Any]]:
        for item in items:
            if isinstance(item, ClaimError):
                out = item.to_dict()
                out["findings"] = []
                yield out
            else:
                yield self.check(item)


_checkers: dict[tuple[int, tuple[str, ...], str | None], Checker] = {}


def check(claim: Claim | dict[str, Any], *, as_of: str | date | None = None,
          packs: Sequence[str] = (), hc: Hcpcs | None = None) -> dict[str, Any]:
    """Check one claim; returns `{"id", "findings": [...]}` as documented in the README."""
    hc = hc or default()
    key = (id(hc), tuple(packs), str(as_of) if as_of else None)
    checker = _checkers.get(key)
    if checker is None:
        checker = _checkers[key] = Checker(hc, packs=packs, as_of=as_of)
    return checker.check(claim)
