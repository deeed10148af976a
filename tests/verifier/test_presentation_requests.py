"""Presentation requests: created with a fresh nonce, answered once, expired after 5 min."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from passerelle import qr, sdjwt
from tests.factories import NOW, credential, key, vct
from tests.verifier.conftest import Clock


def create(client: TestClient, claims: list[list[str]] | None = None) -> dict[str, object]:
    response = client.post(
        "/api/v1/requests",
        json={
            "vct_values": [vct()],
            "claims": claims or [["given_name"], ["family_name"], ["qualification", "title"]],
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def present(
    request: dict[str, object], paths: list[tuple[str, ...]], nonce: str | None = None
) -> str:
    return sdjwt.present(
        credential(holder=key("holder")),
        paths,
        holder_key=key("holder"),
        nonce=nonce or str(request["nonce"]),
        audience=str(request["client_id"]),
        iat=int(NOW.timestamp()),
    )


def test_create_show_and_answer_once(client: TestClient) -> None:
    request = create(client)
    assert request["state"] == "pending" and len(str(request["nonce"])) >= 40
    assert request["client_id"] == "https://verifier.example"
    assert request["expires_at"] == "2026-11-25T12:05:00Z"
    query = request["dcql_query"]["credentials"][0]  # type: ignore[index]
    assert query["format"] == "dc+sd-jwt" and query["meta"]["vct_values"] == [vct()]
    link = urlsplit(str(request["link"]))
    assert link.scheme == "openid4vp"
    assert parse_qs(link.query)["request_uri"] == [request["request_uri"]]
    png = client.get(f"/api/v1/requests/{request['id']}/qr")
    assert png.headers["content-type"] == "image/png"
    assert qr.decode_image(png.content) == request["link"]
    obj = client.get(f"/api/v1/requests/{request['id']}/object").json()
    assert obj["nonce"] == request["nonce"] and obj["response_mode"] == "direct_post"

    vp = json.dumps({"q": [present(request, [("given_name",), ("family_name",)])]})
    answer = client.post(f"/api/v1/requests/{request['id']}/response", data={"vp_token": vp})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": request["id"], "state": "answered", "valid": True}
    state = client.get(f"/api/v1/requests/{request['id']}").json()
    assert state["state"] == "answered" and state["result"]["valid"] is True
    assert state["missing_claims"] == []

    replay = client.post(f"/api/v1/requests/{request['id']}/response", data={"vp_token": vp})
    assert replay.status_code == 409
    assert replay.json()["code"] == "presentation_replayed"
    assert replay.json()["code"] == "presentation_replayed"


def test_missing_claims_and_wrong_nonce(client: TestClient) -> None:
    request = create(client)
    shown = present(request, [("given_name",)])
    answer = client.post(f"/api/v1/requests/{request['id']}/response", data={"vp_token": shown})
    assert answer.json()["valid"] is False
    state = client.get(f"/api/v1/requests/{request['id']}").json()
    assert state["missing_claims"] == [["family_name"]]

    other = create(client)
    stolen = present(other, [("given_name",), ("family_name",)], nonce="someone-elses-nonce")
    answer = client.post(f"/api/v1/requests/{other['id']}/response", data={"vp_token": stolen})
    result = client.get(f"/api/v1/requests/{other['id']}").json()["result"]
    assert answer.json()["valid"] is False
    assert {c["name"]: c["code"] for c in result["checks"]}["key_binding"] == "kb_nonce_mismatch"


def test_expired_and_unknown(client: TestClient, clock: Clock) -> None:
    request = create(client)
    clock.now = NOW + timedelta(minutes=5)
    assert client.get(f"/api/v1/requests/{request['id']}").json()["state"] == "expired"
    late = client.post(
        f"/api/v1/requests/{request['id']}/response",
        data={"vp_token": present(request, [("given_name",)])},
    )
    assert late.status_code == 409 and late.json()["code"] == "request_expired"
    missing = client.get("/api/v1/requests/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    bad = client.post(f"/api/v1/requests/{request['id']}/response", data={"vp_token": "{]"})
    assert bad.status_code == 422
