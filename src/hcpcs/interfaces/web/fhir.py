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
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

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
# Designation `use` codes that exist outside this server: HL7 Terminology's designation-usage#display for
# the descriptor returned as `display` (the CMS short descriptor), and SNOMED CT's "Fully specified name"
# (a description type of the R4 designation-use value set, an extensible binding) for the CMS long
# descriptor, the full unabbreviated description of the code.
DISPLAY_USE = {"system": "http://terminology.hl7.org/CodeSystem/designation-usage", "code": "display",
               "display": "Display"}
FULL_NAME_USE = {"system": "http://snomed.info/sct", "code": "900000000000003001", "display": "Fully specified name"}
TX_ISSUE_TYPE = "http://hl7.org/fhir/tools/CodeSystem/tx-issue-type"

# The CMS fields returned as $lookup properties: code -> (type, description).
PROPERTIES: dict[str, tuple[str, str]] = {
    "as-of": ("dateTime", "The date the answer is for (today when the request gave none)."),
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


class FhirResponse(JSONResponse):
    """A FHIR resource (already JSON bytes: `fhir_response`). A JSONResponse for the OpenAPI document."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else json.dumps(content).encode()


def fhir_response(resource: dict[str, Any], status: int = 200) -> Response:
    return FhirResponse(_validate(resource), status_code=status)


def issue(code: str, text: str, expression: str | None = None, severity: str = "error",
          tx_type: str | None = None) -> dict[str, Any]:
    """An OperationOutcome issue; `tx_type` a code of the terminology ecosystem's issue types
    (not-found, invalid-code, ...) that tells a validator "cannot say" from "invalid"."""
    details: dict[str, Any] = {"text": text}
    if tx_type:
        details["coding"] = [{"system": TX_ISSUE_TYPE, "code": tx_type}]
    out: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": text, "details": details}
    if expression:
        out["expression"] = [expression]
    return out


def outcome(status: int, code: str, text: str, expression: str | None = None, tx_type: str | None = None) -> Response:
    severity = "error" if status < 500 else "fatal"
    return fhir_response({"resourceType": "OperationOutcome",
                          "issue": [issue(code, text, expression, severity, tx_type)]}, status)


class FhirError(Exception):
    def __init__(self, status: int, code: str, text: str, expression: str | None = None,
                 tx_type: str | None = None) -> None:
        super().__init__(text)
        self.response = outcome(status, code, text, expression, tx_type)


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
                       "date (default: today) and answer with the release in force on it, or a `version` and "
                       "answer from that release as of its effective date. `display` is the CMS short "
                       "descriptor; the long descriptor is a designation.",
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

    if data.get("as_of"):
        out.append(_property("as-of", data["as_of"]))
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


@dataclass
class Asked:
    """The inputs of one $lookup or $validate-code call, from query parameters or a Parameters body."""

    system: str | None = None
    code: str | None = None
    version: str | None = None
    date: str | None = None
    display: str | None = None
    coding: dict[str, Any] | None = None
    codeable_concept: list[dict[str, Any]] | None = None
    properties: list[str] = field(default_factory=list)


@dataclass
class Target:
    """What to answer about: the system, the code, the release asked for (by `version`) and the day."""

    system: str
    code_text: str
    code_expression: str  # where the code came from: "code", "coding.code", "codeableConcept.coding[0].code"
    release: Any | None  # the Release named by `version`
    day: date | None  # None: today
    day_given: bool


def _split_canonical(value: str | None) -> tuple[str | None, str | None]:
    """`http://...|HCPCS 2020 Jan` (a canonical with its version) -> (system, version)."""
    if value and "|" in value:
        system, version = value.split("|", 1)
        return system.strip() or None, version.strip() or None
    return (value.strip() or None) if value else None, None


def _check_system(system: str | None, name: str) -> str:
    if not system:
        raise FhirError(400, "required", f"the {name} parameter is required "
                        f"({HCPCS_SYSTEM} for HCPCS, {CPT_SYSTEM} for CPT)", name)
    if system not in (*HCPCS_SYSTEMS, CPT_SYSTEM):
        raise FhirError(404, "not-supported", f"code system {system!r} is not supported here: use {HCPCS_SYSTEM} "
                        f"(HCPCS) or {CPT_SYSTEM} (CPT)", name, tx_type="not-found")
    return system


def _date(value: str | None) -> date | None:
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text[:10]) if len(text) == 10 or text[10:11] == "T" else date.fromisoformat(text)
    except ValueError:
        raise FhirError(400, "invalid", f"date {value!r} is not a FHIR date or dateTime (YYYY-MM-DD)", "date") from None


def _agree(name: str, first: str | None, second: str | None, where: str) -> str | None:
    if first and second and first != second:
        raise FhirError(400, "invalid", f"{name} {first!r} and {where}.{name} {second!r} disagree: send one of them",
                        f"{where}.{name}")
    return first or second


def _dataset_of(system: str) -> str:
    return "mpfs" if system == CPT_SYSTEM else "hcpcs"


def _version_release(ctx: AppContext, system: str, version: str) -> Any:
    """The loaded release a `version` names: a CMS release label (HCPCS 2020 Jan, RVU25D), or YYYY-MM for
    the HCPCS release effective that month."""
    releases = sorted((r for r in ctx.hc.releases if r.dataset == _dataset_of(system)), key=lambda r: r.effective_start)
    wanted = version.strip().lower()
    for release in releases:
        if release.label.lower() == wanted or release.effective_start.strftime("%Y-%m") == wanted:
            return release
    names = ", ".join(r.label for r in releases) or "none"
    raise FhirError(404, "not-found", f"version {version!r} of {system} is not loaded here (loaded: {names}), so "
                    "the code cannot be looked up or validated in it", "version", tx_type="not-found")


def _version_period(ctx: AppContext, release: Any) -> tuple[date, date | None]:
    """The days a release answers for: its effective date until the next release of its dataset."""
    later = [r.effective_start for r in ctx.hc.releases
             if r.dataset == release.dataset and r.effective_start > release.effective_start]
    end = min(later) - timedelta(days=1) if later else None
    if release.effective_end is not None:
        end = min(end, release.effective_end) if end else release.effective_end
    return release.effective_start, end


def _target(ctx: AppContext, asked: Asked, system_name: str) -> Target:
    """The system, code, release and day of a request, checked: the code and coding forms may both be
    sent only if they agree; `version` (or coding.version) picks a release and, without a date, the day
    (its effective date); a date outside that release's period is refused."""
    system, url_version = _split_canonical(asked.system)
    version = _agree("version", asked.version, url_version, system_name)
    code, expression = asked.code, "code"
    if asked.coding is not None:
        if not isinstance(asked.coding, dict):
            raise FhirError(400, "invalid", "coding must be a Coding (system, code, version)", "coding")
        code = _agree("code", asked.code, asked.coding.get("code"), "coding")
        system = _agree("system", system, asked.coding.get("system"), "coding")
        version = _agree("version", version, asked.coding.get("version"), "coding")
        expression = "coding.code" if asked.coding.get("code") else "code"
    if not code or not str(code).strip():
        raise FhirError(400, "required", "a code is required: send code (with "
                        f"{system_name}) or coding (system and code)", "code")
    system = _check_system(system, system_name if asked.coding is None else "coding.system")
    day = _date(asked.date)
    release = None
    if version:
        release = _version_release(ctx, system, version)
        start, end = _version_period(ctx, release)
        if day is None:
            day = start
        elif day < start or (end is not None and day > end):
            until = f"to {end}" if end else "onwards"
            raise FhirError(400, "invalid", f"date {day} is outside version {release.label} ({start} {until}): send "
                            "the version or the date, or a date within the version", "date")
        return Target(system, str(code).strip(), expression, release, day, True)
    return Target(system, str(code).strip(), expression, None, day, day is not None)


def _day_text(day: date, given: bool) -> str:
    return str(day) if given else f"{day} (today: the request gave no date)"


def _no_data_text(ctx: AppContext, target: Target, day: date, reason: str) -> str:
    from hcpcs.interfaces.web.context import coverage_hint

    return (f"{target.code_text} cannot be looked up or validated for {_day_text(day, target.day_given)}: {reason}. "
            + coverage_hint(ctx.hc, (_dataset_of(target.system),), "date=YYYY-MM-DD (or a version)"))


def _lookup_data(ctx: AppContext, code: str, day: date | None) -> dict[str, Any]:
    from hcpcs.services.reference import lookup

    return lookup(code, day, hc=ctx.hc)


class Found:
    """The outcome of finding a code: `data` (the lookup contract) or why not (`invalid`: the code is not
    a code of the system; otherwise no loaded data can say: raised as FhirError)."""

    def __init__(self, target: Target, data: dict[str, Any] | None = None, invalid: str | None = None) -> None:
        self.target = target
        self.data = data
        self.invalid = invalid


async def _find(ctx: AppContext, target: Target) -> Found:
    try:
        code = normalize(target.code_text)
    except MalformedCodeError as exc:
        return Found(target, invalid=str(exc))
    kind = kind_of(code)
    if target.system == CPT_SYSTEM and kind != "cpt":
        return Found(target, invalid=f"{code} is not a CPT code")
    if target.system != CPT_SYSTEM and kind == "cpt":
        return Found(target, invalid=f"{code} is a CPT code, not a HCPCS Level II code: use the system {CPT_SYSTEM}")
    day_used = target.day or date.today()
    try:
        data = await ctx.run(_lookup_data, ctx, code, target.day)
    except UnknownCodeError as exc:
        return Found(target, invalid=str(exc))
    except NotCoveredError as exc:
        raise FhirError(404, "not-found", _no_data_text(ctx, target, day_used, str(exc)), "date",
                        tx_type="not-found") from None
    except Problem as problem:
        code_name = "transient" if problem.status >= 500 else "processing"
        raise FhirError(problem.status, code_name, problem.detail) from None
    except HcpcsError as exc:
        raise FhirError(503 if "run `hcpcs update`" in str(exc) else 400, "processing", str(exc)) from None
    if _is_no_data(data):
        reason = (data.get("verdict") or {}).get("meaning") or data.get("validity") or "no loaded release covers it"
        raise FhirError(404, "not-found", _no_data_text(ctx, target, day_used, reason), "date", tx_type="not-found")
    release = target.release
    answered_from = data.get("hcpcs_release") if release is None or release.dataset == "hcpcs" else \
        (data.get("mpfs") or {}).get("release")
    if release is not None and answered_from != release.label:
        return Found(target, data, invalid=f"{code} is not in {release.label}")
    if kind == "cpt" and not data.get("short_description"):
        return Found(target, data, invalid=(
            f"{code} is a CPT code and your imported CMS files carry no descriptor for it on {data['as_of']}; "
            "hcpcs ships no CPT descriptors (copyright American Medical Association)"))
    return Found(target, data)


def _is_no_data(data: dict[str, Any]) -> bool:
    """No loaded release can say whether the code is valid on the date ("unknown", never "invalid"). Whether
    it is paid (the lookup's verdict) is another question: a code the HCPCS file dates is valid or not on a
    day even when no fee schedule covers it."""
    return data.get("kind") in ("cpt", "level2") and data.get("valid_on_date") is None


def _version_of(data: dict[str, Any]) -> str | None:
    if data.get("kind") == "cpt":
        return (data.get("mpfs") or {}).get("release")
    return data.get("hcpcs_release") or data.get("descriptor_source")


def _lookup_parameters(found: Found, wanted: list[str]) -> dict[str, Any]:
    """The $lookup answer. With `property` codes asked (`wanted`), only those properties (and the
    designations only when `designation` is asked); name and display always (1..1), and `as-of` whenever
    the date was not given, so that the answer says which day it is for."""
    data = found.data or {}
    target = found.target
    chosen = set(wanted)
    params: list[dict[str, Any]] = [{"name": "name", "valueString": "CPT" if data.get("kind") == "cpt" else
                                     "HCPCS Level II"}]
    version = _version_of(data)
    if version and (not chosen or "version" in chosen):
        params.append({"name": "version", "valueString": version})
    display = data.get("short_description") or data.get("long_description") or data.get("code")
    params.append({"name": "display", "valueString": display})
    if not chosen or "designation" in chosen:
        for key, use in (("short_description", DISPLAY_USE), ("long_description", FULL_NAME_USE)):
            if data.get(key):
                params.append({"name": "designation", "part": [
                    {"name": "language", "valueCode": "en"},
                    {"name": "use", "valueCoding": use},
                    {"name": "value", "valueString": data[key]},
                ]})
    for item in _properties(data):
        code = item["part"][0]["valueCode"]
        if not chosen or code in chosen or (code == "as-of" and not target.day_given):
            params.append(item)
    return {"resourceType": "Parameters", "parameter": params}


def _validate_parameters(found: Found, display: str | None) -> dict[str, Any]:
    """The $validate-code answer: result, message (the reason, and the date it is for), display, and the
    code, system and version it was validated against (as R5 and the terminology ecosystem name them),
    with an `issues` OperationOutcome when the result is false."""
    data = found.data or {}
    target = found.target
    day = date.fromisoformat(data["as_of"]) if data.get("as_of") else (target.day or date.today())
    when = _day_text(day, target.day_given)
    problems: list[dict[str, Any]] = []
    if found.invalid is not None:
        valid = False
        message = f"{found.invalid} (for {when})"
        problems.append(issue("code-invalid", message, target.code_expression, tx_type="invalid-code"))
    else:
        valid = bool(data.get("valid_on_date")) if data.get("valid_on_date") is not None else True
        reason = data.get("validity") or ("valid" if valid else "not valid")
        message = f"{data['code']} is {'valid' if valid else 'not valid'} on {when}: {reason}"
        if not valid:
            problems.append(issue("code-invalid", message, target.code_expression, tx_type="invalid-code"))
        names = [d for d in (data.get("short_description"), data.get("long_description")) if d]
        if display and names and display.strip().lower() not in (n.lower() for n in names):
            valid = False
            text = f"the display {display!r} is not a descriptor of {data['code']}: {names[0]!r}"
            message = f"{text}; {message}"
            problems.append(issue("invalid", text, "display", tx_type="invalid-display"))
        if data.get("kind") == "cpt":
            message = f"{message}. {AMA_NOTICE}"
    params: list[dict[str, Any]] = [{"name": "result", "valueBoolean": valid},
                                    {"name": "message", "valueString": message}]
    if data.get("short_description") or data.get("long_description"):
        params.append({"name": "display", "valueString": data.get("short_description") or data["long_description"]})
    if data.get("code") or found.invalid is None:
        params.append({"name": "code", "valueCode": data.get("code") or target.code_text})
    params.append({"name": "system", "valueUri": target.system})
    version = _version_of(data) if data else (target.release.label if target.release else None)
    if version:
        params.append({"name": "version", "valueString": version})
    if problems:
        params.append({"name": "issues", "resource": {"resourceType": "OperationOutcome", "issue": problems}})
    return {"resourceType": "Parameters", "parameter": params}


def _value(item: dict[str, Any]) -> Any:
    for key, value in item.items():
        if key.startswith("value"):
            return value
    return None


def _asked_from_body(body: dict[str, Any], system_name: str) -> Asked:
    """The inputs of a Parameters body (`system_name`: system for $lookup, url for $validate-code; the
    other is accepted as its alias)."""
    asked = Asked()
    for item in body.get("parameter") or []:
        name, value = item.get("name"), _value(item)
        if value is None:
            continue
        if name == "property":
            asked.properties.append(str(value))
        elif name == "coding":
            asked.coding = value if isinstance(value, dict) else {"code": None}
        elif name == "codeableConcept":
            asked.codeable_concept = list(value.get("coding") or []) if isinstance(value, dict) else []
        elif name in ("system", "url"):
            asked.system = asked.system or str(value)
        elif name in ("code", "version", "date", "display") and getattr(asked, name) is None:
            setattr(asked, name, str(value))
    return asked


async def _body_parameters(request: Request) -> dict[str, Any]:
    from fhir.resources.R4B.parameters import Parameters

    from hcpcs.interfaces.web.security import json_depth

    raw = await request.body()
    limit = context(request).settings.max_json_depth
    depth = json_depth(raw)
    if depth > limit:
        raise FhirError(400, "too-costly", f"the body nests {depth} levels deep; a Parameters resource needs far "
                        f"fewer (at most {limit} are read)")
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("resourceType") != "Parameters":
            raise ValueError("resourceType must be Parameters")
        Parameters.model_validate(data)
    except (ValueError, TypeError, RecursionError) as exc:
        raise FhirError(400, "invalid", f"the body is not a FHIR Parameters resource ({str(exc)[:200]})") from None
    return data


def _codeable_concept_coding(ctx: AppContext, asked: Asked) -> Asked:
    """$validate-code with a codeableConcept: validated by its first coding in a system this server has
    (R4: true if one of its codings is valid; hcpcs answers for the one coding it can)."""
    codings = asked.codeable_concept or []
    for coding in codings:
        if isinstance(coding, dict) and coding.get("system") in (*HCPCS_SYSTEMS, CPT_SYSTEM):
            return Asked(coding=coding, date=asked.date, display=asked.display, version=asked.version)
    raise FhirError(404, "not-supported", "no coding of the codeableConcept is in a code system this server has "
                    f"({HCPCS_SYSTEM}, {CPT_SYSTEM})", "codeableConcept", tx_type="not-found")


async def _answer(fn: Any) -> Response:
    try:
        return await fn
    except FhirError as exc:
        return exc.response


async def _do_lookup(ctx: AppContext, asked: Asked) -> Response:
    found = await _find(ctx, _target(ctx, asked, "system"))
    if found.invalid is not None:
        raise FhirError(404, "not-found", found.invalid, found.target.code_expression, tx_type="not-found")
    return fhir_response(_lookup_parameters(found, asked.properties))


async def _do_validate(ctx: AppContext, asked: Asked) -> Response:
    if asked.codeable_concept is not None:
        if asked.code or asked.coding:
            raise FhirError(400, "invalid", "send one of code (with url), coding or codeableConcept", "codeableConcept")
        asked = _codeable_concept_coding(ctx, asked)
    found = await _find(ctx, _target(ctx, asked, "url"))
    return fhir_response(_validate_parameters(found, asked.display))


def _coding_query(value: str | None) -> dict[str, Any] | None:
    """A Coding in a query string, as a token: `system|code` (or a bare code)."""
    if value is None:
        return None
    system, _, code = value.rpartition("|")
    return {"system": system or None, "code": code or None}


# ------------------------------------------------------------------------------------ routes

_PARAMETERS_SCHEMA = {
    "type": "object", "required": ["resourceType", "parameter"],
    "properties": {"resourceType": {"type": "string", "enum": ["Parameters"]},
                   "parameter": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                            "properties": {"name": {"type": "string"}}}}},
}
_OUTCOME_SCHEMA = {
    "type": "object", "required": ["resourceType", "issue"],
    "properties": {"resourceType": {"type": "string", "enum": ["OperationOutcome"]},
                   "issue": {"type": "array", "items": {"type": "object", "required": ["severity", "code"],
                                                        "properties": {"severity": {"type": "string"},
                                                                       "code": {"type": "string"},
                                                                       "diagnostics": {"type": "string"}}}}},
}
_RESOURCE_SCHEMA = {"type": "object", "required": ["resourceType"], "properties": {"resourceType": {"type": "string"}}}
_OUTCOME_TEXT = {
    400: "The request is not acceptable (a parameter missing or malformed, code and coding disagreeing, a date "
         "outside the version asked, a body that is not a Parameters resource); an OperationOutcome says which.",
    401: "API keys are configured and none was sent.",
    404: "Not found: the code system or version is not here, the code is unknown ($lookup), or no loaded release "
         "covers the date (never answered as an invalid code); an OperationOutcome says which.",
    413: "The body is over the size limit.",
    503: "No data loaded, or the request ran over its time budget.",
}


def fhir_responses(ok_schema: dict[str, Any], ok_text: str, *statuses: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {200: {"description": ok_text, "content": {FHIR_JSON: {"schema": ok_schema}}}}
    for status in statuses:
        out[status] = {"description": _OUTCOME_TEXT[status], "content": {FHIR_JSON: {"schema": _OUTCOME_SCHEMA}}}
    out["4XX"] = {"description": "Any other client error (405 for a method the path does not answer; 408 a body "
                  "too slow): an OperationOutcome.", "content": {FHIR_JSON: {"schema": _OUTCOME_SCHEMA}}}
    return out


_PARAMETERS_BODY = {"requestBody": {"required": True, "description": "A FHIR Parameters resource with the "
                                    "operation's input parameters.",
                                    "content": {FHIR_JSON: {"schema": _PARAMETERS_SCHEMA},
                                                "application/json": {"schema": _PARAMETERS_SCHEMA}}}}

# Query() objects are made per parameter: FastAPI binds each one to the parameter it first describes.


def system_query(description: str = f"{HCPCS_SYSTEM} (https also accepted) or {CPT_SYSTEM}; `system|version` "
                 "is read too.") -> Any:
    return Query(None, max_length=300, description=description)


def code_query() -> Any:
    return Query(None, max_length=64, description="The code, e.g. G6002.")


def version_query() -> Any:
    return Query(None, max_length=64, description="A loaded CMS release label (HCPCS 2020 Jan; RVU25D for CPT) or "
                 "YYYY-MM: answered from that release, as of its effective date unless a date within it is given.")


def coding_query() -> Any:
    return Query(None, max_length=300, description="A coding as `system|code` (instead of system and code).")


def date_query() -> Any:
    return Query(None, max_length=40, description="Date of service (FHIR date or dateTime); default today.")


def language_query() -> Any:
    return Query(None, max_length=20, description="Only English (en) designations exist.")


@router.get("/metadata", summary="FHIR CapabilityStatement", response_class=FhirResponse,
            responses=fhir_responses(_RESOURCE_SCHEMA, "The CapabilityStatement.", 401, 503))
async def metadata(request: Request) -> Response:
    return fhir_response(capability_statement(context(request)))


@router.get("/CodeSystem/hcpcs", summary="The HCPCS CodeSystem (properties; content not-present)",
            response_class=FhirResponse, responses=fhir_responses(_RESOURCE_SCHEMA, "The CodeSystem.", 401))
async def read_code_system() -> Response:
    return fhir_response(code_system())


@router.get("/CodeSystem/$lookup", summary="$lookup: a code's display, descriptors and CMS fields",
            response_class=FhirResponse,
            responses=fhir_responses(_PARAMETERS_SCHEMA, "Parameters: name, version, display, designations and "
                                     "properties.", 400, 401, 404, 503))
async def lookup_get(request: Request, system: str | None = system_query(), code: str | None = code_query(),
                     version: str | None = version_query(), coding: str | None = coding_query(),
                     date: str | None = date_query(),  # noqa: A002
                     property: list[str] | None = Query(None, description="Only these properties (repeat the "  # noqa: A002
                                                        "parameter); `designation` and `version` name those outputs."),
                     displayLanguage: str | None = language_query()) -> Response:  # noqa: N803 - the FHIR name
    asked = Asked(system=system, code=code, version=version, coding=_coding_query(coding), date=date,
                  properties=list(property or []))
    return await _answer(_do_lookup(context(request), asked))


@router.post("/CodeSystem/$lookup", summary="$lookup with a Parameters body", response_class=FhirResponse,
             responses=fhir_responses(_PARAMETERS_SCHEMA, "Parameters, as for GET.", 400, 401, 404, 413, 503),
             openapi_extra=_PARAMETERS_BODY)
async def lookup_post(request: Request) -> Response:
    async def run() -> Response:
        asked = _asked_from_body(await _body_parameters(request), "system")
        return await _do_lookup(context(request), asked)

    return await _answer(run())


@router.get("/CodeSystem/$validate-code", summary="$validate-code: whether a code is valid on a date",
            response_class=FhirResponse,
            responses=fhir_responses(_PARAMETERS_SCHEMA, "Parameters: result, message, display, code, system, "
                                     "version (and issues when the result is false).", 400, 401, 404, 503))
async def validate_get(request: Request, url: str | None = system_query(),
                       system: str | None = system_query("Accepted as another name of url."),
                       code: str | None = code_query(), version: str | None = version_query(),
                       coding: str | None = coding_query(), date: str | None = date_query(),  # noqa: A002
                       display: str | None = Query(None, max_length=500, description="A display to check."),
                       displayLanguage: str | None = language_query()) -> Response:  # noqa: N803 - the FHIR name
    asked = Asked(system=url or system, code=code, version=version, coding=_coding_query(coding), date=date,
                  display=display)
    return await _answer(_do_validate(context(request), asked))


@router.post("/CodeSystem/$validate-code", summary="$validate-code with a Parameters body", response_class=FhirResponse,
             responses=fhir_responses(_PARAMETERS_SCHEMA, "Parameters, as for GET.", 400, 401, 404, 413, 503),
             openapi_extra=_PARAMETERS_BODY)
async def validate_post(request: Request) -> Response:
    async def run() -> Response:
        asked = _asked_from_body(await _body_parameters(request), "url")
        return await _do_validate(context(request), asked)

    return await _answer(run())
