"""Encodings shared by every format: strict base64url, SHA-256 digests, JSON.

The one place where Passerelle turns text into bytes and bytes into JSON, so that every
token (JWS, disclosure, key, status list) is read with the same strictness and speed.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import math
from typing import Any

import orjson

from passerelle import errors

__all__ = [
    "b64url_decode",
    "b64url_encode",
    "json_dumps",
    "json_loads",
    "json_loads_object",
    "sha256_b64url",
]

#: base64url to the standard alphabet; "+", "/" and "=" (never in strict base64url) become
#: "!", which the strict standard decoder refuses like any other foreign character
_STRICT = bytes.maketrans(b"-_+/=", b"+/!!!")
_FROM_STD = bytes.maketrans(b"+/", b"-_")
_PAD = (b"", b"", b"==", b"=")
#: value of each base64url character (0 for the others, which a2b_base64 then refuses)
_VALUE = [0] * 256
for _index, _char in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"):
    _VALUE[_char] = _index


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return binascii.b2a_base64(data, newline=False).translate(_FROM_STD).rstrip(b"=").decode()


def sha256_b64url(data: bytes) -> str:
    """base64url(SHA-256(data)): the digest form of SD-JWT disclosures and ``sd_hash``."""
    # a SHA-256 digest is 32 bytes: 44 base64 characters, the last one padding
    return (
        binascii.b2a_base64(hashlib.sha256(data).digest(), newline=False)[:43]
        .translate(_FROM_STD)
        .decode()
    )


def b64url_decode(text: str) -> bytes:
    """Strictly decode unpadded base64url: only the canonical encoding is accepted.

    Raises:
        Base64UrlError: padding, characters outside the URL-safe alphabet (whitespace,
            ``+``, ``/``), an impossible length, or non-zero unused trailing bits.
    """
    try:
        data = text.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        raise errors.Base64UrlError("characters outside the base64url alphabet") from None
    rest = len(data) & 3
    if rest:
        if rest == 1:
            raise errors.Base64UrlError("impossible base64url length")
        # the unused low bits of the last character must be zero: one encoding per string
        if _VALUE[data[-1]] & (0x0F if rest == 2 else 0x03):
            raise errors.Base64UrlError("non-canonical base64url (trailing bits set)")
        standard = data.translate(_STRICT) + _PAD[rest]
    else:
        standard = data.translate(_STRICT)
    try:
        # one pass: "+", "/" and "=" became "!", which the strict decoder refuses
        return binascii.a2b_base64(standard, strict_mode=True)
    except binascii.Error:
        pass
    if b"+" in data or b"/" in data or b"=" in data:
        raise errors.Base64UrlError("non-canonical base64url (padding, + or /)")
    raise errors.Base64UrlError("characters outside the base64url alphabet")


def _reject_constant(name: str) -> Any:
    raise errors.JsonError(f"{name} is not valid JSON")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 4 / RFC 9901: reject duplicate names rather than let the last one win
    value = dict(pairs)
    if len(value) != len(pairs):
        raise errors.JsonError("duplicate member name in a JSON object")
    return value


def _finite_float(text: str) -> float:
    # "1e400" is JSON, but no double: orjson refuses it, and so does the strict parser
    value = float(text)
    if math.isinf(value):
        raise errors.JsonError(f"the number {text[:20]} is too large for a double")
    return value


def json_loads(data: bytes | str, what: str = "JSON") -> Any:
    """Parse any JSON value with orjson: strict UTF-8, no ``NaN``/``Infinity`` nor a number
    too large for a double (every float read is finite), integers within 64 bits; a
    duplicate member name keeps the last value (RFC 7515 section 5.2).

    Raises:
        JsonError: anything else.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise errors.JsonError(f"{what} is not valid JSON") from None


def json_loads_object(
    data: bytes | str, what: str = "JSON", *, unique: bool = False
) -> dict[str, Any]:
    """Parse a JSON object (see :func:`json_loads`); with ``unique``, a duplicate member
    name is refused instead (used for JOSE headers, where ``alg`` twice is an attack).

    Raises:
        JsonError: not JSON, not an object, or (``unique``) a duplicate member name.
    """
    try:
        value = orjson.loads(data)  # json_loads, inlined: JOSE headers are on the hot path
    except orjson.JSONDecodeError:
        raise errors.JsonError(f"{what} is not valid JSON") from None
    if unique and type(value) is dict and not _counted(data, value):
        value = _strict_unique(data, what)
    if type(value) is not dict:
        raise errors.JsonError(f"{what} is not a JSON object")
    return value


def _counted(data: bytes | str, value: dict[str, Any]) -> bool:
    """True when ``data`` provably has no duplicate member: every value is a scalar and
    the text has exactly the quotes of ``value``'s names and string values (a duplicate,
    an escaped quote or a nested value adds some, and sends the text to the strict parser)."""
    strings = 0
    for item in value.values():
        kind = type(item)
        if kind is str:
            strings += 1
        elif kind is dict or kind is list:
            return False
    quotes = data.count(b'"') if isinstance(data, bytes) else data.count('"')
    return quotes == 2 * (len(value) + strings)


def _strict_unique(data: bytes | str, what: str) -> Any:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return _UNIQUE.decode(text)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        if isinstance(exc, errors.PasserelleError):
            raise
        raise errors.JsonError(f"{what} is not valid JSON") from None


_UNIQUE = json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_finite_float, object_pairs_hook=_unique_members
)

_COMPACT = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def json_dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, the serialisation Passerelle signs.

    Raises:
        InvalidInputError: a value that is not JSON (including NaN and infinities).
    """
    try:
        encoded = orjson.dumps(value)
        if b"null" in encoded:
            # orjson writes NaN and infinities as null: let the standard encoder refuse them
            return _COMPACT.encode(value).encode()
        return encoded
    except (TypeError, ValueError) as exc:  # orjson.JSONEncodeError is a TypeError
        raise errors.InvalidInputError(f"not representable as JSON: {exc}") from None
