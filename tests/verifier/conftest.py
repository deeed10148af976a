"""A verifier app on a pinned clock, with its trust and status lists served by a mock
server (``httpx.MockTransport``): tests change what ``Server`` answers."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import NOW, STATUS_URI, key, status_list_token, trust_list
from verifier.app import create_app
from verifier.settings import VerifierSettings, hash_admin_key

TRUST_URL = "https://accreditation-fp.example.ma/trust-list.jwt"
ADMIN_KEY = "test-admin-key-0123456789"
PUBLIC_ADDRESS = "93.184.215.14"

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Server:
    """What the mock network answers: a document or a handler per URL; calls counted."""

    documents: dict[str, str] = field(default_factory=dict)
    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.calls[url] += 1
        if url in self.handlers:
            return self.handlers[url](request)
        if url in self.documents:
            return httpx.Response(200, text=self.documents[url])
        return httpx.Response(404)


async def public_resolver(host: str) -> list[str]:
    return [PUBLIC_ADDRESS]


@pytest.fixture
def server() -> Server:
    return Server(
        documents={
            TRUST_URL: trust_list(),
            STATUS_URI: status_list_token(revoked=(7,), suspended=(8,)),
        }
    )


@pytest.fixture
def anchor_file(tmp_path: Path) -> Path:
    path = tmp_path / "anchor.jwk.json"
    path.write_text(json.dumps(key("anchor").public.to_jwk()), encoding="utf-8")
    return path


@pytest.fixture
def settings(anchor_file: Path) -> VerifierSettings:
    return VerifierSettings(
        trust_anchors=[anchor_file],
        trust_lists=[TRUST_URL],
        background_refresh=False,
        admin_key_hash=hash_admin_key(ADMIN_KEY),
        public_url="https://verifier.example",
    )


@dataclass
class Clock:
    now: Any = NOW

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_app(settings: VerifierSettings, server: Server, clock: Clock) -> FastAPI:
    return create_app(
        settings,
        transport=httpx.MockTransport(server),
        resolver=public_resolver,
        clock=clock,
    )


@pytest.fixture
def client(settings: VerifierSettings, server: Server, clock: Clock) -> Iterator[TestClient]:
    with TestClient(make_app(settings, server, clock)) as test_client:
        yield test_client


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}
