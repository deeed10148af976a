"""OpenID4VCI on the issuer: offers, metadata, token, nonce and credential endpoints, driven
by the real wallet client (``wallet.oid4vci``) over the ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from issuer.db import create_db_engine
from issuer.keyring import TenantKeyring
from issuer.models import CredentialOffer
from issuer.oid4vci import PRE_AUTHORIZED_GRANT, Oid4vciService
from issuer.service import IssuerService, Principal
from passerelle import errors, jose, qr
from passerelle.credtypes import load_types
from passerelle.encoding import b64url_encode, json_dumps
from passerelle.keys import SigningKey
from passerelle.verification import StatusLists, Verifier
from tests import factories
from tests.asgi import leave_mid_body
from wallet import oid4vci as wallet

from .conftest import PASSPHRASE, TenantHandle
from .helpers import QUALIFICATION, claims

HOLDER = factories.key("holder", "ES256")
OTHER = factories.key("someone else", "ES256")
ISSUER_URL = "https://issuer.example"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    @property
    def epoch(self) -> int:
        return int(self.now.timestamp())


@pytest.fixture
def clock(service: IssuerService, monkeypatch: pytest.MonkeyPatch) -> Clock:
    pinned = Clock(datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(service, "clock", pinned)
    return pinned


@pytest.fixture
def wallet_client(client: TestClient) -> TestClient:
    """The app as the wallet sees it: absolute URLs on the issuer's public origin."""
    client.base_url = ISSUER_URL  # type: ignore[assignment]
    return client


def create_offer(client: TestClient, tenant: TenantHandle, **body: Any) -> dict[str, Any]:
    payload = {"type": QUALIFICATION, "claims": claims(), "valid_days": 3650, **body}
    response = client.post("/api/v1/offers", json=payload, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return dict(response.json())


def issuer_id(tenant: TenantHandle) -> str:
    return f"{ISSUER_URL}/tenants/{tenant.slug}"


def receive(client: TestClient, link: str, clock: Clock, **kwargs: Any) -> wallet.IssuedCredential:
    offer = wallet.parse_offer(link, client=client)
    [received] = wallet.receive(offer, client=client, iat=clock.epoch, **kwargs)
    return received


def redeem(client: TestClient, tenant: TenantHandle, created: dict[str, Any], **form: str) -> str:
    grant = created["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]
    data = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": grant["pre-authorized_code"]}
    data.update(form)
    response = client.post(f"/tenants/{tenant.slug}/token", data=data)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def fresh_nonce(client: TestClient, tenant: TenantHandle) -> str:
    return str(client.post(f"/tenants/{tenant.slug}/nonce").json()["c_nonce"])


def ask_credential(
    client: TestClient, tenant: TenantHandle, token: str, body: dict[str, Any]
) -> Any:
    return client.post(
        f"/tenants/{tenant.slug}/credential",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def proof_body(proof: str, configuration: str = QUALIFICATION) -> dict[str, Any]:
    return {"credential_configuration_id": configuration, "proofs": {"jwt": [proof]}}


def signed(header: dict[str, Any], payload: dict[str, Any], signer: SigningKey | None) -> str:
    """A proof JWT with exactly this header and payload, signed by ``signer`` (or unsigned)."""
    signing_input = f"{b64url_encode(json_dumps(header))}.{b64url_encode(json_dumps(payload))}"
    signature = signer.sign(signing_input.encode()) if signer else b""
    return f"{signing_input}.{b64url_encode(signature)}"


def oauth_error(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "error_description"}
    return str(body["error"])


def offer_row(service: IssuerService, offer_id: str) -> CredentialOffer:
    with Session(service.engine) as session:
        return session.exec(
            select(CredentialOffer).where(CredentialOffer.public_id == offer_id)
        ).one()


# ---------------------------------------------------------------------------------------------
# The whole flow, with the real wallet client


def test_the_wallet_receives_a_credential_bound_to_its_key(
    wallet_client: TestClient, service: IssuerService, tenant: TenantHandle, clock: Clock
) -> None:
    created = create_offer(wallet_client, tenant)
    assert created["tx_code"] is None and created["state"] == "offered"
    assert created["offer_uri"].startswith("openid-credential-offer://?credential_offer=")
    assert created["credential_offer"]["credential_issuer"] == issuer_id(tenant)

    received = receive(wallet_client, created["offer_uri"], clock, holder_key=HOLDER)

    assert received.issuer == issuer_id(tenant)
    assert received.configuration_id == QUALIFICATION
    assert received.display["fr"] == "Certificat de qualification"
    payload = jose.parse_compact(received.credential.split("~")[0]).payload
    assert payload["cnf"]["jwk"] == HOLDER.public.to_jwk()
    status_token = wallet_client.get(f"/status/{tenant.slug}/1").text
    verifier = Verifier(
        issuer_keys=[service.keyring.signing_key(tenant.slug).public],
        status_lists=StatusLists([status_token]),
    )
    result = verifier.verify(received.credential, now=clock.now)
    assert result.valid and result.status == "valid", result.to_json()

    state = wallet_client.get(f"/api/v1/offers/{created['offer_id']}", headers=tenant.headers())
    assert state.json()["state"] == "issued"
    record_id = state.json()["credential_id"]
    record = wallet_client.get(f"/api/v1/credentials/{record_id}", headers=tenant.headers())
    assert record.json()["holder_bound"] is True
    assert offer_row(service, created["offer_id"]).claims is None  # deleted once issued
    events = service.audit_page(tenant.principal, after=0, limit=100).items
    actions = [e.action for e in events]
    assert actions[-3:] == ["offer_created", "offer_redeemed", "credential_issued"]
    assert events[-1].subject == record_id
    assert events[-1].data["offer"] == created["offer_id"]
    assert service.verify_audit(tenant.principal).valid


def test_with_a_transaction_code_and_an_eddsa_holder(
    wallet_client: TestClient, tenant: TenantHandle, clock: Clock
) -> None:
    created = create_offer(wallet_client, tenant, tx_code=True, tx_code_description="by SMS")
    code = created["tx_code"]
    assert isinstance(code, str) and len(code) == 6 and code.isdigit()
    grant = created["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]
    assert grant["tx_code"] == {"input_mode": "numeric", "length": 6, "description": "by SMS"}
    holder = factories.key("holder", "EdDSA")

    received = receive(wallet_client, created["offer_uri"], clock, holder_key=holder, tx_code=code)

    payload = jose.parse_compact(received.credential.split("~")[0]).payload
    assert payload["cnf"]["jwk"] == holder.public.to_jwk()


def test_a_code_is_redeemed_once(
    wallet_client: TestClient, tenant: TenantHandle, clock: Clock
) -> None:
    link = create_offer(wallet_client, tenant)["offer_uri"]
    receive(wallet_client, link, clock, holder_key=HOLDER)
    with pytest.raises(errors.GrantError, match="already redeemed") as caught:
        receive(wallet_client, link, clock, holder_key=HOLDER)
    assert caught.value.extra["oauth_error"] == "invalid_grant"


def test_an_expired_code_is_refused_and_its_claims_deleted(
    wallet_client: TestClient, service: IssuerService, tenant: TenantHandle, clock: Clock
) -> None:
    created = create_offer(wallet_client, tenant, expires_in=60)
    clock.advance(61)
    with pytest.raises(errors.GrantError, match="expired"):
        receive(wallet_client, created["offer_uri"], clock, holder_key=HOLDER)
    row = offer_row(service, created["offer_id"])
    assert row.state == "expired" and row.claims is None


def test_wrong_transaction_codes_are_counted_then_void_the_offer(
    wallet_client: TestClient, service: IssuerService, tenant: TenantHandle, clock: Clock
) -> None:
    created = create_offer(wallet_client, tenant, tx_code=True)
    wrong = "000000" if created["tx_code"] != "000000" else "111111"
    with pytest.raises(errors.GrantError, match="4 attempts left") as caught:
        receive(wallet_client, created["offer_uri"], clock, holder_key=HOLDER, tx_code=wrong)
    assert caught.value.extra["oauth_error"] == "invalid_grant"
    for _ in range(4):
        with pytest.raises(errors.GrantError):
            receive(wallet_client, created["offer_uri"], clock, holder_key=HOLDER, tx_code=wrong)
    # the right code is too late now
    with pytest.raises(errors.GrantError, match="voided"):
        receive(
            wallet_client,
            created["offer_uri"],
            clock,
            holder_key=HOLDER,
            tx_code=created["tx_code"],
        )
    row = offer_row(service, created["offer_id"])
    assert (row.state, row.tx_code_failures, row.claims) == ("voided", 5, None)
    assert service.audit_page(tenant.principal, after=0, limit=100).items[-1].action == (
        "offer_voided"
    )


def test_a_transaction_code_missing_or_not_expected(
    client: TestClient, tenant: TenantHandle
) -> None:
    protected = create_offer(client, tenant, tx_code=True)
    grant = protected["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": grant["pre-authorized_code"]}
    assert oauth_error(client.post(f"/tenants/{tenant.slug}/token", data=form)) == (
        "invalid_request"
    )
    plain = create_offer(client, tenant)
    grant = plain["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]
    form = {**form, "pre-authorized_code": grant["pre-authorized_code"], "tx_code": "123456"}
    assert oauth_error(client.post(f"/tenants/{tenant.slug}/token", data=form)) == (
        "invalid_request"
    )


# ---------------------------------------------------------------------------------------------
# Concurrency: separate services (own engines), as separate processes would be


def test_concurrent_redemptions_of_one_code_give_one_token(
    client: TestClient, settings: Any, tenant: TenantHandle
) -> None:
    created = create_offer(client, tenant)
    code = created["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
    workers = 6
    services = [
        Oid4vciService(
            IssuerService(
                create_db_engine(settings.database_url),
                settings,
                load_types(),
                TenantKeyring(settings.key_store, PASSPHRASE),
            ),
            passphrase=PASSPHRASE,
        )
        for _ in range(workers)
    ]
    start = threading.Barrier(workers)

    def redeem_once(oid4vci: Oid4vciService) -> str:
        start.wait()
        try:
            oid4vci.token(
                tenant.slug, {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code}
            )
        except errors.InvalidGrantError:
            return "invalid_grant"
        return "token"

    try:
        with ThreadPoolExecutor(workers) as pool:
            outcomes = list(pool.map(redeem_once, services))
    finally:
        for oid4vci in services:
            oid4vci.issuer.engine.dispose()
    assert sorted(outcomes) == ["invalid_grant"] * (workers - 1) + ["token"]


def test_concurrent_credential_requests_with_one_token_give_one_credential(
    client: TestClient, service: IssuerService, settings: Any, tenant: TenantHandle, clock: Clock
) -> None:
    token = redeem(client, tenant, create_offer(client, tenant))
    workers = 4
    bodies = [proof_body(good_proof(tenant, fresh_nonce(client, tenant), clock)) for _ in range(4)]
    services = []
    for _ in range(workers):
        issuer = IssuerService(
            create_db_engine(settings.database_url),
            settings,
            load_types(),
            TenantKeyring(settings.key_store, PASSPHRASE),
            clock=clock,
        )
        services.append(Oid4vciService(issuer, passphrase=PASSPHRASE))
    start = threading.Barrier(workers)

    def request(pair: tuple[Oid4vciService, dict[str, Any]]) -> str:
        start.wait()
        try:
            pair[0].credential(tenant.slug, token, pair[1])
        except errors.InvalidAccessTokenError:
            return "invalid_token"
        return "credential"

    try:
        with ThreadPoolExecutor(workers) as pool:
            outcomes = list(pool.map(request, zip(services, bodies, strict=True)))
    finally:
        for oid4vci in services:
            oid4vci.issuer.engine.dispose()
    assert sorted(outcomes) == ["credential"] + ["invalid_token"] * (workers - 1)
    page = service.list_credentials(tenant.principal)
    assert page.total == 1
    assert service.verify_audit(tenant.principal).valid


# ---------------------------------------------------------------------------------------------
# Key proofs


def good_proof(tenant: TenantHandle, nonce: str, clock: Clock, key: SigningKey = HOLDER) -> str:
    return wallet.build_proof_jwt(key, audience=issuer_id(tenant), nonce=nonce, iat=clock.epoch)


def header_for(key: SigningKey, **changes: Any) -> dict[str, Any]:
    header = {"alg": key.alg, "typ": "openid4vci-proof+jwt", "jwk": key.public.to_jwk()}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not None}


ProofMaker = Callable[[TenantHandle, str, Clock], str]
BAD_PROOFS: dict[str, tuple[ProofMaker, str]] = {
    "wrong_nonce": (
        lambda t, n, c: good_proof(t, b64url_encode(b"\x00" * 40), c),
        "invalid_nonce",
    ),
    "wrong_aud": (
        lambda t, n, c: wallet.build_proof_jwt(
            HOLDER, audience="https://elsewhere.example", nonce=n, iat=c.epoch
        ),
        "invalid_proof",
    ),
    "signed_by_another_key": (
        lambda t, n, c: signed(
            header_for(HOLDER), {"aud": issuer_id(t), "iat": c.epoch, "nonce": n}, OTHER
        ),
        "invalid_proof",
    ),
    "alg_none": (
        lambda t, n, c: signed(
            header_for(HOLDER, alg="none"), {"aud": issuer_id(t), "iat": c.epoch, "nonce": n}, None
        ),
        "invalid_proof",
    ),
    "alg_hs256": (
        lambda t, n, c: signed(
            header_for(HOLDER, alg="HS256"), {"aud": issuer_id(t), "iat": c.epoch, "nonce": n}, None
        ),
        "invalid_proof",
    ),
    "jwk_with_private_part": (
        lambda t, n, c: signed(
            header_for(HOLDER, jwk={**HOLDER.public.to_jwk(), "d": b64url_encode(b"\x01" * 32)}),
            {"aud": issuer_id(t), "iat": c.epoch, "nonce": n},
            HOLDER,
        ),
        "invalid_proof",
    ),
    "wrong_typ": (
        lambda t, n, c: signed(
            header_for(HOLDER, typ="JWT"), {"aud": issuer_id(t), "iat": c.epoch, "nonce": n}, HOLDER
        ),
        "invalid_proof",
    ),
    "kid_instead_of_jwk": (
        lambda t, n, c: signed(
            header_for(HOLDER, jwk=None, kid=HOLDER.kid),
            {"aud": issuer_id(t), "iat": c.epoch, "nonce": n},
            HOLDER,
        ),
        "invalid_proof",
    ),
    "too_old": (
        lambda t, n, c: wallet.build_proof_jwt(
            HOLDER, audience=issuer_id(t), nonce=n, iat=c.epoch - 3600
        ),
        "invalid_proof",
    ),
    "no_nonce": (
        lambda t, n, c: wallet.build_proof_jwt(
            HOLDER, audience=issuer_id(t), nonce=None, iat=c.epoch
        ),
        "invalid_proof",
    ),
    "not_a_jws": (lambda t, n, c: "not.a.jws", "invalid_proof"),
}


@pytest.mark.parametrize("case", sorted(BAD_PROOFS))
def test_bad_key_proofs_are_refused_and_consume_nothing(
    client: TestClient, service: IssuerService, tenant: TenantHandle, clock: Clock, case: str
) -> None:
    make, expected = BAD_PROOFS[case]
    token = redeem(client, tenant, create_offer(client, tenant))
    nonce = fresh_nonce(client, tenant)
    refused = ask_credential(client, tenant, token, proof_body(make(tenant, nonce, clock)))
    assert oauth_error(refused) == expected
    # neither the access token nor the nonce was spent
    issued = ask_credential(client, tenant, token, proof_body(good_proof(tenant, nonce, clock)))
    assert issued.status_code == 200, issued.text


def test_a_nonce_serves_once_and_for_its_tenant_only(
    client: TestClient, tenant: TenantHandle, other_tenant: TenantHandle, clock: Clock
) -> None:
    nonce = fresh_nonce(client, tenant)
    first = redeem(client, tenant, create_offer(client, tenant))
    assert ask_credential(client, tenant, first, proof_body(good_proof(tenant, nonce, clock)))
    second = redeem(client, tenant, create_offer(client, tenant))
    again = ask_credential(client, tenant, second, proof_body(good_proof(tenant, nonce, clock)))
    assert oauth_error(again) == "invalid_nonce"
    elsewhere = redeem(client, other_tenant, create_offer(client, other_tenant))
    foreign = fresh_nonce(client, tenant)
    answer = ask_credential(
        client, other_tenant, elsewhere, proof_body(good_proof(other_tenant, foreign, clock))
    )
    assert oauth_error(answer) == "invalid_nonce"


def test_an_expired_nonce(client: TestClient, tenant: TenantHandle, clock: Clock) -> None:
    nonce = fresh_nonce(client, tenant)
    clock.advance(301)
    token = redeem(client, tenant, create_offer(client, tenant))
    answer = ask_credential(client, tenant, token, proof_body(good_proof(tenant, nonce, clock)))
    assert oauth_error(answer) == "invalid_nonce"


# ---------------------------------------------------------------------------------------------
# The credential endpoint's other refusals


def test_one_credential_per_access_token(
    client: TestClient, tenant: TenantHandle, clock: Clock
) -> None:
    token = redeem(client, tenant, create_offer(client, tenant))
    first = ask_credential(
        client, tenant, token, proof_body(good_proof(tenant, fresh_nonce(client, tenant), clock))
    )
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    [item] = first.json()["credentials"]
    assert item["credential"].count("~") >= 2
    second = ask_credential(
        client, tenant, token, proof_body(good_proof(tenant, fresh_nonce(client, tenant), clock))
    )
    assert oauth_error(second, 401) == "invalid_token"
    assert second.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_an_expired_access_token(
    client: TestClient, service: IssuerService, tenant: TenantHandle, clock: Clock
) -> None:
    created = create_offer(client, tenant)
    token = redeem(client, tenant, created)
    clock.advance(301)
    nonce = fresh_nonce(client, tenant)
    answer = ask_credential(client, tenant, token, proof_body(good_proof(tenant, nonce, clock)))
    assert oauth_error(answer, 401) == "invalid_token"
    create_offer(client, tenant)  # any offer creation sweeps the tenant's ended offers
    row = offer_row(service, created["offer_id"])
    assert row.state == "expired" and row.claims is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"credential_configuration_id": "SkillCredential"}, "invalid_credential_request"),
        ({"credential_configuration_id": "Nope"}, "unknown_credential_configuration"),
        ({"credential_configuration_id": QUALIFICATION}, "invalid_proof"),
        ({"proofs": {"jwt": ["x"]}}, "invalid_credential_request"),
        (
            {"credential_configuration_id": QUALIFICATION, "proofs": {"jwt": ["a", "b"]}},
            "invalid_credential_request",
        ),
        (
            {"credential_configuration_id": QUALIFICATION, "proofs": {"ldp_vp": [{}]}},
            "invalid_proof",
        ),
        ({"credential_identifier": "x"}, "invalid_credential_request"),
        ([], "invalid_credential_request"),
    ],
    ids=[
        "not_the_offered_type",
        "unknown_configuration",
        "no_proof",
        "no_configuration",
        "two_proofs",
        "unsupported_proof_type",
        "credential_identifier",
        "not_an_object",
    ],
)
def test_malformed_credential_requests(
    client: TestClient, tenant: TenantHandle, clock: Clock, body: Any, expected: str
) -> None:
    token = redeem(client, tenant, create_offer(client, tenant))
    response = client.post(
        f"/tenants/{tenant.slug}/credential",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert oauth_error(response) == expected


def test_the_draft_singular_proof_is_accepted(
    client: TestClient, tenant: TenantHandle, clock: Clock
) -> None:
    token = redeem(client, tenant, create_offer(client, tenant))
    proof = good_proof(tenant, fresh_nonce(client, tenant), clock)
    body = {
        "credential_configuration_id": QUALIFICATION,
        "proof": {"proof_type": "jwt", "jwt": proof},
    }
    assert ask_credential(client, tenant, token, body).status_code == 200


@pytest.mark.parametrize("authorization", [None, "Bearer unknown-token", "DPoP abc", "Basic x"])
def test_the_credential_endpoint_needs_a_known_bearer_token(
    client: TestClient, tenant: TenantHandle, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.post(
        f"/tenants/{tenant.slug}/credential", json=proof_body("x"), headers=headers
    )
    assert oauth_error(response, 401) == "invalid_token"


# ---------------------------------------------------------------------------------------------
# The token endpoint's other refusals


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"pre-authorized_code": "x"}, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
        ({"grant_type": PRE_AUTHORIZED_GRANT}, "invalid_request"),
        ({"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": "unknown"}, "invalid_grant"),
    ],
    ids=["no_grant_type", "authorization_code", "no_code", "unknown_code"],
)
def test_bad_token_requests(
    client: TestClient, tenant: TenantHandle, form: dict[str, str], expected: str
) -> None:
    assert oauth_error(client.post(f"/tenants/{tenant.slug}/token", data=form)) == expected


def test_a_token_request_is_a_form_with_each_parameter_once(
    client: TestClient, tenant: TenantHandle
) -> None:
    as_json = client.post(
        f"/tenants/{tenant.slug}/token", json={"grant_type": PRE_AUTHORIZED_GRANT}
    )
    assert oauth_error(as_json) == "invalid_request"
    repeated = client.post(
        f"/tenants/{tenant.slug}/token",
        content="grant_type=a&grant_type=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert oauth_error(repeated) == "invalid_request"


def test_token_response(client: TestClient, tenant: TenantHandle) -> None:
    created = create_offer(client, tenant)
    code = created["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
    response = client.post(
        f"/tenants/{tenant.slug}/token",
        data={"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert len(body["access_token"]) >= 43
    row = offer_row(client.app.state.service, created["offer_id"])  # type: ignore[attr-defined]
    assert code not in json.dumps(row.model_dump(mode="json"))  # hashes only
    assert body["access_token"] not in json.dumps(row.model_dump(mode="json"))


# ---------------------------------------------------------------------------------------------
# Metadata and nonces


def test_issuer_metadata(client: TestClient, tenant: TenantHandle) -> None:
    response = client.get(f"/.well-known/openid-credential-issuer/tenants/{tenant.slug}")
    assert response.status_code == 200
    metadata = response.json()
    base = issuer_id(tenant)
    assert metadata["credential_issuer"] == base
    assert metadata["credential_endpoint"] == f"{base}/credential"
    assert metadata["nonce_endpoint"] == f"{base}/nonce"
    assert "authorization_servers" not in metadata  # the issuer is its own AS
    configurations = metadata["credential_configurations_supported"]
    assert set(configurations) == {"QualificationCredential", "SkillCredential"}
    qualification = configurations[QUALIFICATION]
    assert qualification["format"] == "dc+sd-jwt"
    assert qualification["vct"] == factories.vct()
    assert qualification["cryptographic_binding_methods_supported"] == ["jwk"]
    assert qualification["credential_signing_alg_values_supported"] == ["EdDSA"]
    assert qualification["proof_types_supported"] == {
        "jwt": {"proof_signing_alg_values_supported": ["ES256", "EdDSA"]}
    }
    display = qualification["credential_metadata"]["display"]
    assert {d["locale"] for d in display} == {"en", "fr", "es", "ar"}
    claim = qualification["credential_metadata"]["claims"][1]
    assert claim["path"] == ["family_name"] and claim["mandatory"] is True
    assert {"name": "Nom de famille", "locale": "fr"} in claim["display"]
    assert metadata["display"] == [{"name": f"Centre {tenant.slug}", "locale": "fr"}]
    appended = client.get(f"/tenants/{tenant.slug}/.well-known/openid-credential-issuer")
    assert appended.json() == metadata


def test_authorization_server_metadata(client: TestClient, tenant: TenantHandle) -> None:
    metadata = client.get(f"/.well-known/oauth-authorization-server/tenants/{tenant.slug}").json()
    assert metadata["issuer"] == issuer_id(tenant)
    assert metadata["token_endpoint"] == f"{issuer_id(tenant)}/token"
    assert metadata["grant_types_supported"] == [PRE_AUTHORIZED_GRANT]
    assert metadata["pre-authorized_grant_anonymous_access_supported"] is True


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/openid-credential-issuer/tenants/nobody",
        "/.well-known/oauth-authorization-server/tenants/nobody",
    ],
)
def test_unknown_tenants_are_not_found(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_nonces_are_fresh_and_not_cached(client: TestClient, tenant: TenantHandle) -> None:
    first = client.post(f"/tenants/{tenant.slug}/nonce")
    second = client.post(f"/tenants/{tenant.slug}/nonce")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert first.json()["c_nonce"] != second.json()["c_nonce"]


# ---------------------------------------------------------------------------------------------
# The centre's offer API


def test_every_claim_violation_is_reported_at_offer_time(
    client: TestClient, tenant: TenantHandle
) -> None:
    bad = claims(birthdate="1998-02-30", nationalities="MA", iss="https://impostor.example")
    response = client.post(
        "/api/v1/offers", json={"type": QUALIFICATION, "claims": bad}, headers=tenant.headers()
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "schema_violation"
    paths = {v["path"] for v in problem["violations"]}
    assert {"$.birthdate", "$.nationalities", "$.iss"} <= paths


def test_offers_need_the_issue_role_and_stay_in_their_tenant(
    client: TestClient, service: IssuerService, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    revoker = service.create_api_key(tenant.principal, "revoker", "r").key
    body = {"type": QUALIFICATION, "claims": claims()}
    forbidden = client.post("/api/v1/offers", json=body, headers=tenant.headers(revoker))
    assert forbidden.status_code == 403
    created = create_offer(client, tenant)
    path = f"/api/v1/offers/{created['offer_id']}"
    assert client.get(path, headers=other_tenant.headers()).status_code == 404
    assert client.get(path, headers=tenant.headers(revoker)).json()["state"] == "offered"
    assert client.get(path + "/qr.png", headers=tenant.headers(revoker)).status_code == 403


def test_the_qr_code_carries_the_offer_until_it_is_redeemed(
    client: TestClient, tenant: TenantHandle
) -> None:
    created = create_offer(client, tenant, tx_code=True, tx_code_description="by e-mail")
    assert created["qr"] == f"{ISSUER_URL}/api/v1/offers/{created['offer_id']}/qr.png"
    image = client.get(f"/api/v1/offers/{created['offer_id']}/qr.png", headers=tenant.headers())
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert qr.decode_image(image.content) == created["offer_uri"]
    redeem(client, tenant, created, tx_code=created["tx_code"])
    gone = client.get(f"/api/v1/offers/{created['offer_id']}/qr.png", headers=tenant.headers())
    assert gone.status_code == 409
    state = client.get(f"/api/v1/offers/{created['offer_id']}", headers=tenant.headers()).json()
    assert state["state"] == "token_issued" and state["tx_code_required"] is True


def test_offer_principal_is_checked_by_the_service(service: IssuerService) -> None:
    oid4vci = Oid4vciService(service, passphrase=PASSPHRASE)
    nobody = Principal(tenant_id=0, slug="x", role="revoker", actor="test")
    with pytest.raises(errors.PermissionDeniedError):
        oid4vci.offer_qr(nobody, "x")


def test_a_wallet_leaving_mid_request_ends_as_a_handled_error(
    client: TestClient, tenant: TenantHandle
) -> None:
    path = f"/tenants/{tenant.slug}/token"
    sent = leave_mid_body(client, path, "application/x-www-form-urlencoded")  # raises nothing
    assert sent[0]["status"] == 422
    assert json.loads(sent[1]["body"])["code"] == "request_invalid"
