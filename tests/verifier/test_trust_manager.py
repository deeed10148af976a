"""Trust lists: fetched, verified, cached; last good kept on failure; anchors at run time."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from passerelle.keys import jwk_thumbprint
from tests.factories import NOW, credential, key, trust_list
from tests.verifier.conftest import TRUST_URL, Clock, Server, admin_headers, make_app
from verifier.settings import VerifierSettings


def verify_code(client: TestClient, token: str) -> dict[str, str]:
    body = client.post("/api/v1/verify", json={"token": token}).json()
    return {c["name"]: c["code"] for c in body["checks"] if c["ok"] is False}


def refresh(client: TestClient) -> dict[str, object]:
    response = client.post("/api/v1/admin/trust/refresh", headers=admin_headers())
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_report_shows_lists_anchors_and_ages(client: TestClient, clock: Clock) -> None:
    clock.now = NOW + timedelta(minutes=10)
    report = client.get("/api/v1/trust").json()
    assert [a["kid"] for a in report["anchors"]] == [key("anchor").kid]
    (entry,) = report["lists"]
    assert entry["source"] == TRUST_URL and entry["in_use"] and entry["last_error"] is None
    assert entry["age_seconds"] == 600
    assert entry["jurisdiction"] == "MA"


@pytest.mark.parametrize(
    "failure",
    [
        lambda r: httpx.Response(503),
        lambda r: httpx.Response(200, text="garbage"),
        lambda r: httpx.Response(200, text=trust_list(anchor=key("stranger"))),
        lambda r: httpx.Response(302, headers={"location": "https://127.0.0.1/evil"}),
    ],
    ids=["down", "garbage", "unknown-anchor", "redirect-to-loopback"],
)
def test_failed_refresh_keeps_the_last_good_list(
    client: TestClient, server: Server, clock: Clock, failure: object
) -> None:
    server.handlers[TRUST_URL] = failure  # type: ignore[assignment]
    clock.now = NOW + timedelta(hours=2)
    report = refresh(client)
    (entry,) = report["lists"]  # type: ignore[misc]
    assert entry["in_use"] and entry["last_error"]
    assert entry["age_seconds"] == 7200
    assert verify_code(client, credential()) == {}


def test_garbage_without_a_good_list_leaves_issuers_untrusted(
    settings: VerifierSettings, server: Server, clock: Clock
) -> None:
    server.documents[TRUST_URL] = "garbage"
    with TestClient(make_app(settings, server, clock)) as client:
        assert verify_code(client, credential()) == {"issuer_trusted": "issuer_untrusted"}
        (entry,) = client.get("/api/v1/trust").json()["lists"]
        assert not entry["in_use"] and entry["last_error"].startswith("malformed_token")


def test_expired_list_is_reported_as_expired(
    client: TestClient, server: Server, clock: Clock
) -> None:
    server.handlers[TRUST_URL] = lambda r: httpx.Response(503)
    clock.now = NOW + timedelta(days=31)
    refresh(client)
    assert verify_code(client, credential(now=NOW)) == {"issuer_trusted": "trust_list_expired"}


def test_refresh_is_due_before_exp_and_after_the_interval(client: TestClient, clock: Clock) -> None:
    manager = client.app.state.trust  # type: ignore[attr-defined]
    (source,) = manager.sources
    assert not manager.due(source, NOW + timedelta(minutes=30))
    assert manager.due(source, NOW + timedelta(hours=1))
    manager.refresh_interval = timedelta(days=100)
    assert manager.due(source, NOW + timedelta(days=30) - timedelta(hours=5))


def test_admin_anchor_add_and_remove(client: TestClient, server: Server) -> None:
    stranger = key("stranger")
    server.documents[TRUST_URL] = trust_list(anchor=stranger)
    refresh(client)  # refused: not an anchor yet, but kept as a candidate
    assert verify_code(client, credential()) == {}  # still the last good list
    jwk = stranger.public.to_jwk()
    assert client.post("/api/v1/admin/anchors", json={"jwk": jwk}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/api/v1/admin/anchors", json={"jwk": jwk}, headers=wrong).status_code == 401
    added = client.post("/api/v1/admin/anchors", json={"jwk": jwk}, headers=admin_headers())
    assert added.status_code == 201 and added.json()["anchors"] == 2
    (entry,) = client.get("/api/v1/trust").json()["lists"]
    assert entry["anchor_kid"] == stranger.kid  # the waiting list is used without a fetch
    removed = client.delete(f"/api/v1/admin/anchors/{stranger.kid}", headers=admin_headers())
    assert removed.status_code == 200
    assert verify_code(client, credential()) == {"issuer_trusted": "issuer_untrusted"}
    again = client.delete(f"/api/v1/admin/anchors/{stranger.kid}", headers=admin_headers())
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    bad = client.post(
        "/api/v1/admin/anchors", json={"jwk": {"kty": "RSA"}}, headers=admin_headers()
    )
    assert bad.status_code == 422 and bad.json()["code"] == "request_invalid"


def test_admin_disabled_without_a_key_hash(
    settings: VerifierSettings, server: Server, clock: Clock
) -> None:
    settings = settings.model_copy(update={"admin_key_hash": None})
    with TestClient(make_app(settings, server, clock)) as client:
        response = client.delete(
            f"/api/v1/admin/anchors/{key('anchor').kid}", headers=admin_headers()
        )
        assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_anchor_store_is_shared_between_processes(
    settings: VerifierSettings, server: Server, clock: Clock, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"anchor_store": tmp_path / "anchors.json"})
    first, second = make_app(settings, server, clock), make_app(settings, server, clock)
    with TestClient(first) as one, TestClient(second) as two:
        kid = key("anchor").kid
        assert (
            one.delete(f"/api/v1/admin/anchors/{kid}", headers=admin_headers()).status_code == 200
        )
        assert json.loads((tmp_path / "anchors.json").read_text())["removed"] == [kid]
        assert jwk_thumbprint(key("anchor").public.to_jwk()) == kid
        refresh(two)  # the other worker's periodic tick
        assert verify_code(two, credential()) == {"issuer_trusted": "issuer_untrusted"}
