"""The HTTP API end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from issuer.service import IssuerService
from passerelle import sdjwt
from passerelle.keys import public_key_from_jwk
from passerelle.statuslist import (
    STATUS_LIST_MEDIA_TYPE,
    Status,
    check_status,
    verify_status_list_token,
)

from .conftest import TenantHandle
from .helpers import CSV_HEADER, QUALIFICATION, claims, csv_bytes, csv_row, issue_body

API = "/api/v1/credentials"


def issue(client: TestClient, tenant: TenantHandle, **changes: object) -> dict:
    response = client.post(API, json=issue_body(**changes), headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()


def test_issue_returns_a_verifiable_sd_jwt_vc_and_a_minimal_record(client, tenant):
    body = issue(client, tenant)
    record = body["record"]
    assert record["status"] == "valid" and record["holder_name"] == "Youssef El Amrani"
    assert record["type"] == QUALIFICATION and record["number"] >= 1
    assert "birthdate" not in record
    jwk = client.get(f"/tenants/{tenant.slug}/jwks.json").json()["keys"][0]
    key = public_key_from_jwk({k: v for k, v in jwk.items() if k in ("kty", "crv", "x")})
    jws = sdjwt.verify_issuer_signature(sdjwt.parse(body["credential"]), key, typ="dc+sd-jwt")
    assert jws.payload["iss"] == f"https://issuer.example/tenants/{tenant.slug}"
    assert jws.payload["status"]["status_list"] == record["status_list"]


def test_record_can_be_read_listed_and_searched(client, tenant):
    first = issue(client, tenant, family_name="Benali")["record"]
    issue(client, tenant, family_name="Ouedraogo")
    got = client.get(f"{API}/{first['id']}", headers=tenant.headers()).json()
    assert got == first
    page = client.get(API, params={"q": "benal"}, headers=tenant.headers()).json()
    assert [item["id"] for item in page["items"]] == [first["id"]] and page["total"] == 1
    page = client.get(API, params={"page_size": 1}, headers=tenant.headers()).json()
    assert page["total"] == 2 and len(page["items"]) == 1


def test_status_changes_follow_the_rules_and_reach_the_status_list(client, tenant):
    record = issue(client, tenant)["record"]
    uri = record["status_list"]["uri"]
    path = uri.removeprefix("https://issuer.example")
    before = client.get(path)
    assert before.status_code == 200
    assert before.headers["content-type"].startswith(STATUS_LIST_MEDIA_TYPE)
    assert before.headers["cache-control"] == "public, max-age=300"
    etag = before.headers["etag"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304

    def status_now() -> Status:
        response = client.get(path)
        jwks = client.get(f"/tenants/{tenant.slug}/jwks.json").json()["keys"]
        key = public_key_from_jwk({k: v for k, v in jwks[0].items() if k in ("kty", "crv", "x")})
        import time

        token = verify_status_list_token(response.text, key, expected_uri=uri, now=time.time())
        return check_status({"status_list": record["status_list"]}, token)

    assert status_now() is Status.VALID
    reason = {"reason": "under investigation"}
    suspended = client.post(f"{API}/{record['id']}/suspend", json=reason, headers=tenant.headers())
    assert suspended.json()["status"] == "suspended"
    assert status_now() is Status.SUSPENDED
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 200
    again = client.post(f"{API}/{record['id']}/suspend", json=reason, headers=tenant.headers())
    assert again.status_code == 409 and again.json()["code"] == "status_transition_invalid"
    client.post(f"{API}/{record['id']}/reinstate", json=reason, headers=tenant.headers())
    assert status_now() is Status.VALID
    revoked = client.post(f"{API}/{record['id']}/revoke", json=reason, headers=tenant.headers())
    assert revoked.json()["status"] == "revoked" and revoked.json()["status_reason"]
    assert status_now() is Status.REVOKED
    final = client.post(f"{API}/{record['id']}/reinstate", json=reason, headers=tenant.headers())
    assert final.status_code == 409


def test_roles(client, tenant):
    keys = {}
    for role in ("issuer", "revoker"):
        created = client.post(
            "/api/v1/api-keys", json={"role": role}, headers=tenant.headers()
        ).json()
        keys[role] = created["key"]
    by_issuer = client.post(API, json=issue_body(), headers=tenant.headers(keys["issuer"]))
    assert by_issuer.status_code == 201
    cid = by_issuer.json()["record"]["id"]
    by_revoker = client.post(API, json=issue_body(), headers={"X-API-Key": keys["revoker"]})
    assert by_revoker.status_code == 403 and by_revoker.json()["code"] == "forbidden"
    reason = {"reason": "fraud"}
    denied = client.post(f"{API}/{cid}/revoke", json=reason, headers=tenant.headers(keys["issuer"]))
    assert denied.status_code == 403
    ok = client.post(f"{API}/{cid}/revoke", json=reason, headers=tenant.headers(keys["revoker"]))
    assert ok.status_code == 200
    assert client.get("/api/v1/api-keys", headers=tenant.headers(keys["issuer"])).status_code == 403
    listed = client.get("/api/v1/api-keys", headers=tenant.headers()).json()
    revoker_id = next(k["id"] for k in listed if k["role"] == "revoker")
    client.post(f"/api/v1/api-keys/{revoker_id}/revoke", headers=tenant.headers())
    gone = client.get(API, headers=tenant.headers(keys["revoker"]))
    assert gone.status_code == 401 and gone.json()["code"] == "unauthenticated"


def test_tenants_are_isolated(client, tenant, other_tenant):
    cid = issue(client, tenant)["record"]["id"]
    theirs = other_tenant.headers()
    for response in (
        client.get(f"{API}/{cid}", headers=theirs),
        client.post(f"{API}/{cid}/revoke", json={"reason": "x"}, headers=theirs),
        client.post(f"{API}/{cid}/suspend", json={"reason": "x"}, headers=theirs),
    ):
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert client.get(API, headers=theirs).json()["total"] == 0
    mine = issue(client, other_tenant)["record"]
    assert mine["status_list"]["uri"].endswith(f"/status/{other_tenant.slug}/1")
    assert client.get(f"{API}/{cid}", headers=tenant.headers()).json()["status"] == "valid"


def test_errors_are_problem_json(client, tenant):
    cases = [
        (client.get(API), 401, "unauthenticated"),
        (client.get(API, headers={"Authorization": "Bearer psk_x.y"}), 401, "unauthenticated"),
        (client.get("/nowhere"), 404, "not_found"),
        (client.delete(API, headers=tenant.headers()), 405, "method_not_allowed"),
        (client.post(API, content=b"{", headers=tenant.headers()), 422, "request_invalid"),
        (
            client.post(API, json={**issue_body(), "type": "Nope"}, headers=tenant.headers()),
            422,
            "unknown_credential_type",
        ),
        (
            client.post(API, json=issue_body(birthdate="2001-02-30"), headers=tenant.headers()),
            422,
            "schema_violation",
        ),
        (
            client.post(
                API,
                json={**issue_body(), "holder_jwk": {"kty": "RSA"}},
                headers=tenant.headers(),
            ),
            422,
            "schema_violation",
        ),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code


def test_issuance_request_errors_say_what_and_where(client, tenant):
    """The issuing route reads its body and header itself: the errors are FastAPI's."""
    cases = [
        ({"content": b"{"}, "body"),
        ({"json": [1, 2]}, "body"),
        ({"json": {**issue_body(), "valid_days": 0}}, "body.valid_days"),
        ({"json": {**issue_body(), "extra": 1}}, "body.extra"),
        ({"json": {"claims": {}}}, "body.type"),
        (
            {"json": issue_body(), "headers": {"Idempotency-Key": "k" * 201}},
            "header.Idempotency-Key",
        ),
    ]
    for request, field in cases:
        headers = {**tenant.headers(), **request.pop("headers", {})}
        response = client.post(API, headers=headers, **request)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "request_invalid"
        assert field in [item["field"] for item in problem["errors"]], problem
    text = client.post(
        API, content=b"type=x", headers={**tenant.headers(), "Content-Type": "text/plain"}
    )
    assert text.status_code == 422 and text.json()["code"] == "request_invalid"
    for media_type in ("application/json; charset=utf-8", "Application/JSON", "application/x+json"):
        body = json.dumps({**issue_body(), "valid_days": 0}).encode()
        typed = client.post(
            API, content=body, headers={**tenant.headers(), "Content-Type": media_type}
        )
        assert typed.status_code == 422 and typed.json()["errors"][0]["field"] == "body.valid_days"
    # who is asking comes first: a stranger learns nothing about the body
    stranger = client.post(API, content=b"{")
    assert stranger.status_code == 401 and stranger.json()["code"] == "unauthenticated"
    assert client.get(API, headers=tenant.headers()).json()["total"] == 0


def test_idempotency_key(client, tenant):
    headers = {**tenant.headers(), "Idempotency-Key": "upload-1"}
    first = client.post(API, json=issue_body(), headers=headers)
    again = client.post(API, json=issue_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert client.get(API, headers=tenant.headers()).json()["total"] == 1
    other = client.post(API, json=issue_body(family_name="Other"), headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"


def upload(client: TestClient, tenant: TenantHandle, data: bytes, **headers: str):
    return client.post(
        f"{API}/batch/csv",
        files={"file": ("cohort.csv", data, "text/csv")},
        data={"type": QUALIFICATION, "valid_days": "3650"},
        headers={**tenant.headers(), **headers},
    )


def test_csv_batch_is_issued_with_numbers_and_idempotent(client, tenant):
    data = csv_bytes([csv_row(n) for n in range(5)])
    response = upload(client, tenant, data, **{"Idempotency-Key": "cohort-2025"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["count"] == 5
    numbers = [c["record"]["credential_number"] for c in body["credentials"]]
    assert len(set(numbers)) == 5 and all(n.startswith(tenant.slug.upper()) for n in numbers)
    indices = {c["record"]["status_list"]["idx"] for c in body["credentials"]}
    assert len(indices) == 5
    retry = upload(client, tenant, data, **{"Idempotency-Key": "cohort-2025"})
    assert retry.json() == body
    assert client.get(API, headers=tenant.headers()).json()["total"] == 5


def test_csv_row_errors_issue_nothing(client, tenant):
    rows = [
        csv_row(1),
        csv_row(2, **{"qualification.eqf_level": "nine"}),
        csv_row(3, given_name="=cmd|' /C calc'!A0"),
        csv_row(4, birthdate="2001-02-30"),
        csv_row(5, family_name="-1+1"),
        csv_row(6, **{"qualification.learning_hours": "-5"}),
    ]
    response = upload(client, tenant, csv_bytes(rows))
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "batch_invalid"
    found = {(e["row"], e["field"], e["code"]) for e in problem["errors"]}
    assert (3, "$.qualification.eqf_level", "invalid_value") in found
    assert (4, "given_name", "formula_injection") in found
    assert (6, "family_name", "formula_injection") in found
    assert client.get(API, headers=tenant.headers()).json()["total"] == 0
    # once the formula/conversion errors are fixed, schema errors are reported per row
    rows = [
        csv_row(1),
        csv_row(2, birthdate="2001-02-30"),
        csv_row(3, **{"qualification.learning_hours": "-5"}),
    ]
    problem = upload(client, tenant, csv_bytes(rows)).json()
    found = {(e["row"], e["field"], e["code"]) for e in problem["errors"]}
    assert found == {
        (3, "$.birthdate", "schema_violation"),
        (4, "$.qualification.learning_hours", "schema_violation"),
    }


def test_csv_bad_files(client, tenant):
    latin1 = csv_bytes([csv_row(1, given_name="Hélène")]).decode().encode("latin-1")
    response = upload(client, tenant, latin1)
    assert response.status_code == 422 and response.json()["code"] == "csv_encoding"
    unknown = csv_bytes([[*csv_row(1), "x"]], header=[*CSV_HEADER, "shoe_size"])
    problem = upload(client, tenant, unknown).json()
    assert problem["errors"][0]["code"] == "unknown_column"
    assert upload(client, tenant, b"").json()["code"] == "batch_invalid"


def test_json_batch_is_all_or_nothing(client, tenant):
    rows = [{"claims": claims()}, {"claims": claims(birthdate="nope")}]
    response = client.post(
        f"{API}/batch", json={"type": QUALIFICATION, "rows": rows}, headers=tenant.headers()
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["row"] == 2
    assert client.get(API, headers=tenant.headers()).json()["total"] == 0


def test_public_documents(client, tenant):
    metadata = client.get(f"/.well-known/jwt-vc-issuer/tenants/{tenant.slug}").json()
    assert metadata["issuer"] == f"https://issuer.example/tenants/{tenant.slug}"
    assert metadata["jwks"]["keys"][0]["kid"]
    vct = client.get("/types/qualification/v1").json()
    assert vct["vct"] == "https://credentials.passerelle.org/types/qualification/v1"
    assert client.get("/types/qualification/v1/schema.json").json()["type"] == "object"
    assert client.get("/types/nothing").status_code == 404
    assert client.get("/.well-known/jwt-vc-issuer/tenants/nobody").status_code == 404


def test_audit_chain_records_and_detects_tampering(client, tenant, service: IssuerService):
    cid = issue(client, tenant)["record"]["id"]
    client.post(f"{API}/{cid}/revoke", json={"reason": "fraud"}, headers=tenant.headers())
    page = client.get("/api/v1/audit", headers=tenant.headers()).json()
    actions = [e["action"] for e in page["items"]]
    assert actions[-2:] == ["credential_issued", "credential_revoked"]
    assert page["items"][-1]["reason"] == "fraud"
    assert client.get("/api/v1/audit/verify", headers=tenant.headers()).json()["valid"] is True
    from sqlmodel import Session, select

    from issuer.models import AuditEvent

    with Session(service.engine) as session:
        row = session.exec(
            select(AuditEvent).where(
                AuditEvent.tenant_id == tenant.principal.tenant_id,
                AuditEvent.action == "credential_revoked",
            )
        ).one()
        row.reason = "typo"
        session.add(row)
        session.commit()
        bad_seq = row.seq
    result = client.get("/api/v1/audit/verify", headers=tenant.headers()).json()
    assert result["valid"] is False and result["first_bad_seq"] == bad_seq


def test_key_rotation_keeps_old_keys_published(client, tenant):
    before = client.get(f"/tenants/{tenant.slug}/jwks.json").json()["keys"]
    rotated = client.post("/api/v1/signing-keys/rotate", headers=tenant.headers())
    assert rotated.status_code == 201
    after = client.get(f"/tenants/{tenant.slug}/jwks.json").json()["keys"]
    assert {k["kid"] for k in before} < {k["kid"] for k in after}
    issue(client, tenant)
