"""The web service: one ASGI app (FastAPI) serving the REST API (/api, OpenAPI at /openapi.json,
interactive docs at /docs), the web pages and FHIR terminology operations (/fhir) from one read-only
store. `hcpcs serve` calls `create_app` and runs it with uvicorn; `uvicorn --factory
hcpcs.interfaces.web.app:create_app` works too (the store is then $HCPCS_HOME or the per-user data folder)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import queue
import re
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from hcpcs.core.errors import DataNotLoadedError, HcpcsError
from hcpcs.interfaces.web.problems import PROBLEM_TYPES, Problem, from_error, validation_errors
from hcpcs.interfaces.web.security import (
    ApiKeyMiddleware,
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
    Settings,
    operation_outcome,
    too_large_problem,
)
from hcpcs.store.db import Store
from hcpcs.store.session import Hcpcs

log = logging.getLogger("hcpcs.interfaces.web")
HERE = Path(__file__).resolve().parent
T = TypeVar("T")

API_DESCRIPTION = """
The official HCPCS/CPT code reference and Medicare billing rules, from the CMS release files loaded in
this server's store. Every answer says which release and file each value came from.

**Bodies** are the library's JSON contracts (the same as `hcpcs ... --json`).

**Errors** are RFC 9457 problem details (`application/problem+json`: `type`, `title`, `status`,
`detail`, `instance`, and `errors`, a list of `{field, in, message}` naming what is wrong):

| status | type | when |
|---|---|---|
| 400 | `/problems/malformed-body` | the body is not valid JSON / not a claim format |
| 401 | `/problems/unauthorized` | API keys are configured and none was sent |
| 404 | `/problems/unknown-code` | the code is in no loaded release |
| 404 | `/problems/not-covered` | no loaded release answers for the date asked (or it lacks the file needed) |
| 413 | `/problems/content-too-large` | body over the size limit or batch over the claim limit |
| 422 | `/problems/malformed-code`, `/problems/invalid-input`, `/problems/invalid-claim`, `/problems/validation-error` | a value is not acceptable |
| 503 | `/problems/data-not-loaded`, `/problems/request-timeout` | no data loaded; request over its time budget |

CPT codes and descriptors are copyright American Medical Association; a CPT descriptor is shown only where
the CMS files loaded by the user carry it.
"""


class JSONBody(Response):
    """JSON without FastAPI's encoder pass (the library's dicts are plain JSON already)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


class RequestTimeout(Exception):
    pass


class HcpcsPool:
    """Read-only connections to the store, one per worker thread in use. SQLite connections are not
    shared between threads: a connection used by one thread at a time needs no locking, lets SQLite work
    run in parallel (the GIL is released while a query steps), and can carry a progress handler that
    stops the query of a request over its time budget. Connections opened before the store changed
    (`generation`) are closed when they come back instead of being reused."""

    def __init__(self, path: Path, size: int, prepare: Callable[[Hcpcs], None]) -> None:
        self.path = path
        self.size = size
        self.prepare = prepare
        self.generation = 0
        self._idle: queue.SimpleQueue[tuple[Hcpcs, int]] = queue.SimpleQueue()
        self._opened = 0
        self._lock = threading.Lock()

    def _open(self) -> Hcpcs:
        hc = Hcpcs(store=Store(self.path, readonly=True))
        self.prepare(hc)
        return hc

    def acquire(self, timeout: float) -> tuple[Hcpcs, int]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                hc, generation = self._idle.get_nowait()
            except queue.Empty:
                break
            if generation == self.generation:
                return hc, generation
            self._discard(hc)
        with self._lock:
            can_open = self._opened < self.size
            if can_open:
                self._opened += 1
        if can_open:
            generation = self.generation
            try:
                return self._open(), generation
            except BaseException:
                with self._lock:
                    self._opened -= 1
                raise
        try:
            hc, generation = self._idle.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise RequestTimeout() from None
        if generation != self.generation:
            self._discard(hc)
            return self.acquire(max(0.01, deadline - time.monotonic()))
        return hc, generation

    def release(self, hc: Hcpcs, generation: int) -> None:
        if generation == self.generation:
            self._idle.put((hc, generation))
        else:
            self._discard(hc)

    def _discard(self, hc: Hcpcs) -> None:
        with self._lock:
            self._opened -= 1
        with contextlib.suppress(Exception):  # closing a stale read-only connection cannot lose anything
            hc.close()

    def renew(self) -> None:
        """The store changed: connections in use finish their call, then every one is reopened."""
        self.generation += 1


class Runner:
    """Runs library calls in worker threads under the request's time budget, each call with a pooled
    connection of its own (`current()` inside the call). A call over budget is answered 503 at once;
    its SQLite work is stopped by the connection's progress handler soon after."""

    def __init__(self, hc: Hcpcs | None, timeout: float, threads: int = 4) -> None:
        self.timeout = timeout
        self.threads = threads
        self._local = threading.local()
        self.pool = self._pool(hc) if hc is not None else None

    def _pool(self, hc: Hcpcs) -> HcpcsPool:
        return HcpcsPool(hc.store.path, self.threads, self._prepare)

    def attach(self, hc: Hcpcs) -> None:
        self.pool = self._pool(hc)

    def _prepare(self, hc: Hcpcs) -> None:
        hc.store.conn.set_progress_handler(self._progress, 20_000)

    def _progress(self) -> int:
        deadline = getattr(self._local, "deadline", None)
        return 1 if deadline is not None and time.monotonic() > deadline else 0

    def expired(self) -> bool:
        """For long loops inside a call: whether the current call's budget is spent."""
        return self._progress() == 1

    def current(self) -> Hcpcs | None:
        """The connection of the call running in this thread (None outside a call)."""
        return getattr(self._local, "hc", None)

    def _call(self, fn: Callable[..., T], deadline: float, hc: Hcpcs | None, args: tuple, kwargs: dict) -> T:
        self._local.deadline = deadline
        self._local.hc = hc
        try:
            return fn(*args, **kwargs)
        except (HcpcsError, Problem):
            if time.monotonic() > deadline:
                raise RequestTimeout() from None
            raise
        except RequestTimeout:
            raise
        except Exception as exc:
            if time.monotonic() > deadline:
                raise RequestTimeout() from None
            # Log where it failed but not the message: it may quote claim contents.
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("unexpected %s in %s\n%s", type(exc).__name__, getattr(fn, "__qualname__", fn), frames)
            raise Problem(500, "internal-error", f"hcpcs failed unexpectedly ({type(exc).__name__})") from None
        finally:
            self._local.deadline = None
            self._local.hc = None

    def _work(self, fn: Callable[..., T], deadline: float, args: tuple, kwargs: dict) -> T:
        pool = self.pool
        hc, generation = pool.acquire(deadline - time.monotonic()) if pool is not None else (None, 0)
        try:
            return self._call(fn, deadline, hc, args, kwargs)
        finally:
            if hc is not None and pool is not None:
                pool.release(hc, generation)

    def _timeout(self) -> Problem:
        return Problem(503, "request-timeout", f"the request took longer than {self.timeout:g} s and was stopped",
                       headers={"Retry-After": "1"})

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` in a worker thread with a pooled connection."""
        deadline = time.monotonic() + self.timeout
        try:
            with anyio.fail_after(self.timeout + 0.25):
                return await anyio.to_thread.run_sync(self._work, fn, deadline, args, kwargs,
                                                      abandon_on_cancel=True)
        except (TimeoutError, RequestTimeout):
            raise self._timeout() from None

    def inline(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a short, bounded call (one lookup, one small claim) on the event loop's own thread and
        connection: no thread hand-off, which costs more than such a call. Its SQL still stops at the
        deadline."""
        pool = self.pool
        hc = None
        if pool is not None:  # the connection of this thread (the event loop's), never shared
            own = getattr(self._local, "own", None)
            if own is None or own[1] != pool.generation:
                if own is not None:
                    own[0].close()
                own = self._local.own = (pool._open(), pool.generation)
            hc = own[0]
        try:
            return self._call(fn, time.monotonic() + self.timeout, hc, args, kwargs)
        except RequestTimeout:
            raise self._timeout() from None


class ResponseCache:
    """Answers of read-only requests (JSON bytes, rendered pages, and parts of pages), by their
    normalized arguments (and today's date, which "no date" means). Bounded by entries and bytes;
    emptied when the store changes. Shared by the worker threads, hence the lock."""

    def __init__(self, max_entries: int = 2048, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Any) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Any, value: Any, size: int | None = None) -> None:
        size = len(value) if size is None else size
        if self.max_entries <= 0 or size > self.max_bytes // 16:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


STORE_CHECK_SECONDS = 1.0


@dataclass
class AppContext:
    """What every route needs: the store (None when no data is loaded), settings, runner, templates.
    Inside `run(...)` calls, `hc` is the calling thread's pooled connection; outside, the app's own
    (used on the event loop only, for the cached release list and to notice a changed store)."""

    hc_or_none: Hcpcs | None
    settings: Settings
    run: Runner
    templates: Jinja2Templates
    load_error: str | None = None
    home: Path | None = None
    packs: dict[str, Any] = field(default_factory=dict)
    checkers: dict[tuple[int, tuple[str, ...]], Any] = field(default_factory=dict)
    cache: ResponseCache = field(default_factory=ResponseCache)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _checked_at: float = 0.0
    _data_version: int | None = None

    @property
    def hc(self) -> Hcpcs:
        current = self.run.current()
        if current is not None:
            return current
        if self.hc_or_none is None:
            raise DataNotLoadedError(self.load_error or "no hcpcs data is loaded; run `hcpcs update`")
        return self.hc_or_none

    def refresh(self) -> None:
        """At most once a second (on the event loop): notice that `hcpcs update` has changed the store, or
        created it, and start answering from the new data (the release list, connections, caches)."""
        now = time.monotonic()
        if now - self._checked_at < STORE_CHECK_SECONDS:
            return
        self._checked_at = now
        if self.hc_or_none is None:
            try:
                hc = Hcpcs(self.home)
                hc.releases  # noqa: B018
            except DataNotLoadedError:
                return
            self.hc_or_none, self.load_error = hc, None
            self.run.attach(hc)
            self._data_version = hc.store.conn.execute("PRAGMA data_version").fetchone()[0]
            return
        version = self.hc_or_none.store.conn.execute("PRAGMA data_version").fetchone()[0]
        if self._data_version is None:
            self._data_version = version
        elif version != self._data_version:
            self._data_version = version
            self.hc_or_none.refresh()
            if self.run.pool is not None:
                self.run.pool.renew()
            with self.lock:
                self.checkers.clear()
            self.cache.clear()
            log.info("the store changed; answering from the new data")

    def checker(self, pack_ids: tuple[str, ...]) -> Any:
        """The claim checker of this thread's connection for a set of policy packs (kept: it caches the
        edit tables it has read)."""
        from hcpcs.services.checking import Checker

        hc = self.hc
        key = (id(hc), pack_ids)
        with self.lock:
            checker = self.checkers.get(key)
            if checker is None:
                checker = self.checkers[key] = Checker(hc, packs=[self.packs[p] for p in pack_ids])
            return checker


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    ctx.refresh()
    return ctx


def _load_packs() -> dict[str, Any]:
    from hcpcs.edits.packs import builtin_packs, load_pack

    packs: dict[str, Any] = {}
    for stem in sorted(builtin_packs()):
        pack = load_pack(stem)
        packs[pack.id] = pack
    return packs


def wants_html(request: Request) -> bool:
    """Whether an error should be an HTML page: a page address asked for by a browser."""
    path = request.url.path
    if path.startswith(("/api/", "/fhir/", "/static/")) or path in ("/api", "/fhir", "/openapi.json"):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_response(request: Request, problem: Problem) -> Response:
    """A problem answered in the shape the caller expects: OperationOutcome under /fhir, problem+json
    under /api, an HTML page for the pages."""
    path = request.url.path
    if path == "/fhir" or path.startswith("/fhir/"):
        code = {404: "not-found", 401: "login", 413: "too-costly", 503: "transient"}.get(problem.status, "invalid")
        return Response(json.dumps(operation_outcome(problem.status, code, problem.detail)), problem.status,
                        media_type="application/fhir+json", headers=problem.headers)
    if wants_html(request):
        ctx = context(request)
        return ctx.templates.TemplateResponse(request, "error.html", {"problem": problem},
                                              status_code=problem.status, headers=problem.headers)
    return problem.response(path)


def _docs_page() -> tuple[HTMLResponse, str]:
    """Swagger UI (from the jsDelivr CDN, as FastAPI ships it) and a CSP allowing exactly its inline
    script by hash."""
    page = get_swagger_ui_html(openapi_url="/openapi.json", title="hcpcs API",
                               swagger_ui_parameters={"defaultModelsExpandDepth": 0})
    html = bytes(page.body).decode().replace(
        '<div id="swagger-ui">',
        '<p id="docs-offline">The interactive documentation loads Swagger UI from cdn.jsdelivr.net; if it does not '
        'appear, the API description is at <a href="/openapi.json">/openapi.json</a>.</p><div id="swagger-ui">', 1)
    hashes = []
    for script in re.findall(r"<script>(.*?)</script>", html, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    csp = ("default-src 'self'; script-src 'self' https://cdn.jsdelivr.net " + " ".join(hashes) + "; "
           "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
    return HTMLResponse(html), csp


def create_app(hc: Hcpcs | None = None, *, home: Path | None = None, settings: Settings | None = None) -> FastAPI:
    """The app over `hc` (or the store at `home`, or the default store). Opens nothing else and loads no
    tables up front, so it starts in well under a second; with no store it still starts and answers 503
    (`data-not-loaded`) until `hcpcs update` has been run."""
    settings = settings or Settings.from_env()
    load_error = None
    if hc is None:
        try:
            hc = Hcpcs(home)
            hc.releases  # noqa: B018 - read the release list once, up front
        except DataNotLoadedError as exc:
            hc, load_error = None, str(exc)

    docs_page, docs_csp = _docs_page()
    app = FastAPI(
        title="hcpcs", version=_version(), description=API_DESCRIPTION, docs_url=None, redoc_url=None,
        openapi_url="/openapi.json", default_response_class=JSONBody,
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    from hcpcs.interfaces.web import pages

    pages.configure_templates(templates)
    app.state.ctx = AppContext(hc, settings, Runner(hc, settings.timeout_seconds, settings.worker_threads),
                               templates, load_error, home=home, packs=_load_packs(),
                               cache=ResponseCache(settings.cache_entries))

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return error_response(request, exc)

    @app.exception_handler(HcpcsError)
    async def _library_error(request: Request, exc: HcpcsError) -> Response:
        return error_response(request, from_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(list(exc.errors()))
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "the request is not valid"
        return error_response(request, Problem(422, "validation-error", detail, errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 413:
            return error_response(request, too_large_problem(settings.max_body_bytes))
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "invalid-input")
        detail = str(exc.detail) if exc.status_code != 404 else f"nothing is at {request.url.path}"
        if exc.status_code == 400:
            slug = "malformed-body"
        return error_response(request, Problem(exc.status_code, slug, detail, headers=dict(exc.headers or {})))

    @app.get("/docs", include_in_schema=False)
    async def _docs() -> HTMLResponse:
        return docs_page

    @app.get("/problems/{slug}", include_in_schema=False)
    async def _problem_page(request: Request, slug: str) -> Response:
        if slug not in PROBLEM_TYPES:
            raise Problem(404, "not-found", f"there is no problem type {slug!r}")
        title, text = PROBLEM_TYPES[slug]
        return templates.TemplateResponse(request, "problem_type.html", {"slug": slug, "title": title, "text": text})

    from hcpcs.interfaces.web import api, fhir

    app.include_router(api.router)
    app.include_router(fhir.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # Outermost last: headers on everything, then keys, then the body limit.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    if settings.api_keys:
        app.add_middleware(ApiKeyMiddleware, keys=settings.api_keys, prefixes=settings.protected_prefixes)
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["X-API-Key", "Authorization", "Content-Type"])
    app.add_middleware(SecurityHeadersMiddleware, docs_csp=docs_csp)
    return app


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("hcpcs")
    except Exception:  # noqa: BLE001 - not installed: running from a checkout
        return "0"
