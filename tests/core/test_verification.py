"""The verification pipeline end to end: trust, signature, time, disclosures, KB, status."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from passerelle import sdjwt, trustlist
from passerelle.encoding import b64url_decode, b64url_encode, json_dumps
from passerelle.verification import CHECK_NAMES, StatusLists, Verifier
from tests.factories import (
    ISSUER,
    NOW,
    credential,
    example_claims,
    key,
    status_list_token,
    trust_list,
    trust_source,
    vct,
)

AUD = "https://employer.example"
NONCE = "n-0S6_WzA2Mj"


def trusted(*lists: str, status: tuple[str, ...] = ()) -> Verifier:
    store = trustlist.TrustStore.from_lists(
        [trustlist.verify_trust_list(t, [key("anchor").public], now=NOW) for t in lists]
    )
    return Verifier(trust=store, status_lists=StatusLists(status))


def failing(result: object) -> dict[str, str]:
    return {c.name: c.code for c in result.failures}  # type: ignore[attr-defined]


def test_valid_credential_all_checks_in_order() -> None:
    result = trusted(trust_list()).verify(credential(), now=NOW, lang="fr")
    body = result.to_json()
    assert body["valid"] is True
    assert body["status"] == "valid"
    assert [c["name"] for c in body["checks"]] == list(CHECK_NAMES)
    assert all(c["ok"] for c in body["checks"]), body["checks"]
    assert body["issuer"]["id"] == ISSUER
    assert body["issuer"]["names"]["fr"] == "Centre Hay Hassani"
    cred = body["credential"]
    assert cred["type"] == "QualificationCredential"
    assert cred["claims"]["given_name"] == "Youssef"
    labels = {e["path"]: e for e in cred["disclosed"]}
    assert labels["qualification.eqf_level"]["meaning"]
    assert labels["qualification.isco08"]["meaning"]
    assert labels["given_name"]["label"] != "given_name"


def test_direct_issuer_key_and_unknown_key() -> None:
    token = credential()
    assert Verifier(issuer_keys=[key("issuer").public]).verify(token, now=NOW).valid
    result = Verifier(issuer_keys=[key("other").public]).verify(token, now=NOW)
    assert not result.valid
    assert failing(result) == {"issuer_trusted": "issuer_untrusted"}


def test_selective_presentation_with_key_binding() -> None:
    holder = key("holder", "ES256")
    token = credential(holder=holder)
    shown = sdjwt.present(
        token,
        [("given_name",), ("family_name",)],
        holder_key=holder,
        nonce=NONCE,
        audience=AUD,
        iat=int(NOW.timestamp()),
    )
    result = trusted(trust_list()).verify(shown, now=NOW, nonce=NONCE, audience=AUD)
    assert result.valid, result.to_json()["checks"]
    claims = result.credential["claims"]  # type: ignore[index]
    assert claims["given_name"] == "Youssef"
    assert "birthdate" not in claims and "nationalities" not in claims
    assert claims["qualification"]["eqf_level"] == 3


@pytest.mark.parametrize(
    ("nonce", "audience", "code"),
    [("other", AUD, "kb_nonce_mismatch"), (NONCE, "https://evil.example", "kb_audience_mismatch")],
)
def test_key_binding_for_another_request(nonce: str, audience: str, code: str) -> None:
    holder = key("holder", "ES256")
    shown = sdjwt.present(
        credential(holder=holder),
        [("given_name",)],
        holder_key=holder,
        nonce=NONCE,
        audience=AUD,
        iat=int(NOW.timestamp()),
    )
    result = trusted(trust_list()).verify(shown, now=NOW, nonce=nonce, audience=audience)
    assert failing(result) == {"key_binding": code}


def test_key_binding_required_but_absent() -> None:
    shown = sdjwt.present(credential(holder=key("holder", "ES256")), [("given_name",)])
    result = trusted(trust_list()).verify(shown, now=NOW, nonce=NONCE, audience=AUD)
    assert failing(result) == {"key_binding": "key_binding_invalid"}


def test_stale_key_binding() -> None:
    holder = key("holder", "ES256")
    shown = sdjwt.present(
        credential(holder=holder),
        [],
        holder_key=holder,
        nonce=NONCE,
        audience=AUD,
        iat=int(NOW.timestamp()) - 3600,
    )
    result = trusted(trust_list()).verify(shown, now=NOW, nonce=NONCE, audience=AUD)
    assert failing(result) == {"key_binding": "kb_iat_invalid"}


def test_expired_and_not_yet_valid() -> None:
    token = credential(valid_for=timedelta(days=1))
    later = trusted(trust_list()).verify(token, now=NOW + timedelta(days=2))
    assert failing(later) == {"time_validity": "credential_expired"}
    future = credential(now=NOW + timedelta(days=1))
    assert failing(trusted(trust_list()).verify(future, now=NOW)) == {
        "time_validity": "credential_not_yet_valid"
    }


def test_untrusted_withdrawn_out_of_scope() -> None:
    token = credential()
    assert failing(
        trusted(trust_list(trust_source(status="withdrawn"))).verify(token, now=NOW)
    ) == {"issuer_trusted": "issuer_untrusted"}
    narrow = trust_source(scope=[vct("SkillCredential")])
    assert failing(trusted(trust_list(narrow)).verify(token, now=NOW)) == {
        "issuer_trusted": "issuer_not_accredited_for_type"
    }
    stranger = credential(issuer="https://diploma-mill.example")
    assert failing(trusted(trust_list()).verify(stranger, now=NOW)) == {
        "issuer_trusted": "issuer_untrusted"
    }


def test_key_compromised_before_issuance() -> None:
    source = trust_source(compromised_at="2026-11-01T00:00:00Z")
    result = trusted(trust_list(source)).verify(credential(), now=NOW)
    assert failing(result) == {"key_validity": "key_compromised"}
    older = credential(now=NOW - timedelta(days=60))
    assert trusted(trust_list(source)).verify(older, now=NOW).valid


def test_signed_by_an_unlisted_key() -> None:
    forged = credential(issuer_key=key("mallory"))
    result = trusted(trust_list()).verify(forged, now=NOW)
    assert failing(result) == {"issuer_trusted": "key_not_found"}


def test_altered_payload_fails_the_signature() -> None:
    header, payload, signature = credential().split("~")[0].split(".")
    claims = json.loads(b64url_decode(payload))
    claims["exp"] += 86400 * 365
    forged = f"{header}.{b64url_encode(json_dumps(claims))}.{signature}~"
    result = trusted(trust_list()).verify(forged, now=NOW)
    assert failing(result) == {"signature": "invalid_signature"}
    assert result.check("disclosures").code == "not_checked"


@pytest.mark.parametrize("idx", [3])
def test_status_revoked_suspended_valid_unknown(idx: int) -> None:
    token = credential(status_idx=idx)
    lists = trust_list()
    ok = trusted(lists, status=(status_list_token(),)).verify(token, now=NOW)
    assert ok.valid and ok.status == "valid"
    assert ok.status_info is not None and ok.status_info["age_seconds"] == 0
    revoked = trusted(lists, status=(status_list_token(revoked=(idx,)),)).verify(token, now=NOW)
    assert (revoked.valid, revoked.status) == (False, "revoked")
    assert failing(revoked) == {"credential_status": "credential_revoked"}
    suspended = trusted(lists, status=(status_list_token(suspended=(idx,)),)).verify(token, now=NOW)
    assert suspended.status == "suspended"
    unknown = trusted(lists).verify(token, now=NOW)
    assert (unknown.valid, unknown.status) == (False, "unknown")
    assert failing(unknown) == {"credential_status": "status_unavailable"}


def test_status_list_signed_by_someone_else() -> None:
    token = credential(status_idx=1)
    forged = status_list_token(issuer_key=key("mallory"))
    result = trusted(trust_list(), status=(forged,)).verify(token, now=NOW)
    assert result.status == "unknown"
    assert failing(result)["credential_status"] in {"issuer_untrusted", "key_not_found"}


def test_status_list_age_is_reported() -> None:
    token = credential(status_idx=1)
    old = status_list_token(now=NOW - timedelta(hours=5))
    result = trusted(trust_list(), status=(old,)).verify(token, now=NOW)
    assert result.valid
    assert result.status_info["age_seconds"] == 5 * 3600  # type: ignore[index]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: "",
        lambda t: "not a token",
        lambda t: t.replace("~", "~~", 1),
        lambda t: t.split("~")[0][:-3] + "~",
        lambda t: "x" * 10_000_000,
    ],
)
def test_garbage_is_a_format_failure(mangle: object) -> None:
    result = trusted(trust_list()).verify(mangle(credential()), now=NOW)  # type: ignore[operator]
    assert not result.valid
    assert result.failures[0].name in {"format", "signature", "disclosures"}


def test_tampered_disclosure() -> None:
    token = credential()
    forged_disclosure = sdjwt.Disclosure.create("c2FsdA", "given_name", "Mallory").encoded
    jwt, *rest = token.split("~")
    result = trusted(trust_list()).verify("~".join([jwt, forged_disclosure, *rest]), now=NOW)
    assert failing(result) == {"disclosures": "invalid_disclosure"}


def test_schema_violation_in_signed_claims_is_reported() -> None:
    claims = example_claims()
    # a credential signed by a trusted key but not matching the schema (legacy/other tool)
    issued = sdjwt.issue(
        {"iss": ISSUER, "iat": int(NOW.timestamp()), "vct": vct(), **claims, "extra": 1},
        key("issuer"),
        typ="dc+sd-jwt",
    )
    result = trusted(trust_list()).verify(issued.compact, now=NOW)
    assert failing(result) == {"schema": "schema_violation"}


def test_verify_as_of_a_past_moment() -> None:
    token = credential(valid_for=timedelta(days=1))
    result = trusted(trust_list()).verify(token, now=NOW + timedelta(hours=1))
    assert result.valid


@pytest.mark.parametrize("iat", [1e20, -5, True, "2026-01-01"])
def test_absurd_times_are_a_format_failure_before_any_key_lookup(iat: object) -> None:
    issued = sdjwt.issue({"iss": ISSUER, "iat": iat, "vct": vct()}, key("issuer"), typ="dc+sd-jwt")
    result = trusted(trust_list()).verify(issued.compact, now=NOW)
    assert failing(result) == {"format": "invalid_claims"}
