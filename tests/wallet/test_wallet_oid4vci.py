"""wallet.oid4vci against a fake OpenID4VCI issuer (httpx.MockTransport)."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest

from passerelle import errors, jose, sdjwt
from passerelle.encoding import b64url_decode, json_loads_object
from tests import factories
from tests.wallet.fakes import CONFIG_ID, ISSUER, FakeIssuer, client_for
from wallet import oid4vci

HOLDER = factories.key("holder", "ES256")
IAT = int(factories.NOW.timestamp())


def receive(
    fake: FakeIssuer, link: str | None = None, **kwargs: object
) -> list[oid4vci.IssuedCredential]:
    with client_for(fake) as client:
        offer = oid4vci.parse_offer(link or fake.offer_link(), client=client)
        return oid4vci.receive(offer, holder_key=HOLDER, client=client, iat=IAT, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Offers


def test_offer_by_value() -> None:
    fake = FakeIssuer(tx_code="493817")
    with client_for(fake) as client:
        offer = oid4vci.parse_offer(fake.offer_link(), client=client)
    assert offer.credential_issuer == ISSUER
    assert offer.credential_configuration_ids == (CONFIG_ID,)
    assert offer.pre_authorized_code in fake.codes
    assert offer.tx_code == oid4vci.TxCode("numeric", 6, "code sent by SMS")
    assert fake.calls == []  # nothing fetched for an offer by value


def test_offer_by_reference_is_fetched() -> None:
    fake = FakeIssuer()
    link = f"openid-credential-offer://?credential_offer_uri={quote(ISSUER + '/offers/1')}"
    with client_for(fake) as client:
        offer = oid4vci.parse_offer(link, client=client)
    assert fake.calls == ["GET /offers/1"]
    assert offer.pre_authorized_code in fake.codes


def test_offer_as_json() -> None:
    fake = FakeIssuer()
    with client_for(fake) as client:
        offer = oid4vci.parse_offer(json.dumps(fake.new_offer()), client=client)
    assert offer.tx_code is None


@pytest.mark.parametrize(
    "link",
    [
        "openid-credential-offer://?nothing=here",
        "openid-credential-offer://?credential_offer=%7B%7D&credential_offer_uri=https%3A%2F%2Fa",
        "openid-credential-offer://?credential_offer=not-json",
        "openid-credential-offer://?credential_offer_uri=http%3A%2F%2Fevil.example%2Fo",
        "openid-credential-offer://?credential_offer="
        + quote(
            json.dumps(
                {
                    "credential_issuer": ISSUER,
                    "credential_configuration_ids": ["x"],
                    "grants": {"authorization_code": {}},
                }
            )
        ),
        "openid-credential-offer://?credential_offer="
        + quote(
            json.dumps(
                {
                    "credential_issuer": "http://cfp.example.ma",
                    "credential_configuration_ids": ["x"],
                }
            )
        ),
    ],
    ids=["neither", "both", "not_json", "http_uri", "no_pre_authorized_grant", "http_issuer"],
)
def test_bad_offers(link: str) -> None:
    with client_for(FakeIssuer()) as client, pytest.raises(errors.OfferError):
        oid4vci.parse_offer(link, client=client)


def test_well_known_urls_go_between_host_and_path() -> None:
    assert oid4vci.well_known_url("https://a.example", oid4vci.ISSUER_WELL_KNOWN) == (
        "https://a.example/.well-known/openid-credential-issuer"
    )
    assert oid4vci.well_known_url("https://a.example/tenant/", oid4vci.AS_WELL_KNOWN) == (
        "https://a.example/.well-known/oauth-authorization-server/tenant"
    )


# ---------------------------------------------------------------------------------------
# The flow


def test_receive_with_transaction_code() -> None:
    fake = FakeIssuer(tx_code="493817")
    [received] = receive(fake, tx_code="493817")
    assert fake.calls == [
        "GET /.well-known/openid-credential-issuer",
        "GET /.well-known/oauth-authorization-server",
        "POST /token",
        "POST /nonce",
        "POST /credential",
    ]
    assert received.configuration_id == CONFIG_ID
    assert received.issuer == ISSUER and received.vct == factories.vct()
    assert received.display == {"en": "Qualification"}
    assert received.issuer_display["fr"] == "Centre Hay Hassani"
    verified = sdjwt.verify(received.credential, factories.key("issuer").public, typ="dc+sd-jwt")
    assert verified.payload["cnf"]["jwk"] == HOLDER.public.to_jwk()
    assert verified.claims["family_name"] == "El Amrani"


def test_the_key_proof() -> None:
    fake = FakeIssuer()
    receive(fake)
    [header] = fake.proof_headers
    assert header == {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": HOLDER.public.to_jwk()}
    proof = oid4vci.build_proof_jwt(HOLDER, audience=ISSUER, nonce="n-1", iat=IAT)
    header_b64, payload_b64, signature = proof.split(".")
    assert json_loads_object(b64url_decode(payload_b64)) == {
        "aud": ISSUER,
        "iat": IAT,
        "nonce": "n-1",
    }
    assert HOLDER.public.verify(f"{header_b64}.{payload_b64}".encode(), b64url_decode(signature))
    with pytest.raises(errors.HeaderError):  # the core still refuses keys in headers
        jose.parse_compact(proof)


def test_eddsa_holder_key() -> None:
    holder = factories.key("holder", "EdDSA")
    fake = FakeIssuer()
    with client_for(fake) as client:
        offer = oid4vci.parse_offer(fake.offer_link(), client=client)
        [received] = oid4vci.receive(offer, holder_key=holder, client=client, iat=IAT)
    payload = jose.parse_compact(received.credential.split("~")[0]).payload
    assert payload["cnf"]["jwk"]["kty"] == "OKP"


def test_a_needed_transaction_code_is_asked_before_anything_is_sent() -> None:
    fake = FakeIssuer(tx_code="493817")
    with pytest.raises(errors.GrantError) as caught:
        receive(fake)
    assert caught.value.extra["oauth_error"] == "tx_code_required"
    assert fake.calls == []


def test_wrong_transaction_code() -> None:
    fake = FakeIssuer(tx_code="493817")
    with pytest.raises(errors.GrantError) as caught:
        receive(fake, tx_code="000000")
    assert caught.value.code == "grant_refused"
    assert caught.value.extra["oauth_error"] == "invalid_grant"
    assert "POST /credential" not in fake.calls


def test_a_code_is_redeemed_once() -> None:
    fake = FakeIssuer()
    link = fake.offer_link()
    assert len(receive(fake, link)) == 1
    with pytest.raises(errors.GrantError, match="already used or expired"):
        receive(fake, link)


def test_proof_rejected() -> None:
    with pytest.raises(errors.ProofRejectedError) as caught:
        receive(FakeIssuer(reject_proofs=True))
    assert caught.value.extra["oauth_error"] == "invalid_proof"


def test_a_stale_nonce_is_retried_once_with_a_fresh_one() -> None:
    fake = FakeIssuer(stale_nonce_once=True)
    assert len(receive(fake)) == 1
    assert fake.calls.count("POST /nonce") == 2


def test_a_credential_bound_to_another_key_is_refused() -> None:
    fake = FakeIssuer(bind_to=factories.key("someone else", "ES256"))
    with pytest.raises(errors.CredentialResponseError, match="another key"):
        receive(fake)


def test_an_issuer_that_does_not_accept_our_algorithm() -> None:
    with pytest.raises(errors.IssuerMetadataError, match="ES256"):
        receive(FakeIssuer(proof_algs=("EdDSA",)))


def test_metadata_of_another_issuer_is_refused() -> None:
    fake = FakeIssuer()
    link = fake.offer_link()
    fake.issuer_id = "https://impostor.example"
    with pytest.raises(errors.IssuerMetadataError, match="credential_issuer"):
        receive(fake, link)


def test_an_unreachable_issuer() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    fake = FakeIssuer()
    with httpx.Client(transport=httpx.MockTransport(down)) as client:
        offer = oid4vci.parse_offer(fake.offer_link(), client=client)
        with pytest.raises(errors.EndpointError, match="cannot be reached"):
            oid4vci.receive(offer, holder_key=HOLDER, client=client)


@pytest.mark.parametrize(
    "body",
    [
        {"transaction_id": "t-1"},
        {"credentials": []},
        {"credentials": [{"credential": 3}]},
        {"credentials": [{"credential": "not an sd-jwt"}]},
    ],
    ids=["deferred", "empty", "not_a_string", "not_sd_jwt"],
)
def test_unusable_credential_responses(body: dict[str, object]) -> None:
    fake = FakeIssuer()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/credential":
            return httpx.Response(200, json=body)
        return fake.handler(request)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        offer = oid4vci.parse_offer(fake.offer_link(), client=client)
        with pytest.raises(errors.CredentialResponseError):
            oid4vci.receive(offer, holder_key=HOLDER, client=client)
