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
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from hcpcs.core.errors import DataNotLoadedError, HcpcsError
from hcpcs.interfaces.web.checks import ClaimChecks
from hcpcs.interfaces.web.context import (
    AppContext,
    JSONBody,
    ResponseCache,
    Runner,
    context,
    load_packs,
    version,
    wants_html,
)
from hcpcs.interfaces.web.problems import PROBLEM_TYPES, Problem, from_error, validation_errors
from hcpcs.interfaces.web.security import (
    ApiKeyMiddleware,
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
    Settings,
    body_timeout_problem,
    operation_outcome,
    too_large_problem,
)
from hcpcs.services import Hcpcs

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
| 400 | `/problems/malformed-body` | the body is not valid JSON / not a claim format / nested too deeply |
| 401 | `/problems/unauthorized` | API keys are configured and none was sent |
| 404 | `/problems/unknown-code`, `/problems/unknown-release` | the code (or release label) is in no loaded release |
| 404 | `/problems/not-covered` | no loaded release answers for the date asked (or it lacks the file needed); the detail says which date was used, what the newest release covers and how to ask for another date |
| 405 | `/problems/method-not-allowed` | the path does not answer that method (`Allow` lists those it does) |
| 408 | `/problems/body-timeout` | the body did not arrive in full within the body read timeout |
| 413 | `/problems/content-too-large` | body over the size limit, batch over the claim limit, claim over 999 lines |
| 422 | `/problems/malformed-code`, `/problems/invalid-input`, `/problems/invalid-claim`, `/problems/validation-error` | a value is not acceptable |
| 503 | `/problems/data-not-loaded`, `/problems/request-timeout` | no data loaded; request over its time budget |

CPT codes and descriptors are copyright American Medical Association; a CPT descriptor is shown only where
the CMS files loaded by the user carry it.
"""


_DATE_PARAMETERS = {"as_of": "as-of date", "active_on": "active-on date"}


def _pattern_problem(raw: list[dict[str, Any]]) -> Problem | None:
    """A code or date that does not match its documented pattern, answered as the library would have
    answered it (malformed-code, invalid-input, with the library's message)."""
    from hcpcs.core.codes import normalize
    from hcpcs.core.dates import parse_date

    if len(raw) != 1 or raw[0].get("type") != "string_pattern_mismatch":
        return None
    loc = [str(part) for part in raw[0].get("loc", ())]
    if len(loc) != 2:
        return None
    where, name = loc
    value = raw[0].get("input")
    try:
        if name == "code":
            normalize(str(value))
        elif name in _DATE_PARAMETERS:
            parse_date(str(value), _DATE_PARAMETERS[name])
        else:
            return None
    except HcpcsError as exc:
        return from_error(exc, name, where)
    return None


def _is_fhir(path: str) -> bool:
    return path == "/fhir" or path.startswith("/fhir/")


def allowed_methods(request: Request) -> str:
    """The methods the routes at the request's path answer, for an Allow header."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return ", ".join(sorted(methods | {"OPTIONS"}, key=lambda m: order.index(m) if m in order else len(order)))


def error_response(request: Request, problem: Problem) -> Response:
    """A problem answered in the shape the caller expects: OperationOutcome under /fhir, problem+json
    under /api, an HTML page for the pages."""
    path = request.url.path
    if _is_fhir(path):
        code = {404: "not-found", 401: "login", 405: "not-supported", 413: "too-costly",
                503: "transient"}.get(problem.status, "invalid")
        return Response(json.dumps(operation_outcome(problem.status, code, problem.detail)), problem.status,
                        media_type="application/fhir+json", headers=problem.headers)
    if wants_html(request):
        ctx = context(request)
        return ctx.templates.TemplateResponse(request, "error.html", {"problem": problem},
                                              status_code=problem.status, headers=problem.headers)
    return problem.response(path)


DOCS_ASSETS = "/docs-assets"  # not under /static: that mount would swallow it


def _docs_assets() -> Path:
    """Swagger UI and ReDoc as the fastapi-offline package ships them (served from here, never a CDN)."""
    from importlib.resources import files

    return Path(str(files("fastapi_offline") / "static"))


def _inline_script_hashes(html: str) -> str:
    hashes = []
    for script in re.findall(r"<script>(.*?)</script>", html, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return " ".join(hashes)


def _docs_pages() -> tuple[HTMLResponse, HTMLResponse, str]:
    """/docs (Swagger UI) and /redoc from local files, and a CSP allowing exactly their inline scripts by
    hash (ReDoc renders in a blob: web worker)."""
    swagger = get_swagger_ui_html(
        openapi_url="/openapi.json", title="hcpcs API", oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        swagger_ui_parameters={"defaultModelsExpandDepth": 0, "validatorUrl": None})
    redoc = get_redoc_html(openapi_url="/openapi.json", title="hcpcs API", redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                           redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False)
    hashes = " ".join(_inline_script_hashes(bytes(page.body).decode()) for page in (swagger, redoc))
    csp = (f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
           "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
           "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
    return HTMLResponse(bytes(swagger.body)), HTMLResponse(bytes(redoc.body)), csp


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

    docs_page, redoc_page, docs_csp = _docs_pages()
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.ctx.checks.stop()  # the claim-check worker processes end with the server

    app = FastAPI(
        title="hcpcs", version=version(), description=API_DESCRIPTION, docs_url=None, redoc_url=None,
        openapi_url="/openapi.json", default_response_class=JSONBody, lifespan=lifespan,
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    from hcpcs.interfaces.web import pages

    pages.configure_templates(templates)
    checks = ClaimChecks(settings.timeout_seconds, settings.check_processes, settings.sqlite_cache_kib)
    if hc is not None:
        checks.attach(hc.store.path)
    app.state.ctx = AppContext(hc, settings, Runner(hc, settings.timeout_seconds, settings.worker_threads,
                                                    settings.sqlite_cache_kib),
                               templates, load_error, home=home, packs=load_packs(),
                               cache=ResponseCache(settings.cache_entries, settings.cache_megabytes * 1024 * 1024),
                               checks=checks)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return error_response(request, exc)

    @app.exception_handler(HcpcsError)
    async def _library_error(request: Request, exc: HcpcsError) -> Response:
        return error_response(request, from_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        raw = list(exc.errors())
        # FHIR answers a bad parameter with 400 and an OperationOutcome; the API with a 422 problem.
        status = 400 if _is_fhir(request.url.path) else 422
        library = _pattern_problem(raw)
        if library is not None and status == 422:
            return error_response(request, library)
        errors = validation_errors(raw)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "the request is not valid"
        return error_response(request, Problem(status, "validation-error", detail, errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 413:
            return error_response(request, too_large_problem(getattr(exc, "limit", settings.max_body_bytes)))
        if exc.status_code == 408:
            return error_response(request, body_timeout_problem(settings.body_timeout))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Every method of every route at this path (Starlette names only the first route's).
            headers["Allow"] = allowed_methods(request)
            if request.method == "OPTIONS":
                return Response(status_code=204, headers=headers)
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "invalid-input")
        detail = str(exc.detail) if exc.status_code != 404 else f"nothing is at {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.url.path} answers {headers['Allow']}, not {request.method}"
        if exc.status_code == 400:
            slug = "malformed-body"
        return error_response(request, Problem(exc.status_code, slug, detail, headers=headers))

    @app.get("/docs", include_in_schema=False)
    async def _docs() -> HTMLResponse:
        return docs_page

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def _docs_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def _redoc() -> HTMLResponse:
        return redoc_page

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
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(_docs_assets())), name="docs-assets")

    # Outermost last: headers on everything, then keys, then the body limit.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, timeout=settings.body_timeout)
    if settings.api_keys:
        app.add_middleware(ApiKeyMiddleware, keys=settings.api_keys, prefixes=settings.protected_prefixes)
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["X-API-Key", "Authorization", "Content-Type"])
    app.add_middleware(SecurityHeadersMiddleware, docs_csp=docs_csp)
    return app
