"""The employer's page (verifier/web.py + static/ + templates/).

Two layers:

- the router alone, with Starlette's TestClient: language choice, security headers, static
  files, and the completeness of the page's words (i18n.json);
- the page in headless Debian Chromium (Playwright) against the verifier service on a real
  port: QR photos of a valid and of a revoked credential, a pasted code, a link carrying the
  credential in its fragment, the Arabic page, the language switch and the receipt.

The service is ``verifier.app:create_app(VerifierSettings)`` configured with the test trust
anchor, its trust list and an offline bundle holding the issuer's status list. Until that app
exists, a stand-in with the same API contract (``_stand_in_app``) serves the page, so the page
is tested either way; ``SERVICE_KIND`` says which one ran.

Tokens are made at the real time (the server verifies at its own clock). Screenshots go to
``tmp_path`` only.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from passerelle import errors, qr
from passerelle.bundle import make_bundle
from passerelle.trustlist import TrustStore, verify_trust_list
from passerelle.verification import CHECK_NAMES, StatusLists, Verifier
from tests import factories
from verifier import web

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
VALID_IDX, REVOKED_IDX = 5, 7
HOLDER = "Youssef El Amrani"
TITLE_FR = "Soudeur qualifié en construction métallique"


# --- the router alone ------------------------------------------------------------------


def _router_app() -> FastAPI:
    app = FastAPI()
    app.include_router(web.router)

    @app.exception_handler(errors.PasserelleError)
    async def problem(_: Request, exc: errors.PasserelleError) -> JSONResponse:
        return JSONResponse(exc.to_problem(), exc.status, media_type="application/problem+json")

    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(_router_app()) as test_client:
        yield test_client


def test_page_defaults_to_english_left_to_right(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en" dir="ltr">' in response.text
    assert "Verify a credential" in response.text


@pytest.mark.parametrize(
    ("query", "accept", "lang", "direction"),
    [
        ("?lang=ar", None, "ar", "rtl"),
        ("?lang=fr-MA", None, "fr", "ltr"),
        ("", "es-CO,es;q=0.9,en;q=0.5", "es", "ltr"),
        ("", "de-DE,ar;q=0.3,fr;q=0.8", "fr", "ltr"),
        ("?lang=xx", "ar", "ar", "rtl"),
        ("?lang=de", "de;q=garbage,,;", "en", "ltr"),
    ],
)
def test_page_language_from_query_then_accept_language(
    client: TestClient, query: str, accept: str | None, lang: str, direction: str
) -> None:
    headers = {"Accept-Language": accept} if accept else {}
    response = client.get("/" + query, headers=headers)
    assert response.status_code == 200
    assert f'<html lang="{lang}" dir="{direction}">' in response.text
    assert f'<option value="{lang}" lang="{lang}" selected>' in response.text


def test_arabic_page_is_rendered_in_arabic(client: TestClient) -> None:
    text = client.get("/?lang=ar").text
    assert "التحقق من شهادة" in text
    assert 'dir="rtl"' in text


def test_page_sends_a_strict_content_security_policy(client: TestClient) -> None:
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    assert "camera=(self)" in headers["permissions-policy"]


def test_bootstrap_json_cannot_break_out_of_its_script_element(client: TestClient) -> None:
    text = client.get("/").text
    marker = '<script type="application/json" id="bootstrap">'
    start = text.index(marker) + len(marker)
    body = text[start : text.index("</script>", start)]
    assert json.loads(body)["api"] == "/api/v1/verify"
    assert "<" not in body


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/static/employer.js", "text/javascript"),
        ("/static/employer.css", "text/css"),
        ("/static/i18n.json", "application/json"),
        ("/static/vendor/zxing-browser/zxing-browser.min.js", "text/javascript"),
    ],
)
def test_static_files_are_served(client: TestClient, path: str, media_type: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)


@pytest.mark.parametrize(
    "path",
    [
        "/static/nothing.js",
        "/static/../web.py",
        "/static/%2e%2e/web.py",
        "/static/vendor/zxing-browser/README.md",
        "/static/vendor/zxing-browser/LICENSE",
        "/static/.hidden.js",
    ],
)
def test_static_route_serves_nothing_else(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "APIRouter" not in response.text and "MIT License" not in response.text
    if response.headers["content-type"] == "application/problem+json":  # reached the route
        assert response.json()["code"] == "not_found"


def test_vendored_scanner_keeps_its_licences() -> None:
    vendor = web.STATIC_DIR / "vendor" / "zxing-browser"
    assert "MIT License" in (vendor / "LICENSE").read_text()
    assert "Apache License" in (vendor / "LICENSE-zxing-library").read_text()
    assert "0.2.1" in (vendor / "README.md").read_text()


# --- the page's words ----------------------------------------------------------------


def _messages() -> dict[str, Any]:
    return json.loads((web.STATIC_DIR / "i18n.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("section", ["ui", "checks", "passed", "codes"])
def test_every_language_has_every_message(section: str) -> None:
    messages = _messages()
    assert set(messages[section]) == set(web.LANGUAGES) == set(messages["languages"])
    english = set(messages[section]["en"])
    for lang in web.LANGUAGES:
        assert set(messages[section][lang]) == english, lang
        assert all(text.strip() for text in messages[section][lang].values()), lang


def test_every_check_has_a_name_and_a_passed_sentence() -> None:
    messages = _messages()
    assert set(CHECK_NAMES) <= set(messages["checks"]["en"])
    assert set(CHECK_NAMES) <= set(messages["passed"]["en"])


def test_every_error_code_a_result_or_problem_can_carry_has_a_sentence() -> None:
    # what reaches this page: the codes of failed checks, and the verify API's own problems
    roots = (
        errors.InvalidInputError,
        errors.TokenFormatError,
        errors.JoseError,
        errors.KeyError_,
        errors.DisclosureError,
        errors.KeyBindingError,
        errors.ClaimsError,
        errors.SchemaError,
        errors.UnknownTypeError,
        errors.StatusListError,
        errors.TrustError,
        errors.QrError,
        errors.RequestInvalidError,
        errors.PayloadTooLargeError,
        errors.ServiceUnavailableError,
        errors.UpstreamError,
    )
    not_shown = {
        "key_store_locked",  # the issuer's key store
        "status_list_full",  # the issuer's allocation
        "batch_invalid",  # the issuer's batches
        "csv_encoding",
    }
    codes = {cls.code for cls in errors.all_error_classes() if issubclass(cls, roots)}
    sentences = _messages()["codes"]["en"]
    assert not (codes - not_shown) - set(sentences)
    page_only = {"credential_revoked", "credential_suspended", "network_error", "generic"}
    assert page_only <= set(sentences)


def test_arabic_words_are_arabic() -> None:
    messages = _messages()
    assert messages["languages"]["ar"]["dir"] == "rtl"
    for text in messages["codes"]["ar"].values():
        assert any("\u0600" <= ch <= "\u06ff" for ch in text), text


# --- the service the page talks to ------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What the verifier is configured with, and the credentials shown to it."""

    anchor_file: Path
    trust_list_file: Path
    bundle_file: Path
    trust_list: str
    status_list: str
    valid: str
    revoked: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    folder = tmp_path_factory.mktemp("verifier-web")
    trust_list = factories.trust_list(now=now)
    status_list = factories.status_list_token(revoked=(REVOKED_IDX,), now=now)
    anchor_file = folder / "anchor.jwk.json"
    anchor_file.write_text(json.dumps(factories.key("anchor").public.to_jwk()))
    trust_list_file = folder / "trust-list.jwt"
    trust_list_file.write_text(trust_list)
    bundle_file = folder / "bundle.json"
    bundle_file.write_text(make_bundle([trust_list], [status_list], now=now))
    return World(
        anchor_file=anchor_file,
        trust_list_file=trust_list_file,
        bundle_file=bundle_file,
        trust_list=trust_list,
        status_list=status_list,
        valid=factories.credential(status_idx=VALID_IDX, now=now),
        revoked=factories.credential(status_idx=REVOKED_IDX, now=now),
    )


def _stand_in_app(world: World) -> FastAPI:
    """The API contract of issue 5 over the core, until ``verifier.app`` exists."""
    anchors = [factories.key("anchor").public]
    trust = TrustStore.from_lists(
        [verify_trust_list(world.trust_list, anchors, now=datetime.now(UTC))]
    )
    verifier = Verifier(trust=trust, status_lists=StatusLists([world.status_list]), offline=True)
    app = _router_app()

    @app.post("/api/v1/verify")
    async def verify(request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            image = form.get("image")
            if image is None or isinstance(image, str):
                raise errors.RequestInvalidError("the 'image' file field is required")
            token, lang = qr.decode_image(await image.read()), str(form.get("lang") or "en")
        else:
            body = await request.json()
            token, lang = body["token"], body.get("lang", "en")
        return JSONResponse(verifier.verify(token, lang=lang).to_json())

    return app


def _service_app(world: World) -> tuple[FastAPI, str]:
    try:
        from verifier.app import create_app  # type: ignore[import-not-found,unused-ignore]
        from verifier.settings import VerifierSettings
    except ImportError:
        return _stand_in_app(world), "stand-in"
    settings = VerifierSettings(
        trust_anchors=[world.anchor_file],
        trust_lists=[str(world.trust_list_file)],
        bundle_path=world.bundle_file,
        offline=True,
        background_refresh=False,
    )
    app: FastAPI = create_app(settings)
    if not any(getattr(route, "path", None) == "/" for route in app.routes):
        app.include_router(web.router)  # until create_app includes the page itself
    return app, "verifier.app"


@pytest.fixture(scope="module")
def base_url(world: World) -> Iterator[str]:
    import uvicorn

    app, kind = _service_app(world)
    globals()["SERVICE_KIND"] = kind
    # The socket listens before the server thread starts: no race, no sleep.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# --- the page in Chromium -------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, accept_downloads=True)
    context.set_default_timeout(15_000)
    new_page = context.new_page()
    yield new_page
    context.close()


def _qr_png(token: str) -> bytes:
    return qr.render_png(qr.encode_payload(token))


def _upload(page: Any, token: str) -> None:
    page.set_input_files(
        "#photo",
        files=[{"name": "certificate.png", "mimeType": "image/png", "buffer": _qr_png(token)}],
    )


def _verdict(page: Any) -> str:
    page.wait_for_selector("#live .verdict")
    tone: str = page.get_attribute("#live .verdict", "data-tone")
    return tone


def test_uploaded_qr_of_a_valid_credential_shows_green(
    page: Any, base_url: str, world: World, tmp_path: Path
) -> None:
    page.goto(base_url + "/?lang=en")
    _upload(page, world.valid)
    assert _verdict(page) == "green"
    assert page.inner_text("#verdict-title") == "Genuine and valid"
    assert page.inner_text("#holder-name") == HOLDER
    # The example's title has French and Arabic only: English falls back to the first.
    assert page.inner_text("#qualification-title") == TITLE_FR
    qualification = page.inner_text("#qualification")
    assert "Qualification certificate" in qualification
    assert "Craft and related trades workers (7212)" in qualification  # ISCO-08 in words
    assert "Engineering, manufacturing and construction (0715)" in qualification  # ISCED-F
    issuer = page.inner_text("#issuer")
    assert "Hay Hassani Centre" in issuer
    assert "MA-FP-2024-0173" in issuer
    assert "Morocco" in issuer
    assert page.locator("#reasons").count() == 0  # no failure to explain
    assert page.locator("#checked li.good").count() == len(CHECK_NAMES)
    assert page.evaluate("document.activeElement.id") == "verdict-title"
    page.screenshot(path=str(tmp_path / "valid-en.png"), full_page=True)


def test_uploaded_qr_of_a_revoked_credential_shows_red(
    page: Any, base_url: str, world: World
) -> None:
    page.goto(base_url + "/?lang=en")
    _upload(page, world.revoked)
    assert _verdict(page) == "red"
    assert page.inner_text("#verdict-title") == "Revoked"
    reason = page.locator('#reasons li[data-code="credential_revoked"]')
    assert reason.inner_text() == "The issuer has revoked this credential."
    assert page.inner_text("#holder-name") == HOLDER  # still shown: whose credential it was


@pytest.mark.parametrize("form", ["ps1", "token"])
def test_link_carrying_the_credential_verifies_at_once(
    page: Any, base_url: str, world: World, form: str
) -> None:
    # the link the project prints (a raw payload holding both a space and the text "%20"
    # is ambiguous once a browser has escaped it: qr.verification_link escapes it first)
    link = f"{base_url}/?lang=en#token={world.valid}"
    page.goto(qr.verification_link(f"{base_url}/?lang=en", world.valid) if form == "ps1" else link)
    assert _verdict(page) == "green"
    assert page.inner_text("#holder-name") == HOLDER
    assert page.evaluate("window.location.hash") == ""  # personal data leaves the address bar


def test_pasted_code_is_verified(page: Any, base_url: str, world: World) -> None:
    page.goto(base_url + "/?lang=en")
    page.get_by_label("Credential code or link").fill(world.revoked)
    page.get_by_role("button", name="Verify", exact=True).click()
    assert _verdict(page) == "red"


def test_arabic_page_reads_right_to_left(
    page: Any, base_url: str, world: World, tmp_path: Path
) -> None:
    page.goto(base_url + "/?lang=ar")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    _upload(page, world.revoked)
    assert _verdict(page) == "red"
    assert page.inner_text("#verdict-title") == "ملغاة"
    reason = page.locator('#reasons li[data-code="credential_revoked"]').inner_text()
    assert reason == "ألغت الجهة المُصدِرة هذه الشهادة."
    page.screenshot(path=str(tmp_path / "revoked-ar.png"), full_page=True)
    _upload(page, world.valid)
    page.wait_for_selector('#live .verdict[data-tone="green"]')
    assert page.inner_text("#verdict-title") == "أصلية وسارية"
    assert "لحّام مؤهل في البناء المعدني" in page.inner_text("#qualification-title")
    assert "مركز الحي الحسني" in page.inner_text("#issuer")


def test_switching_language_translates_the_result(page: Any, base_url: str, world: World) -> None:
    page.goto(base_url + "/?lang=en")
    _upload(page, world.valid)
    assert _verdict(page) == "green"
    page.select_option("#lang-select", "fr")
    # The page's CSP forbids eval, so wait with a locator rather than wait_for_function.
    page.locator("#verdict-title", has_text="Authentique et valide").wait_for()
    qualification = page.inner_text("#qualification")
    assert "Intitulé de la qualification" not in qualification  # shown as the title instead
    assert "Niveau CEC" in qualification  # labels from the API, in French
    assert page.get_attribute("html", "lang") == "fr"
    assert "lang=fr" in page.url


def test_receipt_downloads_as_json(page: Any, base_url: str, world: World) -> None:
    page.goto(base_url + "/?lang=en")
    _upload(page, world.valid)
    assert _verdict(page) == "green"
    with page.expect_download() as info:
        page.get_by_role("button", name="Download receipt").click()
    download = info.value
    assert download.suggested_filename.startswith("passerelle-verification-")
    receipt = json.loads(Path(download.path()).read_text())
    assert receipt["verdict"] == "valid"
    assert receipt["valid"] is True
    assert receipt["verified_at"].endswith("Z")
    assert receipt["issuer"]["id"] == factories.ISSUER
    assert receipt["credential"]["claims"]["given_name"] == "Youssef"
    assert [c["name"] for c in receipt["checks"]] == list(CHECK_NAMES)


def test_photo_without_a_qr_code_is_explained(page: Any, base_url: str) -> None:
    blank = _blank_png()
    page.goto(base_url + "/?lang=es")
    page.set_input_files(
        "#photo", files=[{"name": "blank.png", "mimeType": "image/png", "buffer": blank}]
    )
    assert _verdict(page) == "error"
    assert page.get_attribute("#live", "data-code") == "qr_not_found"
    assert "No se encontró ningún código QR" in page.inner_text("#live")


def test_large_phone_photo_is_scaled_down_before_upload(
    page: Any, base_url: str, world: World
) -> None:
    photo = _large_photo(_qr_png(world.valid))
    assert len(photo) > 2 * 1024 * 1024  # over the service's default request limit
    page.goto(base_url + "/?lang=en")
    page.set_input_files(
        "#photo", files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    assert _verdict(page) == "green"


def test_every_control_has_a_label(page: Any, base_url: str) -> None:
    page.goto(base_url + "/?lang=en")
    assert page.get_by_label("Language").count() == 1
    assert page.get_by_label("Choose a photo of the QR code").count() == 1
    assert page.get_by_label("Credential code or link").count() == 1
    assert page.get_attribute("#live", "aria-live") == "polite"


def _large_photo(qr_png: bytes) -> bytes:
    """A 12-megapixel JPEG like a phone's: the QR code on a grainy background."""
    import io
    import random

    from PIL import Image

    rng = random.Random(7)
    background = Image.frombytes(
        "L", (256, 256), bytes(rng.randrange(150, 256) for _ in range(256 * 256))
    ).resize((4000, 3000), Image.Resampling.NEAREST)
    code = Image.open(io.BytesIO(qr_png)).convert("L")
    code = code.resize((code.width * 2, code.height * 2), Image.Resampling.NEAREST)
    background.paste(code, ((4000 - code.width) // 2, (3000 - code.height) // 2))
    out = io.BytesIO()
    background.convert("RGB").save(out, format="JPEG", quality=97)
    return out.getvalue()


def _blank_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (200, 200), 255).save(out, format="PNG")
    return out.getvalue()
