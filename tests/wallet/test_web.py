"""The wallet page in Debian's headless Chromium at a phone's size (390 x 844): unlock, the
list in French, a credential, ticking and unticking a claim, the presentation QR code read
back from the screen and verified, Arabic laid out right to left, no CSP violation."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn

from passerelle import qr, sdjwt
from passerelle.credtypes import load_types
from passerelle.verification import Verifier
from tests import factories
from tests.issuer import conftest_browser
from tests.wallet.conftest import FAST_KDF, PASSPHRASE
from tests.wallet.test_app import PERSONAL, Clock, make_wallet
from wallet.app import WalletAppSettings, create_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

browser = conftest_browser.browser
chromium_path = conftest_browser.chromium_path

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The wallet page served by uvicorn on 127.0.0.1 (its own thread and event loop)."""
    store = make_wallet(tmp_path_factory.mktemp("web") / "wallet")
    app = create_app(WalletAppSettings(directory=store.directory), kdf=FAST_KDF, clock=Clock())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # start-up, not a sleep to wait for a result
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the wallet app did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A phone-sized page. A console error (a CSP violation...) or a sub-resource that does
    not load fails the test; a page answered 401 or 404 is a page like any other."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)  # type: ignore[arg-type]
    problems: list[str] = []
    tab = context.new_page()

    def on_console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            problems.append(f"{response.status} {response.url}")

    tab.on("console", on_console)
    tab.on("response", on_response)
    tab.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    tab.on("pageerror", lambda e: problems.append(str(e)))
    try:
        yield tab
    finally:
        context.close()
    assert not problems, problems


def unlock(page: Page, base_url: str, lang: str) -> None:
    page.goto(f"{base_url}/?lang={lang}")
    page.fill("#passphrase", PASSPHRASE)
    page.press("#passphrase", "Enter")
    page.wait_for_selector(".cards")


def test_worker_shows_a_qr_code_with_exactly_the_ticked_claims(
    page: Page, base_url: str, tmp_path: Path
) -> None:
    qualification = load_types().get(factories.QUALIFICATION)
    unlock(page, base_url, "fr")
    card = page.locator(".card").first
    assert card.locator(".card-name").inner_text() == qualification.display_name("fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    card.click()
    page.wait_for_selector("#show-qr")
    boxes = page.locator('input[name="disclose"]')
    assert boxes.count() == len(PERSONAL)
    assert not any(boxes.nth(i).is_checked() for i in range(boxes.count()))
    given = page.get_by_label(qualification.label(("given_name",), "fr"))
    family = page.get_by_label(qualification.label(("family_name",), "fr"))
    given.check()
    family.check()
    given.uncheck()  # changed their mind
    page.click("#show-qr")
    figure = page.locator("figure.qr")
    figure.wait_for()
    assert page.locator("#shared").inner_text().strip() == qualification.label(
        ("family_name",), "fr"
    )
    assert family.is_checked() and not given.is_checked()
    # the employer's camera: read the code off the screen
    shot = tmp_path / "qr.png"
    figure.screenshot(path=str(shot))
    payload = qr.decode_image(shot.read_bytes())
    result = Verifier(issuer_keys=[factories.key("issuer").public]).verify(
        payload, now=factories.NOW, lang="fr"
    )
    assert result.valid, result.to_json()
    assert result.credential is not None
    claims: dict[str, Any] = result.credential["claims"]
    assert {c for c in PERSONAL if c in claims} == {"family_name"}
    assert claims["family_name"] == "El Amrani"
    assert "qualification" in claims  # the achievement is always there
    assert sdjwt.parse(qr.normalise(payload)).kb_jwt is None
    # the page fits the phone: nothing scrolls sideways
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]


def test_arabic_is_right_to_left(page: Page, base_url: str) -> None:
    unlock(page, base_url, "ar")
    html = page.locator("html")
    assert html.get_attribute("dir") == "rtl" and html.get_attribute("lang") == "ar"
    heading = page.locator("h1")
    assert heading.inner_text() == "شهاداتي"
    assert heading.evaluate("e => getComputedStyle(e).direction") == "rtl"
    # the heading starts on the right
    box = heading.bounding_box()
    assert box is not None and box["x"] + box["width"] > PHONE["width"] - 40
    name = load_types().get(factories.QUALIFICATION).display_name("ar")
    assert page.locator(".card-name").first.inner_text() == name


def test_a_wrong_passphrase_says_so_in_the_page(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/?lang=es")
    page.fill("#passphrase", "no es la frase")
    page.press("#passphrase", "Enter")
    alert = page.locator('[role="alert"]')
    alert.wait_for()
    assert "Frase de contraseña incorrecta" in alert.inner_text()
    assert page.locator("#passphrase").input_value() == ""


def test_lock_returns_to_the_unlock_form(page: Page, base_url: str) -> None:
    unlock(page, base_url, "en")
    page.click("#lock")
    page.wait_for_selector("#passphrase")
    page.goto(f"{base_url}/")
    assert page.locator("#passphrase").count() == 1
