"""/docs (Swagger UI) and /redoc render in Chromium with the network cut off: every asset is served by
the app itself (fastapi-offline's files), nothing is fetched from a CDN, and the CSP lets them run.
Runs on the made-up fixture store; skipped without Chromium (see test_browser.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest

from tests.web.test_browser import ARTIFACTS, browser  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.browser]


def _offline_tab(browser: Any) -> tuple[Any, Any, list[str], list[str]]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    elsewhere: list[str] = []

    def only_this_server(route: Any) -> None:
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("blob:", "data:")) or host == "127.0.0.1":
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    return context, tab, elsewhere, problems


@pytest.mark.parametrize(("path", "ready"), [("/docs", ".swagger-ui .info .title"),
                                              ("/redoc", "h1")])
def test_docs_render_offline(browser: Any, mini_live_server: str, path: str, ready: str) -> None:  # noqa: F811
    context, tab, elsewhere, problems = _offline_tab(browser)
    tab.goto(f"{mini_live_server}{path}")
    tab.wait_for_selector(ready, timeout=15_000)
    assert "hcpcs" in tab.locator(ready).first.inner_text()
    if path == "/docs":  # the operations are listed, from /openapi.json
        tab.wait_for_selector(".opblock-summary-path", timeout=10_000)
        assert tab.locator(".opblock-summary-path").count() >= 10
    tab.screenshot(path=str(ARTIFACTS / f"api-docs{path.replace('/', '-')}.png"))
    assert elsewhere == [], elsewhere
    # ReDoc's "API docs by Redocly" footer points its logo at cdn.redoc.ly: the CSP keeps that request
    # from being made at all (the page works without it). Anything else the CSP blocks is a failure.
    blocked = [p for p in problems if ("Content Security Policy" in p or "Refused" in p)
               and "cdn.redoc.ly/redoc/logo-mini.svg" not in p]
    assert not blocked, blocked
    context.close()
