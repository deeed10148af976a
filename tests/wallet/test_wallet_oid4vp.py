"""wallet.oid4vp: DCQL matching, presentations, direct_post to a fake verifier, QR, and
interoperability with the independent sd-jwt reference library."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
import pytest

from passerelle import errors, qr, sdjwt
from tests import factories
from tests.wallet.conftest import held_credential
from tests.wallet.fakes import VERIFIER, FakeVerifier, client_for, dcql
from wallet import oid4vp
from wallet.store import CredentialRecord

HOLDER = factories.key("holder", "ES256")
IAT = int(factories.NOW.timestamp())
NAME_AND_QUALIFICATION = [["given_name"], ["family_name"], ["qualification", "title"]]


def key_for(kid: str | None) -> Any:
    assert kid == HOLDER.kid
    return HOLDER


def request_for(query: dict[str, Any], **fields: Any) -> oid4vp.PresentationRequest:
    fake = FakeVerifier(query)
    body = {**fake.request_object(), **fields}
    with client_for(fake) as client:
        return oid4vp.parse_request(json.dumps(body), client=client)


def present(
    fake: FakeVerifier,
    records: list[CredentialRecord],
    **select: Any,
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    with client_for(fake) as client:
        request = oid4vp.parse_request(fake.link(), client=client)
        selection = oid4vp.select(request, records, **select)
        token = oid4vp.build_vp_token(selection, key_for, iat=IAT)
        return token, oid4vp.submit(request, token, client=client)


def disclosed(presentation: str) -> dict[str, Any]:
    parsed = sdjwt.parse(presentation)
    return sdjwt.process_disclosures(
        sdjwt.jose.parse_compact(parsed.issuer_jwt).payload, parsed.disclosures
    )


# ---------------------------------------------------------------------------------------
# Requests


def test_request_by_reference() -> None:
    fake = FakeVerifier(dcql(NAME_AND_QUALIFICATION))
    with client_for(fake) as client:
        request = oid4vp.parse_request(fake.link(), client=client)
    assert request.client_id == VERIFIER
    assert request.nonce == fake.nonce and request.state == fake.state
    assert request.response_uri == f"{VERIFIER}/response"
    assert [c.path for c in request.dcql.credentials[0].claims or ()] == [
        ("given_name",),
        ("family_name",),
        ("qualification", "title"),
    ]


def test_request_with_inline_parameters() -> None:
    fake = FakeVerifier(dcql([["family_name"]]))
    params = {
        k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in fake.request_object().items()
    }
    link = "openid4vp://?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
    with client_for(fake) as client:
        request = oid4vp.parse_request(link, client=client)
    assert request.nonce == fake.nonce


def test_the_link_and_the_request_object_must_name_the_same_client() -> None:
    fake = FakeVerifier(dcql([["family_name"]]))
    request_uri = quote(f"{VERIFIER}/request/1", safe="")
    link = f"openid4vp://?client_id=https%3A%2F%2Fother.example&request_uri={request_uri}"
    with (
        client_for(fake) as client,
        pytest.raises(errors.PresentationRequestError, match="client_id"),
    ):
        oid4vp.parse_request(link, client=client)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"response_type": "id_token"}, "response_type"),
        ({"response_mode": "direct_post.jwt"}, "response_mode"),
        ({"nonce": None}, "nonce"),
        ({"response_uri": "http://employer.example.de/r"}, "https"),
        ({"dcql_query": {"credentials": []}}, "non-empty"),
        (
            {
                "dcql_query": {
                    "credentials": [{"id": "q", "format": "dc+sd-jwt", "claims": [{"path": []}]}]
                }
            },
            "path",
        ),
        (
            {
                "dcql_query": {
                    "credentials": [
                        {
                            "id": "q",
                            "format": "dc+sd-jwt",
                            "claims": [{"path": ["a"]}],
                            "claim_sets": [["x"]],
                        }
                    ]
                }
            },
            "id",
        ),
        ({"client_id": "redirect_uri:https://elsewhere.example/cb"}, "redirect_uri"),
    ],
    ids=[
        "response_type",
        "response_mode",
        "nonce",
        "http",
        "empty_dcql",
        "empty_path",
        "claim_sets_without_ids",
        "redirect_uri_prefix",
    ],
)
def test_bad_requests(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(errors.PresentationRequestError, match=match):
        request_for(dcql([["family_name"]]), **fields)


def test_signed_request_objects_are_refused_clearly() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            text="eyJhbGciOiJFUzI1NiJ9.e30.sig",
            headers={"content-type": "application/oauth-authz-req+jwt"},
        )

    fake = FakeVerifier(dcql([["family_name"]]))
    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        pytest.raises(errors.PresentationRequestError, match="JAR"),
    ):
        oid4vp.parse_request(fake.link(), client=client)


# ---------------------------------------------------------------------------------------
# Matching and choosing


def test_only_the_requested_personal_claims_are_disclosed() -> None:
    record = held_credential()
    request = request_for(dcql(NAME_AND_QUALIFICATION))
    selection = oid4vp.select(request, [record])
    [candidate] = selection.candidates
    assert candidate.disclosures == [("given_name",), ("family_name",)]
    title = candidate.claims[2]
    assert title.path == ("qualification", "title") and not title.selectively_disclosable
    token = oid4vp.build_vp_token(selection, key_for, iat=IAT)
    claims = disclosed(token["q"][0])
    assert claims["given_name"] == "Youssef" and claims["family_name"] == "El Amrani"
    assert "birthdate" not in claims and "nationalities" not in claims
    assert claims["qualification"]["eqf_level"] == 3  # the achievement is always visible


def test_the_holder_may_withhold_a_requested_claim() -> None:
    request = request_for(dcql(NAME_AND_QUALIFICATION))
    selection = oid4vp.select(request, [held_credential()], only=[("family_name",)])
    [candidate] = selection.candidates
    assert candidate.disclosures == [("family_name",)]
    assert ("given_name",) in candidate.withheld


def test_the_holder_cannot_add_what_was_not_asked() -> None:
    request = request_for(dcql([["family_name"]]))
    with pytest.raises(errors.InvalidInputError, match="birthdate"):
        oid4vp.select(request, [held_credential()], only=[("birthdate",)])


def test_no_claims_requested_means_no_disclosure() -> None:
    selection = oid4vp.select(request_for(dcql(None)), [held_credential()])
    assert selection.candidates[0].disclosures == []


def test_another_type_does_not_match() -> None:
    request = request_for(dcql([["family_name"]], vct=factories.vct("SkillCredential")))
    with pytest.raises(errors.NoMatchingCredentialError, match="'q'"):
        oid4vp.select(request, [held_credential()])


def test_a_missing_claim_does_not_match() -> None:
    request = request_for(dcql([["qualification", "esco_occupation"]]))
    with pytest.raises(errors.NoMatchingCredentialError):
        oid4vp.select(request, [held_credential()])


def test_values_restrict_the_match() -> None:
    good = request_for(dcql(None, claims=[{"path": ["nationalities", None], "values": ["MA"]}]))
    [candidate] = oid4vp.select(good, [held_credential()]).candidates
    assert candidate.disclosures == [("nationalities",)]  # elements are not disclosures
    bad = request_for(dcql(None, claims=[{"path": ["nationalities", None], "values": ["FR"]}]))
    with pytest.raises(errors.NoMatchingCredentialError):
        oid4vp.select(bad, [held_credential()])


def test_claim_sets_take_the_first_option_that_fits() -> None:
    query = dcql(
        None,
        claims=[
            {"id": "esco", "path": ["qualification", "esco_occupation"]},
            {"id": "name", "path": ["family_name"]},
            {"id": "born", "path": ["birthdate"]},
        ],
        claim_sets=[["esco", "name"], ["name"], ["born"]],
    )
    [candidate] = oid4vp.select(request_for(query), [held_credential()]).candidates
    assert candidate.disclosures == [("family_name",)]


def test_credential_sets_and_multiple() -> None:
    query = {
        "credentials": [
            dcql([["family_name"]], query_id="qualification", multiple=True)["credentials"][0],
            dcql([["given_name"]], vct=factories.vct("SkillCredential"), query_id="skill")[
                "credentials"
            ][0],
        ],
        "credential_sets": [
            {"options": [["qualification"]]},
            {"options": [["skill"]], "required": False},
        ],
    }
    records = [held_credential(status_idx=1), held_credential(status_idx=2)]
    selection = oid4vp.select(request_for(query), records)
    assert list(selection.answers) == ["qualification"]  # the optional skill set is skipped
    assert len(selection.answers["qualification"]) == 2
    only_one = oid4vp.select(request_for(query), records, credential_ids=[records[1].id])
    assert [c.record.id for c in only_one.candidates] == [records[1].id]


def test_claim_paths_from_the_command_line() -> None:
    assert oid4vp.parse_path("qualification.title") == ("qualification", "title")
    assert oid4vp.parse_path("nationalities.*") == ("nationalities", None)
    assert oid4vp.parse_path("nationalities.0") == ("nationalities", 0)
    assert oid4vp.parse_path('["a.b", null]') == ("a.b", None)
    with pytest.raises(errors.InvalidInputError):
        oid4vp.parse_path("a..b")


# ---------------------------------------------------------------------------------------
# Answering


def test_direct_post_is_verified_by_the_verifier() -> None:
    fake = FakeVerifier(dcql(NAME_AND_QUALIFICATION))
    token, answer = present(fake, [held_credential()])
    assert answer == {"redirect_uri": f"{VERIFIER}/done"}
    [form] = fake.posted
    assert set(form) == {"vp_token", "state"}
    assert json.loads(form["vp_token"]) == token
    [result] = fake.results["q"]
    assert result["valid"] is True
    assert next(c for c in result["checks"] if c["name"] == "key_binding")["ok"] is True
    subject = result["credential"]["claims"]
    assert subject["family_name"] == "El Amrani" and "birthdate" not in subject


def test_a_replayed_answer_is_refused() -> None:
    fake = FakeVerifier(dcql([["family_name"]]))
    token, _ = present(fake, [held_credential()])
    with client_for(fake) as client:
        request = oid4vp.parse_request(fake.link(), client=client)
        with pytest.raises(errors.PresentationRejectedError, match="replayed") as caught:
            oid4vp.submit(request, token, client=client)
    assert caught.value.extra["oauth_error"] == "invalid_request"


def test_the_key_binding_names_this_verifier_and_nonce() -> None:
    fake = FakeVerifier(dcql([["family_name"]]))
    token, _ = present(fake, [held_credential()])
    presentation = token["q"][0]
    kb = sdjwt.jose.parse_compact(sdjwt.parse(presentation).kb_jwt or "").payload
    assert kb["aud"] == VERIFIER and kb["nonce"] == fake.nonce and kb["iat"] == IAT
    other = FakeVerifier(dcql([["family_name"]]))  # another request, another nonce
    with client_for(other) as client:
        request = oid4vp.parse_request(other.link(), client=client)
        with pytest.raises(errors.PresentationRejectedError):
            oid4vp.submit(request, token, client=client)
    [result] = other.results["q"]
    failing = {c["code"] for c in result["checks"] if c["ok"] is False}
    assert failing == {"kb_nonce_mismatch"}


def test_no_response_uri_means_offline_only() -> None:
    request = request_for(dcql([["family_name"]]), response_uri=None, response_mode=None)
    token = oid4vp.build_vp_token(oid4vp.select(request, [held_credential()]), key_for, iat=IAT)
    with httpx.Client() as client, pytest.raises(errors.PresentationRequestError, match="QR"):
        oid4vp.submit(request, token, client=client)


def test_the_presentation_as_a_qr_code() -> None:
    request = request_for(dcql(NAME_AND_QUALIFICATION))
    token = oid4vp.build_vp_token(oid4vp.select(request, [held_credential()]), key_for, iat=IAT)
    presentation = token["q"][0]
    png = oid4vp.presentation_qr(presentation)
    assert png.startswith(b"\x89PNG")
    assert qr.decode_payload(qr.decode_image(png)) == presentation
    assert oid4vp.presentation_qr(presentation, svg=True).startswith(b"<?xml")


def test_the_form_body_is_url_encoded_json() -> None:
    fake = FakeVerifier(dcql([["family_name"]]))
    present(fake, [held_credential()])
    body = parse_qs(f"vp_token={quote(fake.posted[0]['vp_token'])}")
    assert list(json.loads(body["vp_token"][0])) == ["q"]


# ---------------------------------------------------------------------------------------
# Interoperability: the independent reference implementation verifies our presentations


def test_presentation_verified_by_the_sd_jwt_reference_library() -> None:
    from jwcrypto.jwk import JWK
    from sd_jwt.verifier import SDJWTVerifier

    fake = FakeVerifier(dcql(NAME_AND_QUALIFICATION))
    token, _ = present(fake, [held_credential()])
    issuer_jwk = JWK.from_json(json.dumps(factories.key("issuer").public.to_jwk()))
    verifier = SDJWTVerifier(token["q"][0], lambda iss, header: issuer_jwk, VERIFIER, fake.nonce)
    payload = verifier.get_verified_payload()
    assert payload["given_name"] == "Youssef" and payload["family_name"] == "El Amrani"
    assert "birthdate" not in payload and "nationalities" not in payload
    with pytest.raises(ValueError, match=r"nonce|Invalid"):
        SDJWTVerifier(token["q"][0], lambda iss, header: issuer_jwk, VERIFIER, "another nonce")
