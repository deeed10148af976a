"""The wallet page (wallet.app) through FastAPI's TestClient: unlock and lock, sessions,
the credential list and page in four languages, disclosure choices, presentation QR codes,
receiving (OpenID4VCI) and answering a request (OpenID4VP) against the fakes, CSRF."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import ValidationError

from passerelle import codelists, jose, qr, sdjwt
from passerelle.credtypes import LANGUAGES, load_types
from passerelle.verification import Verifier
from tests import factories
from tests.asgi import leave_mid_body
from tests.wallet.conftest import FAST_KDF, PASSPHRASE, held_credential
from tests.wallet.fakes import VERIFIER, FakeIssuer, FakeVerifier, client_for, dcql
from wallet.app import WalletAppSettings, create_app
from wallet.store import HolderKey, WalletContents, WalletStore

BASE_URL = "http://127.0.0.1"
HTML = {"Accept": "text/html,application/xhtml+xml"}
PERSONAL = ("given_name", "family_name", "birthdate", "nationalities")


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, moment: datetime = factories.NOW) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def make_wallet(directory: Path, *, skill: bool = False) -> WalletStore:
    """A wallet holding a qualification (and a skill) bound to the factories' holder key."""
    store = WalletStore(directory, PASSPHRASE, kdf=FAST_KDF, now=lambda: factories.NOW)
    contents = WalletContents(
        keys=[HolderKey(factories.key("holder", "ES256"), factories.NOW)],
        created_at=factories.NOW,
    )
    contents.add(held_credential())
    if skill:
        contents.add(held_credential(type_name="SkillCredential"))
    store.save(contents)
    return store


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def svg_to_png(svg: str, scale: int = 4) -> bytes:
    """Rasterise a passerelle.qr SVG (a white square and one path of horizontal runs)."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))  # type: ignore[union-attr]
    image = Image.new("L", (size * scale, size * scale), 255)
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        x0, y0 = int(x) * scale, int(y) * scale
        image.paste(0, (x0, y0, x0 + int(width) * scale, y0 + scale))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def inline_svgs(page: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", page, flags=re.S)


def disclosed_claims(presentation: str) -> dict[str, Any]:
    parsed = sdjwt.parse(qr.normalise(presentation))
    payload = jose.parse_compact(parsed.issuer_jwt).payload
    return sdjwt.process_disclosures(payload, parsed.disclosures)


def verify(payload: str, **kwargs: Any) -> dict[str, Any]:
    verifier = Verifier(issuer_keys=[factories.key("issuer").public])
    result = verifier.verify(payload, now=factories.NOW, **kwargs)
    assert result.valid, result.to_json()
    assert result.credential is not None
    claims: dict[str, Any] = result.credential["claims"]
    return claims


@dataclass
class Wallet:
    """The app under test and what it talks to."""

    client: TestClient
    store: WalletStore
    clock: Clock
    issuer: FakeIssuer
    verifier: FakeVerifier
    credential_id: str

    def page(self, path: str = "/", **params: Any) -> str:
        answer = self.client.get(path, params=params, headers=HTML)
        assert answer.status_code == 200, answer.text
        text: str = answer.text
        return text

    def csrf(self) -> str:
        return csrf_of(self.page("/"))

    def unlock(self, passphrase: str = PASSPHRASE) -> Any:
        return self.client.post(
            "/unlock", data={"csrf": self.csrf(), "passphrase": passphrase}, headers=HTML
        )


@pytest.fixture
def wallet(tmp_path: Path) -> Iterator[Wallet]:
    store = make_wallet(tmp_path / "wallet", skill=True)
    clock = Clock()
    issuer = FakeIssuer(tx_code="493817")
    verifier = FakeVerifier(dcql([["given_name"], ["family_name"], ["qualification", "title"]]))
    app = create_app(
        WalletAppSettings(directory=store.directory),
        kdf=FAST_KDF,
        clock=clock,
        client_factory=lambda: client_for(issuer, verifier),
    )
    with TestClient(app, base_url=BASE_URL) as client:
        record = store.load().credentials[0]
        yield Wallet(client, store, clock, issuer, verifier, record.id)


@pytest.fixture
def unlocked(wallet: Wallet) -> Wallet:
    assert wallet.unlock().status_code == 200
    return wallet


# ---------------------------------------------------------------------------------------
# Locking and unlocking


def test_locked_home_is_the_unlock_form_with_strict_headers(wallet: Wallet) -> None:
    answer = wallet.client.get("/", headers=HTML)
    assert answer.status_code == 200
    assert 'type="password"' in answer.text and 'action="/unlock"' in answer.text
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script" not in csp and "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert answer.headers["cache-control"] == "no-store"
    assert "<script" not in answer.text and " style=" not in answer.text
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_wrong_passphrase_is_problem_json_wallet_locked(wallet: Wallet) -> None:
    answer = wallet.client.post("/unlock", data={"csrf": wallet.csrf(), "passphrase": "nope"})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "wallet_locked" and problem["status"] == 401
    assert "nope" not in answer.text
    assert wallet.client.get(f"/credentials/{wallet.credential_id}").json()["code"] == (
        "wallet_locked"
    )


@pytest.mark.parametrize(
    ("lang", "sentence"),
    [
        ("en", "Wrong passphrase"),
        ("fr", "Phrase secrète incorrecte"),
        ("ar", "عبارة المرور غير صحيحة"),
    ],
)
def test_wrong_passphrase_page_shows_the_error(wallet: Wallet, lang: str, sentence: str) -> None:
    csrf = csrf_of(wallet.page("/", lang=lang))
    answer = wallet.client.post(
        "/unlock", data={"csrf": csrf, "passphrase": "wrong passphrase"}, headers=HTML
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in answer.text and sentence in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert "wrong passphrase" not in answer.text  # the typed value is never echoed


def test_unlock_lists_and_lock_forgets(wallet: Wallet) -> None:
    csrf = wallet.csrf()
    before = wallet.client.cookies["passerelle_wallet"]
    answer = wallet.client.post(
        "/unlock", data={"csrf": csrf, "passphrase": PASSPHRASE}, headers=HTML
    )
    assert answer.status_code == 200 and str(answer.url) == f"{BASE_URL}/"
    assert "Qualification certificate" in answer.text and "Skill certificate" in answer.text
    after = wallet.client.cookies["passerelle_wallet"]
    assert after != before  # a new session id at unlock
    # the old id opens nothing
    other = TestClient(wallet.client.app, base_url=BASE_URL, cookies={"passerelle_wallet": before})
    assert other.get(f"/credentials/{wallet.credential_id}").status_code == 401
    lock = wallet.client.post("/lock", data={"csrf": csrf_of(answer.text)}, headers=HTML)
    assert lock.status_code == 200 and 'type="password"' in lock.text
    assert wallet.client.get(f"/credentials/{wallet.credential_id}").status_code == 401


def test_the_passphrase_is_kept_nowhere(unlocked: Wallet) -> None:
    sessions = unlocked.client.app.state.sessions  # type: ignore[attr-defined]
    session = next(iter(sessions._sessions.values()))
    assert PASSPHRASE not in repr(session)
    assert [p.name for p in unlocked.store.directory.iterdir()] == ["wallet.pswallet"]


def test_idle_and_lifetime_lock_the_wallet(unlocked: Wallet) -> None:
    path = f"/credentials/{unlocked.credential_id}"
    unlocked.clock.advance(299)
    assert unlocked.client.get(path).status_code == 200
    unlocked.clock.advance(301)
    answer = unlocked.client.get(path, headers=HTML)
    assert answer.status_code == 401 and "not used for a while" in answer.text
    assert unlocked.unlock().status_code == 200
    elapsed = 0
    while True:  # active all along, but the lifetime of an unlock ends
        unlocked.clock.advance(240)
        elapsed += 240
        answer = unlocked.client.get(path, headers=HTML)
        if answer.status_code != 200:
            break
    assert 1800 < elapsed <= 1800 + 240
    assert answer.status_code == 401 and "for your safety" in answer.text


def test_a_wallet_changed_on_disk_locks_the_session(unlocked: Wallet) -> None:
    unlocked.store.remove_credential(unlocked.credential_id)  # e.g. the CLI
    answer = unlocked.client.get("/", headers=HTML)
    assert 'type="password"' in answer.text and "changed on this device" in answer.text
    assert unlocked.unlock().status_code == 200
    assert unlocked.client.get(f"/credentials/{unlocked.credential_id}").json()["code"] == (
        "credential_not_found"
    )


def test_wrong_passphrases_are_throttled(wallet: Wallet) -> None:
    for _ in range(5):
        assert wallet.unlock("not the passphrase").status_code == 401
    answer = wallet.client.post("/unlock", data={"csrf": wallet.csrf(), "passphrase": PASSPHRASE})
    assert answer.status_code == 429 and answer.json()["code"] == "unlock_throttled"
    assert int(answer.headers["retry-after"]) <= 30
    wallet.clock.advance(31)
    assert wallet.unlock().status_code == 200


def test_no_wallet_yet(tmp_path: Path) -> None:
    app = create_app(WalletAppSettings(directory=tmp_path / "none"), kdf=FAST_KDF)
    with TestClient(app, base_url=BASE_URL) as client:
        csrf = csrf_of(client.get("/", headers=HTML).text)
        answer = client.post("/unlock", data={"csrf": csrf, "passphrase": PASSPHRASE})
        assert answer.status_code == 404 and answer.json()["code"] == "wallet_not_found"


# ---------------------------------------------------------------------------------------
# CSRF, hosts, settings


def test_forms_without_the_session_token_are_refused(unlocked: Wallet) -> None:
    token = unlocked.csrf()
    for data in ({}, {"csrf": "forged"}):
        answer = unlocked.client.post("/lock", data=data)
        assert answer.status_code == 403 and answer.json()["code"] == "csrf_invalid"
    answer = unlocked.client.post(
        "/lock", data={"csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    # still unlocked: nothing happened
    assert unlocked.client.get(f"/credentials/{unlocked.credential_id}").status_code == 200
    page = unlocked.client.post("/lock", data={"csrf": token}, headers=HTML)
    assert 'type="password"' in page.text


def test_a_token_from_another_session_is_refused(wallet: Wallet) -> None:
    other = TestClient(wallet.client.app, base_url=BASE_URL)
    foreign = csrf_of(other.get("/", headers=HTML).text)
    wallet.page("/")
    answer = wallet.client.post("/unlock", data={"csrf": foreign, "passphrase": PASSPHRASE})
    assert answer.status_code == 403


def test_other_host_names_are_refused(wallet: Wallet) -> None:
    rebound = TestClient(wallet.client.app, base_url="http://attacker.example")
    assert rebound.get("/").status_code == 400


def test_settings_keep_the_page_on_this_device() -> None:
    with pytest.raises(ValidationError, match="loopback"):
        WalletAppSettings(host="0.0.0.0")
    assert WalletAppSettings(host="0.0.0.0", allow_remote=True).host == "0.0.0.0"
    assert WalletAppSettings().host == "127.0.0.1"


# ---------------------------------------------------------------------------------------
# Showing credentials


@pytest.mark.parametrize("lang", LANGUAGES)
def test_list_and_show_in_each_language(unlocked: Wallet, lang: str) -> None:
    qualification = load_types().get(factories.QUALIFICATION)
    listing = unlocked.page("/", lang=lang)
    assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">' in listing
    assert qualification.display_name(lang) in listing
    assert load_types().get("SkillCredential").display_name(lang) in listing
    page = unlocked.page(f"/credentials/{unlocked.credential_id}")  # the session remembers
    assert f'lang="{lang}"' in page
    for path in (("birthdate",), ("qualification", "eqf_level"), ("qualification", "isco08")):
        assert qualification.label(path, lang) in page
    meaning = codelists.describe("isco08", "7212", lang)
    assert meaning is not None and meaning.replace("'", "&#39;") in page
    # a language map in the credential: the worker's language, else English, else another
    title = factories.example_claims()["qualification"]["title"]
    assert (title.get(lang) or title["fr"]).replace("'", "&#39;") in page


def test_personal_data_is_unticked_and_the_achievement_always_shown(unlocked: Wallet) -> None:
    page = unlocked.page(f"/credentials/{unlocked.credential_id}", lang="en")
    boxes = re.findall(r'<input type="checkbox" name="disclose" value="([^"]+)"[^>]*>', page)
    assert sorted(json.loads(b.replace("&#34;", '"'))[0] for b in boxes) == sorted(PERSONAL)
    assert "checked" not in "".join(re.findall(r'<input type="checkbox"[^>]*>', page))
    always = page.split('id="always-title"')[1]
    assert "Soudeur qualifié" in always and "Youssef" not in always


def test_unknown_credential_is_not_found(unlocked: Wallet) -> None:
    answer = unlocked.client.get("/credentials/0000000000000000")
    assert answer.status_code == 404 and answer.json()["code"] == "credential_not_found"
    page = unlocked.client.get("/credentials/0000000000000000", headers=HTML)
    assert page.status_code == 404 and "not in your wallet" in page.text


# ---------------------------------------------------------------------------------------
# The offline presentation QR code


def test_presentation_qr_png_decodes_to_the_chosen_disclosures(unlocked: Wallet) -> None:
    chosen = ['["given_name"]', '["family_name"]']
    answer = unlocked.client.get(
        f"/credentials/{unlocked.credential_id}/qr.png", params={"disclose": chosen}
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.headers["cache-control"] == "no-store"
    payload = qr.decode_image(answer.content)
    assert payload.startswith("PS1:")
    claims = verify(payload)
    assert {c for c in PERSONAL if c in claims} == {"given_name", "family_name"}
    assert claims["qualification"]["eqf_level"] == 3
    assert sdjwt.parse(qr.normalise(payload)).kb_jwt is None  # the paper-like path
    # the page shows the same code inline, and says what it shares
    page = unlocked.page(f"/credentials/{unlocked.credential_id}/qr", disclose=chosen)
    (svg,) = inline_svgs(page)
    assert qr.decode_image(svg_to_png(svg)) == payload
    shared = page.split('id="shared"')[1].split("</ul>")[0]
    assert "Given name(s)" in shared and "Family name" in shared and "Date of birth" not in shared
    assert page.count(" checked") == 2


def test_presentation_with_nothing_ticked_hides_all_personal_data(unlocked: Wallet) -> None:
    page = unlocked.page(f"/credentials/{unlocked.credential_id}/qr")
    (svg,) = inline_svgs(page)
    claims = verify(qr.decode_image(svg_to_png(svg)))
    assert not set(PERSONAL) & set(claims)


def test_a_claim_that_cannot_be_chosen_is_refused(unlocked: Wallet) -> None:
    for bad in ('["qualification"]', '["no_such_claim"]', "not json", "[true]"):
        answer = unlocked.client.get(
            f"/credentials/{unlocked.credential_id}/qr.png", params={"disclose": [bad]}
        )
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_input", bad


# ---------------------------------------------------------------------------------------
# Receiving (OpenID4VCI)


def offer_form(wallet: Wallet, **fields: str) -> dict[str, str]:
    return {
        "csrf": wallet.csrf(),
        "offer": wallet.issuer.offer_link(),
        "tx_code": "493817",
        "passphrase": PASSPHRASE,
        **fields,
    }


def test_receive_an_offer(unlocked: Wallet) -> None:
    answer = unlocked.client.post("/receive", data=offer_form(unlocked), headers=HTML)
    assert answer.status_code == 200, answer.text
    assert "Certificate received" in answer.text
    held = unlocked.store.load().credentials
    assert len(held) == 3 and held[-1].holder_kid == factories.key("holder", "ES256").kid
    # the session sees it without unlocking again
    assert unlocked.page(f"/credentials/{held[-1].id}")


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"tx_code": "000000"}, 400, "grant_refused"),
        ({"tx_code": ""}, 400, "grant_refused"),
        ({"passphrase": "not the passphrase"}, 401, "wallet_locked"),
        ({"offer": "openid-credential-offer://?nothing=here"}, 400, "credential_offer_invalid"),
    ],
)
def test_a_failed_receive_stores_nothing(
    unlocked: Wallet, fields: dict[str, str], status: int, code: str
) -> None:
    answer = unlocked.client.post("/receive", data=offer_form(unlocked, **fields))
    assert answer.status_code == status and answer.json()["code"] == code
    assert len(unlocked.store.load().credentials) == 2
    if code == "wallet_locked":  # checked before the single-use code is spent
        assert not any(unlocked.issuer.codes.values())
    # the page stays unlocked after a wrong passphrase on this form
    assert unlocked.client.get(f"/credentials/{unlocked.credential_id}").status_code == 200


# ---------------------------------------------------------------------------------------
# Answering a request (OpenID4VP)


def read_request(wallet: Wallet) -> tuple[str, str]:
    answer = wallet.client.post(
        "/requests", data={"csrf": wallet.csrf(), "link": wallet.verifier.link()}, headers=HTML
    )
    assert answer.status_code == 200, answer.text
    action = re.search(r'action="(/requests/[^"]+)"', answer.text)
    assert action
    return action.group(1), answer.text


def test_the_request_page_shows_what_is_asked(unlocked: Wallet) -> None:
    _, page = read_request(unlocked)
    assert VERIFIER in page
    boxes = re.findall(r'<input type="checkbox" name="claim"[^>]*>', page)
    assert len(boxes) == 2 and all("checked" in b for b in boxes)  # what was asked
    assert "Qualification title" in page and "always shared" in page
    assert "Date of birth" not in page  # not asked, not offered


def test_send_only_what_the_worker_kept(unlocked: Wallet) -> None:
    action, page = read_request(unlocked)
    answer = unlocked.client.post(
        action,
        data={"csrf": csrf_of(page), "action": "send", "claim": ['["family_name"]']},
        headers=HTML,
    )
    assert answer.status_code == 200, answer.text
    assert f"{VERIFIER}/done" in answer.text
    (result,) = unlocked.verifier.results["q"]
    assert result["valid"]
    (presentation,) = json.loads(unlocked.verifier.posted[0]["vp_token"])["q"]
    claims = disclosed_claims(presentation)
    assert "family_name" in claims and "given_name" not in claims
    # answered: the request is no longer pending
    again = unlocked.client.post(action, data={"csrf": csrf_of(page), "action": "send"})
    assert again.status_code == 404


def test_answer_a_request_as_a_qr_code_with_key_binding(unlocked: Wallet) -> None:
    action, page = read_request(unlocked)
    answer = unlocked.client.post(
        action,
        data={"csrf": csrf_of(page), "action": "qr", "claim": ['["given_name"]']},
        headers=HTML,
    )
    (svg,) = inline_svgs(answer.text)
    payload = qr.decode_image(svg_to_png(svg))
    fake = unlocked.verifier
    claims = verify(payload, nonce=fake.nonce, audience=fake.client_id)
    assert "given_name" in claims and "family_name" not in claims
    assert not fake.posted  # nothing was sent


def test_a_request_nothing_answers(unlocked: Wallet) -> None:
    unlocked.verifier.dcql_query = dcql(vct="https://example.org/other-type")
    answer = unlocked.client.post(
        "/requests", data={"csrf": unlocked.csrf(), "link": unlocked.verifier.link()}
    )
    assert answer.status_code == 404 and answer.json()["code"] == "no_matching_credential"


def test_static_files_and_type_colours(wallet: Wallet) -> None:
    css = wallet.client.get("/static/wallet.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    colours = wallet.client.get("/types.css").text
    assert ".t-QualificationCredential{--card:#0b5d5b" in colours
    assert wallet.client.get("/static/../app.py").status_code == 404


def test_serve_command_refuses_a_public_address(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from wallet.cli import WalletEnv
    from wallet.cli import app as cli

    env = WalletEnv(tmp_path, lambda _: PASSPHRASE, lambda _: PASSPHRASE, kdf=FAST_KDF)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"], obj=env)
    assert result.exit_code == 2 and "loopback" in result.output


def test_a_browser_leaving_mid_form_ends_as_a_handled_error(wallet: Wallet) -> None:
    sent = leave_mid_body(
        wallet.client, "/unlock", "application/x-www-form-urlencoded", host="127.0.0.1"
    )  # raises nothing: no traceback, no attempted 500
    assert sent[0]["status"] == 422
