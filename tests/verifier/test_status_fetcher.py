"""Status List Tokens: fetched once per uri, cached for ttl, unknown with a reason when lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from passerelle.bundle import make_bundle
from tests.factories import NOW, STATUS_URI, credential, key, status_list_token, trust_list
from tests.verifier.conftest import Clock, Server, make_app, public_resolver
from verifier.fetch import Fetcher, FetchPolicy
from verifier.settings import VerifierSettings
from verifier.status import StatusCache, StatusFetcher


def status_check(body: dict[str, object]) -> dict[str, object]:
    return next(c for c in body["checks"] if c["name"] == "credential_status")  # type: ignore[union-attr, index]


def verify(client: TestClient, token: str) -> dict[str, object]:
    body: dict[str, object] = client.post("/api/v1/verify", json={"token": token}).json()
    return body


def test_cached_for_ttl_then_refetched(client: TestClient, server: Server, clock: Clock) -> None:
    token = credential(status_idx=3)
    for _ in range(3):
        assert verify(client, token)["status"] == "valid"
    assert server.calls[STATUS_URI] == 1
    clock.now = NOW + timedelta(seconds=3601)  # the factories' ttl is one hour
    server.documents[STATUS_URI] = status_list_token(revoked=(3,), now=clock.now)
    assert verify(client, token)["status"] == "revoked"
    assert server.calls[STATUS_URI] == 2


def test_down_with_a_stale_copy_keeps_answering(
    client: TestClient, server: Server, clock: Clock
) -> None:
    token = credential(status_idx=3)
    verify(client, token)
    server.handlers[STATUS_URI] = lambda r: httpx.Response(503)
    clock.now = NOW + timedelta(hours=2)
    body = verify(client, token)
    assert body["status"] == "valid"
    info = body["status_info"]
    assert info["fresh"] is False and "HTTP 503" in info["refresh_error"]  # type: ignore[index]
    assert info["age_seconds"] == 7200  # type: ignore[index]
    clock.now = NOW + timedelta(days=2)  # past the token's exp: too old to use
    body = verify(client, token)
    assert body["status"] == "unknown" and body["valid"] is False
    check = status_check(body)
    assert check["code"] == "status_list_expired" and "HTTP 503" in str(check["detail"])


def test_unavailable_without_a_copy_says_why(client: TestClient, server: Server) -> None:
    server.handlers[STATUS_URI] = lambda r: httpx.Response(200, content=b"x" * (5 * 1024 * 1024))
    body = verify(client, credential(status_idx=3))
    check = status_check(body)
    assert body["status"] == "unknown"
    assert check["code"] == "status_unavailable"
    assert STATUS_URI in str(check["detail"]) and "over" in str(check["detail"])
    verify(client, credential(status_idx=3))
    assert server.calls[STATUS_URI] == 1  # not retried before retry_interval


def test_garbage_and_wrong_list(client: TestClient, server: Server) -> None:
    server.documents[STATUS_URI] = "garbage"
    assert status_check(verify(client, credential(status_idx=3)))["code"] == "status_unavailable"


def test_forged_credentials_never_make_the_service_fetch(
    client: TestClient, server: Server
) -> None:
    verify(client, credential(status_idx=3, issuer_key=key("forger")))
    assert server.calls[STATUS_URI] == 0


def test_concurrent_fetches_of_one_uri_are_deduplicated() -> None:
    calls = 0

    async def run() -> None:
        gate = asyncio.Event()

        async def handler(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            await gate.wait()
            return httpx.Response(200, text=status_list_token())

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            fetcher = StatusFetcher(
                Fetcher(client, FetchPolicy(), resolver=public_resolver),
                StatusCache(),
                clock=lambda: NOW,
            )
            waiting = [asyncio.create_task(fetcher.ensure(STATUS_URI)) for _ in range(20)]
            await asyncio.sleep(0)
            gate.set()
            await asyncio.gather(*waiting)
            assert fetcher.fresh(STATUS_URI) and fetcher.fetches == 1

    asyncio.run(run())
    assert calls == 1


def test_offline_bundle(tmp_path: Path, anchor_file: Path, clock: Clock) -> None:
    bundle = tmp_path / "bundle.json"
    created = NOW - timedelta(hours=3)
    lists = [status_list_token(revoked=(7,), now=created)]
    bundle.write_text(make_bundle([trust_list()], lists, now=created), encoding="utf-8")
    settings = VerifierSettings(
        trust_anchors=[anchor_file], offline=True, bundle_path=bundle, background_refresh=False
    )
    server = Server()
    with TestClient(make_app(settings, server, clock)) as client:
        body = verify(client, credential(status_idx=3))
        assert body["valid"] is True
        info = body["status_info"]
        assert info["source"] == "bundle" and info["age_seconds"] == 3 * 3600  # type: ignore[index]
        assert info["bundle_created_at"] == "2026-11-25T09:00:00Z"  # type: ignore[index]
        assert verify(client, credential(status_idx=7))["status"] == "revoked"
        assert client.get("/api/v1/trust").json()["offline"] is True
    assert not server.calls  # no network at all
