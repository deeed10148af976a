"""The JOSE layer: RFC vectors, the safe-by-default rules and the error mapping.

Vectors: tests/vectors/07_rfc_jws (RFC 8037 A.1-A.5, RFC 7515 A.2/A.3; source in its README).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import inspect
import json
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import cryptography.exceptions
import jwt
import jwt.exceptions
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from passerelle import errors, jose
from passerelle.keys import (
    PublicKey,
    SigningKey,
    generate_key,
    jwk_thumbprint,
    private_key_from_jwk,
    public_key_from_jwk,
)

RFC_JWS = Path(__file__).resolve().parents[1] / "vectors" / "07_rfc_jws"


@functools.cache
def vector(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RFC_JWS / name).read_text(encoding="utf-8"))
    return data


def ed25519_vector() -> dict[str, Any]:
    return vector("rfc8037_A_Ed25519.json")


def es256_vector() -> dict[str, Any]:
    return vector("rfc7515_A3_ES256.json")


def rs256_vector() -> dict[str, Any]:
    return vector("rfc7515_A2_RS256.json")


@functools.cache
def key(alg: str) -> SigningKey:
    return generate_key(alg)


def b64(data: bytes | str) -> str:
    return jose.b64url_encode(data.encode() if isinstance(data, str) else data)


def raw_token(
    header: Mapping[str, Any] | bytes,
    payload: Mapping[str, Any] | bytes = b'{"sub":"x"}',
    signer: SigningKey | Callable[[bytes], bytes] | None = None,
) -> str:
    """A compact JWS built by hand (no checks), signed by ``signer`` or with no signature."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64(head)}.{b64(body)}"
    if signer is None:
        signature = b""
    elif isinstance(signer, SigningKey):
        signature = signer.sign(signing_input.encode())
    else:
        signature = signer(signing_input.encode())
    return f"{signing_input}.{b64(signature)}"


def parts(token: str) -> list[str]:
    return token.split(".")


# ---------------------------------------------------------------------------------------
# RFC 8037 Appendix A (Ed25519)


def test_rfc8037_a1_private_key() -> None:
    v = ed25519_vector()
    signing = private_key_from_jwk(v["A1_private_jwk"])
    raw_private = signing.private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    assert raw_private.hex() == v["A1_secret_hex"]
    assert jose.b64url_decode(v["A1_private_jwk"]["x"]).hex() == v["A1_public_hex"]
    assert signing.alg == "EdDSA"


def test_rfc8037_a2_public_key() -> None:
    v = ed25519_vector()
    public = public_key_from_jwk(v["A2_public_jwk"])
    assert public.alg == "EdDSA"
    assert public.to_jwk() == v["A2_public_jwk"]
    assert private_key_from_jwk(v["A1_private_jwk"]).public.to_jwk() == v["A2_public_jwk"]


def test_rfc8037_a3_thumbprint() -> None:
    v = ed25519_vector()
    assert hashlib.sha256(v["A3_thumbprint_input"].encode()).hexdigest() == v["A3_thumbprint_hex"]
    assert jwk_thumbprint(v["A2_public_jwk"]) == v["A3_thumbprint_b64url"]
    assert jwk_thumbprint(v["A1_private_jwk"]) == v["A3_thumbprint_b64url"]  # d is ignored
    assert jose.b64url_decode(v["A3_thumbprint_b64url"]).hex() == v["A3_thumbprint_hex"]
    assert public_key_from_jwk(v["A2_public_jwk"]).kid == v["A3_thumbprint_b64url"]


def test_rfc8037_a4_signing_is_exact() -> None:
    v = ed25519_vector()
    signing = private_key_from_jwk(v["A1_private_jwk"])
    token = jose.sign_compact(
        v["A4_payload"].encode(), signing, typ=None, include_kid=False
    )  # header {"alg":"EdDSA"} only
    assert token == v["A4_compact"]
    header_b64, payload_b64, signature_b64 = parts(token)
    assert header_b64 == "eyJhbGciOiJFZERTQSJ9" == b64(v["A4_protected_header"])
    assert f"{header_b64}.{payload_b64}" == v["A4_signing_input"]
    assert jose.b64url_decode(signature_b64).hex() == v["A4_signature_hex"]
    assert signature_b64 == v["A4_signature_b64url"]


def test_rfc8037_a5_verification() -> None:
    v = ed25519_vector()
    public = public_key_from_jwk(v["A2_public_jwk"])
    header_b64, payload_b64, signature_b64 = parts(v["A5_compact_to_validate"])
    signature = jose.b64url_decode(signature_b64)
    assert public.verify(f"{header_b64}.{payload_b64}".encode(), signature)
    assert not public.verify(f"{header_b64}.{payload_b64}x".encode(), signature)
    assert jose.b64url_decode(payload_b64) == v["A4_payload"].encode()


def test_rfc8037_a5_non_json_payload_is_refused_by_the_jws_layer() -> None:
    """Our JWS layer only carries JSON-object payloads; the RFC's text payload is refused
    as such (after the header checks), never silently accepted."""
    v = ed25519_vector()
    with pytest.raises(errors.JsonError):
        jose.decode_compact(v["A5_compact_to_validate"], public_key_from_jwk(v["A2_public_jwk"]))


def test_rfc8037_key_with_other_payload_round_trips() -> None:
    signing = private_key_from_jwk(ed25519_vector()["A1_private_jwk"])
    token = jose.sign_compact({"iss": "https://a.example"}, signing, typ="JWT")
    jws = jose.decode_compact(token, signing.public, typ="JWT", require_kid=True)
    assert jws.header == {"alg": "EdDSA", "typ": "JWT", "kid": signing.kid}
    assert jws.payload == {"iss": "https://a.example"}


# ---------------------------------------------------------------------------------------
# RFC 7515 Appendix A.3 (ES256) and A.2 (RS256, refused)


def es256_public() -> PublicKey:
    jwk = {k: v for k, v in es256_vector()["jwk_private"].items() if k != "d"}
    return public_key_from_jwk(jwk)


def test_rfc7515_a3_es256_verifies_over_the_received_bytes() -> None:
    v = es256_vector()
    jws = jose.decode_compact(v["compact"], es256_public())
    assert jws.signing_input == v["signing_input"].encode()
    assert jws.payload == {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}
    assert jose.b64url_decode(parts(v["compact"])[1]) == v["payload"].encode()  # CRLFs kept
    assert jws.header == {"alg": "ES256"}


def test_rfc7515_a3_resigning_gives_another_valid_signature() -> None:
    v = es256_vector()
    signing = private_key_from_jwk(v["jwk_private"])
    assert signing.kid == es256_public().kid
    token = jose.sign_compact(v["payload"].encode(), signing, typ=None, include_kid=False)
    assert token.rsplit(".", 1)[0] == v["signing_input"]
    assert token != v["compact"]  # ECDSA is randomised
    assert len(jose.b64url_decode(parts(token)[2])) == 64  # raw r||s, not DER
    jose.decode_compact(token, es256_public())


@pytest.mark.parametrize("position", [0, 10, 31, 32, 50, 63])
def test_rfc7515_a3_changed_signature_fails(position: int) -> None:
    v = es256_vector()
    header_b64, payload_b64, signature_b64 = parts(v["compact"])
    signature = bytearray(jose.b64url_decode(signature_b64))
    signature[position] ^= 0x01
    forged = f"{header_b64}.{payload_b64}.{b64(bytes(signature))}"
    with pytest.raises(errors.SignatureError):
        jose.decode_compact(forged, es256_public())


def test_rfc7515_a3_der_signature_is_refused() -> None:
    v = es256_vector()
    header_b64, payload_b64, signature_b64 = parts(v["compact"])
    raw = jose.b64url_decode(signature_b64)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    with pytest.raises(errors.SignatureError):
        jose.decode_compact(f"{header_b64}.{payload_b64}.{b64(der)}", es256_public())


def test_rfc7515_a3_is_valid_for_pyjwt_too() -> None:
    """Cross-check with PyJWT itself (expiry off: the vector is from 2011)."""
    v = es256_vector()
    claims = jwt.decode(
        v["compact"], es256_public().key, algorithms=["ES256"], options={"verify_exp": False}
    )
    assert claims["iss"] == "joe"


def test_rfc7515_a2_rs256_is_refused_by_the_allow_list() -> None:
    v = rs256_vector()
    with pytest.raises(errors.AlgorithmError):
        jose.parse_compact(v["compact"])
    with pytest.raises(errors.AlgorithmError):
        jose.decode_compact(v["compact"], es256_public())
    with pytest.raises(errors.KeyError_):
        public_key_from_jwk({k: v["jwk_private"][k] for k in ("kty", "n", "e")})
    with pytest.raises(errors.AlgorithmError):
        generate_key("RS256")


# ---------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_sign_and_decode_round_trip(alg: str) -> None:
    signing = key(alg)
    token = jose.sign_compact({"a": "é", "n": 1}, signing, typ="dc+sd-jwt")
    jws = jose.decode_compact(token, signing.public, typ="dc+sd-jwt", require_kid=True)
    assert list(jws.header.items()) == [("alg", alg), ("typ", "dc+sd-jwt"), ("kid", signing.kid)]
    assert jws.payload == {"a": "é", "n": 1}
    assert jws.alg == alg


def test_resolver_sees_header_and_payload() -> None:
    signing = key("EdDSA")
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def resolve(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
        seen.append((dict(header), dict(payload)))
        return signing.public

    token = jose.sign_compact({"iss": "https://i.example"}, signing, typ="JWT")
    jose.decode_compact(token, resolve)
    assert seen == [
        ({"alg": "EdDSA", "typ": "JWT", "kid": signing.kid}, {"iss": "https://i.example"})
    ]


def test_resolver_is_not_asked_for_a_refused_header() -> None:
    def resolve(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
        raise AssertionError("must not be called")

    with pytest.raises(errors.AlgorithmError):
        jose.decode_compact(raw_token({"alg": "none"}), resolve)


def test_resolver_errors_propagate() -> None:
    def resolve(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
        raise errors.KeyNotFoundError("no key")

    token = jose.sign_compact({}, key("EdDSA"), typ="JWT")
    with pytest.raises(errors.KeyNotFoundError):
        jose.decode_compact(token, resolve)


def test_another_key_of_the_same_alg_fails() -> None:
    token = jose.sign_compact({}, key("EdDSA"), typ="JWT")
    with pytest.raises(errors.SignatureError):
        jose.decode_compact(token, generate_key("EdDSA").public)


# ---------------------------------------------------------------------------------------
# Algorithms


@pytest.mark.parametrize(
    "alg",
    [
        "none",
        "None",
        "NONE",
        "",
        None,
        "HS256",
        "HS512",
        "RS256",
        "PS256",
        "ES384",
        "ES512",
        "ES256K",
        "Ed25519",
        "eddsa",
        "es256",
        ["EdDSA"],
        {"alg": "EdDSA"},
        1,
    ],
)
def test_algorithms_outside_the_allow_list_are_refused(alg: Any) -> None:
    token = raw_token({"alg": alg}, signer=key("EdDSA"))
    with pytest.raises(errors.AlgorithmError):
        jose.parse_compact(token)
    with pytest.raises(errors.AlgorithmError):
        jose.decode_compact(token, key("EdDSA").public)


def test_missing_alg_is_refused() -> None:
    with pytest.raises(errors.AlgorithmError):
        jose.parse_compact(raw_token({"typ": "JWT"}, signer=key("EdDSA")))


def test_alg_none_with_empty_signature() -> None:
    token = raw_token({"alg": "none"}, {"iss": "x"})
    assert token.endswith(".")
    with pytest.raises(errors.AlgorithmError):
        jose.decode_compact(token, key("EdDSA").public)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
@pytest.mark.parametrize("secret_form", ["raw", "pem", "der", "jwk"])
def test_hs256_signed_with_the_public_key_is_refused(alg: str, secret_form: str) -> None:
    """The classic confusion attack: HMAC keyed with the verifier's public key."""
    public = key(alg).public
    secret = {
        "raw": lambda: (
            public.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            if alg == "EdDSA"
            else public.key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        ),
        "pem": lambda: public.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "der": lambda: public.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk": lambda: json.dumps(public.to_jwk()).encode(),
    }[secret_form]()

    def forge(signing_input: bytes) -> bytes:
        return hmac.new(secret, signing_input, hashlib.sha256).digest()

    for header in ({"alg": "HS256"}, {"alg": "HS256", "kid": public.kid, "typ": "JWT"}):
        token = raw_token(header, {"iss": "x"}, signer=forge)
        with pytest.raises(errors.AlgorithmError):
            jose.decode_compact(token, public)


@pytest.mark.parametrize(("claimed", "actual"), [("ES256", "EdDSA"), ("EdDSA", "ES256")])
def test_alg_that_does_not_match_the_key_is_refused(claimed: str, actual: str) -> None:
    signing = key(actual)
    token = raw_token({"alg": claimed, "kid": signing.kid}, signer=signing)
    with pytest.raises(errors.AlgorithmError):
        jose.decode_compact(token, signing.public)
    # and a token honestly signed for one alg never verifies with a key of the other
    honest = jose.sign_compact({}, key(claimed), typ=None)
    with pytest.raises(errors.AlgorithmError):
        jose.decode_compact(honest, signing.public)


def test_sign_compact_refuses_an_alg_override() -> None:
    with pytest.raises(errors.AlgorithmError):
        jose.sign_compact({}, key("EdDSA"), typ="JWT", extra_header={"alg": "ES256"})
    with pytest.raises(errors.AlgorithmError):
        jose.sign_compact({}, key("EdDSA"), typ="JWT", extra_header={"alg": "none"})


# ---------------------------------------------------------------------------------------
# Header parameters and typ


FORBIDDEN: dict[str, Any] = {
    "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
    "jku": "https://attacker.example/jwks.json",
    "x5u": "https://attacker.example/cert.pem",
    "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"],
    "crit": ["exp"],
}


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_key_carrying_and_crit_headers_are_refused(name: str) -> None:
    signing = key("EdDSA")
    value = signing.public.to_jwk() if name == "jwk" else FORBIDDEN[name]
    token = raw_token({"alg": "EdDSA", name: value, "exp": 1}, signer=signing)  # signed
    with pytest.raises(errors.HeaderError):
        jose.parse_compact(token)
    with pytest.raises(errors.HeaderError):
        jose.decode_compact(token, signing.public)
    with pytest.raises(errors.HeaderError):
        jose.sign_compact({}, signing, typ="JWT", extra_header={name: value})


def test_check_header_names_every_forbidden_parameter() -> None:
    with pytest.raises(errors.HeaderError, match="crit, jku"):
        jose.check_header({"alg": "EdDSA", "jku": "u", "crit": []})
    assert {"jwk", "jku", "x5u", "x5c", "crit"} == jose.FORBIDDEN_HEADERS


def test_harmless_extra_headers_are_allowed() -> None:
    signing = key("EdDSA")
    token = jose.sign_compact({}, signing, typ="JWT", extra_header={"x5t#S256": "abc", "cty": "x"})
    assert jose.decode_compact(token, signing.public).header["cty"] == "x"


@pytest.mark.parametrize("typ", ["JWT", "statuslist+jwt", None, "", ["dc+sd-jwt"], 1])
def test_wrong_typ_is_refused(typ: Any) -> None:
    signing = key("EdDSA")
    header: dict[str, Any] = {"alg": "EdDSA", "kid": signing.kid}
    if typ is not None:
        header["typ"] = typ
    token = raw_token(header, signer=signing)
    with pytest.raises(errors.TypError):
        jose.decode_compact(token, signing.public, typ="dc+sd-jwt")


def test_typ_is_case_insensitive_and_may_be_one_of_several() -> None:
    signing = key("EdDSA")
    token = raw_token({"alg": "EdDSA", "typ": "DC+SD-JWT"}, signer=signing)
    jose.decode_compact(token, signing.public, typ="dc+sd-jwt")
    jose.decode_compact(token, signing.public, typ=["vc+sd-jwt", "dc+sd-jwt"])
    with pytest.raises(errors.TypError, match="expected"):
        jose.decode_compact(token, signing.public, typ=["vc+sd-jwt", "JWT"])


def test_typ_is_checked_before_the_signature() -> None:
    token = raw_token({"alg": "EdDSA", "typ": "JWT"}, signer=key("EdDSA"))
    with pytest.raises(errors.TypError):
        jose.decode_compact(token, generate_key("EdDSA").public, typ="dc+sd-jwt")


@pytest.mark.parametrize("kid", [None, 1, ["k"]])
def test_require_kid(kid: Any) -> None:
    signing = key("EdDSA")
    header: dict[str, Any] = {"alg": "EdDSA"}
    if kid is not None:
        header["kid"] = kid
    with pytest.raises(errors.HeaderError):
        jose.decode_compact(raw_token(header, signer=signing), signing.public, require_kid=True)


# ---------------------------------------------------------------------------------------
# Strict base64url


def valid_token(alg: str = "EdDSA") -> str:
    return jose.sign_compact({"iss": "https://i.example", "n": 12345}, key(alg), typ="JWT")


@pytest.mark.parametrize("part", [0, 1, 2])
@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s + "=", id="one-pad"),
        pytest.param(lambda s: s + "==", id="two-pads"),
        pytest.param(lambda s: "+" + s[1:], id="plus"),
        pytest.param(lambda s: "/" + s[1:], id="slash"),
        pytest.param(lambda s: s[:4] + " " + s[4:], id="space"),
        pytest.param(lambda s: s[:4] + "\n" + s[4:], id="newline"),
        pytest.param(lambda s: s + "\n", id="trailing-newline"),
        pytest.param(lambda s: " " + s, id="leading-space"),
        pytest.param(lambda s: s[:4] + "\t" + s[4:], id="tab"),
        pytest.param(lambda s: s[:4] + "%2D" + s[4:], id="percent"),
        pytest.param(lambda s: s[:4] + "é" + s[4:], id="non-ascii"),
        pytest.param(lambda s: s[:4] + "\x00" + s[4:], id="nul"),
    ],
)
def test_non_strict_base64url_is_refused(part: int, mangle: Callable[[str], str]) -> None:
    pieces = parts(valid_token())
    pieces[part] = mangle(pieces[part])
    with pytest.raises(errors.Base64UrlError):
        jose.parse_compact(".".join(pieces))


def test_standard_alphabet_version_of_a_token_is_refused() -> None:
    token = valid_token()
    # find a token whose text uses '-' or '_' somewhere (they exist with overwhelming odds)
    while "-" not in token and "_" not in token:  # pragma: no cover - rare
        token = jose.sign_compact({"r": generate_key().kid}, key("EdDSA"), typ="JWT")
    with pytest.raises(errors.Base64UrlError):
        jose.parse_compact(token.replace("-", "+").replace("_", "/"))


def bump_last_char(text: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return text[:-1] + alphabet[alphabet.index(text[-1]) + 1]


@pytest.mark.parametrize("length", [1, 2, 4, 5, 31, 32, 64])
def test_non_canonical_trailing_bits_are_refused(length: int) -> None:
    encoded = b64(bytes(range(length)))
    assert len(encoded) % 4 in (2, 3)
    assert jose.b64url_decode(encoded) == bytes(range(length))
    assert base64.urlsafe_b64decode(bump_last_char(encoded) + "==") == bytes(range(length))
    with pytest.raises(errors.Base64UrlError, match="non-canonical"):
        jose.b64url_decode(bump_last_char(encoded))


def test_non_canonical_signature_encoding_is_refused() -> None:
    header_b64, payload_b64, signature_b64 = parts(valid_token())  # 64 bytes: 86 chars
    assert len(signature_b64) % 4 == 2
    with pytest.raises(errors.Base64UrlError):
        jose.parse_compact(f"{header_b64}.{payload_b64}.{bump_last_char(signature_b64)}")


@pytest.mark.parametrize("text", ["A", "AAAAA", "ABCDE"])
def test_impossible_length_is_refused(text: str) -> None:
    with pytest.raises(errors.Base64UrlError, match="length"):
        jose.b64url_decode(text)


@pytest.mark.parametrize("length", range(0, 70))
def test_base64url_round_trip(length: int) -> None:
    data = hashlib.sha512(bytes([length])).digest()[:length] + bytes(max(0, length - 64))
    encoded = jose.b64url_encode(data)
    assert "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert encoded == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert jose.b64url_decode(encoded) == data


# ---------------------------------------------------------------------------------------
# Structure and JSON


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "eyJhbGciOiJFZERTQSJ9.e30",
        "eyJhbGciOiJFZERTQSJ9.e30.AA.AA",
        "eyJhbGciOiJFZERTQSJ9.e30.AA.",
        "a.b.c.d.e",
        '{"payload":"e30","signatures":[]}',
    ],
)
def test_wrong_number_of_parts_is_refused(token: str) -> None:
    with pytest.raises(errors.TokenFormatError):
        jose.parse_compact(token)


def test_four_parts_of_a_valid_token_are_refused() -> None:
    token = valid_token()
    with pytest.raises(errors.TokenFormatError, match="three"):
        jose.parse_compact(token + "." + parts(token)[2])
    with pytest.raises(errors.TokenFormatError, match="three"):
        jose.parse_compact(token.rsplit(".", 1)[0])


@pytest.mark.parametrize("value", [b"eyJ", None, 1, ["a", "b", "c"]])
def test_a_token_must_be_a_string(value: Any) -> None:
    with pytest.raises(errors.TokenFormatError):
        jose.parse_compact(value)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="text"),
        pytest.param(b'{"alg":"EdDSA"', id="truncated"),
        pytest.param(b'["alg","EdDSA"]', id="array"),
        pytest.param(b'"EdDSA"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"1", id="number"),
        pytest.param(b'{"alg":"EdDSA","n":NaN}', id="nan"),
        pytest.param(b'{"alg":"EdDSA","n":Infinity}', id="infinity"),
        pytest.param(b'{"alg":"EdDSA","n":-Infinity}', id="minus-infinity"),
        pytest.param(b'{"alg":"EdDSA","alg":"EdDSA"}', id="duplicate-same"),
        pytest.param(b'{"alg":"none","alg":"EdDSA"}', id="duplicate-alg"),
        pytest.param(b'{"alg":"EdDSA","x":{"a":1,"a":2}}', id="duplicate-nested"),
        pytest.param('{"alg":"EdDSA"}'.encode("utf-16"), id="utf-16"),
        pytest.param('{"alg":"EdDSA"}'.encode("utf-32-le"), id="utf-32"),
        pytest.param(b'\xef\xbb\xbf{"alg":"EdDSA"}', id="utf-8-bom"),
        pytest.param(b'{"alg":"EdDSA","x":"\xff"}', id="invalid-utf-8"),
        pytest.param(b'{"alg":"EdDSA"} {}', id="two-values"),
        pytest.param(b'{"alg":"EdDSA","n":' + b"9" * 5000 + b"}", id="huge-int"),
    ],
)
def test_header_must_be_a_strict_json_object(header: bytes) -> None:
    with pytest.raises(errors.JsonError):
        jose.parse_compact(raw_token(header, signer=key("EdDSA")))


@pytest.mark.parametrize(
    "payload",
    [
        b"[1,2]",
        b'{"n":NaN}',
        b"{" + b'"a":' * 1 + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"Example of Ed25519 signing",
    ],
    ids=["array", "nan", "deep-nesting", "text"],
)
def test_payload_must_be_a_strict_json_object(payload: bytes) -> None:
    signing = key("EdDSA")
    with pytest.raises(errors.JsonError):
        jose.decode_compact(raw_token({"alg": "EdDSA"}, payload, signer=signing), signing.public)


def test_duplicate_payload_members_keep_the_last_value() -> None:
    # RFC 7515 section 5.2 allows rejecting or "lexically last"; payloads take the last
    # (orjson, fast), headers refuse duplicates (a second "alg" is an attack)
    signing = key("EdDSA")
    token = raw_token({"alg": "EdDSA"}, b'{"sub":"a","sub":"b"}', signer=signing)
    assert jose.decode_compact(token, signing.public).payload == {"sub": "b"}


def test_json_loads_object_accepts_str_and_bytes() -> None:
    assert jose.json_loads_object('{"a":[1,{"b":null}]}') == {"a": [1, {"b": None}]}
    assert jose.json_loads_object('{"é":"ü"}'.encode()) == {"é": "ü"}
    with pytest.raises(errors.JsonError, match="JWS header"):
        jose.json_loads_object(b"[]", "JWS header")


def test_json_dumps_is_compact_utf8() -> None:
    assert jose.json_dumps({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode()


# ---------------------------------------------------------------------------------------
# Size limit


def test_a_10_mb_token_is_refused_quickly() -> None:
    token = "A" * (10 * 1024 * 1024)
    dotted = ".".join([token[:1000], token, token[:1000]])
    start = time.perf_counter()
    with pytest.raises(errors.TokenTooLargeError):
        jose.parse_compact(token)
    with pytest.raises(errors.TokenTooLargeError):
        jose.decode_compact(dotted, key("EdDSA").public)
    assert time.perf_counter() - start < 0.05  # refused on its length, before any decoding


def test_size_limit_boundary() -> None:
    token = valid_token()
    jose.parse_compact(token, max_length=len(token))
    with pytest.raises(errors.TokenTooLargeError) as info:
        jose.parse_compact(token, max_length=len(token) - 1)
    assert info.value.status == 413
    filler = "A" * (jose.MAX_TOKEN_LENGTH - len(token) + 1)
    with pytest.raises(errors.TokenTooLargeError):
        jose.parse_compact(token + filler)


# ---------------------------------------------------------------------------------------
# Tampering: every bit of every part


def flipped(token: str, part: int, bit: int) -> str:
    pieces = parts(token)
    data = bytearray(jose.b64url_decode(pieces[part]))
    data[bit // 8] ^= 1 << (bit % 8)
    pieces[part] = b64(bytes(data))
    return ".".join(pieces)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
@pytest.mark.parametrize("part", [0, 1, 2], ids=["header", "payload", "signature"])
def test_every_flipped_bit_is_detected(alg: str, part: int) -> None:
    token = valid_token(alg)
    public = key(alg).public
    bits = 8 * len(jose.b64url_decode(parts(token)[part]))
    for bit in range(bits):
        expected = errors.SignatureError if part == 2 else errors.PasserelleError
        with pytest.raises(expected):
            jose.decode_compact(flipped(token, part, bit), public)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: b"", id="empty"),
        pytest.param(lambda s: s[:-1], id="short"),
        pytest.param(lambda s: s + b"\x00", id="long"),
        pytest.param(lambda s: bytes(len(s)), id="zeros"),
        pytest.param(lambda s: s[32:] + s[:32], id="halves-swapped"),
    ],
)
def test_malformed_signatures_fail(alg: str, change: Callable[[bytes], bytes]) -> None:
    header_b64, payload_b64, signature_b64 = parts(valid_token(alg))
    signature = change(jose.b64url_decode(signature_b64))
    with pytest.raises(errors.SignatureError):
        jose.decode_compact(f"{header_b64}.{payload_b64}.{b64(signature)}", key(alg).public)


def test_ed25519_non_canonical_s_is_refused() -> None:
    """S + L verifies in a lax implementation (malleability); RFC 8032 requires S < L."""
    order = 2**252 + 27742317777372353535851937790883648493
    header_b64, payload_b64, signature_b64 = parts(valid_token("EdDSA"))
    signature = jose.b64url_decode(signature_b64)
    s = int.from_bytes(signature[32:], "little") + order
    malleated = signature[:32] + s.to_bytes(32, "little")
    with pytest.raises(errors.SignatureError):
        jose.decode_compact(f"{header_b64}.{payload_b64}.{b64(malleated)}", key("EdDSA").public)


def test_payload_swapped_between_two_valid_tokens_fails() -> None:
    signing = key("EdDSA")
    one = parts(jose.sign_compact({"sub": "alice"}, signing, typ="JWT"))
    two = parts(jose.sign_compact({"sub": "mallory"}, signing, typ="JWT"))
    with pytest.raises(errors.SignatureError):
        jose.decode_compact(f"{one[0]}.{two[1]}.{one[2]}", signing.public)


# ---------------------------------------------------------------------------------------
# map_jose_errors: the mapping is complete


def _subclasses(root: type[BaseException]) -> Iterator[type[BaseException]]:
    yield root
    for sub in root.__subclasses__():
        yield from _subclasses(sub)


def _exception_classes(module: Any) -> set[type[BaseException]]:
    return {
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    }


def foreign_exception_classes() -> list[type[BaseException]]:
    found = set(_subclasses(jwt.exceptions.PyJWTError))
    found |= _exception_classes(jwt.exceptions)
    found |= _exception_classes(cryptography.exceptions)
    found |= {binascii.Error, json.JSONDecodeError}
    # only the libraries' own classes (vars() may also hold re-exported builtins)
    found = {
        cls
        for cls in found
        if cls.__module__.split(".")[0] in {"jwt", "cryptography", "binascii", "json"}
    }
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def instantiate(cls: type[BaseException]) -> BaseException:
    special: dict[type[BaseException], Callable[[], BaseException]] = {
        jwt.exceptions.MissingRequiredClaimError: lambda: jwt.exceptions.MissingRequiredClaimError(
            "exp"
        ),
        cryptography.exceptions.InternalError: lambda: cryptography.exceptions.InternalError(
            "boom", []
        ),
        json.JSONDecodeError: lambda: json.JSONDecodeError("boom", "{", 1),
    }
    if cls in special:
        return special[cls]()
    return cls("boom")


EXPECTED: dict[type[BaseException], type[errors.PasserelleError]] = {
    jwt.exceptions.InvalidSignatureError: errors.SignatureError,
    jwt.exceptions.DecodeError: errors.TokenFormatError,
    jwt.exceptions.InvalidAlgorithmError: errors.AlgorithmError,
    jwt.exceptions.InvalidKeyError: errors.KeyError_,
    jwt.exceptions.PyJWKError: errors.KeyError_,
    jwt.exceptions.ExpiredSignatureError: errors.ExpiredError,
    jwt.exceptions.ImmatureSignatureError: errors.NotYetValidError,
    jwt.exceptions.InvalidAudienceError: errors.ClaimsError,
    jwt.exceptions.InvalidIssuerError: errors.ClaimsError,
    jwt.exceptions.InvalidIssuedAtError: errors.ClaimsError,
    jwt.exceptions.MissingRequiredClaimError: errors.ClaimsError,
    jwt.exceptions.InvalidTokenError: errors.JoseError,
    jwt.exceptions.PyJWTError: errors.JoseError,
    cryptography.exceptions.InvalidSignature: errors.SignatureError,
    cryptography.exceptions.UnsupportedAlgorithm: errors.AlgorithmError,
    cryptography.exceptions.InvalidKey: errors.KeyError_,
    cryptography.exceptions.InvalidTag: errors.JoseError,
    binascii.Error: errors.Base64UrlError,
    json.JSONDecodeError: errors.JsonError,
}


def test_the_enumeration_finds_the_libraries_exceptions() -> None:
    found = set(foreign_exception_classes())
    assert set(EXPECTED) <= found
    assert len(found) >= len(EXPECTED) + 5  # e.g. PyJWKClientError, AlreadyFinalized, ...


@pytest.mark.parametrize(
    "cls", foreign_exception_classes(), ids=lambda cls: f"{cls.__module__}.{cls.__name__}"
)
def test_every_library_exception_is_mapped(cls: type[BaseException]) -> None:
    original = instantiate(cls)
    with pytest.raises(errors.PasserelleError) as info, jose.map_jose_errors():
        raise original
    assert info.value.__cause__ is original
    assert info.value.code in {c.code for c in errors.all_error_classes()}
    if cls in EXPECTED:
        assert type(info.value) is EXPECTED[cls]


def test_mapping_with_real_library_failures() -> None:
    with pytest.raises(errors.TokenFormatError), jose.map_jose_errors():
        jwt.decode("not.a.jwt", "secret", algorithms=["HS256"])
    ed25519 = key("EdDSA").public.key
    assert isinstance(ed25519, Ed25519PublicKey)
    with pytest.raises(errors.SignatureError), jose.map_jose_errors():
        ed25519.verify(bytes(64), b"message")
    with pytest.raises(errors.Base64UrlError), jose.map_jose_errors():
        binascii.a2b_base64(b"A", strict_mode=True)


def test_passerelle_errors_pass_through_unchanged() -> None:
    original = errors.TypError("typ")
    with pytest.raises(errors.TypError) as info, jose.map_jose_errors():
        raise original
    assert info.value is original


def test_unrelated_exceptions_are_not_swallowed() -> None:
    with pytest.raises(RuntimeError), jose.map_jose_errors():
        raise RuntimeError("a bug is a bug")


def test_no_exception_no_change() -> None:
    with jose.map_jose_errors():
        value = 1
    assert value == 1


def test_exported_names() -> None:
    for name in jose.__all__:
        assert hasattr(jose, name), name


@pytest.mark.parametrize(
    "header",
    [
        b'{"alg":"EdDSA","alg":"none"}',
        b'{"alg":"EdDSA","n":1,"n":2}',
        b'{"alg":"EdDSA","x":{"a":1},"x":2}',
        b'{"alg":"EdDSA","k":"a\\"b","k":"c"}',
        b'{"alg":"EdDSA", "alg" :"EdDSA"}',
    ],
    ids=["string", "number", "nested", "escaped-quote", "spaces"],
)
def test_duplicate_header_members_are_refused_whatever_their_shape(header: bytes) -> None:
    token = f"{b64(header)}.{b64(b'{}')}.{b64(b'x' * 64)}"
    with pytest.raises(errors.JsonError, match="duplicate"):
        jose.parse_compact(token)
