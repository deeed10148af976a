"""SD-JWT VC issuance: registered claims, issuer identifiers, holder binding, status."""

from __future__ import annotations

from collections import OrderedDict
from datetime import timedelta

import pytest

from passerelle import errors, jose, sdjwt
from passerelle.credential import VC_TYP, issue_credential, mark_disclosable
from passerelle.credtypes import load_types
from tests.factories import NOW, example_claims, key

QUALIFICATION = load_types().get("QualificationCredential")


def issue(**options: object) -> sdjwt.IssuedSdJwt:
    arguments: dict[str, object] = {
        "credential_type": QUALIFICATION,
        "key": key("issuer"),
        "issuer": "https://centre.example",
        "now": NOW,
    }
    arguments.update(options)
    return issue_credential(example_claims(), **arguments)  # type: ignore[arg-type]


def test_header_and_registered_claims() -> None:
    holder = key("holder", "ES256")
    issued = issue(
        holder_jwk=holder.public.to_jwk(),
        valid_for=timedelta(days=2),
        status={"idx": 5, "uri": "https://centre.example/status/1"},
    )
    jws = jose.parse_compact(issued.jwt)
    assert jws.header == {"alg": "EdDSA", "typ": VC_TYP, "kid": key("issuer").kid}
    payload = jws.payload
    assert payload["iss"] == "https://centre.example"
    assert payload["vct"] == QUALIFICATION.vct
    assert payload["exp"] - payload["iat"] == 2 * 86400
    assert payload["cnf"] == {"jwk": holder.public.to_jwk()}
    assert payload["status"] == {
        "status_list": {"idx": 5, "uri": "https://centre.example/status/1"}
    }
    # personal data is disclosable, the achievement visible
    assert "given_name" not in payload and "birthdate" not in payload
    assert payload["qualification"]["eqf_level"] == 3


@pytest.mark.parametrize(
    "issuer",
    [
        "http://centre.example",
        "ftp://centre.example",
        "https://user@centre.example",
        "https://centre.example/#frag",
        "centre.example",
    ],
)
def test_issuer_identifier_must_be_https(issuer: str) -> None:
    with pytest.raises(errors.InvalidInputError, match="https"):
        issue(issuer=issuer)


@pytest.mark.parametrize("issuer", ["http://localhost:8000/tenants/a", "http://127.0.0.1:9"])
def test_localhost_pilots_may_use_http(issuer: str) -> None:
    assert jose.parse_compact(issue(issuer=issuer).jwt).payload["iss"] == issuer


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"status": {"idx": -1, "uri": "https://x.example/s"}}, errors.InvalidInputError),
        ({"status": {"idx": True, "uri": "https://x.example/s"}}, errors.InvalidInputError),
        ({"status": {"idx": 1, "uri": ""}}, errors.InvalidInputError),
        ({"valid_for": timedelta(0)}, errors.InvalidInputError),
        ({"holder_jwk": {"kty": "RSA", "n": "x", "e": "AQAB"}}, errors.KeyError_),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        issue(**options)


def test_registered_claims_cannot_come_from_the_subject() -> None:
    claims = {**example_claims(), "iss": "https://evil.example"}
    with pytest.raises(errors.InvalidInputError, match="iss"):
        issue_credential(claims, credential_type=QUALIFICATION, key=key("issuer"),
                         issuer="https://centre.example", now=NOW)  # fmt: skip


def test_marking_disclosable_leaves_the_callers_claims_alone() -> None:
    claims = {
        "name": "Amina",
        "skills": [{"code": "7411", "level": 3}, {"code": "7412", "level": 2}],
        "address": OrderedDict(city="Dakar", country="SN"),
    }
    before = repr(claims)
    marked = mark_disclosable(
        claims, [("name",), ("skills", None), ("skills", None, "code"), ("address", "city")]
    )
    assert repr(claims) == before  # nothing of the input changed, nested parts included
    assert marked[sdjwt.SD("name")] == "Amina"
    skills = marked["skills"]
    assert [type(s) for s in skills] == [sdjwt.SD, sdjwt.SD]
    assert skills[0].value == {sdjwt.SD("code"): "7411", "level": 3}
    assert marked["address"] == {sdjwt.SD("city"): "Dakar", "country": "SN"}
