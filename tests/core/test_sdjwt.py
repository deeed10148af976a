"""passerelle.sdjwt: issuance, presentation, and every rejection with its specific error."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from passerelle import errors, jose, sdjwt
from passerelle.encoding import b64url_decode, sha256_b64url
from passerelle.keys import SigningKey, generate_key, jwk_thumbprint, public_key_from_jwk

NONCE, AUDIENCE, NOW = "nonce-1", "https://verifier.example", 1_700_000_000
ISSUER = generate_key("ES256")
HOLDER = generate_key("EdDSA")
OTHER = generate_key("EdDSA")


def b64(data: bytes | str) -> str:
    return jose.b64url_encode(data.encode() if isinstance(data, str) else data)


def sign_raw(header: dict[str, Any], payload: dict[str, Any] | bytes, key: SigningKey) -> str:
    """A JWS with any header (no safety checks), for forging hostile tokens."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64(json.dumps(header))}.{b64(body)}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


def credential() -> dict[Any, Any]:
    return {
        "iss": "https://issuer.example",
        "cnf": {"jwk": HOLDER.public.to_jwk()},
        sdjwt.SD("given_name"): "Amina",
        sdjwt.SD("family_name"): "Diallo",
        sdjwt.SD("address"): {sdjwt.SD("street"): "1 Rue X", "country": "SN"},
        "nationalities": [sdjwt.SD("SN"), "FR", sdjwt.SD("ML")],
    }


ISSUED = sdjwt.issue(credential(), ISSUER, typ="dc+sd-jwt")


def presentation(paths: Any = (("given_name",), ("nationalities", 0)), **kw: Any) -> str:
    options = {"holder_key": HOLDER, "nonce": NONCE, "audience": AUDIENCE, "iat": NOW} | kw
    return sdjwt.present(ISSUED.compact, paths, **options)


def verify(token: str, **kw: Any) -> sdjwt.VerifiedSdJwt:
    options = {"nonce": NONCE, "audience": AUDIENCE, "now": NOW, "typ": "dc+sd-jwt"} | kw
    return sdjwt.verify(token, ISSUER.public, **options)


def forge(payload: dict[str, Any], disclosures: list[str], key: SigningKey = ISSUER) -> str:
    """An SD-JWT whose issuer really signed ``payload`` (hostile issuer-side structure)."""
    return sdjwt.SEPARATOR.join((jose.sign_compact(payload, key, typ=None), *disclosures, ""))


def d(name: str | None, value: Any, salt: str = "c2FsdHNhbHRzYWx0") -> sdjwt.Disclosure:
    return sdjwt.Disclosure.create(salt, name, value)


# ---------------------------------------------------------------------------------------
# issue / present / verify


def test_round_trip_selected_claims() -> None:
    verified = verify(presentation())
    assert verified.claims == {
        "iss": "https://issuer.example",
        "cnf": {"jwk": HOLDER.public.to_jwk()},
        "given_name": "Amina",
        "nationalities": ["SN", "FR"],
    }
    assert verified.kb_payload is not None
    assert set(verified.kb_payload) == {"nonce", "aud", "iat", "sd_hash"}


def test_issued_payload_shape() -> None:
    payload = ISSUED.payload
    assert payload["_sd_alg"] == "sha-256"
    assert payload["_sd"] == sorted(payload["_sd"]) and len(payload["_sd"]) == 3
    assert payload["nationalities"][1] == "FR"
    assert list(payload["nationalities"][0]) == ["..."]
    assert jose.parse_compact(ISSUED.jwt).header == {
        "alg": "ES256",
        "typ": "dc+sd-jwt",
        "kid": ISSUER.kid,
    }
    assert ISSUED.compact.endswith("~") and ISSUED.compact.count("~") == 7


def test_all_disclosed_and_paths() -> None:
    paths = sdjwt.disclosure_paths(ISSUED.compact)
    assert paths[:2] == [("nationalities", 0), ("nationalities", 2)]  # plain claims first
    assert sorted(paths, key=str) == sorted(
        [("address",), ("address", "street"), ("family_name",), ("given_name",),
         ("nationalities", 0), ("nationalities", 2)], key=str,
    )  # fmt: skip
    everything = sdjwt.verify(sdjwt.present(ISSUED.compact, lambda p: True), ISSUER.public)
    assert everything.claims["address"] == {"country": "SN", "street": "1 Rue X"}
    assert everything.claims["nationalities"] == ["SN", "FR", "ML"]


def test_parent_kept_when_child_kept_but_not_the_reverse() -> None:
    child = sdjwt.verify(sdjwt.present(ISSUED.compact, [("address", "street")]), ISSUER.public)
    assert child.claims["address"] == {"country": "SN", "street": "1 Rue X"}
    parent = sdjwt.verify(sdjwt.present(ISSUED.compact, [("address",)]), ISSUER.public)
    assert parent.claims["address"] == {"country": "SN"}


def test_presentation_without_key_binding_ends_with_tilde() -> None:
    token = sdjwt.present(ISSUED.compact, [])
    assert token == ISSUED.jwt + "~"
    assert sdjwt.verify(token, ISSUER.public).claims["nationalities"] == ["FR"]


def test_present_rejects_bad_requests() -> None:
    with pytest.raises(errors.InvalidInputError, match="given_nam"):
        sdjwt.present(ISSUED.compact, [("given_nam",)])
    with pytest.raises(errors.InvalidInputError):
        sdjwt.present(ISSUED.compact, [], holder_key=HOLDER, nonce=NONCE)
    with pytest.raises(errors.InvalidInputError):
        sdjwt.present(ISSUED.compact, [], nonce=NONCE, audience=AUDIENCE)
    with pytest.raises(errors.TokenFormatError):
        sdjwt.present(presentation(), [])  # an SD-JWT+KB is not presented again


def test_present_refuses_invalid_issuance() -> None:
    with pytest.raises(errors.DisclosureError):
        sdjwt.present(ISSUED.compact + d("x", 1).encoded + "~", [])


def test_issue_input_errors() -> None:
    bad: list[dict[Any, Any]] = [
        {"_sd": []},
        {"...": 1},
        {"_sd_alg": "sha-256"},
        {sdjwt.SD("_sd"): 1},
        {sdjwt.SD(1): 1},
        {"a": sdjwt.SD(1)},
        {"a": [sdjwt.SD(sdjwt.SD(1))]},
        {sdjwt.SD("a"): 1, "a": 2},
        {1: "a"},
        {"a": float("nan")},
        {"a": object()},
    ]
    for claims in bad:
        with pytest.raises(errors.InvalidInputError):
            sdjwt.issue(claims, ISSUER, typ=None)
    with pytest.raises(errors.InvalidInputError):
        sdjwt.issue({}, ISSUER, typ=None, decoys=-1)


def test_decoys_added_to_each_sd_array() -> None:
    issued = sdjwt.issue(credential(), ISSUER, typ=None, decoys=3)
    assert len(issued.payload["_sd"]) == 3 + 3
    address = next(x for x in issued.disclosures if x.name == "address")
    assert [x.name for x in issued.disclosures][:4] == [
        "given_name",
        "family_name",
        "street",
        "address",
    ]
    assert len(address.value["_sd"]) == 1 + 3  # the recursive disclosure's own _sd
    assert sdjwt.verify(issued.compact, ISSUER.public).claims["family_name"] == "Diallo"


def test_random_salt() -> None:
    salts = {sdjwt.random_salt() for _ in range(50)}
    assert len(salts) == 50
    assert all(len(jose.b64url_decode(s)) == 16 for s in salts)


def test_eddsa_issuer_and_resolver() -> None:
    issuer = generate_key("EdDSA")
    issued = sdjwt.issue({sdjwt.SD("a"): 1}, issuer, typ="dc+sd-jwt")
    seen: list[Any] = []

    def resolver(header: Any, payload: Any) -> Any:
        seen.append(header["kid"])
        return issuer.public

    assert sdjwt.verify(issued.compact, resolver).claims == {"a": 1}
    assert seen == [issuer.kid]


def test_holder_key_from_cnf() -> None:
    for key in (generate_key("ES256"), generate_key("EdDSA")):
        got = sdjwt.holder_key_from_cnf({"cnf": {"jwk": key.public.to_jwk()}})
        assert got.kid == key.kid == jwk_thumbprint(key.public.jwk)
        assert got.alg == key.alg and dict(got.jwk) == key.public.to_jwk()
    with pytest.raises(errors.KeyBindingError):
        sdjwt.holder_key_from_cnf({})
    with pytest.raises(errors.KeyBindingError):
        sdjwt.holder_key_from_cnf({"cnf": {"kid": "x"}})
    jwk = generate_key("ES256").public.to_jwk()
    off_curve = dict(jwk, y=b64(bytes(32)))
    with pytest.raises(errors.KeyError_):
        sdjwt.holder_key_from_cnf({"cnf": {"jwk": off_curve}})
    with pytest.raises(errors.KeyError_):
        sdjwt.holder_key_from_cnf({"cnf": {"jwk": dict(jwk, d=b64(bytes(32)))}})
    with pytest.raises(errors.KeyError_):
        sdjwt.holder_key_from_cnf({"cnf": {"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}})


# ---------------------------------------------------------------------------------------
# Disclosure parsing


@pytest.mark.parametrize(
    "content",
    [
        ["salt"],
        ["salt", "a", 1, 2],
        [1, "a", 1],
        ["salt", 1, 1],
        ["salt", "_sd", 1],
        ["salt", "...", 1],
        {"salt": "a"},
        "text",
    ],
)
def test_disclosure_shape_rejected(content: Any) -> None:
    with pytest.raises(errors.DisclosureError):
        sdjwt.Disclosure.parse(b64(json.dumps(content)))


@pytest.mark.parametrize(
    "encoded", ["WyJh!", "WyJhIiwgMV0=", "é", "WyJ+", b64("[NaN, 1]"), b64("[")]
)
def test_disclosure_encoding_rejected(encoded: str) -> None:
    with pytest.raises(errors.DisclosureError):
        sdjwt.Disclosure.parse(encoded)


@pytest.mark.parametrize("text", ["YQ==", "YR", "Y", "a+b/", "YQ\n", "é"])
def test_strict_base64url(text: str) -> None:
    with pytest.raises(errors.Base64UrlError):
        b64url_decode(text)
    assert b64url_decode("YQ") == b"a"


# ---------------------------------------------------------------------------------------
# Parsing, sizes, serializations


def test_parse_compact_parts() -> None:
    token = presentation()
    parsed = sdjwt.parse(token)
    assert parsed.issuer_jwt == ISSUED.jwt and len(parsed.disclosures) == 2
    assert parsed.kb_jwt is not None and token == parsed.sd_hash_input + parsed.kb_jwt
    for bad in ("", ISSUED.jwt, ISSUED.jwt + "~~", "a.b~", ISSUED.jwt + "~x.y"):
        with pytest.raises(errors.TokenFormatError):
            sdjwt.parse(bad)


def test_ten_megabytes_rejected_fast() -> None:
    huge = "A" * (10 * 1024 * 1024)
    start = time.perf_counter()
    for token in (huge, "{" + huge, ISSUED.compact + huge):
        with pytest.raises(errors.TokenTooLargeError):
            sdjwt.parse(token)
        with pytest.raises(errors.TokenTooLargeError):
            verify(token)
    assert time.perf_counter() - start < 0.05


def test_json_serialization_flattened_and_general() -> None:
    for general in (False, True):
        issued = ISSUED.to_json(general=general)
        parsed = sdjwt.parse(issued)
        assert parsed.serialization == "json" and parsed.issuer_jwt == ISSUED.jwt
        token = sdjwt.present(
            issued, [("family_name",)], holder_key=HOLDER, nonce=NONCE, audience=AUDIENCE, iat=NOW
        )
        envelope = json.loads(token)
        header = envelope["signatures"][0]["header"] if general else envelope["header"]
        assert len(header["disclosures"]) == 1 and "kb_jwt" in header
        assert verify(token).claims["family_name"] == "Diallo"
        assert sdjwt.parse(token).sd_hash_input == ISSUED.jwt + "~" + header["disclosures"][0] + "~"


def test_json_serialization_rules() -> None:
    flat = json.loads(ISSUED.to_json())
    general = json.loads(ISSUED.to_json(general=True))
    second = {"protected": flat["protected"], "signature": flat["signature"],
              "header": {"disclosures": []}}  # fmt: skip
    cases: list[tuple[dict[str, Any], type[Exception]]] = [
        ({**flat, "disclosures": []}, errors.TokenFormatError),
        ({**flat, "header": {"disclosures": "x"}}, errors.TokenFormatError),
        ({**flat, "header": {"jwk": {}}}, errors.HeaderError),
        ({**flat, "header": {"alg": "none"}}, errors.HeaderError),
        ({**flat, "header": {"kb_jwt": 1}}, errors.TokenFormatError),
        ({k: v for k, v in flat.items() if k != "protected"}, errors.TokenFormatError),
        ({**general, "signatures": [*general["signatures"], second]}, errors.TokenFormatError),
        ({**general, "signatures": []}, errors.TokenFormatError),
    ]
    for envelope, error in cases:
        with pytest.raises(error):
            sdjwt.parse(json.dumps(envelope))
    with pytest.raises(errors.JsonError):
        sdjwt.parse("{not json")
    both = {**flat, "header": {**flat["header"], "typ": "x"}}
    with pytest.raises(errors.HeaderError):
        sdjwt.verify(json.dumps(both), ISSUER.public)


# ---------------------------------------------------------------------------------------
# Hostile issuer-signed JWTs


def test_alg_none_rejected() -> None:
    payload = ISSUED.jwt.split(".")[1]
    token = f"{b64(json.dumps({'alg': 'none', 'typ': 'dc+sd-jwt'}))}.{payload}.~"
    with pytest.raises(errors.AlgorithmError):
        verify(token, nonce=None, audience=None)


def test_hs256_with_public_key_bytes_rejected() -> None:
    secret = json.dumps(ISSUER.public.to_jwk()).encode()
    signing_input = f"{b64(json.dumps({'alg': 'HS256'}))}.{ISSUED.jwt.split('.')[1]}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(errors.AlgorithmError):
        verify(f"{signing_input}.{b64(mac)}~", nonce=None, audience=None)


@pytest.mark.parametrize("name", ["jwk", "jku", "x5u", "x5c", "crit"])
def test_key_carrying_headers_rejected(name: str) -> None:
    header = {"alg": "ES256", "typ": "dc+sd-jwt", name: "https://evil.example/key"}
    token = sign_raw(header, ISSUED.payload, ISSUER) + "~"
    with pytest.raises(errors.HeaderError):
        verify(token, nonce=None, audience=None)


def test_wrong_typ_and_wrong_key() -> None:
    with pytest.raises(errors.TypError):
        verify(presentation(), typ="example+sd-jwt")
    with pytest.raises(errors.AlgorithmError):
        sdjwt.verify(ISSUED.compact, OTHER.public)  # EdDSA key for an ES256 token
    with pytest.raises(errors.SignatureError):
        sdjwt.verify(ISSUED.compact, generate_key("ES256").public)


def flip(text: str, index: int) -> str:
    replacement = "B" if text[index] != "B" else "C"
    return text[:index] + replacement + text[index + 1 :]


def test_flipped_signature_and_payload() -> None:
    header, payload, signature = ISSUED.jwt.split(".")
    with pytest.raises(errors.SignatureError):
        sdjwt.verify(f"{header}.{payload}.{flip(signature, 10)}~", ISSUER.public)
    changed = dict(ISSUED.payload, iss="https://evil.example")
    with pytest.raises(errors.SignatureError):
        sdjwt.verify(f"{header}.{b64(json.dumps(changed))}.{signature}~", ISSUER.public)
    with pytest.raises(errors.Base64UrlError):
        sdjwt.verify(f"{header}.{payload}!.{signature}~", ISSUER.public)
    with pytest.raises(errors.JsonError):
        sdjwt.verify(f"{b64('not json')}.{payload}.{signature}~", ISSUER.public)


def test_flipped_disclosure_in_every_position() -> None:
    token = sdjwt.present(ISSUED.compact, lambda p: True)
    parsed = sdjwt.parse(token)
    for number, disclosure in enumerate(parsed.disclosures):
        content = json.loads(jose.b64url_decode(disclosure))
        content[-1] = "tampered"
        forged = list(parsed.disclosures)
        forged[number] = b64(json.dumps(content))
        with pytest.raises(errors.DisclosureError, match="not referenced"):
            sdjwt.verify(sdjwt.SEPARATOR.join((parsed.issuer_jwt, *forged, "")), ISSUER.public)
        forged[number] = flip(disclosure, 5)
        with pytest.raises(errors.DisclosureError):
            sdjwt.verify(sdjwt.SEPARATOR.join((parsed.issuer_jwt, *forged, "")), ISSUER.public)


def test_removed_reordered_duplicated_disclosures() -> None:
    parsed = sdjwt.parse(sdjwt.present(ISSUED.compact, lambda p: True))
    first, *rest = parsed.disclosures
    reordered = sdjwt.SEPARATOR.join((parsed.issuer_jwt, *rest, first, ""))
    # order does not matter for the SD-JWT itself (RFC 9901 section 4)
    full = sdjwt.verify(sdjwt.SEPARATOR.join((parsed.issuer_jwt, first, *rest, "")), ISSUER.public)
    assert sdjwt.verify(reordered, ISSUER.public).claims == full.claims
    removed = sdjwt.SEPARATOR.join((parsed.issuer_jwt, *rest, ""))
    assert sdjwt.verify(removed, ISSUER.public).claims != full.claims
    duplicated = sdjwt.SEPARATOR.join((parsed.issuer_jwt, first, first, *rest, ""))
    with pytest.raises(errors.DisclosureError, match="twice"):
        sdjwt.verify(duplicated, ISSUER.public)


def test_key_binding_covers_disclosures_and_their_order() -> None:
    token = presentation(lambda p: True)
    parsed = sdjwt.parse(token)
    assert parsed.kb_jwt is not None
    first, *rest = parsed.disclosures
    for disclosures in ((*rest, first), tuple(rest)):
        changed = sdjwt.SEPARATOR.join((parsed.issuer_jwt, *disclosures, parsed.kb_jwt))
        with pytest.raises(errors.SdHashMismatchError):
            verify(changed)
    # a KB-JWT signed over reordered disclosures is fine
    holder_reordered = sdjwt.SEPARATOR.join((parsed.issuer_jwt, *rest, first, ""))
    kb = jose.sign_compact(
        {"nonce": NONCE, "aud": AUDIENCE, "iat": NOW,
         "sd_hash": sha256_b64url(holder_reordered.encode())},
        HOLDER, typ="kb+jwt", include_kid=False,
    )  # fmt: skip
    assert verify(holder_reordered + kb).claims == verify(token).claims


def test_unreferenced_disclosure_rejected() -> None:
    stranger = sdjwt.issue({sdjwt.SD("given_name"): "Eve"}, ISSUER, typ=None).disclosures[0]
    with pytest.raises(errors.DisclosureError, match="not referenced"):
        sdjwt.verify(ISSUED.compact + stranger.encoded + "~", ISSUER.public)


# ---------------------------------------------------------------------------------------
# process_disclosures: section 7.1 rules on forged (issuer-signed) structures


def test_digest_appearing_twice() -> None:
    x = d("a", 1)
    for payload in (
        {"_sd": [x.digest, x.digest]},
        {"_sd": [x.digest], "b": {"_sd": [x.digest]}},
        {"_sd": ["decoy"], "b": [{"...": "decoy"}]},
    ):
        with pytest.raises(errors.DisclosureError, match="more than once"):
            sdjwt.process_disclosures(payload, [x.encoded])
    inner = d("b", 2)
    outer = d("a", {"_sd": [inner.digest, inner.digest]})
    with pytest.raises(errors.DisclosureError, match="more than once"):
        sdjwt.process_disclosures({"_sd": [outer.digest]}, [outer.encoded, inner.encoded])


def test_ellipsis_rules() -> None:
    x = d(None, "v")
    for payload in (
        {"a": [{"...": x.digest, "extra": 1}]},
        {"a": [{"...": 5}]},
        {"a": {"...": x.digest}},
        {"...": x.digest},
    ):
        with pytest.raises(errors.DisclosureError):
            sdjwt.process_disclosures(payload, [x.encoded])
    assert sdjwt.process_disclosures({"a": [{"...": x.digest}, 1]}, [x.encoded]) == {"a": ["v", 1]}
    assert sdjwt.process_disclosures({"a": [{"...": x.digest}, 1]}, []) == {"a": [1]}


def test_disclosure_named_sd_or_ellipsis_rejected() -> None:
    for name in ("_sd", "..."):
        encoded = b64(json.dumps(["salt", name, 1]))
        digest = sha256_b64url(encoded.encode())
        token = forge({"_sd": [digest]}, [encoded])
        with pytest.raises(errors.DisclosureError, match="named"):
            sdjwt.verify(token, ISSUER.public)


def test_kind_of_disclosure_must_match_where_referenced() -> None:
    element, prop = d(None, 1), d("a", 1)
    with pytest.raises(errors.DisclosureError, match="array element"):
        sdjwt.process_disclosures({"_sd": [element.digest]}, [element.encoded])
    with pytest.raises(errors.DisclosureError, match="object property"):
        sdjwt.process_disclosures({"x": [{"...": prop.digest}]}, [prop.encoded])


def test_claim_name_collision() -> None:
    x = d("a", 1)
    with pytest.raises(errors.DisclosureError, match="already exists"):
        sdjwt.process_disclosures({"_sd": [x.digest], "a": 2}, [x.encoded])
    y = d("a", 3, salt="b3RoZXJzYWx0")
    with pytest.raises(errors.DisclosureError, match="already exists"):
        sdjwt.process_disclosures({"_sd": [x.digest, y.digest]}, [x.encoded, y.encoded])
    z = d("_sd_alg", "x")
    with pytest.raises(errors.DisclosureError, match="already exists"):
        sdjwt.process_disclosures({"_sd": [z.digest], "_sd_alg": "sha-256"}, [z.encoded])


def test_sd_array_and_alg_rules() -> None:
    for payload in ({"_sd": "x"}, {"_sd": [1]}, {"a": {"_sd_alg": "sha-256"}}):
        with pytest.raises(errors.DisclosureError):
            sdjwt.process_disclosures(payload, [])
    for alg in ("sha-512", "SHA-256", 1):
        with pytest.raises(errors.DisclosureError, match="_sd_alg"):
            sdjwt.process_disclosures({"_sd_alg": alg}, [])
    assert sdjwt.process_disclosures({"_sd": [], "a": {"_sd": ["decoy"]}}, []) == {"a": {}}
    assert sdjwt.process_disclosures({"_sd_alg": "sha-256", "b": 1}, []) == {"b": 1}


def test_recursive_disclosures_and_input_untouched() -> None:
    inner = d(None, "DE")
    outer = d("nationalities", [{"...": inner.digest}, "FR"])
    payload = {"_sd": [outer.digest]}
    snapshot = json.dumps(payload)
    assert sdjwt.process_disclosures(payload, [outer.encoded, inner.encoded]) == {
        "nationalities": ["DE", "FR"]
    }
    assert sdjwt.process_disclosures(payload, [outer.encoded]) == {"nationalities": ["FR"]}
    with pytest.raises(errors.DisclosureError, match="not referenced"):
        sdjwt.process_disclosures(payload, [inner.encoded])
    assert json.dumps(payload) == snapshot


def test_depth_limit() -> None:
    deep: Any = 1
    for _ in range(sdjwt.MAX_DEPTH + 2):
        deep = {"a": deep}
    with pytest.raises(errors.DisclosureError, match="deeper"):
        sdjwt.process_disclosures(deep, [])


# ---------------------------------------------------------------------------------------
# Key binding


def kb_token(claims: dict[str, Any], *, key: SigningKey = HOLDER, typ: str = "kb+jwt") -> str:
    sd_jwt = sdjwt.present(ISSUED.compact, [("given_name",)])
    body = {"nonce": NONCE, "aud": AUDIENCE, "iat": NOW,
            "sd_hash": sha256_b64url(sd_jwt.encode())} | claims  # fmt: skip
    return sd_jwt + jose.sign_compact(body, key, typ=typ, include_kid=False)


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (presentation(audience="https://other.example"), errors.AudienceMismatchError),
        (presentation(nonce="other"), errors.NonceMismatchError),
        (presentation(iat=NOW - 301), errors.KeyBindingTimeError),
        (presentation(iat=NOW + 61), errors.KeyBindingTimeError),
        (kb_token({"sd_hash": "x" * 43}), errors.SdHashMismatchError),
        (kb_token({"aud": [AUDIENCE]}), errors.AudienceMismatchError),
        (kb_token({"nonce": 1}), errors.NonceMismatchError),
        (kb_token({"iat": "now"}), errors.KeyBindingTimeError),
        (kb_token({"exp": NOW - 100}), errors.KeyBindingTimeError),
        (kb_token({}, typ="JWT"), errors.TypError),
        (kb_token({}, key=OTHER), errors.SignatureError),
        (kb_token({}, key=generate_key("ES256")), errors.AlgorithmError),
        (ISSUED.compact, errors.KeyBindingError),
    ],
)
def test_key_binding_rejections(token: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify(token)


def test_key_binding_accepted_within_window() -> None:
    for iat in (NOW - 300, NOW + 60):
        assert verify(presentation(iat=iat)).kb_payload is not None
    assert verify(kb_token({}))


def test_key_binding_required_modes() -> None:
    with pytest.raises(errors.KeyBindingError):
        sdjwt.verify(
            ISSUED.compact, ISSUER.public, require_key_binding=True, nonce="n", audience="a"
        )
    with pytest.raises(errors.InvalidInputError):
        sdjwt.verify(ISSUED.compact, ISSUER.public, nonce="n")
    # present but not required: checked except nonce and aud
    assert sdjwt.verify(presentation(), ISSUER.public, now=NOW).kb_payload is not None
    with pytest.raises(errors.SdHashMismatchError):
        sdjwt.verify(kb_token({"sd_hash": "x"}), ISSUER.public, now=NOW)


def test_verify_key_binding_step() -> None:
    parsed = sdjwt.parse(presentation())
    holder = sdjwt.holder_key_from_cnf(ISSUED.payload)
    kb = sdjwt.verify_key_binding(parsed, holder, nonce=NONCE, audience=AUDIENCE, now=NOW)
    assert kb["sd_hash"] == sha256_b64url(parsed.sd_hash_input.encode())
    with pytest.raises(errors.KeyBindingTimeError):
        sdjwt.verify_key_binding(
            parsed, holder, nonce=NONCE, audience=AUDIENCE, now=NOW + 20, max_age=10
        )


def test_kb_with_non_ascii_is_rejected_cleanly() -> None:
    parsed = sdjwt.parse(presentation())
    assert parsed.kb_jwt is not None
    odd = sdjwt.ParsedSdJwt(parsed.issuer_jwt, ("é",), parsed.kb_jwt)
    with pytest.raises(errors.SdHashMismatchError):
        sdjwt.verify_key_binding(
            odd,
            public_key_from_jwk(HOLDER.public.to_jwk()),
            nonce=NONCE,
            audience=AUDIENCE,
            now=NOW,
        )


def test_exported_names() -> None:
    assert sorted(sdjwt.__all__) == sorted(set(sdjwt.__all__))
    for name in sdjwt.__all__:
        assert hasattr(sdjwt, name)
