"""FHIR R4 terminology operations for HCPCS under /fhir: the CapabilityStatement (`metadata`), the
CodeSystem (`CodeSystem/hcpcs`, content not-present: hcpcs answers code by code), `$lookup` and
`$validate-code` (GET with query parameters, or POST with a Parameters resource).

Resources are built as dicts and validated with the `fhir.resources` models before they are sent. The
package ships R4B (4.3) and R5 models, not R4 (4.0.1); CapabilityStatement, CodeSystem, Parameters and
OperationOutcome are structurally the same in R4 and R4B for everything used here, so the R4B models
validate them and the server declares fhirVersion 4.0.1.

CPT codes are answered only where the user's imported fee-schedule file carries a descriptor (the
PPRRVU short descriptor), with the AMA notice as a property; hcpcs ships no CPT text.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from hcpcs.core.codes import AMA_NOTICE, kind_of, normalize
from hcpcs.core.errors import HcpcsError, MalformedCodeError, NotCoveredError, UnknownCodeError
from hcpcs.interfaces.web.context import AppContext, context
from hcpcs.interfaces.web.problems import Problem

router = APIRouter(prefix="/fhir", tags=["FHIR terminology"])

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
HCPCS_SYSTEM = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
HCPCS_SYSTEMS = (HCPCS_SYSTEM, "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets")
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
DESIGNATION_USE = "urn:hcpcs:fhir:designation-use"  # codes: short, long (CMS short and long descriptors)

# The CMS fields returned as $lookup properties: code -> (type, description).
PROPERTIES: dict[str, tuple[str, str]] = {
    "inactive": ("boolean", "True when the code is not valid on the date asked."),
    "validity": ("string", "Why the code is or is not valid on the date asked."),
    "added-date": ("dateTime", "HCPCS add date."),
    "action-code": ("code", "HCPCS action code of the release."),
    "action-effective-date": ("dateTime", "Date the action takes effect."),
    "termination-date": ("dateTime", "HCPCS termination date: last day the code is valid."),
    "pricing-indicator": ("code", "HCPCS pricing indicator (one per value)."),
    "multiple-pricing-indicator": ("code", "HCPCS multiple pricing indicator."),
    "coverage": ("code", "HCPCS coverage code."),
    "betos": ("code", "Berenson-Eggers type of service category."),
    "type-of-service": ("code", "HCPCS type of service (one per value)."),
    "processing-note": ("string", "HCPCS processing note number and text."),
    "cross-reference": ("code", "HCPCS cross-reference code (one per value)."),
    "asc-group": ("code", "Ambulatory surgical center payment group."),
    "lab-certification": ("code", "CLIA lab certification (one per value)."),
    "statute": ("string", "Statute number."),
    "release": ("string", "The CMS release the descriptors and fields come from."),
    "mpfs-status": ("code", "Physician fee schedule status indicator (RVU file)."),
    "pctc": ("code", "Physician fee schedule PC/TC indicator."),
    "global-days": ("code", "Physician fee schedule global surgery days."),
    "modifier-26-allowed": ("boolean", "Whether modifier 26 may be billed (from the PC/TC indicator)."),
    "modifier-tc-allowed": ("boolean", "Whether modifier TC may be billed (from the PC/TC indicator)."),
    "opps-status-indicator": ("code", "OPPS Addendum B status indicator."),
    "apc": ("code", "OPPS ambulatory payment classification."),
    "notice": ("string", "A notice the user must see with this answer (e.g. the AMA CPT notice)."),
}


def _validate(resource: dict[str, Any]) -> bytes:
    """The resource validated with the fhir.resources model of its type, as JSON bytes."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"])
    return model.model_validate(resource).model_dump_json().encode()


class FhirResponse(Response):
    media_type = FHIR_JSON


def fhir_response(resource: dict[str, Any], status: int = 200) -> Response:
    return FhirResponse(_validate(resource), status_code=status)


def outcome(status: int, code: str, text: str, expression: str | None = None) -> Response:
    issue: dict[str, Any] = {"severity": "error" if status < 500 else "fatal", "code": code,
                             "diagnostics": text, "details": {"text": text}}
    if expression:
        issue["expression"] = [expression]
    return fhir_response({"resourceType": "OperationOutcome", "issue": [issue]}, status)


class FhirError(Exception):
    def __init__(self, status: int, code: str, text: str, expression: str | None = None) -> None:
        super().__init__(text)
        self.response = outcome(status, code, text, expression)


# ------------------------------------------------------------------------------------ resources


def capability_statement(ctx: AppContext) -> dict[str, Any]:
    from hcpcs.interfaces.web.context import version

    loaded = sorted({r.label for r in ctx.hc_or_none.releases if r.dataset == "hcpcs"}) if ctx.hc_or_none else []
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date.today().isoformat(),
        "publisher": "hcpcs",
        "kind": "instance",
        "software": {"name": "hcpcs", "version": version()},
        "implementation": {"description": "HCPCS Level II terminology from the CMS release files loaded locally"
                           + (f" ({', '.join(loaded)})" if loaded else " (none loaded yet)")},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "resource": [{
                "type": "CodeSystem",
                "interaction": [{"code": "read"}],
                "operation": [
                    {"name": "lookup", "definition": "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup"},
                    {"name": "validate-code",
                     "definition": "http://hl7.org/fhir/OperationDefinition/CodeSystem-validate-code"},
                ],
            }],
        }],
    }


def code_system() -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "id": "hcpcs",
        "url": HCPCS_SYSTEM,
        "name": "HCPCS",
        "title": "Healthcare Common Procedure Coding System (HCPCS) Level II",
        "status": "active",
        "publisher": "Centers for Medicare & Medicaid Services",
        "description": "HCPCS Level II codes from the CMS quarterly and annual release files loaded in this server. "
                       "Versions are CMS release labels (e.g. HCPCS 2026 Jan); $lookup and $validate-code take a "
                       "date and answer with the release in force on it.",
        "caseSensitive": True,
        "content": "not-present",
        "property": [{"code": code, "type": kind, "description": text} for code, (kind, text) in PROPERTIES.items()],
    }


def _property(code: str, value: Any, description: str | None = None) -> dict[str, Any]:
    kind = PROPERTIES[code][0]
    key = {"boolean": "valueBoolean", "string": "valueString", "code": "valueCode", "dateTime": "valueDateTime"}[kind]
    parts: list[dict[str, Any]] = [{"name": "code", "valueCode": code}, {"name": "value", key: value}]
    if description:
        parts.append({"name": "description", "valueString": description})
    return {"name": "property", "part": parts}


def _properties(data: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def coded(code: str, value: dict[str, Any] | None) -> None:
        if value and value.get("code"):
            out.append(_property(code, str(value["code"]), value.get("meaning")))

    if data.get("valid_on_date") is not None:
        out.append(_property("inactive", not data["valid_on_date"]))
    if data.get("validity"):
        out.append(_property("validity", data["validity"]))
    for code, key in (("added-date", "added_date"), ("action-effective-date", "action_effective_date"),
                      ("termination-date", "termination_date")):
        if data.get(key):
            out.append(_property(code, data[key]))
    coded("action-code", data.get("action"))
    for item in data.get("pricing_indicators") or []:
        coded("pricing-indicator", item)
    coded("multiple-pricing-indicator", data.get("multiple_pricing_indicator"))
    coded("coverage", data.get("coverage"))
    coded("betos", data.get("betos"))
    for item in data.get("type_of_service") or []:
        coded("type-of-service", item)
    if data.get("processing_note"):
        note = data["processing_note"]
        out.append(_property("processing-note", f"{note['number']}: {note.get('text') or ''}".strip()))
    for code in data.get("cross_references") or []:
        out.append(_property("cross-reference", code))
    if data.get("asc_group"):
        out.append(_property("asc-group", data["asc_group"]["code"]))
    for item in data.get("lab_certifications") or []:
        coded("lab-certification", item)
    if data.get("statute"):
        out.append(_property("statute", data["statute"]))
    if data.get("descriptor_source"):
        out.append(_property("release", data["descriptor_source"]))
    mpfs = data.get("mpfs") or {}
    if mpfs.get("in_file"):
        coded("mpfs-status", mpfs.get("status"))
        coded("pctc", mpfs.get("pctc"))
        coded("global-days", mpfs.get("global_days"))
        for code, key in (("modifier-26-allowed", "modifier_26_allowed"), ("modifier-tc-allowed", "modifier_tc_allowed")):
            if mpfs.get(key) is not None:
                out.append(_property(code, bool(mpfs[key])))
    opps = data.get("opps") or {}
    if opps.get("in_file"):
        coded("opps-status-indicator", opps.get("status_indicator"))
        if opps.get("apc"):
            out.append(_property("apc", opps["apc"]))
    if data.get("kind") == "cpt":
        out.append(_property("notice", AMA_NOTICE))
    return out


# ------------------------------------------------------------------------------------ operations


def _check_system(system: str | None, required: bool) -> str:
    if not system:
        if required:
            raise FhirError(400, "required", "the system parameter is required "
                            f"({HCPCS_SYSTEM} for HCPCS, {CPT_SYSTEM} for CPT)", "system")
        return HCPCS_SYSTEM
    if system not in (*HCPCS_SYSTEMS, CPT_SYSTEM):
        raise FhirError(404, "not-supported", f"code system {system!r} is not supported here: use {HCPCS_SYSTEM} "
                        f"(HCPCS) or {CPT_SYSTEM} (CPT)", "system")
    return system


def _code(value: str | None) -> str:
    if not value or not value.strip():
        raise FhirError(400, "required", "the code parameter is required", "code")
    return value.strip()


def _date(value: str | None) -> date | None:
    if not value:
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text[:10]) if len(text) == 10 or text[10:11] == "T" else date.fromisoformat(text)
    except ValueError:
        raise FhirError(400, "invalid", f"date {value!r} is not a FHIR date or dateTime (YYYY-MM-DD)", "date") from None


def _lookup_data(ctx: AppContext, code: str, day: date | None) -> dict[str, Any]:
    from hcpcs.services.reference import lookup

    return lookup(code, day, hc=ctx.hc)


async def _lookup(ctx: AppContext, system: str | None, code_text: str | None, day_text: str | None,
                  *, required_system: bool = True) -> tuple[str, dict[str, Any] | None, str | None, str]:
    """(system, lookup data or None, why not, the parameter the failure is about) for the operations."""
    code_text = _code(code_text)
    system = _check_system(system, required_system)
    day = _date(day_text)
    try:
        code = normalize(code_text)
    except MalformedCodeError as exc:
        return system, None, str(exc), "code"
    kind = kind_of(code)
    if system == CPT_SYSTEM and kind != "cpt":
        return system, None, f"{code} is not a CPT code", "code"
    try:
        data = await ctx.run(_lookup_data, ctx, code, day)
    except UnknownCodeError as exc:
        return system, None, str(exc), "code"
    except NotCoveredError as exc:
        return system, None, str(exc), "date"
    except Problem as problem:
        raise FhirError(problem.status, "transient" if problem.status >= 500 else "processing", problem.detail) from None
    except HcpcsError as exc:
        raise FhirError(503 if "run `hcpcs update`" in str(exc) else 400, "processing", str(exc)) from None
    if kind == "cpt" and not data.get("short_description"):
        return system, None, (f"{code} is a CPT code and your imported CMS files carry no descriptor for it on "
                              f"{data['as_of']}; hcpcs ships no CPT descriptors (copyright American Medical "
                              "Association)"), "code"
    return system, data, None, ""


def _lookup_parameters(system: str, data: dict[str, Any]) -> dict[str, Any]:
    kind = data["kind"]
    params: list[dict[str, Any]] = [
        {"name": "name", "valueString": "CPT" if kind == "cpt" else "HCPCS Level II"},
    ]
    if data.get("descriptor_source"):
        params.append({"name": "version", "valueString": data["descriptor_source"]})
    display = data.get("short_description") or data.get("long_description")
    if display:
        params.append({"name": "display", "valueString": display})
    for use, key in (("short", "short_description"), ("long", "long_description")):
        if data.get(key):
            params.append({"name": "designation", "part": [
                {"name": "use", "valueCoding": {"system": DESIGNATION_USE, "code": use,
                                                "display": f"CMS {use} descriptor"}},
                {"name": "value", "valueString": data[key]},
            ]})
    params.extend(_properties(data))
    return {"resourceType": "Parameters", "parameter": params}


def _param(body: dict[str, Any], name: str) -> str | None:
    for item in body.get("parameter") or []:
        if item.get("name") == name:
            for key, value in item.items():
                if key.startswith("value"):
                    return str(value)
    return None


async def _body_parameters(request: Request) -> dict[str, Any]:
    from fhir.resources.R4B.parameters import Parameters

    raw = await request.body()
    try:
        data = json.loads(raw)
        Parameters.model_validate(data)
    except (ValueError, TypeError) as exc:
        raise FhirError(400, "invalid", f"the body is not a FHIR Parameters resource ({str(exc)[:200]})") from None
    return data


async def _answer(fn: Any) -> Response:
    try:
        return await fn
    except FhirError as exc:
        return exc.response


@router.get("/metadata", summary="FHIR CapabilityStatement", response_class=FhirResponse)
async def metadata(request: Request) -> Response:
    return fhir_response(capability_statement(context(request)))


@router.get("/CodeSystem/hcpcs", summary="The HCPCS CodeSystem (properties; content not-present)",
            response_class=FhirResponse)
async def read_code_system() -> Response:
    return fhir_response(code_system())


async def _do_lookup(ctx: AppContext, system: str | None, code: str | None, day: str | None) -> Response:
    system, data, why, about = await _lookup(ctx, system, code, day)
    if data is None:
        raise FhirError(404, "not-found", why or "not found", about)
    return fhir_response(_lookup_parameters(system, data))


async def _do_validate(ctx: AppContext, system: str | None, code: str | None, day: str | None,
                       display: str | None) -> Response:
    system, data, why, _ = await _lookup(ctx, system, code, day)
    params: list[dict[str, Any]] = []
    if data is None:
        params = [{"name": "result", "valueBoolean": False}, {"name": "message", "valueString": why or "not found"}]
    else:
        valid = bool(data.get("valid_on_date"))
        message = data.get("validity") or ("valid" if valid else "not valid")
        names = [d for d in (data.get("short_description"), data.get("long_description")) if d]
        if display and names and display.strip().lower() not in (n.lower() for n in names):
            valid = False
            message = f"the display {display!r} is not a descriptor of {data['code']}: {names[0]!r}; {message}"
        params = [{"name": "result", "valueBoolean": valid}, {"name": "message", "valueString": message}]
        if names:
            params.append({"name": "display", "valueString": names[0]})
        if data.get("kind") == "cpt":
            params[1]["valueString"] = f"{message}. {AMA_NOTICE}"
    return fhir_response({"resourceType": "Parameters", "parameter": params})


SystemQuery = Query(None, description=f"{HCPCS_SYSTEM} (https also accepted) or {CPT_SYSTEM}.")
DateQuery = Query(None, description="Date of service (FHIR date); default today.")


@router.get("/CodeSystem/$lookup", summary="$lookup: a code's display, descriptors and CMS fields",
            response_class=FhirResponse)
async def lookup_get(request: Request, system: str | None = SystemQuery, code: str | None = Query(None),
                     date: str | None = DateQuery) -> Response:  # noqa: A002
    return await _answer(_do_lookup(context(request), system, code, date))


@router.post("/CodeSystem/$lookup", summary="$lookup with a Parameters body", response_class=FhirResponse)
async def lookup_post(request: Request) -> Response:
    async def run() -> Response:
        body = await _body_parameters(request)
        return await _do_lookup(context(request), _param(body, "system"), _param(body, "code"), _param(body, "date"))

    return await _answer(run())


@router.get("/CodeSystem/$validate-code", summary="$validate-code: whether a code is valid on a date",
            response_class=FhirResponse)
async def validate_get(request: Request, url: str | None = Query(None), system: str | None = SystemQuery,
                       code: str | None = Query(None), date: str | None = DateQuery,  # noqa: A002
                       display: str | None = Query(None)) -> Response:
    return await _answer(_do_validate(context(request), url or system, code, date, display))


@router.post("/CodeSystem/$validate-code", summary="$validate-code with a Parameters body", response_class=FhirResponse)
async def validate_post(request: Request) -> Response:
    async def run() -> Response:
        body = await _body_parameters(request)
        return await _do_validate(context(request), _param(body, "url") or _param(body, "system"),
                                  _param(body, "code"), _param(body, "date"), _param(body, "display"))

    return await _answer(run())
