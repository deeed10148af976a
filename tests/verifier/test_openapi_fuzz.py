"""Schemathesis against the app's own OpenAPI schema, in process: no input gives a 500.

Bounded (a few dozen examples per operation, no deadline) so that it runs in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.factories import key
from tests.verifier.conftest import Clock, Server, make_app
from verifier.settings import VerifierSettings, hash_admin_key


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    anchor = tmp_path_factory.mktemp("fuzz") / "anchor.jwk.json"
    anchor.write_text(json.dumps(key("anchor").public.to_jwk()), encoding="utf-8")
    config = VerifierSettings(
        trust_anchors=[Path(anchor)],
        background_refresh=False,
        admin_key_hash=hash_admin_key("fuzz-admin-key"),
        anchor_store=None,
    )
    app = make_app(config, Server(), Clock())
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(
                excluded_checks=[negative_data_rejection, positive_data_acceptance]
            )

        run()
