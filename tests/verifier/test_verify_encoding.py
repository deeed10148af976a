"""The verify route's JSON encoding (orjson: no result can hold NaN or an infinity, since no
parser lets one in) and the worker factory's garbage collector set-up."""

from __future__ import annotations

import gc
import json
import math
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passerelle import errors
from passerelle.encoding import json_dumps, json_loads, json_loads_object
from tests.asgi import leave_mid_body
from tests.factories import credential
from verifier import app as app_module
from verifier.routes import verify as route


def _result(claims: dict[str, Any]) -> dict[str, Any]:
    return {
        "valid": True,
        "status": "valid",
        "checks": [{"name": "format", "ok": None, "code": "not_checked", "detail": ""}],
        "issuer": {"id": "https://issuer.example", "names": {"en": "Issuer"}},
        "credential": {"vct": "urn:t", "claims": claims, "disclosed": [], "lang": "en"},
        "status_info": {"idx": 3, "age_seconds": 0, "refresh_error": None},
        "verified_at": "2026-01-01T00:00:00Z",
    }


@pytest.mark.parametrize(
    "claims",
    [
        {"name": "Amina", "hours": 120, "score": 12.5, "tags": ["a", {"b": [1.25, None]}]},
        {"big": 1e308, "small": -1e-308, "nothing": None, "nested": {"x": [[0.0]]}},
    ],
)
def test_the_bytes_are_the_shared_encoders_json(claims: dict[str, Any]) -> None:
    result = _result(claims)
    assert json.loads(route._encoded(result)) == json.loads(json_dumps(result))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_the_shared_encoder_still_refuses_nan_and_infinities(bad: float) -> None:
    with pytest.raises(errors.InvalidInputError):
        json_dumps(_result({"deep": {"list": [1, bad]}}))


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1.5e309"])
@pytest.mark.parametrize("strict", [False, True])
def test_no_parser_yields_an_infinite_float(number: str, strict: bool) -> None:
    """Why the route encodes a result with orjson alone: a result's copied values come
    from these parsers, and none of them lets a non-finite number through."""
    text = '{"n":' + number + ', "s": {"t": "u"}}'
    with pytest.raises(errors.JsonError):
        json_loads(text)
    with pytest.raises(errors.JsonError):
        json_loads_object(text.encode(), unique=strict)


def test_large_finite_floats_still_parse_on_both_paths() -> None:
    for strict in (False, True):
        assert json_loads_object('{"n":1e308, "s": {"t": 1.5}}', unique=strict)["n"] == 1e308


def test_what_orjson_cannot_encode_is_refused_as_before() -> None:
    result = _result({"huge": 1 << 70})  # beyond 64 bits: orjson raises
    with pytest.raises(errors.InvalidInputError):
        route._encoded(result)


def test_the_response_is_the_results_json(client: TestClient) -> None:
    response = client.post("/api/v1/verify", json={"token": credential(status_idx=3)})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["valid"] is True and body["status_info"]["refresh_error"] is None


def test_the_worker_factory_freezes_what_it_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(app_module, "create_app", lambda settings: calls.append("app") or "app")
    monkeypatch.setattr(app_module, "VerifierSettings", lambda: None)
    assert app_module.app_from_env() == "app"
    assert calls == ["app", "freeze"]


def test_a_body_sent_in_chunks_is_read_whole(client: TestClient) -> None:
    body = json.dumps({"token": credential(status_idx=3)}).encode()
    chunks = iter([body[:10], body[10:700], body[700:]])  # more_body between them
    response = client.post(
        "/api/v1/verify", content=chunks, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200 and response.json()["valid"] is True


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/verify", "application/json"),
        ("/api/v1/verify/bulk", "application/json"),
        ("/api/v1/verify/bulk", "text/csv"),
        ("/api/v1/verify", "multipart/form-data; boundary=x"),
    ],
)
def test_a_client_leaving_mid_body_ends_as_a_handled_problem(
    client: TestClient, path: str, content_type: str
) -> None:
    sent = leave_mid_body(client, path, content_type)  # raises nothing
    assert sent[0]["status"] == 422
    problem = json.loads(sent[1]["body"])
    assert problem["code"] == "request_invalid"
    if not content_type.startswith("multipart/"):  # a torn multipart body is unreadable
        assert problem["detail"] == "the client left before sending the whole body"
