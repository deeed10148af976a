"""The certificate routes: QR codes (PNG, SVG), the certificate page and its PDF, for a
retained token (``ISSUER_RETAIN_TOKENS``) and, by default, from the credential sent back.

The browser tests use one module-wide app on SQLite (the storage is tested elsewhere on both
backends); Chromium loads the page through the HTTP route, with the API key as a header.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from issuer.app import create_app
from issuer.certificate import PdfRenderer
from issuer.db import migrate
from issuer.settings import IssuerSettings
from passerelle import qr
from tests.issuer import conftest_browser

from .conftest import TenantHandle, make_settings, new_tenant
from .helpers import issue_body

browser = conftest_browser.browser
browser_page = conftest_browser.browser_page
chromium_path = conftest_browser.chromium_path

API = "/api/v1/credentials"
DOCUMENTS = ("qr.png", "qr.svg", "certificate", "certificate.pdf")
PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def issue(client: TestClient, tenant: TenantHandle, **changes: Any) -> dict[str, Any]:
    response = client.post(API, json=issue_body(**changes), headers=tenant.headers())
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def api_key(client: TestClient, tenant: TenantHandle, role: str) -> str:
    created = client.post("/api/v1/api-keys", json={"role": role}, headers=tenant.headers())
    key: str = created.json()["key"]
    return key


@pytest.fixture
def retained_client(database_url: str, key_store: Path) -> Iterator[TestClient]:
    settings = make_settings(database_url, key_store, retain_tokens=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def retained_tenant(retained_client: TestClient) -> TenantHandle:
    return new_tenant(retained_client.app.state.service)  # type: ignore[attr-defined]


# --- retained tokens ------------------------------------------------------------------------


def test_qr_codes_carry_the_compact_paper_payload(retained_client, retained_tenant):
    issued = issue(retained_client, retained_tenant)
    cid = issued["record"]["id"]
    png = retained_client.get(f"{API}/{cid}/qr.png", headers=retained_tenant.headers())
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"] == "no-store"
    payload = qr.decode_image(png.content)
    assert payload.startswith("PS1:") and payload == qr.encode_payload(issued["credential"])
    assert qr.decode_payload(payload) == issued["credential"]
    svg = retained_client.get(f"{API}/{cid}/qr.svg", headers=retained_tenant.headers())
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<?xml") and "<script" not in svg.text
    assert "default-src 'none'" in svg.headers["content-security-policy"]


def test_certificate_page_in_the_centres_language_or_the_one_asked(
    retained_client, retained_tenant
):
    cid = issue(retained_client, retained_tenant)["record"]["id"]
    url, headers = f"{API}/{cid}/certificate", retained_tenant.headers()
    default = retained_client.get(url, headers=headers)
    assert default.status_code == 200 and default.headers["content-type"].startswith("text/html")
    assert '<html lang="en" dir="ltr">' in default.text  # the test tenant's default
    assert "Youssef El Amrani" in default.text
    assert '<html lang="fr"' in retained_client.get(url + "?lang=fr", headers=headers).text
    assert 'dir="rtl"' in retained_client.get(url + "?lang=ar", headers=headers).text
    refused = retained_client.get(url + "?lang=de", headers=headers)
    assert refused.status_code == 422 and refused.json()["code"] == "request_invalid"


def test_certificate_page_has_a_strict_content_security_policy(retained_client, retained_tenant):
    cid = issue(retained_client, retained_tenant)["record"]["id"]
    page = retained_client.get(f"{API}/{cid}/certificate", headers=retained_tenant.headers())
    csp = dict(
        part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";")
    )
    assert csp["default-src"] == "'none'"
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/]+=*'", csp["style-src"])
    assert "unsafe" not in page.headers["content-security-policy"]
    assert csp["frame-ancestors"] == "'none'" and csp["form-action"] == "'none'"
    assert "<script" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_every_role_may_read_and_nobody_else(retained_client, retained_tenant):
    cid = issue(retained_client, retained_tenant)["record"]["id"]
    for role in ("issuer", "revoker"):
        key = api_key(retained_client, retained_tenant, role)
        for document in ("qr.svg", "certificate"):
            answer = retained_client.get(
                f"{API}/{cid}/{document}", headers=retained_tenant.headers(key)
            )
            assert answer.status_code == 200, (role, document)
    anonymous = retained_client.get(f"{API}/{cid}/certificate")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"


def test_another_tenants_credential_is_not_found(retained_client, retained_tenant):
    other = new_tenant(retained_client.app.state.service)  # type: ignore[attr-defined]
    issued = issue(retained_client, retained_tenant)
    cid = issued["record"]["id"]
    for document in DOCUMENTS:
        answer = retained_client.get(f"{API}/{cid}/{document}", headers=other.headers())
        assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    sent = retained_client.post(
        f"{API}/{cid}/certificate",
        json={"credential": issued["credential"]},
        headers=other.headers(),
    )
    assert sent.status_code == 404


# --- tokens not retained (the default) ------------------------------------------------------


def test_without_retained_tokens_the_documents_are_gone(client, tenant):
    cid = issue(client, tenant)["record"]["id"]
    for document in DOCUMENTS:
        answer = client.get(f"{API}/{cid}/{document}", headers=tenant.headers())
        assert answer.status_code == 410, document
        problem = answer.json()
        assert problem["code"] == "token_not_retained"
        assert f"POST /api/v1/credentials/{cid}/certificate" in problem["detail"]


def test_the_credential_sent_back_prints_its_certificate(client, tenant):
    issued = issue(client, tenant)
    cid, token = issued["record"]["id"], issued["credential"]
    url = f"{API}/{cid}/certificate"
    page = client.post(url, json={"credential": token, "lang": "fr"}, headers=tenant.headers())
    assert page.status_code == 200 and '<html lang="fr"' in page.text
    assert "Youssef El Amrani" in page.text
    png = client.post(url, json={"credential": token, "format": "qr.png"}, headers=tenant.headers())
    assert qr.decode_payload(qr.decode_image(png.content)) == token


def test_only_this_records_credential_signed_by_the_centre_is_printed(client, tenant, other_tenant):
    cid = issue(client, tenant)["record"]["id"]
    another = issue(client, tenant, family_name="Benali")["credential"]
    url = f"{API}/{cid}/certificate"
    wrong = client.post(url, json={"credential": another}, headers=tenant.headers())
    assert wrong.status_code == 422 and wrong.json()["code"] == "request_invalid"
    foreign = issue(client, other_tenant)["credential"]
    assert (
        client.post(url, json={"credential": foreign}, headers=tenant.headers()).status_code == 422
    )
    garbage = client.post(url, json={"credential": "not-a-token"}, headers=tenant.headers())
    assert garbage.status_code in (400, 422) and garbage.json()["code"] != "not_found"


# --- in Chromium: one app for the module, on SQLite -----------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, TenantHandle]]:
    folder = tmp_path_factory.mktemp("certificates")
    url = f"sqlite:///{folder / 'issuer.db'}"
    migrate(url)
    settings: IssuerSettings = make_settings(url, folder / "keys", retain_tokens=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, new_tenant(client.app.state.service)  # type: ignore[attr-defined]


def through_client(page: Any, client: TestClient, headers: dict[str, str]) -> None:
    """Every request of ``page`` is answered by the app (its HTTP routes, headers included)."""

    def answer(route: Any) -> None:
        request = route.request
        path = request.url.split("://", 1)[1].split("/", 1)[1]
        response = client.request(request.method, "/" + path, headers=headers)
        route.fulfill(
            status=response.status_code, headers=dict(response.headers), body=response.content
        )

    page.route("**/*", answer)


def test_chromium_shows_the_served_certificate_with_a_qr_code_of_the_credential(
    live, browser_page, tmp_path
):
    client, tenant = live
    issued = issue(client, tenant)
    blocked: list[str] = []
    browser_page.on("console", lambda m: blocked.append(m.text) if m.type == "error" else None)
    through_client(browser_page, client, tenant.headers())
    cid = issued["record"]["id"]
    browser_page.goto(f"https://issuer.example{API}/{cid}/certificate?lang=fr")
    image = browser_page.locator(".sheet").screenshot(path=str(tmp_path / "served.png"))

    assert qr.decode_payload(qr.decode_image(image)) == issued["credential"]
    name = browser_page.locator(".holder-name")
    assert name.is_visible() and name.inner_text() == "Youssef El Amrani"
    assert not blocked, blocked  # the CSP let the page's own stylesheet through


def test_pdf_is_one_page_and_503_without_chromium(live, chromium_path):
    client, tenant = live
    cid = issue(client, tenant)["record"]["id"]
    pdf = client.get(f"{API}/{cid}/certificate.pdf?lang=ar", headers=tenant.headers())
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and len(PAGE_OBJECT.findall(pdf.content)) == 1
    assert pdf.headers["content-disposition"].startswith("inline; filename=")

    state = client.app.state  # type: ignore[attr-defined]
    working, state.pdf_renderer = state.pdf_renderer, PdfRenderer(executable_path="/nonexistent")
    try:
        down = client.get(f"{API}/{cid}/certificate.pdf", headers=tenant.headers())
    finally:
        state.pdf_renderer = working
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert down.json()["code"] == "render_unavailable"
