"""Response models of the REST API for the OpenAPI document. The JSON contracts of the README are the
TypedDicts of `hcpcs.services.results` and are used as they are (so a key added there is documented
here at once); the answers of the services that have no contract type yet (search, similar, history,
diff, the fee variants, edits, releases) are described below by their top-level keys, each optional and
with the nested parts left open, so that the document never promises more than the services give.
Move a type to `hcpcs.services.results` when its service is typed.

pydantic (which FastAPI asks for the schemas) reads only `typing_extensions.TypedDict` on Python 3.11,
and the contracts are `typing.TypedDict`: `for_pydantic` rebuilds a type, and every TypedDict inside it,
key for key, as `typing_extensions` ones. Routes use `response_model=for_pydantic(...)`."""

import functools
import types
import typing
from typing import Any, TypedDict, Union, get_args, get_origin, get_type_hints

import typing_extensions

from hcpcs.services.results import ClaimResult, Coded, FeeResult, LookupResult

__all__ = ["AllLocalitiesResult", "CheckAnswer", "ClaimResult", "DiffResult", "EditsResult", "FeeAnswer",
           "FeeResult", "HistoryResult", "LookupResult", "ReleaseInfo", "SearchResult", "SimilarResult"]


class SearchHit(TypedDict, total=False):
    code: str
    kind: str
    status: str | None
    mpfs_release: str | None
    short_description: str | None
    long_description: str | None
    release: str | None
    betos: str | None
    type_of_service: str | None
    added_date: str | None
    termination_date: str | None
    ended: bool  # terminated before the date asked about (active_on, else today)
    score: float | None


class SearchResult(TypedDict, total=False):
    """`hcpcs search --json`."""

    query: str
    mode: str  # words, code, prefix or range
    fts: str | None
    active_on: str | None
    count: int  # results shown
    total: int  # results found (count < total: cut by limit)
    total_exact: bool  # false: a text search found its most candidates, there may be more
    limit: int | None  # None: every result
    results: list[SearchHit]


class SimilarCode(TypedDict, total=False):
    code: str
    score: float
    reasons: list[str]
    short_description: str | None
    kind: str
    termination_date: str | None
    ended: bool


class SimilarResult(TypedDict, total=False):
    code: str
    similar: list[SimilarCode]


class HistoryEvent(TypedDict, total=False):
    dataset: str
    release: str
    effective: str
    event: str
    detail: str | None
    changes: list[dict[str, Any]]


class HistoryResult(TypedDict, total=False):
    """`hcpcs history CODE --json`."""

    code: str
    kind: str
    milestones: dict[str, Any]
    events: list[HistoryEvent]


DiffResult = TypedDict("DiffResult", {  # "from" is a Python keyword, hence the functional form
    "dataset": str, "from": str, "to": str, "range": str | None, "counts": dict[str, int],
    "added": list[dict[str, Any]], "discontinued": list[dict[str, Any]], "removed": list[dict[str, Any]],
    "changed": list[dict[str, Any]]}, total=False)


class AllLocalitiesResult(TypedDict, total=False):
    """`/api/fee/{code}?all_localities=true`: the fee contract in every locality."""

    code: str
    modifier: str | None
    setting: str
    as_of: str
    release: str
    notices: list[str]
    localities: list[FeeResult]


class FeeHistoryEntry(FeeResult, total=False):
    """One loaded fee-schedule release in `/api/fee/{code}?history=true`."""

    effective_start: str
    in_file: bool


class FeeNotInRelease(TypedDict):
    """A loaded fee-schedule release that does not carry the code, in the fee history."""

    release: str
    effective_start: str
    in_file: bool


class OppsFeeResult(TypedDict, total=False):
    """`/api/fee/{code}?opps=true`: the OPPS Addendum B rate."""

    code: str
    as_of: str
    release: str
    status_indicator: Coded | None
    separately_paid: bool
    packaged: bool
    note: str | None
    apc: str | None
    relative_weight: float | None
    payment_rate: float | None
    national_unadjusted_copayment: float | None
    minimum_unadjusted_copayment: float | None
    notices: list[str]
    source: dict[str, Any]


FeeAnswer = FeeResult | AllLocalitiesResult | list[FeeHistoryEntry | FeeNotInRelease] | OppsFeeResult


class EditsResult(TypedDict, total=False):
    """`hcpcs edits CODE --json`: every NCCI edit naming the code on the date."""

    code: str
    as_of: str
    setting: str
    notices: list[str]
    ptp: dict[str, Any] | None
    mue: dict[str, Any] | None
    addon: dict[str, Any] | None


class ReleaseInfo(TypedDict, total=False):
    """One loaded release (`hcpcs releases --json`)."""

    dataset: str
    label: str
    effective_start: str
    effective_end: str | None
    row_dates: bool
    source_files: list[dict[str, Any]]
    content_sha256: str
    row_counts: dict[str, int]
    meta: dict[str, Any]
    loaded_at: str


CheckAnswer = ClaimResult | list[ClaimResult]


def _is_typed_dict(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, dict) and hasattr(value, "__required_keys__")


_NOT_REQUIRED = (typing.NotRequired, typing_extensions.NotRequired)


@functools.cache
def _typed_dict(source: type) -> Any:
    # With postponed annotations (`from __future__ import annotations`) Python 3.11 cannot see
    # NotRequired[...] when it builds a TypedDict, so `__required_keys__` lists such keys too: read the
    # wrappers from the annotations themselves.
    hints = get_type_hints(source, include_extras=True)
    fields = {}
    for key, hint in hints.items():
        optional = key not in source.__required_keys__ or get_origin(hint) in _NOT_REQUIRED
        converted = for_pydantic(get_args(hint)[0] if get_origin(hint) in _NOT_REQUIRED else hint)
        fields[key] = typing_extensions.NotRequired[converted] if optional else converted
    built = typing_extensions.TypedDict(source.__name__, fields)  # type: ignore[operator]
    built.__doc__ = source.__doc__
    return built


def for_pydantic(hint: Any) -> Any:
    """`hint` with every TypedDict in it rebuilt as a typing_extensions TypedDict (keys, types and which
    keys are required all kept)."""
    if _is_typed_dict(hint):
        return _typed_dict(hint)
    origin, args = get_origin(hint), get_args(hint)
    if origin is None or not args:
        return hint
    converted = tuple(for_pydantic(a) for a in args)
    if origin in (Union, types.UnionType):
        return functools.reduce(lambda a, b: a | b, converted)
    return origin[converted if len(converted) > 1 else converted[0]]
