"""Protection for the web service: request-size and batch limits, the time budget of a request, optional
API keys for /api and /fhir, and the security headers of every answer. All middleware here is plain ASGI
(no per-request task switching), so it costs microseconds per request.

Settings come from the environment when the app is created:

- HCPCS_API_KEYS: comma-separated keys; when set, /api and /fhir need one (header `X-API-Key: KEY` or
  `Authorization: Bearer KEY`). Pages, /docs and /openapi.json stay open.
- HCPCS_MAX_BODY_BYTES (default 2 MiB), HCPCS_MAX_CLAIMS (default 1000 claims per check request),
  HCPCS_REQUEST_TIMEOUT (seconds, default 15).
- HCPCS_CORS_ORIGINS: comma-separated origins allowed to call /api and /fhir from a browser (default
  none: CORS off).
- HCPCS_WORKER_THREADS (default 2): library calls running at once in threads, each with its own
  read-only connection to the store (more threads only contend for the interpreter lock with the event
  loop, which answers lookups).
- HCPCS_CACHE_ENTRIES (default 2048; 0 turns it off) and HCPCS_CACHE_MB (default 64): answers of GET
  requests kept in memory, bounded by both; emptied when `hcpcs update` changes the store.
- HCPCS_CHECK_PROCESSES (default 1): worker processes that check large claim requests, so that their
  pure-Python work never holds the server's interpreter lock while lookups wait (0: check in threads).
- HCPCS_HEADER_TIMEOUT (seconds, default 10): a connection whose request head is not complete this long
  after it opened (or after its previous answer) is closed (`hcpcs serve`; see `server.py`).
- HCPCS_BODY_TIMEOUT (seconds, default 30): a request body not received in full by then is answered 408.
- HCPCS_MAX_JSON_DEPTH (default 32): JSON bodies nested deeper are refused before they are parsed.
"""

from __future__ import annotations

import hmac
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hcpcs.interfaces.web.problems import PROBLEM_MEDIA_TYPE, Problem

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_CLAIMS = 1000
DEFAULT_TIMEOUT_SECONDS = 15.0
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_MAX_JSON_DEPTH = 32
FHIR_MAX_BODY_BYTES = 64 * 1024  # a Parameters resource asking about one code is a few hundred bytes

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
# JSON answers are never rendered as documents; nothing may load from them.
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(name, "").split(",") if part.strip())


def _env_number(name: str, default: float, cast: type = int) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={raw!r} is not a number") from exc
    if value <= 0:
        raise ValueError(f"environment variable {name} must be greater than 0, not {raw!r}")
    return value


def _env_count(name: str, default: int) -> int:
    """A count that may be 0 (to turn something off)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ValueError(f"environment variable {name}={raw!r} is not a whole number (0 or more)")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    api_keys: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_claims: int = DEFAULT_MAX_CLAIMS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    cors_origins: tuple[str, ...] = ()
    worker_threads: int = 2
    cache_entries: int = 2048
    cache_megabytes: int = 64
    check_processes: int = 1
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    sqlite_cache_kib: int = 8192  # page cache of each pooled read connection (the store's default is 64 MiB)
    protected_prefixes: tuple[str, ...] = field(default=("/api", "/fhir"))

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            api_keys=_env_list("HCPCS_API_KEYS"),
            max_body_bytes=_env_number("HCPCS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            max_claims=_env_number("HCPCS_MAX_CLAIMS", DEFAULT_MAX_CLAIMS),
            timeout_seconds=_env_number("HCPCS_REQUEST_TIMEOUT", DEFAULT_TIMEOUT_SECONDS, float),
            cors_origins=_env_list("HCPCS_CORS_ORIGINS"),
            worker_threads=_env_number("HCPCS_WORKER_THREADS", 2),
            cache_entries=_env_count("HCPCS_CACHE_ENTRIES", 2048),
            cache_megabytes=_env_number("HCPCS_CACHE_MB", 64),
            check_processes=_env_count("HCPCS_CHECK_PROCESSES", 1),
            header_timeout=_env_number("HCPCS_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT, float),
            body_timeout=_env_number("HCPCS_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT, float),
            max_json_depth=_env_number("HCPCS_MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH),
        )


def _is_under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def operation_outcome(status: int, code: str, text: str) -> dict[str, Any]:
    """A minimal FHIR OperationOutcome (the error shape of /fhir)."""
    severity = "error" if status < 500 else "fatal"
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": text, "details": {"text": text}}]}


async def send_error(scope: Scope, send: Send, problem: Problem) -> None:
    """Answer with `problem` in the shape the path expects: OperationOutcome under /fhir, problem details
    under /api, a short HTML page elsewhere."""
    path = scope.get("path", "")
    headers = dict(problem.headers)
    if _is_under(path, ("/fhir",)):
        fhir_code = {401: "login", 413: "too-costly", 503: "transient"}.get(problem.status, "processing")
        body = json.dumps(operation_outcome(problem.status, fhir_code, problem.detail)).encode()
        media = "application/fhir+json"
    elif _is_under(path, ("/api",)) or "html" not in _header(scope, b"accept"):
        body = json.dumps(problem.to_dict(path)).encode()
        media = PROBLEM_MEDIA_TYPE
    else:
        from html import escape

        body = (f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(problem.title)}</title>"
                f"<link rel=stylesheet href=/static/app.css><main class=page><h1>{escape(problem.title)}</h1>"
                f"<p>{escape(problem.detail)}</p><p><a href=/>Home</a></p></main></html>").encode()
        media = "text/html; charset=utf-8"
    raw_headers = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit. An HTTPException, so FastAPI's body
    parsing passes it through instead of turning it into a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")
        self.limit = limit


class BodyTimeout(HTTPException):
    """Raised from `receive` when the body has not arrived in full within the body read timeout."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body did not arrive within {seconds:g} s",
                         headers={"Connection": "close"})


def too_large_problem(limit: int) -> Problem:
    return Problem(413, "content-too-large", f"the request body is larger than the limit of {limit:,} bytes",
                   [{"field": "body", "in": "body", "message": f"at most {limit:,} bytes"}])


def body_timeout_problem(seconds: float) -> Problem:
    return Problem(408, "body-timeout", f"the request body did not arrive within {seconds:g} s",
                   [{"field": "body", "in": "body", "message": f"send the whole body within {seconds:g} s"}],
                   headers={"Connection": "close"})


class BodyLimitMiddleware:
    """Refuses bodies over `limit` bytes (FHIR bodies over FHIR_MAX_BODY_BYTES): at once when
    Content-Length says so, else when the stream passes it (the app then sees BodyTooLarge and answers
    413). A body that has not arrived in full `timeout` seconds after the request head is answered 408 and
    the connection closed (a client trickling its body cannot hold a connection and a task for ever)."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float = DEFAULT_BODY_TIMEOUT) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = min(self.limit, FHIR_MAX_BODY_BYTES) if _is_under(scope["path"], ("/fhir",)) else self.limit
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            await send_error(scope, send, too_large_problem(limit))
            return
        seen = 0
        started = False
        complete = False
        deadline = anyio.current_time() + self.timeout

        async def limited_receive() -> Message:
            nonlocal seen, complete
            if complete:  # the body is in: what is left to receive is the disconnect, however late
                return await receive()
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.timeout) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
                complete = not message.get("more_body", False)
            return message

        async def watch_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watch_send)
        except BodyTooLarge:
            if started:
                raise
            await send_error(scope, send, too_large_problem(limit))
        except BodyTimeout:
            if started:
                raise
            await send_error(scope, send, body_timeout_problem(self.timeout))


def json_depth(body: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest, without parsing it (so that a body nested
    thousands deep is refused before the parser recurses into it). Brackets inside strings do not count."""
    from itertools import accumulate

    if b"[" not in body and b"{" not in body:
        return 0
    text = _JSON_STRING.sub(b"", body) if b'"' in body else body
    brackets = text.translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(0, max(accumulate(_BRACKET_STEP[b] for b in brackets)))


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def key_allowed(given: str, keys: tuple[bytes, ...]) -> bool:
    """Whether `given` is one of the configured keys. Compared against every key (no early exit) so
    timing does not tell which prefix matched."""
    if not given:
        return False
    candidate = given.encode("latin-1", "replace")
    return bool(sum(hmac.compare_digest(candidate, key) for key in keys))


def given_key(headers: Any) -> str:
    """The API key of a request: `X-API-Key`, else `Authorization: Bearer KEY` (headers: a mapping)."""
    given = (headers.get("x-api-key") or "").strip()
    if not given:
        auth = (headers.get("authorization") or "").strip()
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
    return given


def unauthorized_problem() -> Problem:
    return Problem(401, "unauthorized", "an API key is required: send it in the X-API-Key header or as "
                   "Authorization: Bearer KEY", [{"field": "X-API-Key", "in": "header",
                                                  "message": "missing or not a valid key"}],
                   headers={"WWW-Authenticate": 'Bearer realm="hcpcs"'})


class ApiKeyMiddleware:
    """When keys are configured, /api and /fhir answer 401 without one of them (the /check page asks for
    one in its form: see `pages.check_submit`)."""

    def __init__(self, app: ASGIApp, keys: tuple[str, ...], prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.keys = tuple(k.encode() for k in keys)
        self.prefixes = prefixes

    def _allowed(self, scope: Scope) -> bool:
        headers = {"x-api-key": _header(scope, b"x-api-key"), "authorization": _header(scope, b"authorization")}
        return key_allowed(given_key(headers), self.keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] != "OPTIONS"
                and _is_under(scope["path"], self.prefixes) and not self._allowed(scope)):
            await send_error(scope, send, unauthorized_problem())
            return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """Adds nosniff, Referrer-Policy, frame denial and a Content-Security-Policy without inline scripts to
    every answer (the interactive API docs get their own policy: see `docs_csp`)."""

    def __init__(self, app: ASGIApp, docs_csp: str) -> None:
        self.app = app
        self.docs_csp = docs_csp.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in ("/docs", "/docs/oauth2-redirect", "/redoc"):
            csp = self.docs_csp
        elif _is_under(path, ("/api", "/fhir")) or path == "/openapi.json":
            csp = API_CSP.encode()
        else:
            csp = PAGE_CSP.encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                for key, value in (
                    (b"content-security-policy", csp),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                ):
                    if key not in present:
                        headers.append((key, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
