"""The REST API under /api. Bodies are the library's dicts (the CLI's --json contracts); errors are
problem details (see `hcpcs.interfaces.web.problems`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from hcpcs.core.codes import normalize, split_modifier
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import (
    DataNotLoadedError,
    HcpcsError,
    InvalidInputError,
    MalformedCodeError,
    NotCoveredError,
)
from hcpcs.interfaces.web import models
from hcpcs.interfaces.web.checks import MAX_CLAIM_LINES
from hcpcs.interfaces.web.context import AppContext, JSONBody, context, coverage_hint
from hcpcs.interfaces.web.problems import PROBLEM_MEDIA_TYPE, Problem, field_error, from_error
from hcpcs.interfaces.web.security import DEFAULT_MAX_CLAIMS
from hcpcs.services import fees
from hcpcs.services.checking import MAX_UNITS

router = APIRouter(prefix="/api", default_response_class=JSONBody, tags=["REST API"])

_PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "example": "/problems/unknown-code"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "in": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "required": ["type", "title", "status", "detail", "errors"],
}
_STATUS_TEXT = {
    400: "The body cannot be read (malformed JSON, not a claim format, nested too deeply).",
    401: "API keys are configured on this server and the request carried none (or a wrong one).",
    408: "The body did not arrive in full within the body read timeout (the connection is closed).",
    404: "Unknown code or release label, or no loaded release answers for the date asked (`type` tells which).",
    413: "Body over the size limit or batch over the claim limit.",
    422: "A parameter or field is not acceptable; `errors` names it.",
    503: "No data loaded, or the request ran over its time budget.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the problem answers a route can give (401 on every route: API keys may be
    configured)."""
    return {status: {"description": _STATUS_TEXT[status],
                     "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_SCHEMA}}} for status in sorted({401, *statuses})}


# ------------------------------------------------------------------------------------ input checks


def valid_code(value: str, name: str = "code", where: str = "path", *, with_modifier: bool = False) -> str:
    """The code normalized; `with_modifier`: a code written with its modifier (G6002-26, G6002 26) is kept as
    `G6002-26` for the library, which answers for the code and names the modifier; else the bare code."""
    try:
        code, modifier = split_modifier(value)
        code = normalize(code)
        return f"{code}-{modifier}" if modifier and with_modifier else code
    except MalformedCodeError as exc:
        raise from_error(exc, name, where) from None


def valid_date(value: str | None, name: str) -> date | None:
    """A date parameter (YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD); None (or empty) means today, left to the library."""
    if value is None or not value.strip():
        return None
    try:
        return parse_date(value, name)
    except InvalidInputError as exc:
        raise from_error(exc, name) from None


# words a library message starts with -> the parameter it is about
_MESSAGE_FIELDS = {
    "locality": "locality", "state": "state", "county": "county", "modifier": "modifier", "setting": "setting",
    "as-of date": "as_of", "active-on date": "active_on", "search": "q", "code range": "q", "limit": "limit",
    "--range": "range", "policy pack": "packs",
}


def _field_of(exc: HcpcsError, default: str | None, default_in: str) -> tuple[str | None, str]:
    text = str(exc).lower()
    if isinstance(exc, NotCoveredError):
        return ("locality", "query") if "gpci" in text else ("as_of", "query")
    for words, name in _MESSAGE_FIELDS.items():
        if text.startswith(words):
            return name, "query"
    if " localities; add --county" in text:
        return "county", "query"
    return default, default_in


@dataclass(frozen=True)
class Dated:
    """The date a call answers for (None: today) and the datasets whose coverage a "not covered" answer
    describes."""

    day: date | None
    datasets: tuple[str, ...] = ()


def not_covered(ctx: AppContext, exc: NotCoveredError, dated: Dated) -> Problem:
    """No loaded release covers the date: a 404 that says which date was used (today when none was
    given), what the newest loaded releases cover and how to ask for another date. Never "invalid"."""
    used = f"{dated.day}" if dated.day else f"today, {date.today()}, as no as_of was given"
    hint = coverage_hint(ctx.hc, dated.datasets, "?as_of=YYYY-MM-DD") if dated.datasets else \
        "Ask for another date with ?as_of=YYYY-MM-DD."
    detail = f"{exc} (the date used: {used}). {hint}"
    name, place = _field_of(exc, "as_of", "query")
    return Problem(404, "not-covered", detail, [field_error(name or "as_of", detail, place)])


async def call(ctx: AppContext, fn: Callable[..., Any], *args: Any, field: str | None = None,
               where: str = "query", inline: bool = False, dated: Dated | None = None, **kwargs: Any) -> Any:
    """Run a library call (given `hc=` the connection of the thread it runs on) in the worker pool, or
    on the event loop when `inline` (short, bounded calls); its typed errors become problems naming the
    parameter."""
    try:
        if inline:
            return ctx.run.inline(lambda: fn(*args, hc=ctx.hc, **kwargs))
        return await ctx.run(lambda: fn(*args, hc=ctx.hc, **kwargs))
    except DataNotLoadedError as exc:
        if ctx.hc_or_none is None or not ctx.hc_or_none.releases:
            raise from_error(exc) from None
        # Other data is loaded, only not this dataset: no release answers, as for a date not covered.
        raise Problem(404, "not-covered", str(exc), [field_error(field or "code", str(exc), where)]) from None
    except NotCoveredError as exc:
        if dated is None:
            name, place = _field_of(exc, field, where)
            raise from_error(exc, name, place) from None
        raise not_covered(ctx, exc, dated) from None
    except HcpcsError as exc:
        name, place = _field_of(exc, field, where)
        raise from_error(exc, name, place) from None


async def answer(ctx: AppContext, fn: Callable[..., Any], *args: Any, field: str | None = None,
                 where: str = "query", inline: bool = False, dated: Dated | None = None, **kwargs: Any) -> Response:
    """The JSON answer of a read-only library call, from the response cache when it was asked before
    (with the same arguments, on the same day: no date means today)."""
    key = (fn.__module__, fn.__qualname__, args, tuple(sorted(kwargs.items())), date.today())
    body = ctx.cache.get(key)
    if body is None:
        data = await call(ctx, fn, *args, field=field, where=where, inline=inline, dated=dated, **kwargs)
        body = JSONBody(None).render(data)
        ctx.cache.put(key, body)
    return Response(body, media_type="application/json")


# ------------------------------------------------------------------------------------ reference


@router.get("", summary="The endpoints of this API", include_in_schema=False)
async def api_index() -> Response:
    return JSONBody({"openapi": "/openapi.json", "docs": "/docs", "endpoints": [
        "/api/lookup/{code}", "/api/search", "/api/similar/{code}", "/api/history/{code}", "/api/diff",
        "/api/fee/{code}", "/api/edits/{code}", "/api/check", "/api/releases"]})


# The shapes `hcpcs.core.codes.normalize` accepts, in either case: a HCPCS Level II code (a letter and four
# digits), a CPT code (four digits and a digit or F, T, U, M) or a two-character modifier (-26 too).
# A code (optionally as billed with a modifier: G6002-26, G6002 26) or a modifier.
CODE_PATTERN = r"^(([A-Za-z][0-9]{4}|[0-9]{4}[0-9AFMTUafmtu])([- ][0-9A-Za-z]{2})?|-?[0-9A-Za-z]{2})$"
# The forms of `hcpcs.core.dates.read_date` (YYYY-MM-DD, MM/DD/YYYY, YYYYMMDD); it decides, this only documents.
_MONTH, _DAY = r"(0[1-9]|1[0-2])", r"(0[1-9]|[12][0-9]|3[01])"
# YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD (a day the pattern admits may still be no calendar day: a 422 then).
DATE_PATTERN = (rf"^\s*([0-9]{{4}}-{_MONTH}-{_DAY}|(0?[1-9]|1[0-2])/(0?[1-9]|[12][0-9]|3[01])/[0-9]{{4}}"
                rf"|[0-9]{{4}}{_MONTH}{_DAY})\s*$")


def code_path() -> Any:
    return Path(..., pattern=CODE_PATTERN, description="A HCPCS Level II code (G6002), a CPT code (77373) or a "
                "modifier (TC); any case.", examples=["G6002"])


def date_query(description: str = "Date of service, YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD (default: today).") -> Any:
    # `format: date` names the canonical form (what clients should send); the other typed forms are accepted too.
    return Query(None, pattern=DATE_PATTERN, description=description, examples=["2024-08-12"],
                 json_schema_extra={"format": "date"})


@router.get("/lookup/{code}", summary="Everything about a code on a date of service",
            response_model=models.for_pydantic(models.LookupResult), responses=problems(404, 422, 503))
async def api_lookup(request: Request, code: str = code_path(), as_of: str | None = date_query()) -> Response:
    """The lookup contract: descriptors, validity on the date, HCPCS indicators decoded, fee-schedule
    indicators and RVUs (`mpfs`, with `by_modifier`), OPPS, MUE, add-on and PTP edits, notices and the
    sources (release and files) of every part."""
    from hcpcs.services.reference import lookup

    ctx = context(request)
    code = valid_code(code, with_modifier=True)
    day = valid_date(as_of, "as_of")
    return await answer(ctx, lookup, code, day, field="code", where="path", inline=True,
                        dated=Dated(day, ("hcpcs", "mpfs")))


@router.get("/search", summary="Search codes by words, code, prefix (774*) or range (G6001-G6017)",
            response_model=models.for_pydantic(models.SearchResult), responses=problems(422, 503))
async def api_search(
    request: Request,
    q: str = Query(..., min_length=1, max_length=200, pattern=r"[0-9A-Za-z]",
                   description="Words, a code, a prefix like 774* or a range (at least one letter or digit)."),
    active_on: str | None = date_query("Only codes valid on this date (YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD)."),
    betos: str | None = Query(None, max_length=3, description="Only this BETOS category, e.g. I4B."),
    type_of_service: str | None = Query(None, max_length=1, description="Only this type of service, e.g. 6."),
    status: str | None = Query(None, max_length=1, description="Only this fee-schedule status, e.g. A."),
    limit: int = Query(20, ge=1, le=1000),
) -> Response:
    from hcpcs.services.search import search

    ctx = context(request)
    day = valid_date(active_on, "active_on")
    return await answer(ctx, search, q, active_on=day, betos=betos, type_of_service=type_of_service,
                        status=status, limit=limit, field="q")


@router.get("/similar/{code}", summary="Codes related to a code, with the reasons", response_model=models.for_pydantic(models.SimilarResult),
            responses=problems(404, 422, 503))
async def api_similar(request: Request, code: str = code_path(), limit: int = Query(15, ge=1, le=100)) -> Response:
    from hcpcs.services.search import similar

    ctx = context(request)
    return await answer(ctx, similar, valid_code(code), limit=limit, field="code", where="path")


@router.get("/history/{code}", summary="A code across the loaded releases", response_model=models.for_pydantic(models.HistoryResult),
            responses=problems(404, 422, 503))
async def api_history(request: Request, code: str = code_path()) -> Response:
    from hcpcs.services.reference import history

    ctx = context(request)
    return await answer(ctx, history, valid_code(code), field="code", where="path", inline=True)


@router.get("/diff", summary="What changed between two releases of one dataset",
            response_model=models.for_pydantic(models.DiffResult), responses=problems(404, 422, 503))
async def api_diff(
    request: Request,
    from_: str = Query(..., alias="from", description="Label of the older release, e.g. HCPCS 2020 Jan."),
    to: str = Query(..., description="Label of the newer release, e.g. HCPCS 2026 Jan."),
    range: str | None = Query(None, pattern=r"^\s*[0-9A-Za-z]+\s*-\s*[0-9A-Za-z]+\s*$",  # noqa: A002
                              description="Only codes FIRST-LAST, e.g. G6001-G6017."),
) -> Response:
    from hcpcs.services.diff import diff

    ctx = context(request)
    labels = {r.label.lower() for r in ctx.hc.releases}
    for name, label in (("from", from_), ("to", to)):
        if label.strip().lower() not in labels:  # a release that is not here: not found, like an unknown code
            raise Problem(404, "unknown-release", f"no loaded release is labelled {label!r}",
                          [field_error(name, "not the label of a loaded release (see /api/releases)")])
    return await answer(ctx, diff, from_.strip(), to.strip(), code_range=range, field="range")


@router.get("/releases", summary="The loaded CMS releases", response_model=models.for_pydantic(list[models.ReleaseInfo]),
            responses=problems(503))
async def api_releases(request: Request, dataset: str | None = Query(None, description="Only this dataset.")) -> Response:
    ctx = context(request)
    return JSONBody([r.to_dict() for r in ctx.hc.releases if dataset is None or r.dataset == dataset])


# ------------------------------------------------------------------------------------ fees and edits


@router.get("/fee/{code}", summary="Physician fee schedule amount (or every locality, history, OPPS rate)",
            response_model=models.for_pydantic(models.FeeAnswer), responses=problems(404, 422, 503))
async def api_fee(
    request: Request,
    code: str = code_path(),
    modifier: str | None = Query(None, pattern=r"^\s*-?(26|53|[Tt][Cc])?\s*$",
                                 description="26, TC or 53 (default: the global service)."),
    locality: str | None = Query(None, pattern=r"^\s*([0-9]{7}|[0-9]{1,5}[-/ _]+[0-9]{1,2})\s*$",
                                 description="MAC-locality of the GPCI file, e.g. 01112-05."),
    state: str | None = Query(None, max_length=40,
                              description="State abbreviation or name (with county when it has several)."),
    county: str | None = Query(None, max_length=80),
    national: bool = Query(False, description="National amount (GPCIs of 1.000); the default without a place."),
    setting: Literal["nonfacility", "facility"] = Query("nonfacility"),
    as_of: str | None = date_query(),
    all_localities: bool = Query(False, description="The amount in every locality of the release in force."),
    history: bool = Query(False, description="The amount in every loaded fee-schedule release."),
    opps: bool = Query(False, description="The hospital outpatient (OPPS Addendum B) rate instead."),
    qp: bool = Query(False, description="The rendering clinician is a qualifying APM participant (QP): from CY 2026 "
                                        "the QP conversion factor; every answer names the factor it used."),
) -> Response:
    ctx = context(request)
    code = valid_code(code, with_modifier=True)
    day = valid_date(as_of, "as_of")
    chosen = [name for name, on in (("all_localities", all_localities), ("history", history), ("opps", opps)) if on]
    if len(chosen) > 1:
        raise Problem(422, "invalid-input", f"choose one of all_localities, history and opps, not {' and '.join(chosen)}",
                      [field_error(name, "only one of these may be true") for name in chosen])
    if all_localities:
        return await answer(ctx, fees.all_localities, code, modifier, setting=setting, as_of=day, qp=qp,
                            field="code", where="path", dated=Dated(day, ("mpfs",)))
    if history:
        return await answer(ctx, fees.fee_history, code, modifier, locality=locality, setting=setting, qp=qp,
                            field="code", where="path")
    if opps:
        return await answer(ctx, fees.opps_fee, code, day, field="code", where="path", inline=True,
                            dated=Dated(day, ("opps",)))
    return await answer(ctx, fees.fee, code, modifier, locality=locality, state=state, county=county,
                        national=national, setting=setting, as_of=day, qp=qp, field="code", where="path", inline=True,
                        dated=Dated(day, ("mpfs",)))


@router.get("/edits/{code}", summary="Every NCCI edit naming a code on a date, both directions",
            response_model=models.for_pydantic(models.EditsResult), responses=problems(404, 422, 503))
async def api_edits(request: Request, code: str = code_path(), as_of: str | None = date_query(),
                    setting: Literal["professional", "facility"] = Query("professional")) -> Response:
    from hcpcs.services.listing import edits_for_code

    ctx = context(request)
    day = valid_date(as_of, "as_of")
    datasets = ("ncci_ptp_practitioner", "ncci_mue_practitioner") if setting == "professional" else \
        ("ncci_ptp_hospital", "ncci_mue_hospital")
    return await answer(ctx, edits_for_code, valid_code(code, with_modifier=True), as_of=day, setting=setting, field="code",
                        where="path", dated=Dated(day, datasets))


# ------------------------------------------------------------------------------------ claims

_CONTENT_FORMATS = {
    "application/json": "json", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl",
    "application/jsonlines": "jsonl", "text/csv": "csv", "application/csv": "csv", "application/edi-x12": "x12",
    "application/edi": "x12", "application/x12": "x12",
}
_CLAIM_EXAMPLE = {"id": "C1", "setting": "professional", "date_of_service": "2024-08-12",
                  "lines": [{"code": "77373"}, {"code": "G6002"}]}
_DATE = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
_LINE_SCHEMA = {
    "type": "object", "required": ["code"],
    "properties": {
        "code": {"type": "string", "pattern": r"^\s*([A-Za-z][0-9]{4}|[0-9]{4}[0-9AFMTUafmtu])\s*$"},
        "modifiers": {"type": "array", "maxItems": 4, "items": {"type": "string", "pattern": r"^-?[0-9A-Za-z]{2}$"}},
        "units": {"type": "integer", "minimum": 1, "maximum": MAX_UNITS},
        "date_of_service": _DATE,
        "place_of_service": {"type": "string", "pattern": r"^[0-9]{1,2}$"},
        "charge": {"type": "number", "minimum": 0},
        "diagnosis_pointers": {"type": "array", "items": {"type": "string"}},
    },
}
_CLAIM_SCHEMA = {
    "type": "object", "required": ["id", "lines"],
    "description": "One claim (the JSON claim contract; the full format is in hcpcs.claims.readers). "
                   "date_of_service is required unless every line has its own.",
    "properties": {
        "id": {"anyOf": [{"type": "string", "pattern": r"\S"}, {"type": "integer"}]},
        "setting": {"type": "string", "enum": ["professional", "facility", "institutional"]},
        "date_of_service": _DATE,
        "place_of_service": {"type": "string", "pattern": r"^[0-9]{1,2}$"},
        "provider": {"type": "string"},
        "diagnosis_codes": {"type": "array", "items": {"type": "string"}},
        "lines": {"type": "array", "minItems": 1, "maxItems": MAX_CLAIM_LINES, "items": _LINE_SCHEMA},
    },
    "anyOf": [{"required": ["date_of_service"]},
              {"properties": {"lines": {"items": {"required": ["date_of_service"]}}}}],
}
# In a batch a claim that cannot be read is answered {id, error, findings: []}, so any item is accepted.
_BATCH_SCHEMA = {"type": "array", "minItems": 1, "maxItems": DEFAULT_MAX_CLAIMS,
                 "description": "Claims, each checked or answered with its error.", "items": {}}


def _pack_names() -> list[str]:
    from hcpcs.interfaces.web.context import load_packs

    packs = load_packs()
    return sorted({*packs, *(p.origin.removesuffix(".toml") for p in packs.values())})


PACK_NAMES = _pack_names()
_PACK = "(" + "|".join(re.escape(name) for name in PACK_NAMES) + ")"
PACKS_PATTERN = rf"^\s*{_PACK}\s*(,\s*{_PACK}\s*)*$"


def resolve_pack_ids(ctx: AppContext, packs: str | None, parameter: str = "packs") -> tuple[str, ...]:
    """Built-in policy packs by id or file stem (never a path on the server)."""
    if not packs:
        return ()
    by_name = {**{p.origin.removesuffix(".toml"): i for i, p in ctx.packs.items()}, **{i: i for i in ctx.packs}}
    chosen = []
    for name in (p.strip() for p in packs.split(",") if p.strip()):
        if name not in by_name:
            raise Problem(422, "invalid-input", f"policy pack {name!r} is not a built-in pack ({', '.join(sorted(by_name))})",
                          [field_error(parameter, "unknown policy pack")])
        chosen.append(by_name[name])
    return tuple(dict.fromkeys(chosen))


@router.post(
    "/check", summary="Check claims against the CMS edits (and policy packs)", response_model=models.for_pydantic(models.CheckAnswer),
    responses=problems(400, 408, 413, 422, 503),
    openapi_extra={"requestBody": {"required": True, "description": (
        "One claim object (answer: one result), a JSON array of claims or {\"claims\": [...]} (answer: an array "
        "of results in the same order; a claim that cannot be read becomes {id, error, findings: []}). CSV, "
        "JSON Lines and X12 837 bodies are read too (by Content-Type, `format`, or sniffed)."),
        "content": {
            "application/json": {"schema": {"anyOf": [
                _CLAIM_SCHEMA, _BATCH_SCHEMA,
                {"type": "object", "required": ["claims"], "properties": {"claims": _BATCH_SCHEMA}}]},
                                 "example": _CLAIM_EXAMPLE},
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/edi-x12": {"schema": {"type": "string"}},
        }}},
)
async def api_check(
    request: Request,
    packs: str | None = Query(None, pattern=PACKS_PATTERN,
                              description=f"Comma-separated built-in policy packs: {', '.join(PACK_NAMES)}."),
    no_packs: str | None = Query(None, pattern=PACKS_PATTERN,
                                 description="Comma-separated default policy packs to turn off (they apply to the "
                                             "claims carrying their codes unless turned off)."),
    format: Literal["json", "jsonl", "csv", "x12"] | None = Query(None, description="Body format (default: from "  # noqa: A002
                                                                  "Content-Type, else sniffed)."),
) -> Response:
    ctx = context(request)
    pack_ids = resolve_pack_ids(ctx, packs) + tuple(f"-{p}" for p in resolve_pack_ids(ctx, no_packs, "no_packs"))
    body = await request.body()
    fmt = format or _CONTENT_FORMATS.get(request.headers.get("content-type", "").split(";")[0].strip().lower())
    _, _, rendered = await ctx.checks.check(ctx, body, fmt, pack_ids)
    return Response(rendered, media_type="application/json")
