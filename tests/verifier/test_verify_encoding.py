"""The verify route's JSON encoding (orjson, with the shared encoder's refusal of NaN and
infinities kept) and the worker factory's garbage collector set-up."""

from __future__ import annotations

import gc
import json
import math
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passerelle import errors
from passerelle.encoding import json_dumps
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
@pytest.mark.parametrize("where", ["claims", "issuer", "status_info"])
def test_nan_and_infinities_are_refused_as_before(bad: float, where: str) -> None:
    result = _result({"hours": 1})
    if where == "claims":
        result["credential"]["claims"]["deep"] = {"list": [1, bad]}
    else:
        result[where]["value"] = bad
    with pytest.raises(errors.InvalidInputError):
        json_dumps(result)
    with pytest.raises(errors.InvalidInputError):
        route._encoded(result)


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
