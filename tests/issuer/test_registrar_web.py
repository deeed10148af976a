"""The registrar web pages in headless Chromium (Playwright), served by uvicorn, on SQLite.

One app for the module (a uvicorn thread); each test has its own tenant. The service keeps no
signed credentials here (the default), so certificates are printed from the result page.
Screenshots go to the test's tmp_path.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from issuer.app import create_app
from issuer.db import migrate
from issuer.routes.registrar import SESSION_COOKIE
from issuer.settings import IssuerSettings
from passerelle import qr
from passerelle.keys import public_key_from_jwk
from passerelle.statuslist import Status, check_status, verify_status_list_token
from tests.issuer import conftest_browser

from .conftest import PASSPHRASE, TenantHandle, new_tenant
from .helpers import claims, csv_bytes, csv_row

browser = conftest_browser.browser
chromium_path = conftest_browser.chromium_path

LAPTOP = {"width": 1280, "height": 900}


@dataclass
class Served:
    url: str
    app: FastAPI

    def tenant(self) -> TenantHandle:
        return new_tenant(self.app.state.service)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("registrar")
    database = f"sqlite:///{folder / 'issuer.db'}"
    migrate(database)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://localhost:{port}"
    settings = IssuerSettings(
        database_url=database,
        key_store=folder / "keys",
        key_passphrase=PASSPHRASE,
        public_url=base,
        status_list_size=1024,
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # start-up, not a sleep to wait for a result
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the issuer app did not start")
        time.sleep(0.02)
    yield Served(base, app)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A laptop-sized page at twice the density (QR codes in screenshots stay readable).
    A CSP violation or a sub-resource that does not load fails the test; a page answered
    422 or 404 is a page like any other."""
    context = browser.new_context(viewport=LAPTOP, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(5000)
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.request.resource_type != "document" and r.status >= 400
            else None
        ),
    )
    yield page
    context.close()
    assert not problems, problems


def log_in(page: Any, served: Served, key: str, lang: str = "en") -> None:
    page.goto(f"{served.url}/registrar/login?lang={lang}")
    page.get_by_label("API key" if lang == "en" else "Clé d'API").fill(key)
    page.get_by_role("button", name="Log in" if lang == "en" else "Se connecter").click()
    page.wait_for_url("**/registrar/credentials")


FORM = {
    "given_name": "Fatima Zahra",
    "family_name": "Ouazzani",
    "birthdate": "1999-02-11",
    "nationalities": "MA",
}
QUALIFICATION = {
    "qualification.title.fr": "Électricienne de bâtiment",
    "qualification.awarded_on": "2025-07-04",
    "qualification.isco08": "7411",
    "qualification.eqf_level": "9",  # wrong: the schema says at most 8
    "qualification.isced_f": "0713",
    "qualification.language_of_instruction": "fr",
    "qualification.country_of_award": "MA",
}


def field(page: Any, name: str) -> Any:
    return page.locator(f'[name="{name}"]')


def status_of(served: Served, tenant: TenantHandle, record: dict[str, Any]) -> Status:
    """The status the served Status List Token gives the credential (signature checked)."""
    reference = record["status_list"]
    with httpx.Client(base_url=served.url) as http:
        token = http.get(reference["uri"].removeprefix(served.url)).text
        jwk = http.get(f"/tenants/{tenant.slug}/jwks.json").json()["keys"][0]
    key = public_key_from_jwk({k: v for k, v in jwk.items() if k in ("kty", "crv", "x")})
    verified = verify_status_list_token(token, key, expected_uri=reference["uri"], now=time.time())
    return check_status({"status_list": reference}, verified)


def records(served: Served, tenant: TenantHandle, q: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=served.url, headers=tenant.headers()) as http:
        items: list[dict[str, Any]] = http.get("/api/v1/credentials", params={"q": q}).json()[
            "items"
        ]
    return items


def test_a_registrars_day(served: Served, page: Any, tmp_path: Path) -> None:
    tenant = served.tenant()
    log_in(page, served, tenant.admin_key)
    assert page.get_by_role("heading", level=1).inner_text() == "Issued credentials"
    assert tenant.admin_key not in page.content()

    # issue one from the form: the schema's complaints appear next to their fields
    page.get_by_role("link", name="Issue one").click()
    assert page.get_by_label("Family name (required)").is_visible()
    for name, value in {**FORM, **QUALIFICATION}.items():
        field(page, name).fill(value)
    field(page, "qualification.assessment_method").select_option("practical_exam")
    page.get_by_role("button", name="Issue the credential").click()
    eqf_error = page.locator("#f-qualification-eqf_level-error")
    assert eqf_error.inner_text() == "must be at most 8"
    assert field(page, "qualification.eqf_level").get_attribute("aria-invalid") == "true"
    assert page.get_by_role("alert").is_visible()
    assert field(page, "family_name").input_value() == "Ouazzani"  # kept
    page.screenshot(path=str(tmp_path / "form-errors.png"), full_page=True)
    field(page, "qualification.eqf_level").fill("4")
    page.get_by_role("button", name="Issue the credential").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Credential issued"
    assert page.get_by_role("row", name=re.compile("Fatima Zahra Ouazzani")).is_visible()

    # print its certificate from the result page (the token is not kept by the service)
    with page.expect_navigation():
        page.get_by_role("button", name="Certificate: Fatima Zahra Ouazzani").click()
    image = page.locator(".sheet").screenshot(path=str(tmp_path / "certificate.png"))
    assert page.locator(".holder-name").inner_text() == "Fatima Zahra Ouazzani"
    assert qr.decode_payload(qr.decode_image(image)).count("~") >= 2

    # it is in the list, found by a search
    page.goto(f"{served.url}/registrar/credentials")
    page.get_by_label("Name or number").fill("ouazz")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_role("link", name="Fatima Zahra Ouazzani", exact=True).is_visible()

    # a CSV with one bad row: a preview of the errors, nothing issued
    bad = csv_bytes([csv_row(1), csv_row(2, **{"qualification.isco08": "72X2"}), csv_row(3)])
    page.get_by_role("link", name="Upload a CSV").click()
    page.get_by_label("CSV file (UTF-8)").set_input_files(
        {"name": "cohort.csv", "mimeType": "text/csv", "buffer": bad}
    )
    page.get_by_role("button", name="Check the file").click()
    errors = page.locator("table.row-errors tbody tr")
    assert errors.count() == 1
    assert errors.first.locator("td").nth(0).inner_text() == "3"  # header = row 1
    assert "isco08" in errors.first.locator("td").nth(1).inner_text()
    page.screenshot(path=str(tmp_path / "csv-errors.png"), full_page=True)
    assert records(served, tenant, "El Amrani") == []

    # fixed: previewed, then issued whole
    good = csv_bytes([csv_row(1), csv_row(2), csv_row(3)])
    page.get_by_label("CSV file (UTF-8)").set_input_files(
        {"name": "cohort.csv", "mimeType": "text/csv", "buffer": good}
    )
    page.get_by_role("button", name="Check the file").click()
    assert page.get_by_role("status").inner_text() == "3 row(s) are valid and ready to issue."
    page.get_by_role("button", name="Issue 3 credential(s)").click()
    assert page.get_by_role("heading", level=1).inner_text() == "3 credentials issued"
    assert len(records(served, tenant, "El Amrani")) == 3

    # revoke one, with a reason, after a confirmation page
    page.goto(f"{served.url}/registrar/credentials")
    page.get_by_role("link", name="Revoke: Youssef El Amrani 2", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "Revoke this credential?"
    page.get_by_label("Reason").fill("Fraud: the practical exam was sat by someone else")
    page.get_by_role("button", name="Yes, revoke it").click()
    assert page.get_by_role("status").inner_text() == "The credential is revoked."
    assert page.locator("#record-status").inner_text() == "revoked"
    page.get_by_role("link", name="Back to the list").click()
    page.screenshot(path=str(tmp_path / "list.png"), full_page=True)

    # and the served status list says so
    (revoked,) = records(served, tenant, "El Amrani 2")
    assert revoked["status"] == "revoked"
    assert status_of(served, tenant, revoked) is Status.REVOKED
    (other,) = records(served, tenant, "El Amrani 3")
    assert status_of(served, tenant, other) is Status.VALID


def test_french_pages_and_a_bad_key(served: Served, page: Any, tmp_path: Path) -> None:
    tenant = served.tenant()
    page.goto(f"{served.url}/registrar/login?lang=fr")
    page.get_by_label("Clé d'API").fill("psk_000000000000.wrong")
    page.get_by_role("button", name="Se connecter").click()
    assert (
        page.locator("#api_key-error").inner_text() == "Cette clé d'API est inconnue ou révoquée."
    )
    assert page.locator("html").get_attribute("lang") == "fr"
    log_in(page, served, tenant.admin_key, lang="fr")
    assert page.get_by_role("heading", level=1).inner_text() == "Attestations délivrées"
    page.get_by_role("link", name="En délivrer une").click()
    assert page.get_by_label("Nom de famille (obligatoire)").is_visible()
    page.screenshot(path=str(tmp_path / "form-fr.png"), full_page=True)


def test_a_revoker_sees_no_issuing_and_cannot_issue(served: Served, page: Any) -> None:
    tenant = served.tenant()
    with httpx.Client(base_url=served.url, headers=tenant.headers()) as http:
        key = http.post("/api/v1/api-keys", json={"role": "revoker"}).json()["key"]
    log_in(page, served, key)
    assert page.get_by_role("link", name="Issue one").count() == 0
    page.goto(f"{served.url}/registrar/issue")
    assert page.get_by_role("alert").inner_text() == "Your role does not allow this."


# --- the session and CSRF design, over plain HTTP -------------------------------------------


def login_over_http(http: httpx.Client, key: str) -> httpx.Response:
    form = http.get("/registrar/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    return http.post("/registrar/login", data={"api_key": key, "csrf": token[1]})


def test_session_cookie_holds_a_random_id_only(served: Served) -> None:
    tenant = served.tenant()
    with httpx.Client(base_url=served.url) as http:
        answer = login_over_http(http, tenant.admin_key)
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/registrar" in cookie
        assert "Secure" not in cookie  # http://localhost; https public URLs get Secure
        value = http.cookies[SESSION_COOKIE]
        assert len(value) >= 43 and tenant.admin_key.split(".")[1] not in value
        page = http.get("/registrar/credentials")
        assert page.status_code == 200 and tenant.admin_key not in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert page.headers["cache-control"] == "no-store"


def test_post_forms_need_the_csrf_token(served: Served) -> None:
    tenant = served.tenant()
    with httpx.Client(base_url=served.url) as http:
        forged = http.post("/registrar/login", data={"api_key": tenant.admin_key, "csrf": "guess"})
        assert forged.status_code == 200 and SESSION_COOKIE not in http.cookies
        login_over_http(http, tenant.admin_key)
        body = {"type": "QualificationCredential", "family_name": "X", "csrf": "guess"}
        refused = http.post("/registrar/issue", data=body)
        assert refused.status_code == 403 and "the form has expired" in refused.text
        assert records(served, tenant, "X") == []


def test_revoking_the_key_ends_its_sessions_and_logout_ends_one(served: Served) -> None:
    tenant = served.tenant()
    with httpx.Client(base_url=served.url, headers=tenant.headers()) as api:
        created = api.post("/api/v1/api-keys", json={"role": "issuer"}).json()
    with httpx.Client(base_url=served.url) as http:
        login_over_http(http, created["key"])
        assert http.get("/registrar/credentials").status_code == 200
        with httpx.Client(base_url=served.url, headers=tenant.headers()) as api:
            api.post(f"/api/v1/api-keys/{created['id']}/revoke")
        gone = http.get("/registrar/credentials")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/registrar/login")
    with httpx.Client(base_url=served.url) as http:
        login_over_http(http, tenant.admin_key)
        page = http.get("/registrar/credentials")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        http.post("/registrar/logout", data={"csrf": token[1]})
        assert http.get("/registrar/credentials").status_code == 303


def test_another_tenants_credential_is_not_found(served: Served) -> None:
    tenant, other = served.tenant(), served.tenant()
    body = {"type": "QualificationCredential", "claims": claims()}
    with httpx.Client(base_url=served.url, headers=tenant.headers()) as api:
        cid = api.post("/api/v1/credentials", json=body).json()["record"]["id"]
    with httpx.Client(base_url=served.url) as http:
        login_over_http(http, other.admin_key)
        assert http.get(f"/registrar/credentials/{cid}").status_code == 404
        assert http.get(f"/registrar/credentials/{cid}/status/revoke").status_code == 404
