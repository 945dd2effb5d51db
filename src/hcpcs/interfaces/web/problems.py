"""RFC 9457 problem details: the one error shape of the REST API.

Every error answer of /api is `application/problem+json` with `type`, `title`, `status`, `detail`,
`instance` and `errors` (a list of `{"field", "in", "message"}` naming the input that is wrong). The
library's typed errors map to statuses as follows (documented in the OpenAPI description too):

- MalformedCodeError, InvalidInputError, a bad field of a single claim -> 422 (the request was read but a
  value in it is not acceptable; the same status FastAPI gives a parameter of the wrong type);
- a body that cannot be read at all (malformed JSON, not UTF-8, a claims file with no claims in it)
  -> 400;
- UnknownCodeError -> 404 (`unknown-code`);
- NotCoveredError -> 404 (`not-covered`): the request is valid but no loaded release answers it for
  the date asked (or the release was loaded without the file needed); a later `hcpcs update` can change
  the answer, so it is "not found", not "invalid";
- DataNotLoadedError -> 503 (`data-not-loaded`); a request over its time budget -> 503
  (`request-timeout`);
- a body over the size limit or a batch over the claim limit -> 413.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from hcpcs.core.errors import (
    ClaimInputError,
    DataNotLoadedError,
    HcpcsError,
    InvalidInputError,
    MalformedCodeError,
    NotCoveredError,
    UnknownCodeError,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"

# slug -> (title, explanation shown at /problems/{slug})
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "invalid-input": ("Invalid input", "A parameter or field has a value hcpcs cannot use: a date that is not "
                      "YYYY-MM-DD, a locality id that is not MAC-locality, an unknown option. `errors` names it."),
    "malformed-code": ("Malformed code", "The text is not a HCPCS Level II code (a letter and four digits, "
                       "e.g. G6002), a CPT code (five characters, e.g. 77385 or 0001U) or a modifier."),
    "unknown-code": ("Unknown code", "The code is well formed but is in no loaded CMS release."),
    "not-covered": ("Not covered by the loaded releases", "No loaded release of the dataset needed is in force "
                    "on the date asked, or it was loaded without the file needed (e.g. an RVU bundle without "
                    "its GPCI file). Loading more CMS releases (`hcpcs update`) can change the answer."),
    "data-not-loaded": ("Data not loaded", "The store holds no release that can answer; run `hcpcs update`."),
    "invalid-claim": ("Invalid claim", "A claim is malformed; `errors` names the claim, line and field."),
    "malformed-body": ("Malformed request body", "The request body could not be read: it is not valid JSON, "
                       "not UTF-8 text, or not in any claim format hcpcs reads (JSON, JSON Lines, CSV, X12 837)."),
    "validation-error": ("Request validation failed", "A parameter is missing or has the wrong type; "
                         "`errors` names it."),
    "content-too-large": ("Content too large", "The request body is over the size limit, or the batch holds "
                          "more claims than one request may check."),
    "unauthorized": ("API key required", "This server requires an API key for /api and /fhir: send it in the "
                     "X-API-Key header or as Authorization: Bearer KEY."),
    "unknown-release": ("Unknown release", "No loaded release has that label; /api/releases lists them."),
    "body-timeout": ("Request body too slow", "The request body did not arrive in full within the server's "
                     "body read timeout; the connection was closed. Send the whole body at once."),
    "request-timeout": ("Request took too long", "The request ran over the server's time budget and was "
                        "stopped. Narrow it (a code range, fewer claims) and try again."),
    "not-found": ("Not found", "There is nothing at this address."),
    "method-not-allowed": ("Method not allowed", "This address does not answer that HTTP method."),
    "internal-error": ("Internal error", "hcpcs failed unexpectedly; the server log has the details."),
}


def problem_type(slug: str) -> str:
    return f"/problems/{slug}"


@dataclass
class Problem(Exception):
    """An error answer: raise it from a route, or build one from a library error with `from_error`."""

    status: int
    slug: str
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    @property
    def title(self) -> str:
        return PROBLEM_TYPES.get(self.slug, (self.slug.replace("-", " ").capitalize(), ""))[0]

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": problem_type(self.slug), "title": self.title, "status": self.status,
                               "detail": self.detail}
        if instance:
            out["instance"] = instance
        out["errors"] = self.errors
        return out

    def response(self, instance: str | None = None) -> Response:
        body = json.dumps(self.to_dict(instance), ensure_ascii=False, default=str).encode()
        return Response(body, status_code=self.status, media_type=PROBLEM_MEDIA_TYPE, headers=self.headers)


def field_error(name: str, message: str, where: str = "query") -> dict[str, Any]:
    return {"field": name, "in": where, "message": message}


def from_error(exc: HcpcsError, field_name: str | None = None, where: str = "query") -> Problem:
    """The problem answer for a library error; `field_name` is the input the route knows it came from."""
    detail = str(exc)
    errors = [field_error(field_name, detail, where)] if field_name else []
    if isinstance(exc, MalformedCodeError):
        return Problem(422, "malformed-code", detail, errors)
    if isinstance(exc, UnknownCodeError):
        return Problem(404, "unknown-code", detail, errors)
    if isinstance(exc, NotCoveredError):
        return Problem(404, "not-covered", detail, errors)
    if isinstance(exc, DataNotLoadedError):
        return Problem(503, "data-not-loaded", detail, [])
    if isinstance(exc, ClaimInputError):
        location = exc.location or field_name or "body"
        return Problem(422, "invalid-claim", detail, [field_error(location, detail, "body")])
    if isinstance(exc, InvalidInputError):
        return Problem(422, "invalid-input", detail, errors)
    return Problem(422, "invalid-input", detail, errors)


def validation_errors(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI/pydantic request-validation errors as `errors` entries."""
    out = []
    for item in raw:
        loc = [str(p) for p in item.get("loc", ())]
        where = loc[0] if loc and loc[0] in ("query", "path", "body", "header", "cookie") else "query"
        name = ".".join(loc[1:]) if len(loc) > 1 else (loc[0] if loc else "request")
        out.append(field_error(name, str(item.get("msg", "invalid value")), where))
    return out
