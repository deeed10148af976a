"""Signing keys, JWKs and the encrypted local key store.

* Algorithms: ``EdDSA`` over Ed25519 (default) and ``ES256`` over P-256, signed with
  ``cryptography``. ES256 signatures are verified with ``cryptography`` too, Ed25519 ones
  with libsodium (PyNaCl), which checks them in about half the time of OpenSSL's: the two
  Ed25519 checks are most of a verification's cost. libsodium is the stricter of the two
  (it also refuses small-order and non-canonical points, which no honest key or signature
  has), so nothing OpenSSL would refuse is accepted.
* ``kid`` is always the RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key.
* :class:`KeyStore` keeps private keys in a directory as PKCS#8 PEM encrypted with a
  passphrase, and an index (``keystore.json``) of their life cycle: one ``active`` signing
  key, ``retired`` keys kept for verification, and a ``compromised_at`` time from which
  signatures by a key are void.

The passphrase comes from ``PASSERELLE_KEY_PASSPHRASE`` or the file named by
``PASSERELLE_KEY_PASSPHRASE_FILE``. Without one the store refuses to open, unless
``PASSERELLE_DEV=1`` (explicit development mode), where a fixed, publicly known
passphrase is used and a warning printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from passerelle import errors
from passerelle.encoding import b64url_decode, b64url_encode

__all__ = [
    "ALLOWED_ALGS",
    "DEV_PASSPHRASE",
    "KeyRecord",
    "KeyStore",
    "PublicKey",
    "SigningKey",
    "generate_key",
    "jwk_thumbprint",
    "private_key_from_jwk",
    "public_key_from_jwk",
    "resolve_passphrase",
]

Alg = Literal["EdDSA", "ES256"]
ALLOWED_ALGS: frozenset[str] = frozenset({"EdDSA", "ES256"})
DEV_PASSPHRASE = "passerelle-development-only-insecure"

_ES256 = ECAlgorithm(ECAlgorithm.SHA256)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_INDEX = "keystore.json"

PublicKeyType = Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKeyType = Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def _b64url_decode(text: Any, name: str) -> bytes:
    if not isinstance(text, str) or not text:
        raise errors.KeyError_(f"JWK member {name!r} is not base64url")
    try:
        return b64url_decode(text)
    except errors.Base64UrlError:
        raise errors.KeyError_(f"JWK member {name!r} is not base64url") from None


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256) of an EC or OKP public JWK."""
    kty = jwk.get("kty")
    members: tuple[str, ...]
    if kty == "EC":
        members = ("crv", "kty", "x", "y")
    elif kty == "OKP":
        members = ("crv", "kty", "x")
    else:
        raise errors.KeyError_(f"unsupported JWK kty {kty!r}")
    try:
        canonical = {name: jwk[name] for name in members}
    except KeyError as exc:
        raise errors.KeyError_(f"JWK lacks required member {exc.args[0]!r}") from exc
    digest = hashlib.sha256(
        json.dumps(canonical, separators=(",", ":"), sort_keys=True).encode()
    ).digest()
    return b64url_encode(digest)


def _public_jwk(key: PublicKeyType) -> dict[str, str]:
    if isinstance(key, Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }


class PublicKey:
    """A verification key: its algorithm, ``cryptography`` object, public JWK and kid.

    Treat it as immutable. ``kid`` (the RFC 7638 thumbprint) is computed on first use: a
    holder key read from ``cnf`` for one key binding check never needs it.
    """

    __slots__ = ("_kid", "_raw", "alg", "jwk", "key")

    def __init__(
        self, alg: str, key: PublicKeyType, jwk: Mapping[str, str], kid: str | None = None
    ) -> None:
        self.alg = alg
        self.key = key
        self.jwk = jwk
        self._kid = kid
        self._raw: bytes | None = None  # an Ed25519 key's 32 bytes, read on first verify

    @property
    def kid(self) -> str:
        if self._kid is None:
            self._kid = jwk_thumbprint(self.jwk)
        return self._kid

    def __repr__(self) -> str:
        return f"PublicKey(alg={self.alg!r}, kid={self.kid!r})"

    @classmethod
    def from_crypto(cls, key: PublicKeyType) -> PublicKey:
        if isinstance(key, Ed25519PublicKey):
            alg = "EdDSA"
        elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            alg = "ES256"
        else:
            raise errors.KeyError_("only Ed25519 and P-256 keys are supported")
        jwk = _public_jwk(key)
        return cls(alg=alg, key=key, jwk=jwk, kid=jwk_thumbprint(jwk))

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """True when ``signature`` (JWS raw form) is valid for ``signing_input``."""
        # cryptography directly (PyJWT's wrapper costs a few microseconds per call on the
        # verifier's hot path); the raw r||s form is converted to DER by cryptography
        # ``alg`` names the key's type (set with it by from_crypto and the JWK readers):
        # cheaper than isinstance against cryptography's abstract classes
        try:
            if self.alg == "EdDSA":
                return self._verify_ed25519(signing_input, signature)
            if len(signature) != 64:
                return False
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            cast(ec.EllipticCurvePublicKey, self.key).verify(der, signing_input, _ECDSA_SHA256)
        except InvalidSignature:
            return False
        return True

    def _verify_ed25519(self, signing_input: bytes, signature: bytes) -> bool:
        if len(signature) != 64:  # libsodium takes signature || message as one string
            return False
        raw = self._raw
        if raw is None:
            key = cast(Ed25519PublicKey, self.key)
            raw = self._raw = key.public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        try:
            crypto_sign_open(signature + signing_input, raw)
        except BadSignatureError:
            return False
        return True

    def to_jwk(self, *, with_kid: bool = False) -> dict[str, str]:
        """The public JWK (``kid`` and ``alg`` added when ``with_kid``)."""
        jwk = dict(self.jwk)
        if with_kid:
            jwk["kid"] = self.kid
            jwk["alg"] = self.alg
        return jwk


@dataclass(frozen=True, slots=True, eq=False)
class SigningKey:
    """A private signing key. Its private part never leaves this object except encrypted."""

    private: PrivateKeyType
    public: PublicKey

    @classmethod
    def from_crypto(cls, private: PrivateKeyType) -> SigningKey:
        return cls(private=private, public=PublicKey.from_crypto(private.public_key()))

    @property
    def alg(self) -> str:
        return self.public.alg

    @property
    def kid(self) -> str:
        return self.public.kid

    def sign(self, signing_input: bytes) -> bytes:
        """JWS signature (raw ``r||s`` for ES256) over ``signing_input``."""
        if isinstance(self.private, Ed25519PrivateKey):
            return self.private.sign(signing_input)
        return _ES256.sign(signing_input, self.private)

    def encrypted_pem(self, passphrase: str) -> bytes:
        """PKCS#8 PEM encrypted with ``passphrase`` (the only form that is ever written)."""
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )

    def __repr__(self) -> str:  # never print the private part
        return f"SigningKey(alg={self.alg!r}, kid={self.kid!r})"


def generate_key(alg: str = "EdDSA") -> SigningKey:
    """A fresh key for ``alg`` (``EdDSA`` or ``ES256``)."""
    if alg == "EdDSA":
        return SigningKey.from_crypto(Ed25519PrivateKey.generate())
    if alg == "ES256":
        return SigningKey.from_crypto(ec.generate_private_key(ec.SECP256R1()))
    raise errors.AlgorithmError(f"algorithm {alg!r} is not supported (EdDSA or ES256)")


def _ec_numbers(jwk: Mapping[str, Any]) -> tuple[int, int]:
    if jwk.get("crv") != "P-256":
        raise errors.KeyError_(f"EC curve {jwk.get('crv')!r} is not supported (P-256 only)")
    x, y = _b64url_decode(jwk.get("x"), "x"), _b64url_decode(jwk.get("y"), "y")
    if len(x) != 32 or len(y) != 32:
        raise errors.KeyError_("P-256 coordinates must be 32 bytes")
    return int.from_bytes(x, "big"), int.from_bytes(y, "big")


def public_key_from_jwk(jwk: Any, *, allow_private: bool = False) -> PublicKey:
    """A :class:`PublicKey` from a public JWK (EC P-256 or OKP Ed25519).

    Raises:
        KeyError_: unsupported or malformed key, a point not on the curve, or (unless
            ``allow_private``) a JWK that carries a private part ``d``.
    """
    if type(jwk) is not dict and not isinstance(jwk, Mapping):  # dict: skip the ABC check
        raise errors.KeyError_("a JWK must be a JSON object")
    if "d" in jwk and not allow_private:
        raise errors.KeyError_("a public JWK must not contain the private part 'd'")
    fast = _fast_public_key(jwk)
    if fast is not None:
        return fast
    kty = jwk.get("kty")
    try:
        if kty == "OKP":
            if jwk.get("crv") != "Ed25519":
                raise errors.KeyError_(f"OKP curve {jwk.get('crv')!r} is not supported")
            raw = _b64url_decode(jwk.get("x"), "x")
            return PublicKey.from_crypto(Ed25519PublicKey.from_public_bytes(raw))
        if kty == "EC":
            x, y = _ec_numbers(jwk)
            return PublicKey.from_crypto(
                ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
            )
    except ValueError as exc:
        raise errors.KeyError_(f"invalid {kty} public key: {exc}") from exc
    raise errors.KeyError_(f"unsupported JWK kty {kty!r} (EC P-256 or OKP Ed25519)")


def _fast_public_key(jwk: Mapping[str, Any]) -> PublicKey | None:
    """The common, well-formed case without the round trips of :meth:`PublicKey.from_crypto`
    (a holder key is read from ``cnf.jwk`` on every presentation); ``None`` sends anything
    unusual to the careful path, which explains what is wrong."""
    kty, crv, x = jwk.get("kty"), jwk.get("crv"), jwk.get("x")
    if type(x) is not str:
        return None
    try:
        if kty == "EC" and crv == "P-256":
            y = jwk.get("y")
            if type(y) is not str:
                return None
            return PublicKey(
                "ES256", _p256_key(x, y), {"kty": "EC", "crv": "P-256", "x": x, "y": y}
            )
        if kty == "OKP" and crv == "Ed25519":
            return PublicKey("EdDSA", _ed25519_key(x), {"kty": "OKP", "crv": "Ed25519", "x": x})
    except (errors.Base64UrlError, ValueError):
        return None
    return None


#: How many distinct public keys :func:`_p256_key` and :func:`_ed25519_key` remember.
_KEY_CACHE_SIZE = 512
#: base64url length of a 32-byte coordinate or Ed25519 public key (no padding)
_B64_32 = 43


# A key read from a JWK is a pure function of the JWK's coordinates, so the
# ``cryptography`` object is cached per coordinate text (the same holder presents the
# same cnf.jwk again and again). Only valid keys are cached (an exception is never
# remembered) and the text is length-checked first, so the cache stays small. Caching
# matters for more than the decoding: OpenSSL prepares a key on its first verification
# (tens of microseconds for P-256), which a fresh object would pay on every presentation.
# The cached objects are immutable; each call still gets its own PublicKey and JWK dict.


@lru_cache(maxsize=_KEY_CACHE_SIZE)
def _p256_key(x: str, y: str) -> ec.EllipticCurvePublicKey:
    """The P-256 key with base64url coordinates ``x``, ``y``.

    Raises:
        Base64UrlError, ValueError: malformed coordinates, or a point not on the curve.
    """
    if len(x) != _B64_32 or len(y) != _B64_32:
        raise ValueError("P-256 coordinates must be 32 bytes")
    point = b"\x04" + b64url_decode(x) + b64url_decode(y)
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


@lru_cache(maxsize=_KEY_CACHE_SIZE)
def _ed25519_key(x: str) -> Ed25519PublicKey:
    """The Ed25519 key with base64url public bytes ``x``.

    Raises:
        Base64UrlError, ValueError: not 32 base64url-encoded bytes.
    """
    if len(x) != _B64_32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(x))


def private_key_from_jwk(jwk: Any) -> SigningKey:
    """A :class:`SigningKey` from a private JWK (with ``d``); for tests and imports."""
    public = public_key_from_jwk(jwk, allow_private=True)
    d = _b64url_decode(jwk.get("d"), "d")
    try:
        if public.alg == "EdDSA":
            private: PrivateKeyType = Ed25519PrivateKey.from_private_bytes(d)
        else:
            private = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
    except ValueError as exc:
        raise errors.KeyError_(f"invalid private key: {exc}") from exc
    key = SigningKey.from_crypto(private)
    if key.kid != public.kid:
        raise errors.KeyError_("the JWK's private part does not match its public part")
    return key


# ---------------------------------------------------------------------------------------
# Key store


def resolve_passphrase(environ: Mapping[str, str] | None = None) -> str:
    """The key store passphrase from the environment (see module docstring).

    Raises:
        KeyStoreLockedError: no passphrase and not in development mode.
    """
    env = os.environ if environ is None else environ
    if env.get("PASSERELLE_KEY_PASSPHRASE"):
        return env["PASSERELLE_KEY_PASSPHRASE"]
    path = env.get("PASSERELLE_KEY_PASSPHRASE_FILE")
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise errors.KeyStoreLockedError(f"cannot read the passphrase file: {exc}") from exc
        if value:
            return value
        raise errors.KeyStoreLockedError("the passphrase file is empty")
    if env.get("PASSERELLE_DEV") == "1":
        print(
            "warning: PASSERELLE_DEV=1, keys are encrypted with the public development "
            "passphrase; never use this mode in production",
            file=sys.stderr,
        )
        return DEV_PASSPHRASE
    raise errors.KeyStoreLockedError(
        "no key store passphrase: set PASSERELLE_KEY_PASSPHRASE or "
        "PASSERELLE_KEY_PASSPHRASE_FILE (or PASSERELLE_DEV=1 for development)"
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(slots=True)
class KeyRecord:
    """Life cycle of one key in the store (no private material)."""

    kid: str
    alg: str
    public_jwk: dict[str, str]
    created_at: datetime
    status: Literal["active", "retired"] = "active"
    retired_at: datetime | None = None
    compromised_at: datetime | None = None
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": self.alg,
            "public_jwk": self.public_jwk,
            "created_at": _iso(self.created_at),
            "status": self.status,
            "retired_at": _iso(self.retired_at),
            "compromised_at": _iso(self.compromised_at),
            "label": self.label,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KeyRecord:
        created = _parse_iso(data["created_at"])
        if created is None:
            raise ValueError("created_at is missing")
        return cls(
            kid=data["kid"],
            alg=data["alg"],
            public_jwk=dict(data["public_jwk"]),
            created_at=created,
            status=data["status"],
            retired_at=_parse_iso(data.get("retired_at")),
            compromised_at=_parse_iso(data.get("compromised_at")),
            label=data.get("label", ""),
        )


class KeyStore:
    """A directory of passphrase-encrypted private keys and their life-cycle index.

    Nothing is read until a method is called; every write replaces files atomically.
    """

    def __init__(self, directory: str | os.PathLike[str], passphrase: str) -> None:
        self.directory = Path(directory)
        self._passphrase = passphrase

    # -- index -------------------------------------------------------------------------
    def _index_path(self) -> Path:
        return self.directory / _INDEX

    def index_stamp(self) -> tuple[int, int, int] | None:
        """What identifies the index file's current version (inode, modification time,
        size), ``None`` without one: every write replaces the file, so a changed stamp
        means the index may have changed, and the same stamp that it has not."""
        try:
            found = self._index_path().stat()
        except FileNotFoundError:
            return None
        return (found.st_ino, found.st_mtime_ns, found.st_size)

    def records(self) -> list[KeyRecord]:
        """All keys, oldest first."""
        path = self._index_path()
        if not path.exists():
            return []
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return [KeyRecord.from_json(item) for item in data["keys"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise errors.KeyError_(f"key store index {path} is unreadable: {exc}") from exc

    def _write_atomic(self, path: Path, data: bytes, mode: int = 0o600) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _save(self, records: list[KeyRecord]) -> None:
        body = json.dumps({"keys": [r.to_json() for r in records]}, indent=2).encode()
        self._write_atomic(self._index_path(), body, 0o644)

    def record(self, kid: str) -> KeyRecord:
        for rec in self.records():
            if rec.kid == kid:
                return rec
        raise errors.KeyNotFoundError(f"no key {kid!r} in {self.directory}")

    # -- keys --------------------------------------------------------------------------
    def generate(
        self, alg: str = "EdDSA", *, label: str = "", now: datetime | None = None
    ) -> KeyRecord:
        """Create a key; it becomes active if the store has no active key yet."""
        key = generate_key(alg)
        return self._add(key, label=label, now=now)

    def import_key(
        self, key: SigningKey, *, label: str = "", now: datetime | None = None
    ) -> KeyRecord:
        """Store an existing key (for example imported from a JWK)."""
        return self._add(key, label=label, now=now)

    def _add(self, key: SigningKey, *, label: str, now: datetime | None) -> KeyRecord:
        moment = now or datetime.now(UTC)
        records = self.records()
        self._check_passphrase(records)
        if any(r.kid == key.kid for r in records):
            raise errors.KeyError_(f"key {key.kid} is already in the store")
        has_active = any(r.status == "active" for r in records)
        record = KeyRecord(
            kid=key.kid,
            alg=key.alg,
            public_jwk=key.public.to_jwk(),
            created_at=moment,
            status="retired" if has_active else "active",
            retired_at=moment if has_active else None,
            label=label,
        )
        self._write_atomic(self.directory / f"{key.kid}.pem", key.encrypted_pem(self._passphrase))
        self._save([*records, record])
        return record

    def _check_passphrase(self, records: list[KeyRecord]) -> None:
        # one store, one passphrase: never add a key the next signing_key() cannot open
        if records:
            self.signing_key(records[-1].kid)

    def rotate(self, alg: str | None = None, *, now: datetime | None = None) -> KeyRecord:
        """Make a new key the active one; the previous active key is retired (kept)."""
        moment = now or datetime.now(UTC)
        records = self.records()
        self._check_passphrase(records)
        current = next((r for r in records if r.status == "active"), None)
        key = generate_key(alg or (current.alg if current else "EdDSA"))
        for rec in records:
            if rec.status == "active":
                rec.status, rec.retired_at = "retired", moment
        record = KeyRecord(
            kid=key.kid,
            alg=key.alg,
            public_jwk=key.public.to_jwk(),
            created_at=moment,
        )
        self._write_atomic(self.directory / f"{key.kid}.pem", key.encrypted_pem(self._passphrase))
        self._save([*records, record])
        return record

    def mark_compromised(self, kid: str, since: datetime) -> KeyRecord:
        """Void every signature by ``kid`` from ``since`` on; an active key is retired."""
        if since.tzinfo is None:  # a naive time would silently be read as local time
            raise errors.InvalidInputError("the compromise time must carry a time zone")
        records = self.records()
        for rec in records:
            if rec.kid == kid:
                rec.compromised_at = since
                if rec.status == "active":
                    rec.status, rec.retired_at = "retired", since
                self._save(records)
                return rec
        raise errors.KeyNotFoundError(f"no key {kid!r} in {self.directory}")

    def active_record(self) -> KeyRecord:
        for rec in self.records():
            if rec.status == "active":
                return rec
        raise errors.KeyNotFoundError(
            f"no active signing key in {self.directory}: run 'passerelle keys generate'"
        )

    def signing_key(self, kid: str | None = None) -> SigningKey:
        """The private key ``kid`` (default: the active one), decrypted in memory.

        Raises:
            KeyNotFoundError: no such key; KeyStoreLockedError: wrong passphrase.
        """
        rec = self.record(kid) if kid else self.active_record()
        if kid is None and rec.compromised_at is not None:
            raise errors.KeyError_(f"the active key {rec.kid} is marked compromised")
        path = self.directory / f"{rec.kid}.pem"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise errors.KeyNotFoundError(f"private key file for {rec.kid} missing") from exc
        try:
            private = serialization.load_pem_private_key(data, self._passphrase.encode())
        except (ValueError, TypeError) as exc:
            raise errors.KeyStoreLockedError(
                "cannot decrypt the private key: wrong passphrase or damaged file"
            ) from exc
        if not isinstance(private, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise errors.KeyError_("unsupported private key type in the store")
        key = SigningKey.from_crypto(private)
        if key.kid != rec.kid:
            raise errors.KeyError_(f"private key file for {rec.kid} holds another key")
        return key

    def public_keys(self) -> list[PublicKey]:
        """Every key's public part (active and retired), for verification."""
        return [public_key_from_jwk(rec.public_jwk) for rec in self.records()]

    def jwks(self) -> dict[str, Any]:
        """Public JWKS (RFC 7517) with ``kid``, ``alg`` and ``use`` on each key."""
        keys = []
        for rec in self.records():
            jwk: dict[str, Any] = dict(rec.public_jwk)
            jwk.update({"kid": rec.kid, "alg": rec.alg, "use": "sig"})
            keys.append(jwk)
        return {"keys": keys}
