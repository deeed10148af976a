"""Property-based API test (schemathesis) against the app's own OpenAPI schema: no request
produces a server error and every response matches its documented schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from issuer.app import create_app
from issuer.db import migrate

from .conftest import make_settings, new_tenant

STATE: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.Schema]:
    folder = tmp_path_factory.mktemp("openapi")
    url = f"sqlite:///{folder / 'issuer.db'}"
    migrate(url)
    app = create_app(make_settings(url, folder / "keys"))
    with TestClient(app) as client:
        handle = new_tenant(app.state.service)
        STATE["key"] = handle.admin_key
        client.post(
            "/api/v1/credentials",
            json={
                "type": "QualificationCredential",
                "claims": app.state.service.types.get("QualificationCredential").example,
            },
            headers=handle.headers(),
        )
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_api_never_fails_and_matches_its_schema(api_schema: schemathesis.Schema) -> None:
    headers = {"Authorization": f"Bearer {STATE['key']}"}
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    tested = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        run()
        tested += 1
    assert tested >= 15
