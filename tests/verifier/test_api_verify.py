"""POST /api/v1/verify end to end: every kind of bad credential is a 200 with its code."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from passerelle import qr, sdjwt
from passerelle.jose import b64url_encode, json_dumps
from passerelle.verification import CHECK_NAMES
from tests.factories import NOW, credential, example_claims, key, trust_list, trust_source, vct
from tests.verifier.conftest import TRUST_URL, Server

AUD = "https://employer.example"
NONCE = "n-0S6_WzA2Mj"


def verify(client: TestClient, token: str, **extra: object) -> dict[str, object]:
    response = client.post("/api/v1/verify", json={"token": token, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def failed(body: dict[str, object]) -> dict[str, str]:
    return {c["name"]: c["code"] for c in body["checks"] if c["ok"] is False}  # type: ignore[index, union-attr]


def test_valid_credential(client: TestClient, server: Server) -> None:
    body = verify(client, credential(status_idx=3), lang="fr")
    assert body["valid"] is True, body["checks"]
    assert body["status"] == "valid"
    assert [c["name"] for c in body["checks"]] == list(CHECK_NAMES)  # type: ignore[union-attr, index]
    info = body["status_info"]
    assert info["source"] == "cache" and info["fresh"] is True  # type: ignore[index]
    assert info["age_seconds"] == 0  # type: ignore[index]
    assert body["credential"]["lang"] == "fr"  # type: ignore[index]
    assert body["issuer"]["names"]["fr"] == "Centre Hay Hassani"  # type: ignore[index]


def test_qr_payload_url_and_presentation_with_key_binding(client: TestClient) -> None:
    token = credential(holder=key("holder"))
    assert verify(client, qr.encode_payload(token))["valid"] is True
    assert verify(client, "https://verify.example/#" + qr.encode_payload(token))["valid"] is True
    shown = sdjwt.present(
        token,
        [("given_name",)],
        holder_key=key("holder"),
        nonce=NONCE,
        audience=AUD,
        iat=int(NOW.timestamp()),
    )
    assert verify(client, shown, nonce=NONCE, audience=AUD)["valid"] is True
    assert failed(verify(client, shown, nonce="other", audience=AUD)) == {
        "key_binding": "kb_nonce_mismatch"
    }


def test_image_upload(client: TestClient) -> None:
    png = qr.render_png(qr.encode_payload(credential()))
    response = client.post(
        "/api/v1/verify", files={"image": ("qr.png", png, "image/png")}, data={"lang": "ar"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is True
    assert response.json()["credential"]["lang"] == "ar"
    blank = client.post("/api/v1/verify", files={"image": ("x.png", b"not an image", "image/png")})
    assert blank.status_code == 400
    assert blank.headers["content-type"] == "application/problem+json"
    assert blank.json()["code"] == "qr_invalid"


@pytest.mark.parametrize(
    ("case", "check", "code"),
    [
        ("forged", "signature", "invalid_signature"),
        ("untrusted", "issuer_trusted", "issuer_untrusted"),
        ("withdrawn", "issuer_trusted", "issuer_untrusted"),
        ("compromised", "key_validity", "key_compromised"),
        ("out_of_scope", "issuer_trusted", "issuer_not_accredited_for_type"),
        ("revoked", "credential_status", "credential_revoked"),
        ("suspended", "credential_status", "credential_suspended"),
        ("expired", "time_validity", "credential_expired"),
    ],
)
def test_bad_credentials(
    case: str, check: str, code: str, client: TestClient, server: Server
) -> None:
    token = credential(status_idx=1)
    if case == "forged":
        token = credential(issuer_key=key("forger"))
        header, payload, _ = credential().split("~")[0].split(".")
        forged_sig = token.split("~")[0].split(".")[2]
        token = ".".join((header, payload, forged_sig)) + "~"
    elif case == "untrusted":
        token = credential(issuer="https://diploma-mill.example", issuer_key=key("mill"))
    elif case in ("withdrawn", "compromised", "out_of_scope"):
        source = {
            "withdrawn": trust_source(status="withdrawn"),
            "compromised": trust_source(compromised_at="2026-01-01T00:00:00Z"),
            "out_of_scope": trust_source(scope=[vct("SkillCredential")]),
        }[case]
        server.documents[TRUST_URL] = trust_list(source)
        client.post(
            "/api/v1/admin/trust/refresh",
            headers={"Authorization": "Bearer test-admin-key-0123456789"},
        )
    elif case == "revoked":
        token = credential(status_idx=7)
    elif case == "suspended":
        token = credential(status_idx=8)
    elif case == "expired":
        token = credential(now=NOW - timedelta(days=400), valid_for=timedelta(days=365))
    body = verify(client, token)
    assert body["valid"] is False
    assert failed(body).get(check) == code, body["checks"]
    if case in ("revoked", "suspended"):
        assert body["status"] == case


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "request_invalid"),
        ({"token": ""}, 422, "request_invalid"),
        ({"token": "SECRETVALUE", "at": "2026-01-01T00:00:00"}, 422, "request_invalid"),  # no zone
        ({"token": "SECRETVALUE", "lang": "<script>"}, 422, "request_invalid"),
        ({"token": "SECRETVALUE", "extra": 1}, 422, "request_invalid"),
        ([1, 2], 422, "request_invalid"),
    ],
)
def test_malformed_requests(client: TestClient, body: object, status: int, code: str) -> None:
    response = client.post("/api/v1/verify", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert "SECRETVALUE" not in str(response.json().get("errors", ""))  # values are never echoed


def test_wrong_content_type_and_too_large(client: TestClient) -> None:
    response = client.post(
        "/api/v1/verify", content=b"token", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 422 and response.json()["code"] == "request_invalid"
    big = client.post(
        "/api/v1/verify",
        content=b"x" * (11 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["code"] == "payload_too_large"
    not_json = client.post(
        "/api/v1/verify", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422


def test_at_verifies_as_of_a_moment(client: TestClient) -> None:
    token = credential(now=NOW - timedelta(days=400), valid_for=timedelta(days=365))
    body = verify(client, token, at=(NOW - timedelta(days=100)).isoformat())
    assert "time_validity" not in failed(body)
    far = client.post("/api/v1/verify", json={"token": token, "at": "0001-01-01T00:00:00+01:00"})
    assert far.status_code == 422


def test_no_personal_data_in_logs(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    claims = example_claims()
    caplog.set_level(logging.DEBUG)
    body = verify(client, credential(claims=claims, status_idx=7))
    assert body["credential"]["claims"]["given_name"] == claims["given_name"]  # type: ignore[index]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "verified issuer=" in logged
    for value in (claims["given_name"], claims["family_name"], claims["birthdate"]):
        assert str(value) not in logged


def test_absurd_iat_is_a_failed_format_not_a_crash(client: TestClient) -> None:
    # the core refuses NumericDates beyond year 9999 before any key lookup
    header, _, signature = credential().split("~")[0].split(".")
    payload = {"iss": "https://cfp-casablanca.example.ma", "vct": vct(), "iat": 1e20}
    body = verify(client, f"{header}.{b64url_encode(json_dumps(payload))}.{signature}~")
    assert body["valid"] is False
    assert failed(body) == {"format": "invalid_claims"}


def test_the_documented_check_names_are_the_pipelines() -> None:
    # verifier/models.py spells the names out for OpenAPI; they must stay the core's
    from typing import get_args

    from passerelle.verification import CHECK_NAMES
    from verifier.models import CheckOut

    assert get_args(CheckOut.model_fields["name"].annotation) == CHECK_NAMES
