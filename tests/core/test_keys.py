"""Keys, JWKs and the encrypted key store (passerelle.keys)."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from passerelle import errors
from passerelle.keys import (
    DEV_PASSPHRASE,
    KeyRecord,
    KeyStore,
    PublicKey,
    SigningKey,
    generate_key,
    jwk_thumbprint,
    private_key_from_jwk,
    public_key_from_jwk,
    resolve_passphrase,
)

PASSPHRASE = "test passphrase, not a secret"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ALGS = ["EdDSA", "ES256"]
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@functools.cache
def key(alg: str) -> SigningKey:
    return generate_key(alg)


def raw_private(signing: SigningKey) -> bytes:
    """The private scalar/seed: what must never be found in clear anywhere."""
    private = signing.private
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return private.private_numbers().private_value.to_bytes(32, "big")
    return private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def private_jwk(signing: SigningKey) -> dict[str, str]:
    return {**signing.public.to_jwk(), "d": b64(raw_private(signing))}


def no_private_member(value: Any) -> bool:
    if isinstance(value, dict):
        return "d" not in value and all(no_private_member(v) for v in value.values())
    if isinstance(value, list):
        return all(no_private_member(v) for v in value)
    return True


# ---------------------------------------------------------------------------------------
# Keys and JWKs


@pytest.mark.parametrize("alg", ALGS)
def test_generate_key(alg: str) -> None:
    signing = generate_key(alg)
    assert signing.alg == signing.public.alg == alg
    assert signing.kid == signing.public.kid == jwk_thumbprint(signing.public.to_jwk())
    assert len(signing.kid) == 43  # SHA-256, base64url
    assert generate_key(alg).kid != signing.kid
    message = b"header.payload"
    assert signing.public.verify(message, signing.sign(message))
    assert not signing.public.verify(message + b".", signing.sign(message))


def test_default_alg_is_eddsa() -> None:
    assert generate_key().alg == "EdDSA"


@pytest.mark.parametrize("alg", ["RS256", "HS256", "none", "ES384", "eddsa", ""])
def test_generate_key_refuses_other_algs(alg: str) -> None:
    with pytest.raises(errors.AlgorithmError):
        generate_key(alg)


def test_public_jwk_shapes() -> None:
    ed = key("EdDSA").public.to_jwk()
    assert list(ed) == ["kty", "crv", "x"] and ed["kty"] == "OKP" and ed["crv"] == "Ed25519"
    es = key("ES256").public.to_jwk()
    assert list(es) == ["kty", "crv", "x", "y"] and es["crv"] == "P-256"
    assert len(base64.urlsafe_b64decode(es["x"] + "=")) == 32
    with_kid = key("ES256").public.to_jwk(with_kid=True)
    assert with_kid == {**es, "kid": key("ES256").kid, "alg": "ES256"}


@pytest.mark.parametrize("alg", ALGS)
def test_public_jwk_round_trip(alg: str) -> None:
    public = key(alg).public
    again = public_key_from_jwk(public.to_jwk())
    assert (again.alg, again.kid, dict(again.jwk)) == (alg, public.kid, dict(public.jwk))
    # kid, alg and use are tolerated, and do not change the thumbprint
    again = public_key_from_jwk({**public.to_jwk(with_kid=True), "use": "sig"})
    assert again.kid == public.kid


@pytest.mark.parametrize("alg", ALGS)
def test_verify_accepts_only_the_signed_bytes(alg: str) -> None:
    signing = key(alg)
    message = b"header.payload"
    signature = signing.sign(message)
    assert signing.public.verify(message, signature)
    assert not signing.public.verify(message + b"x", signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not signing.public.verify(message, flipped)
    # a truncated or padded signature is refused, never re-split into signature || message
    assert not signing.public.verify(message, signature[:-1])
    assert not signing.public.verify(signature[-1:] + message, signature[:-1])
    assert not signing.public.verify(message, signature + b"\0")
    assert not generate_key(alg).public.verify(message, signature)


def test_ed25519_small_order_key_vouches_for_nothing() -> None:
    """The identity point as a public key, with R = identity and S = 0, satisfies the
    cofactorless equation for every message. OpenSSL (cryptography) accepts that signature;
    libsodium, which verifies Ed25519 here, refuses small-order keys."""
    identity = b"\x01" + bytes(31)
    public = public_key_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": b64(identity)})
    assert not public.verify(b"any message at all", identity + bytes(32))


@pytest.mark.parametrize("alg", ALGS)
def test_private_jwk_round_trip(alg: str) -> None:
    signing = private_key_from_jwk(private_jwk(key(alg)))
    assert signing.kid == key(alg).kid
    assert key(alg).public.verify(b"m", signing.sign(b"m"))


@pytest.mark.parametrize("alg", ALGS)
def test_public_key_from_jwk_refuses_a_private_part(alg: str) -> None:
    jwk = private_jwk(key(alg))
    with pytest.raises(errors.KeyError_, match="'d'"):
        public_key_from_jwk(jwk)
    assert public_key_from_jwk(jwk, allow_private=True).kid == key(alg).kid


def _p384_jwk() -> dict[str, str]:
    numbers = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-384",
        "x": b64(numbers.x.to_bytes(48, "big")),
        "y": b64(numbers.y.to_bytes(48, "big")),
    }


def _okp_jwk(crv: str, raw: bytes) -> dict[str, str]:
    return {"kty": "OKP", "crv": crv, "x": b64(raw)}


def _x25519_raw() -> bytes:
    return (
        X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def _ed448_raw() -> bytes:
    return (
        Ed448PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def _es(**change: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = {**key("ES256").public.to_jwk(), **change}
    return {k: v for k, v in jwk.items() if v is not None}


def _ed(**change: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = {**key("EdDSA").public.to_jwk(), **change}
    return {k: v for k, v in jwk.items() if v is not None}


def _off_curve() -> dict[str, str]:
    jwk = key("ES256").public.to_jwk()
    y = int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "="), "big")
    return {**jwk, "y": b64(((y + 1) % 2**256).to_bytes(32, "big"))}


BAD_JWKS: dict[str, Callable[[], Any]] = {
    "p384": _p384_jwk,
    "p521-name": lambda: _es(crv="P-521"),
    "secp256k1": lambda: _es(crv="secp256k1"),
    "no-crv": lambda: _es(crv=None),
    "x25519": lambda: _okp_jwk("X25519", _x25519_raw()),
    "ed448": lambda: _okp_jwk("Ed448", _ed448_raw()),
    "okp-no-crv": lambda: _ed(crv=None),
    "rsa": lambda: {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
    "oct": lambda: {"kty": "oct", "k": "c2VjcmV0"},
    "no-kty": lambda: _ed(kty=None),
    "kty-lowercase": lambda: _ed(kty="okp"),
    "off-curve": _off_curve,
    "zero-point": lambda: _es(x=b64(bytes(32)), y=b64(bytes(32))),
    "ed-x-31-bytes": lambda: _ed(x=b64(bytes(31))),
    "ed-x-33-bytes": lambda: _ed(x=b64(bytes(33))),
    "ec-x-31-bytes": lambda: _es(x=b64(bytes(31))),
    "ec-y-33-bytes": lambda: _es(y=b64(b"\x00" + bytes(32))),
    "ed-x-missing": lambda: _ed(x=None),
    "ec-y-missing": lambda: _es(y=None),
    "ed-x-empty": lambda: _ed(x=""),
    "ed-x-padded": lambda: _ed(x=key("EdDSA").public.jwk["x"] + "="),
    "ed-x-plus": lambda: _ed(x="+" + key("EdDSA").public.jwk["x"][1:]),
    "ed-x-space": lambda: _ed(x=" " + key("EdDSA").public.jwk["x"]),
    "ed-x-int": lambda: _ed(x=12),
    "ec-x-list": lambda: _es(x=["a"]),
    "not-an-object": lambda: [key("EdDSA").public.to_jwk()],
    "string": lambda: json.dumps(key("EdDSA").public.to_jwk()),
    "none": lambda: None,
}


@pytest.mark.parametrize("name", sorted(BAD_JWKS))
def test_public_key_from_jwk_refuses(name: str) -> None:
    with pytest.raises(errors.KeyError_):
        public_key_from_jwk(BAD_JWKS[name]())


def test_from_crypto_refuses_other_curves() -> None:
    with pytest.raises(errors.KeyError_):
        PublicKey.from_crypto(ec.generate_private_key(ec.SECP384R1()).public_key())
    with pytest.raises(errors.KeyError_):
        SigningKey.from_crypto(ec.generate_private_key(ec.SECP256K1()))


@pytest.mark.parametrize("alg", ALGS)
def test_private_key_from_jwk_refuses_a_mismatched_d(alg: str) -> None:
    other = generate_key(alg)
    jwk = {**key(alg).public.to_jwk(), "d": private_jwk(other)["d"]}
    with pytest.raises(errors.KeyError_, match="does not match"):
        private_key_from_jwk(jwk)


@pytest.mark.parametrize(
    ("alg", "d"),
    [
        ("EdDSA", None),
        ("EdDSA", b64(bytes(31))),
        ("EdDSA", b64(bytes(33))),
        ("EdDSA", "not base64url!"),
        ("ES256", None),
        ("ES256", b64(bytes(32))),  # zero scalar
        ("ES256", b64(P256_ORDER.to_bytes(32, "big"))),  # scalar = n
        ("ES256", 7),
    ],
)
def test_private_key_from_jwk_refuses_a_bad_d(alg: str, d: Any) -> None:
    jwk: dict[str, Any] = dict(key(alg).public.to_jwk())
    if d is not None:
        jwk["d"] = d
    with pytest.raises(errors.KeyError_):
        private_key_from_jwk(jwk)


def test_jwk_thumbprint_is_rfc7638() -> None:
    jwk = key("ES256").public.to_jwk()
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}, separators=(",", ":")
    )
    assert canonical.startswith('{"crv":"P-256","kty":"EC","x":')
    expected = b64(hashlib.sha256(canonical.encode()).digest())
    assert jwk_thumbprint(jwk) == expected
    reordered = dict(reversed(list({**jwk, "kid": "other", "use": "sig"}.items())))
    assert jwk_thumbprint(reordered) == expected


@pytest.mark.parametrize(
    "jwk",
    [{"kty": "RSA", "n": "x", "e": "AQAB"}, {}, {"kty": "EC", "crv": "P-256", "x": "a"}],
    ids=["rsa", "empty", "missing-y"],
)
def test_jwk_thumbprint_refuses(jwk: dict[str, str]) -> None:
    with pytest.raises(errors.KeyError_):
        jwk_thumbprint(jwk)


@pytest.mark.parametrize("alg", ALGS)
def test_signing_key_repr_does_not_leak(alg: str) -> None:
    signing = key(alg)
    secret = raw_private(signing)
    for text in (repr(signing), str(signing), f"{signing}", repr([signing])):
        assert signing.kid in text
        for leak in (secret.hex(), b64(secret), base64.b64encode(secret).decode()):
            assert leak not in text
        assert "PRIVATE" not in text


@pytest.mark.parametrize("alg", ALGS)
def test_encrypted_pem(alg: str) -> None:
    pem = key(alg).encrypted_pem(PASSPHRASE)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    loaded = serialization.load_pem_private_key(pem, PASSPHRASE.encode())
    assert SigningKey.from_crypto(loaded).kid == key(alg).kid  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Key store


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys", PASSPHRASE)


def test_a_new_store_touches_nothing(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "absent", PASSPHRASE)
    assert store.records() == []
    assert not (tmp_path / "absent").exists()
    with pytest.raises(errors.KeyNotFoundError, match="passerelle keys generate"):
        store.active_record()
    with pytest.raises(errors.KeyNotFoundError):
        store.signing_key()
    assert store.jwks() == {"keys": []}


@pytest.mark.parametrize("alg", ALGS)
def test_generate_in_store(store: KeyStore, alg: str) -> None:
    record = store.generate(alg, label="centre", now=NOW)
    assert (record.alg, record.status, record.created_at, record.label) == (
        alg,
        "active",
        NOW,
        "centre",
    )
    assert record.retired_at is None and record.compromised_at is None
    assert store.active_record() == record
    signing = store.signing_key()
    assert signing.kid == record.kid == jwk_thumbprint(record.public_jwk)
    assert signing.public.verify(b"m", signing.sign(b"m"))
    assert sorted(p.name for p in store.directory.iterdir()) == sorted(
        [f"{record.kid}.pem", "keystore.json"]
    )  # no temporary file left behind


@pytest.mark.parametrize("alg", ALGS)
def test_private_keys_are_encrypted_at_rest(store: KeyStore, alg: str) -> None:
    record = store.generate(alg, now=NOW)
    secret = raw_private(store.signing_key())
    pem = (store.directory / f"{record.kid}.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert b"ENCRYPTED" in pem
    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    for blob in (pem, der):
        assert secret not in blob
        assert b64(secret).encode() not in blob
        assert base64.b64encode(secret) not in blob
    index = (store.directory / "keystore.json").read_text()
    assert b64(secret) not in index and no_private_member(json.loads(index))
    assert PASSPHRASE.encode() not in pem


def test_wrong_passphrase_is_key_store_locked(store: KeyStore) -> None:
    record = store.generate(now=NOW)
    locked = KeyStore(store.directory, "not the passphrase")
    with pytest.raises(errors.KeyStoreLockedError) as info:
        locked.signing_key()
    assert info.value.code == "key_store_locked"
    with pytest.raises(errors.KeyStoreLockedError):
        locked.signing_key(record.kid)
    # the public side needs no passphrase
    assert locked.jwks() == store.jwks()
    assert KeyStore(store.directory, PASSPHRASE).signing_key().kid == record.kid


def test_a_wrong_passphrase_cannot_add_or_rotate(store: KeyStore) -> None:
    first = store.generate(now=NOW)
    index = (store.directory / "keystore.json").read_bytes()
    locked = KeyStore(store.directory, "not the passphrase")
    with pytest.raises(errors.KeyStoreLockedError):
        locked.rotate(now=NOW)
    with pytest.raises(errors.KeyStoreLockedError):
        locked.generate(now=NOW)
    with pytest.raises(errors.KeyStoreLockedError):
        locked.import_key(generate_key(), now=NOW)
    assert (store.directory / "keystore.json").read_bytes() == index
    assert sorted(p.name for p in store.directory.iterdir()) == sorted(
        [f"{first.kid}.pem", "keystore.json"]
    )


def test_file_permissions(store: KeyStore) -> None:
    record = store.generate(now=NOW)
    pem_mode = stat.S_IMODE(os.stat(store.directory / f"{record.kid}.pem").st_mode)
    assert pem_mode == 0o600
    index_mode = stat.S_IMODE(os.stat(store.directory / "keystore.json").st_mode)
    assert index_mode == 0o644  # public data only
    rotated = store.rotate(now=NOW + timedelta(days=1))
    assert stat.S_IMODE(os.stat(store.directory / f"{rotated.kid}.pem").st_mode) == 0o600


def test_missing_or_damaged_private_key_file(store: KeyStore) -> None:
    record = store.generate(now=NOW)
    pem = store.directory / f"{record.kid}.pem"
    pem.write_bytes(pem.read_bytes()[:-80])
    with pytest.raises(errors.KeyStoreLockedError, match="damaged"):
        store.signing_key()
    pem.unlink()
    with pytest.raises(errors.KeyNotFoundError):
        store.signing_key()


def test_a_private_key_file_holding_another_key(store: KeyStore) -> None:
    record = store.generate(now=NOW)
    (store.directory / f"{record.kid}.pem").write_bytes(generate_key().encrypted_pem(PASSPHRASE))
    with pytest.raises(errors.KeyError_, match="another key"):
        store.signing_key()


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"keys": 1}',
        '{"keys": [{"kid": "a"}]}',
        '{"keys": [{"kid": "a", "alg": "EdDSA", "public_jwk": {}, "status": "active",'
        ' "created_at": null}]}',
        '{"keys": [{"kid": "a", "alg": "EdDSA", "public_jwk": {}, "status": "active",'
        ' "created_at": 12}]}',
        '{"keys": [{"kid": "a", "alg": "EdDSA", "public_jwk": {}, "status": "active",'
        ' "created_at": "yesterday"}]}',
    ],
)
def test_an_unreadable_index_is_a_key_error(store: KeyStore, content: str) -> None:
    store.directory.mkdir(parents=True)
    (store.directory / "keystore.json").write_text(content)
    with pytest.raises(errors.KeyError_, match="unreadable"):
        store.records()


def test_records_survive_a_reopen(store: KeyStore) -> None:
    store.generate("ES256", label="é label", now=NOW)
    store.rotate("EdDSA", now=NOW + timedelta(hours=1))
    reopened = KeyStore(store.directory, PASSPHRASE).records()
    assert [r.to_json() for r in reopened] == [r.to_json() for r in store.records()]
    raw = json.loads((store.directory / "keystore.json").read_text())
    assert raw["keys"][0]["created_at"] == "2026-11-25T12:00:00Z"
    assert raw["keys"][0]["retired_at"] == "2026-11-25T13:00:00Z"
    assert KeyRecord.from_json(raw["keys"][0]).created_at == NOW


def test_rotate_keeps_the_old_key_for_verification(store: KeyStore) -> None:
    first = store.generate("EdDSA", now=NOW)
    later = NOW + timedelta(days=30)
    second = store.rotate(now=later)
    assert second.alg == "EdDSA"  # the current alg by default
    records = {r.kid: r for r in store.records()}
    assert [r.status for r in store.records()] == ["retired", "active"]
    assert records[first.kid].retired_at == later
    assert records[second.kid].created_at == later
    assert store.active_record().kid == second.kid == store.signing_key().kid
    assert store.signing_key(first.kid).kid == first.kid  # still usable on request
    assert {p.kid for p in store.public_keys()} == {first.kid, second.kid}
    third = store.rotate("ES256", now=later + timedelta(days=1))
    assert third.alg == "ES256"
    assert [r.status for r in store.records()].count("active") == 1


def test_rotate_refuses_an_unknown_alg_without_changing_anything(store: KeyStore) -> None:
    store.generate(now=NOW)
    before = [r.to_json() for r in store.records()]
    with pytest.raises(errors.AlgorithmError):
        store.rotate("RS256", now=NOW)
    assert [r.to_json() for r in store.records()] == before


def test_rotate_on_an_empty_store_creates_the_active_key(store: KeyStore) -> None:
    record = store.rotate(now=NOW)
    assert record.status == "active" and record.alg == "EdDSA"


def test_generate_with_an_active_key_adds_a_retired_one(store: KeyStore) -> None:
    active = store.generate(now=NOW)
    extra = store.generate("ES256", now=NOW)
    assert extra.status == "retired" and extra.retired_at == NOW
    assert store.active_record().kid == active.kid


def test_import_key(store: KeyStore) -> None:
    signing = private_key_from_jwk(private_jwk(key("ES256")))
    record = store.import_key(signing, label="imported", now=NOW)
    assert record.kid == signing.kid and record.status == "active"
    assert store.signing_key().kid == signing.kid
    with pytest.raises(errors.KeyError_, match="already"):
        store.import_key(signing, now=NOW)


def test_mark_compromised(store: KeyStore) -> None:
    first = store.generate(now=NOW)
    second = store.rotate(now=NOW + timedelta(days=1))
    since = NOW - timedelta(hours=6)
    record = store.mark_compromised(first.kid, since)
    assert record.compromised_at == since
    assert record.status == "retired"
    assert store.record(first.kid).compromised_at == since  # persisted
    assert store.active_record().kid == second.kid  # untouched


def test_compromising_the_active_key_retires_it(store: KeyStore) -> None:
    active = store.generate(now=NOW)
    since = NOW + timedelta(days=3)
    record = store.mark_compromised(active.kid, since)
    assert (record.status, record.retired_at, record.compromised_at) == ("retired", since, since)
    with pytest.raises(errors.KeyNotFoundError):
        store.signing_key()  # no active key until the next rotation
    assert store.rotate(now=since).status == "active"


def test_compromise_time_zone(store: KeyStore) -> None:
    record = store.generate(now=NOW)
    with pytest.raises(errors.InvalidInputError):
        store.mark_compromised(record.kid, datetime(2026, 1, 1, 12, 0))  # naive
    paris = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=1)))
    store.mark_compromised(record.kid, paris)
    assert store.record(record.kid).compromised_at == datetime(2026, 1, 1, 13, 0, tzinfo=UTC)


def test_mark_compromised_unknown_kid(store: KeyStore) -> None:
    store.generate(now=NOW)
    with pytest.raises(errors.KeyNotFoundError):
        store.mark_compromised("no-such-kid", NOW)
    with pytest.raises(errors.KeyNotFoundError):
        store.record("no-such-kid")
    with pytest.raises(errors.KeyNotFoundError):
        store.signing_key("no-such-kid")


def test_jwks_has_every_public_key_and_nothing_private(store: KeyStore) -> None:
    first = store.generate("EdDSA", now=NOW)
    second = store.rotate("ES256", now=NOW + timedelta(days=1))
    store.mark_compromised(first.kid, NOW)
    jwks = store.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [first.kid, second.kid]
    assert [k["alg"] for k in jwks["keys"]] == ["EdDSA", "ES256"]
    for jwk in jwks["keys"]:
        assert jwk["use"] == "sig"
        assert set(jwk) <= {"kty", "crv", "x", "y", "kid", "alg", "use"}
        assert public_key_from_jwk(jwk).kid == jwk["kid"]
    assert no_private_member(jwks)
    assert '"d"' not in json.dumps(jwks)
    for kid in (first.kid, second.kid):
        secret = raw_private(store.signing_key(kid))
        assert b64(secret) not in json.dumps(jwks)


# ---------------------------------------------------------------------------------------
# Passphrase


def test_passphrase_from_env() -> None:
    assert resolve_passphrase({"PASSERELLE_KEY_PASSPHRASE": "s3cret"}) == "s3cret"


def test_passphrase_from_file(tmp_path: Path) -> None:
    path = tmp_path / "passphrase"
    path.write_text("  from a file \n")
    assert resolve_passphrase({"PASSERELLE_KEY_PASSPHRASE_FILE": str(path)}) == "from a file"


def test_env_wins_over_file_and_file_over_dev(tmp_path: Path) -> None:
    path = tmp_path / "passphrase"
    path.write_text("file")
    env = {
        "PASSERELLE_KEY_PASSPHRASE": "env",
        "PASSERELLE_KEY_PASSPHRASE_FILE": str(path),
        "PASSERELLE_DEV": "1",
    }
    assert resolve_passphrase(env) == "env"
    assert resolve_passphrase({**env, "PASSERELLE_KEY_PASSPHRASE": ""}) == "file"


@pytest.mark.parametrize("content", [None, "", "  \n"], ids=["missing", "empty", "blank"])
def test_unusable_passphrase_file(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "passphrase"
    if content is not None:
        path.write_text(content)
    with pytest.raises(errors.KeyStoreLockedError):
        resolve_passphrase({"PASSERELLE_KEY_PASSPHRASE_FILE": str(path), "PASSERELLE_DEV": "1"})


def test_dev_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert resolve_passphrase({"PASSERELLE_DEV": "1"}) == DEV_PASSPHRASE
    err = capsys.readouterr().err
    assert "PASSERELLE_DEV=1" in err and "production" in err


@pytest.mark.parametrize("env", [{}, {"PASSERELLE_DEV": "0"}, {"PASSERELLE_DEV": "true"}])
def test_no_passphrase_is_key_store_locked(env: dict[str, str]) -> None:
    with pytest.raises(errors.KeyStoreLockedError) as info:
        resolve_passphrase(env)
    assert "PASSERELLE_KEY_PASSPHRASE" in info.value.detail
    assert info.value.status == 500


def test_passphrase_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PASSERELLE_KEY_PASSPHRASE_FILE", "PASSERELLE_DEV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PASSERELLE_KEY_PASSPHRASE", "from os.environ")
    assert resolve_passphrase() == "from os.environ"
    monkeypatch.delenv("PASSERELLE_KEY_PASSPHRASE")
    with pytest.raises(errors.KeyStoreLockedError):
        resolve_passphrase()


def test_dev_store_opens_only_with_the_dev_passphrase(tmp_path: Path) -> None:
    dev = KeyStore(tmp_path, resolve_passphrase({"PASSERELLE_DEV": "1"}))
    dev.generate(now=NOW)
    with pytest.raises(errors.KeyStoreLockedError):
        KeyStore(tmp_path, PASSPHRASE).signing_key()
