"""The web pages, rendered by the server (no browser): content, errors, links between pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from hcpcs.core.codes import AMA_NOTICE
from hcpcs.interfaces.web.pages import first_sentence, place, short_place
from hcpcs.services import fees
from hcpcs.store.session import Hcpcs

HTML = {"accept": "text/html"}


def page(client: TestClient, url: str, status: int = 200, **kwargs: object) -> str:
    response = client.get(url, headers=HTML, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def row_of_line(html: str, number: int) -> str:
    match = re.search(rf'<tr class="line[^"]*" data-line="{number}".*?</tr>', html, flags=re.S)
    assert match, f"no line {number}"
    return match.group(0)


def test_helpers() -> None:
    assert place("REST OF NEW YORK") == "Rest of New York"
    assert place("DC + MD/VA SUBURBS") == "DC + MD/VA Suburbs"
    assert short_place("LOS ANGELES-LONG BEACH-ANAHEIM (LOS ANGELES/ORANGE CNTY)") == "Los Angeles-Long Beach-Anaheim"
    assert first_sentence("Active code. These codes are paid.") == "Active code."
    assert first_sentence(None) == ""


# ------------------------------------------------------------------------------------ fixture store


def test_home_and_landmarks(mini_client: TestClient) -> None:
    html = page(mini_client, "/")
    for landmark in ("<header", "<main", "<footer", 'role="search"', '<nav aria-label="Main"', 'class="skip"'):
        assert landmark in html
    assert '<label for="home-q"' in html and 'lang="en"' in html


def test_code_page_fixture(mini_client: TestClient) -> None:
    html = page(mini_client, "/code/Z9991", params={"as_of": "2099-05-01"})
    # HCPCS coverage S (non-covered by statute) and no fee schedule for 2099: amber, not a green "valid".
    assert "Fixture procedure two" in html and "Not payable on 2099-05-01" in html
    assert 'class="banner not_payable"' in html and "valid code on 2099-05-01" in html
    for section in ("fees", "modifiers", "indicators", "policies", "similar", "history", "sources"):
        assert f'id="{section}"' in html
    assert '<label for="as_of">' in html


def test_code_page_fees_and_locality_fixture(mini_client: TestClient, mini_hc: Hcpcs) -> None:
    html = page(mini_client, "/code/Z9991", params={"as_of": "2030-05-01", "locality": "09902-01"})
    expected = fees.fee("Z9991", locality="09902-01", as_of="2030-05-01", hc=mini_hc)["amount"]
    cell = re.search(r'id="local-amount">([^<]+)<', html)
    assert cell and cell.group(1) == f"${expected:,.2f}"
    assert '<option value="09902-01" selected>' in html
    assert '<svg class="chart wide"' in html and 'role="img"' in html


def test_code_page_redirects_lower_case(mini_client: TestClient) -> None:
    response = mini_client.get("/code/z9991?as_of=2099-05-01", headers=HTML, follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == "/code/Z9991?as_of=2099-05-01"


def test_code_page_errors(mini_client: TestClient) -> None:
    html = page(mini_client, "/code/Z9999?as_of=2099-05-01", 404)
    assert "Unknown code" in html and 'role="search"' in html
    assert "Malformed code" in page(mini_client, "/code/NOPE!", 422)
    assert "not a real calendar date" in page(mini_client, "/code/Z9991?as_of=2099-02-31", 422)
    assert "Not found" in page(mini_client, "/no/such/page", 404)


def test_search_page(mini_client: TestClient) -> None:
    html = page(mini_client, "/search", params={"q": "fixture"})
    assert 'href="/code/Z9991"' in html and "data-live-search" in html
    response = mini_client.get("/search", params={"q": "z9991"}, headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/code/Z9991"
    assert "no words" in page(mini_client, "/search", 422, params={"q": "!!"})


def test_header_code_box(mini_client: TestClient) -> None:
    go = mini_client.get("/code", params={"q": " g6002 "}, follow_redirects=False)
    assert go.headers["location"] == "/code/G6002"
    words = mini_client.get("/code", params={"q": "image guidance"}, follow_redirects=False)
    assert words.headers["location"] == "/search?q=image%20guidance"


def test_check_page_fixture(mini_client: TestClient) -> None:
    form = page(mini_client, "/check")
    assert 'enctype="multipart/form-data"' in form and '<label for="claims">' in form
    csv = "claim_id,date_of_service,code\nA,2024-08-12,Z9901\nA,2024-08-12,Z9902\n"
    html = mini_client.post("/check", data={"claims": csv, "pack": "", "format": ""}, headers=HTML).text
    assert "PTP_BUNDLED" in row_of_line(html, 2)
    assert "PTP_BUNDLED</code> on line 2" in row_of_line(html, 1)


def test_check_page_upload_and_errors(mini_client: TestClient) -> None:
    claim = b'{"id": "U", "date_of_service": "2024-08-12", "lines": [{"code": "Z9901"}, {"code": "Z9902"}]}'
    response = mini_client.post("/check", data={"claims": "", "format": ""},
                                files={"file": ("claims.json", claim, "application/json")}, headers=HTML)
    assert response.status_code == 200 and "the file claims.json" in response.text
    assert "PTP_BUNDLED" in row_of_line(response.text, 2)
    bad = mini_client.post("/check", data={"claims": '{"id": "X", "lines": [', "format": "json"}, headers=HTML)
    assert bad.status_code == 400 and 'id="check-error"' in bad.text and "not valid JSON" in bad.text
    unreadable = mini_client.post("/check", data={"claims": "claim_id,code\nA,NOTACODE\n"}, headers=HTML)
    assert unreadable.status_code == 200 and "could not be read" in unreadable.text


def test_releases_and_diff_pages(mini_client: TestClient) -> None:
    assert "RVU30B" in page(mini_client, "/releases")
    html = page(mini_client, "/diff", params={"from": "HCPCS 2099 Apr", "to": "HCPCS 2099 Apr"})
    assert "<select" in html and "0</span> added" in html
    assert "no loaded release" in page(mini_client, "/diff", 422, params={"from": "X", "to": "HCPCS 2099 Apr"})


def test_problem_type_pages(mini_client: TestClient) -> None:
    assert "Unknown code" in page(mini_client, "/problems/unknown-code")
    page(mini_client, "/problems/nope", 404)


def test_static_files(mini_client: TestClient) -> None:
    css = mini_client.get("/static/app.css")
    assert css.status_code == 200 and "@media print" in css.text
    js = mini_client.get("/static/app.js")
    assert js.status_code == 200 and "/api/search" in js.text


# ------------------------------------------------------------------------------------ real CMS data


@pytest.mark.realdata
def test_g6002_discontinued_banner(real_client: TestClient) -> None:
    html = page(real_client, "/code/G6002", params={"as_of": "2026-02-01"})
    assert "Not valid on 2026-02-01" in html and "discontinued 2025-12-31" in html
    assert 'class="banner invalid"' in html
    earlier = page(real_client, "/code/G6002", params={"as_of": "2024-08-12"})
    assert "Payable on 2024-08-12" in earlier and 'class="banner payable"' in earlier


@pytest.mark.realdata
def test_g6002_locality_amount_and_charts(real_client: TestClient, real_hc: Hcpcs) -> None:
    html = page(real_client, "/code/G6002", params={"as_of": "2025-06-01", "locality": "01112-05"})
    expected = fees.fee("G6002", locality="01112-05", as_of="2025-06-01", hc=real_hc)["amount"]
    assert re.search(r'id="local-amount">([^<]+)<', html).group(1) == f"${expected:,.2f}"
    assert html.count('<svg class="chart wide"') == 2 and html.count('<svg class="chart narrow"') == 2
    assert "Payment by locality" in html and "Amount in each loaded fee-schedule release" in html
    assert "RADONC_IGRT_BUNDLED_INTO_DELIVERY" in html  # the policy pack rule that mentions G6002


@pytest.mark.realdata
def test_cpt_page_shows_ama_notice_and_ptp(real_client: TestClient) -> None:
    html = page(real_client, "/code/77373", params={"as_of": "2024-08-12"})
    assert AMA_NOTICE in html
    assert 'href="/code/G6002"' in html  # a column 2 code of 77373's PTP edits


@pytest.mark.realdata
def test_check_77373_g6002(real_client: TestClient) -> None:
    csv = "claim_id,date_of_service,code,modifiers,units\nC1,2024-08-12,77373,,1\nC1,2024-08-12,G6002,,1\n"
    html = real_client.post("/check", data={"claims": csv}, headers=HTML).text
    assert "PTP_BUNDLED" in row_of_line(html, 2) and 'data-code="G6002"' in row_of_line(html, 2)
    assert "Fix:" in row_of_line(html, 2)


@pytest.mark.realdata
def test_check_837p_fixture(real_client: TestClient, fixtures) -> None:  # noqa: ANN001
    data = (fixtures / "claims" / "claims_837p.x12").read_bytes()
    response = real_client.post("/check", data={"format": ""}, files={"file": ("claims.837", data, "text/plain")},
                                headers=HTML)
    assert response.status_code == 200 and "Findings" in response.text


@pytest.mark.realdata
def test_real_search_and_diff(real_client: TestClient) -> None:
    assert 'href="/code/G6002"' in page(real_client, "/search", params={"q": "stereoscopic guidance"})
    html = page(real_client, "/diff", params={"from": "HCPCS 2020 Jan", "to": "HCPCS 2026 Jan", "range": "G6001-G6017"})
    assert "17</span> discontinued" in html


@pytest.mark.realdata
def test_77387_banner_is_amber_and_names_what_to_report(real_client: TestClient) -> None:
    html = page(real_client, "/code/77387", params={"as_of": "2025-06-01"})
    assert 'class="banner not_payable"' in html and "Not payable on 2025-06-01" in html
    block = re.search(r'<section class="card instead".*?</section>', html, flags=re.S).group(0)
    for code in ("G6001", "G6002", "G6017", "77014"):
        assert f'href="/code/{code}"' in block
    assert "2015-01-01 to 2025-12-31" in block and "CMS-1612-FC" in block


@pytest.mark.realdata
def test_no_release_for_the_date_is_a_grey_banner_with_a_date_that_works(real_client: TestClient) -> None:
    html = page(real_client, "/code/77373", params={"as_of": "2027-03-01"})
    assert 'class="banner unknown"' in html and "Payment unknown on 2027-03-01" in html
    assert re.search(r'href="\?as_of=2025-12-31[^"]*">See RVU25D', html)
    assert "Not valid" not in html


@pytest.mark.realdata
def test_payable_banner_and_hospital_chip(real_client: TestClient) -> None:
    html = page(real_client, "/code/77385", params={"as_of": "2023-03-01"})
    assert 'class="banner not_payable"' in html and "Hospital outpatient (OPPS): payable" in html
