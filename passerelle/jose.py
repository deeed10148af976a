"""The JOSE layer: compact JWS over PyJWT's algorithm implementations, safe by default.

Rules enforced here, for every JWS the core reads:

* the token is at most ``MAX_TOKEN_LENGTH`` characters (one JWS) and is strict unpadded
  base64url (RFC 7515 section 2): no padding, no ``+``/``/``, no whitespace, no non-zero
  trailing bits;
* header and payload are JSON objects (``NaN``/``Infinity`` refused);
* ``alg`` is in the allow-list (``EdDSA``, ``ES256``) and matches the verifying key: never
  ``none``, never ``HS*``;
* ``crit`` is rejected (we understand no extension), and so is any header that carries or
  points to a key (``jwk``, ``jku``, ``x5u``, ``x5c``): the key always comes from the caller
  (a key store, a trust list), never from the token;
* ``typ`` is checked when the caller says which one it expects.

Every PyJWT, cryptography, binascii and json exception is translated into
``passerelle.errors`` by :func:`map_jose_errors`.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, NamedTuple

import cryptography.exceptions
import jwt.exceptions

from passerelle import errors
from passerelle.encoding import (
    b64url_decode,
    b64url_encode,
    json_dumps,
    json_loads,
    json_loads_object,
    sha256_b64url,
)
from passerelle.keys import ALLOWED_ALGS, PublicKey, SigningKey

__all__ = [
    "FORBIDDEN_HEADERS",
    "MAX_TOKEN_LENGTH",
    "CompactJWS",
    "KeyResolver",
    "b64url_decode",
    "b64url_encode",
    "decode_compact",
    "json_dumps",
    "json_loads",
    "json_loads_object",
    "map_jose_errors",
    "parse_compact",
    "sha256_b64url",
    "sign_compact",
    "verify_signature",
]

#: Largest compact JWS accepted, in characters. A paper credential is about 2 KB, a
#: Status List Token of 2^20 two-bit entries compresses to a few KB (worst case 256 KB
#: of random statuses ~ 350 KB encoded), so 1 MiB leaves room and stops abuse early.
MAX_TOKEN_LENGTH = 1024 * 1024

#: Header parameters that carry or point to a key, plus ``crit``: always refused.
FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})

KeyResolver = Callable[[Mapping[str, Any], Mapping[str, Any]], PublicKey]
"""Called with (header, payload) of a parsed JWS; returns the key that must verify it."""


class CompactJWS(NamedTuple):
    """A parsed (not necessarily verified) compact JWS (immutable; a named tuple because
    one is built per token read, at a third of a frozen dataclass's cost)."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        return str(self.header["alg"])


@contextmanager
def map_jose_errors() -> Iterator[None]:
    """Translate every PyJWT / cryptography / binascii / json exception into the error tree."""
    try:
        yield
    except errors.PasserelleError:
        raise
    except jwt.exceptions.InvalidKeyError as exc:
        raise errors.KeyError_(f"unusable key: {exc}") from exc
    except jwt.exceptions.InvalidAlgorithmError as exc:
        raise errors.AlgorithmError(str(exc)) from exc
    except jwt.exceptions.InvalidSignatureError as exc:
        raise errors.SignatureError("signature verification failed") from exc
    except jwt.exceptions.ExpiredSignatureError as exc:
        raise errors.ExpiredError(str(exc)) from exc
    except jwt.exceptions.ImmatureSignatureError as exc:
        raise errors.NotYetValidError(str(exc)) from exc
    except (jwt.exceptions.InvalidAudienceError, jwt.exceptions.InvalidIssuerError) as exc:
        raise errors.ClaimsError(str(exc)) from exc
    except jwt.exceptions.MissingRequiredClaimError as exc:
        raise errors.ClaimsError(str(exc)) from exc
    except jwt.exceptions.InvalidIssuedAtError as exc:
        raise errors.ClaimsError(str(exc)) from exc
    except jwt.exceptions.DecodeError as exc:
        raise errors.TokenFormatError(str(exc)) from exc
    except jwt.exceptions.PyJWKError as exc:
        raise errors.KeyError_(f"unusable key: {exc}") from exc
    except jwt.exceptions.PyJWTError as exc:
        raise errors.JoseError(str(exc)) from exc
    except cryptography.exceptions.InvalidSignature as exc:
        raise errors.SignatureError("signature verification failed") from exc
    except cryptography.exceptions.UnsupportedAlgorithm as exc:
        raise errors.AlgorithmError(str(exc)) from exc
    except cryptography.exceptions.InvalidKey as exc:
        raise errors.KeyError_(f"unusable key: {exc}") from exc
    except (
        cryptography.exceptions.AlreadyFinalized,
        cryptography.exceptions.AlreadyUpdated,
        cryptography.exceptions.NotYetFinalized,
        cryptography.exceptions.InvalidTag,
        cryptography.exceptions.InternalError,
    ) as exc:
        raise errors.JoseError(f"cryptographic failure: {type(exc).__name__}") from exc
    except binascii.Error as exc:
        raise errors.Base64UrlError(str(exc)) from exc
    except json.JSONDecodeError as exc:
        raise errors.JsonError(f"invalid JSON: {exc}") from exc


def parse_compact(token: str, *, max_length: int = MAX_TOKEN_LENGTH) -> CompactJWS:
    """Parse a compact JWS and check its header against the safe-by-default rules.

    Raises:
        TokenTooLargeError, TokenFormatError, Base64UrlError, JsonError: structure.
        AlgorithmError: ``alg`` missing or outside the allow-list.
        HeaderError: ``crit`` or a key-carrying header present.
    """
    if not isinstance(token, str):
        raise errors.TokenFormatError("a JWS must be a string")
    if len(token) > max_length:
        raise errors.TokenTooLargeError(f"JWS longer than {max_length} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise errors.TokenFormatError("a compact JWS has exactly three dot-separated parts")
    header_b64, payload_b64, signature_b64 = parts
    if len(header_b64) > _CACHED_HEADER_LENGTH:
        header = _read_header(header_b64)
    else:
        try:
            header = dict(_read_flat_header(header_b64))  # a copy: the caller may change it
        except _NestedHeader as nested:
            header = nested.header
    payload = json_loads_object(b64url_decode(payload_b64), "JWS payload")
    signature = b64url_decode(signature_b64)
    # the parts decoded, so the token is ASCII: the signing input is its first two parts
    signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
    return CompactJWS(header, payload, signing_input, signature)


def _read_header(header_b64: str) -> dict[str, Any]:
    """The protected header of a compact JWS, decoded and checked (:func:`check_header`)."""
    header = json_loads_object(b64url_decode(header_b64), "JWS header", unique=True)
    check_header(header)
    return header


#: Longest encoded header remembered by :func:`_read_flat_header` (typical: 40 to 150).
_CACHED_HEADER_LENGTH = 512


class _NestedHeader(Exception):  # noqa: N818 - control flow, never escapes parse_compact
    """A header with an object or array value: read on every use, never cached."""

    def __init__(self, header: dict[str, Any]) -> None:
        super().__init__()
        self.header = header


@lru_cache(maxsize=256)
def _read_flat_header(header_b64: str) -> dict[str, Any]:
    """:func:`_read_header`, remembered per header text. Headers repeat (one per issuer key
    and ``typ``; every ES256 KB-JWT has the same), and the result is a pure function of
    the text: the same decoding, duplicate-member and allow-list checks decide it. A
    header that fails them raises and is never remembered; one with a nested value is not
    remembered either (the caller gets a shallow copy, which must be a full one)."""
    header = _read_header(header_b64)
    for value in header.values():
        if type(value) is dict or type(value) is list:
            raise _NestedHeader(header)
    return header


def check_header(header: Mapping[str, Any]) -> None:
    """Algorithm allow-list and forbidden parameters (see module docstring)."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGS:  # a list/dict is unhashable
        raise errors.AlgorithmError(f"algorithm {alg!r} is not allowed")
    forbidden = FORBIDDEN_HEADERS.intersection(header)
    if forbidden:
        raise errors.HeaderError(
            f"header parameter(s) {', '.join(sorted(forbidden))} refused: "
            "keys never come from the token, and no extension is understood"
        )


def check_typ(header: Mapping[str, Any], expected: str | Collection[str]) -> None:
    """``typ`` must be one of ``expected`` (compared case-insensitively, RFC 7515 4.1.9)."""
    typ = header.get("typ")
    if isinstance(typ, str):
        if isinstance(expected, str):
            if typ == expected or typ.lower() == expected.lower():
                return
        elif typ.lower() in {t.lower() for t in expected}:
            return
    allowed = {expected} if isinstance(expected, str) else set(expected)
    raise errors.TypError(f"typ {typ!r} where {' or '.join(sorted(allowed))} is expected")


def verify_signature(jws: CompactJWS, key: PublicKey) -> None:
    """Verify ``jws`` with ``key``; the header's ``alg`` must be the key's algorithm.

    Raises:
        AlgorithmError: the token's ``alg`` does not match the key.
        SignatureError: the signature does not verify.
    """
    check_alg(jws, key)
    if not key.verify(jws.signing_input, jws.signature):
        raise errors.SignatureError("signature verification failed")


def check_alg(jws: CompactJWS, key: PublicKey) -> None:
    """The header's ``alg`` must be the key's algorithm (``AlgorithmError`` otherwise)."""
    alg = jws.header["alg"]
    if alg != key.alg:
        raise errors.AlgorithmError(f"token alg {alg} does not match the key's {key.alg}")


def decode_compact(
    token: str,
    key: PublicKey | KeyResolver,
    *,
    typ: str | Collection[str] | None = None,
    require_kid: bool = False,
    max_length: int = MAX_TOKEN_LENGTH,
) -> CompactJWS:
    """Parse, check the header, resolve the key and verify the signature of a compact JWS.

    ``key`` is a key or a resolver that sees the parsed header and payload (how a trust
    list picks the issuer key). Claims are not checked here.
    """
    jws = parse_compact(token, max_length=max_length)
    if typ is not None:
        check_typ(jws.header, typ)
    if require_kid and not isinstance(jws.header.get("kid"), str):
        raise errors.HeaderError("the JWS header must carry a kid")
    public = key if isinstance(key, PublicKey) else key(jws.header, jws.payload)
    verify_signature(jws, public)
    return jws


def sign_compact(
    payload: Mapping[str, Any] | bytes,
    key: SigningKey,
    *,
    typ: str | None,
    include_kid: bool = True,
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    """Sign ``payload`` as a compact JWS with header ``alg``, ``typ`` and ``kid``."""
    header: dict[str, Any] = {"alg": key.alg}
    if typ is not None:
        header["typ"] = typ
    if include_kid:
        header["kid"] = key.kid
    if extra_header:
        header.update(extra_header)
    if header["alg"] != key.alg:
        raise errors.AlgorithmError(f"header alg {header['alg']!r} is not the key's {key.alg}")
    check_header(header)
    body = payload if isinstance(payload, bytes) else json_dumps(payload)
    signing_input = f"{b64url_encode(json_dumps(header))}.{b64url_encode(body)}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"
