"""Browser tests: the app under uvicorn on 127.0.0.1, driven by headless Chromium through Playwright.
Screenshots go to test-artifacts/ (git-ignored). Skipped when /usr/bin/chromium or the playwright package
is missing (install Chromium with `apt-get install -y chromium`; do not run `playwright install`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hcpcs.services import fees
from hcpcs.store.session import Hcpcs

pytestmark = [pytest.mark.browser, pytest.mark.realdata]

CHROMIUM = os.environ.get("HCPCS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package (pip install playwright; no `playwright install`)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.problems = problems
    yield tab
    context.close()
    assert not [p for p in problems if "Content Security Policy" in p], problems


def test_code_page_date_change_shows_discontinued(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/code/G6002?as_of=2024-08-12")
    assert "Payable on 2024-08-12" in page.locator("#status").inner_text()
    page.fill("#as_of", "2026-02-01")
    with page.expect_navigation():
        page.click("form.toolbar button[type=submit]")
    banner = page.locator("#status").inner_text()
    assert "Not valid on 2026-02-01" in banner
    assert "discontinued 2025-12-31" in banner
    page.screenshot(path=str(ARTIFACTS / "code-page-g6002-2026.png"), full_page=True)


def test_code_page_locality_shows_amount(page: Any, live_server: str, real_hc: Hcpcs) -> None:
    page.goto(f"{live_server}/code/G6002?as_of=2025-06-01")
    with page.expect_navigation():  # app.js submits the form when the locality changes
        page.select_option("#locality", "01112-05")
    assert "locality=01112-05" in page.url
    expected = fees.fee("G6002", locality="01112-05", as_of="2025-06-01", hc=real_hc)["amount"]
    assert page.locator("#local-amount").inner_text().strip() == f"${expected:,.2f}"
    assert f"${expected:,.2f}" in page.locator(".glance").inner_text()
    assert page.locator("svg.chart.wide").count() == 2 and page.locator("svg.chart.wide").first.is_visible()
    page.screenshot(path=str(ARTIFACTS / "code-page-g6002-locality.png"), full_page=True)


def test_locality_works_without_javascript(browser: Any, live_server: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    tab.goto(f"{live_server}/code/G6002?as_of=2025-06-01")
    tab.select_option("#locality", "01112-05")
    with tab.expect_navigation():
        tab.click("form.toolbar button[type=submit]")
    assert tab.locator("#local-amount").inner_text().startswith("$")
    context.close()


def test_check_page_shows_ptp_on_the_right_line(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/check")
    page.fill("#claims", "claim_id,date_of_service,code,modifiers,units\n"
                         "C1,2024-08-12,77373,,1\nC1,2024-08-12,G6002,,1\n")
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    line2 = page.locator('tr[data-line="2"]')
    assert line2.get_attribute("data-code") == "G6002"
    assert "PTP_BUNDLED" in line2.locator(".finding").first.inner_text()
    line1 = page.locator('tr[data-line="1"]')
    assert line1.locator(".finding").count() == 0
    assert "PTP_BUNDLED" in line1.inner_text()  # "related to ... on line 2"
    page.screenshot(path=str(ARTIFACTS / "checker-77373-g6002.png"), full_page=True)


def test_search_as_you_type(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/")
    page.locator("#home-q").press_sequentially("stereoscopic x-ray", delay=20)
    page.wait_for_selector('#live-results a[href="/code/G6002"]', timeout=5000)
    assert page.url.rstrip("/") == live_server  # no navigation happened


def test_mobile_layout_has_no_sideways_scroll(browser: Any, live_server: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    tab = context.new_page()
    tab.goto(f"{live_server}/code/G6002?as_of=2025-06-01&locality=01112-05")
    overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than a phone screen"
    # Nothing sticks out of the screen either (wide tables scroll inside their own box, by design).
    sticking_out = tab.evaluate("""Array.from(document.querySelectorAll('main *'))
        .filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => e.tagName + (e.id ? '#' + e.id : ''))""")
    assert not sticking_out, sticking_out
    tab.screenshot(path=str(ARTIFACTS / "code-page-g6002-phone.png"), full_page=False)
    context.close()


def test_keyboard_reaches_the_date_field(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/code/G6002")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
