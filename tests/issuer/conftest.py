"""Fixtures of the issuer tests: one migrated database per backend and session (SQLite
file, fresh PostgreSQL database), an app per test, and a fresh tenant per test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from issuer.app import create_app
from issuer.db import migrate
from issuer.service import IssuerService, Principal, TenantProfile
from issuer.settings import IssuerSettings

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
PASSPHRASE = "issuer-test-passphrase"


def _postgres_database() -> Iterator[str]:
    name = "issuer_test_" + secrets.token_hex(4)
    try:
        admin = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL not reachable at {PG_SERVER}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'issuer.db'}"
        migrate(url)
        yield url
        return
    for url in _postgres_database():
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def key_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


def make_settings(database_url: str, key_store: Path, **extra: Any) -> IssuerSettings:
    return IssuerSettings(
        database_url=database_url,
        key_store=key_store,
        key_passphrase=PASSPHRASE,
        public_url="https://issuer.example",
        status_list_size=1024,
        **extra,
    )


@pytest.fixture
def settings(database_url: str, key_store: Path) -> IssuerSettings:
    return make_settings(database_url, key_store)


@pytest.fixture
def client(settings: IssuerSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass
class TenantHandle:
    slug: str
    admin_key: str
    principal: Principal

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}


def new_tenant(service: IssuerService) -> TenantHandle:
    slug = "t-" + secrets.token_hex(4)
    tenant, key = service.create_tenant(
        TenantProfile(slug=slug, names={"fr": f"Centre {slug}"}, country="MA")
    )
    assert tenant.id is not None
    return TenantHandle(slug, key, Principal(tenant.id, slug, "admin", "test"))


@pytest.fixture
def service(client: TestClient) -> IssuerService:
    svc: IssuerService = client.app.state.service  # type: ignore[attr-defined]
    return svc


@pytest.fixture
def tenant(service: IssuerService) -> TenantHandle:
    return new_tenant(service)


@pytest.fixture
def other_tenant(service: IssuerService) -> TenantHandle:
    return new_tenant(service)
