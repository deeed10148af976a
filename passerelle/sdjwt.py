"""SD-JWT (RFC 9901): selective disclosure for JWTs, issuance, presentation and verification.

Generic over the claims it carries; the SD-JWT VC profile (``typ: dc+sd-jwt``, ``vct``,
registered claims) is layered on top in :mod:`passerelle.credential`.

Formats accepted and produced:

* compact: ``<Issuer-signed JWT>~<Disclosure 1>~...~<Disclosure N>~[<KB-JWT>]``;
* JWS JSON serialization (section 8), flattened and general: ``disclosures`` and ``kb_jwt``
  in the (first) unprotected header. :func:`present` answers in the form it was given.

Limits: a serialized SD-JWT is at most :data:`MAX_SD_JWT_LENGTH` characters (checked before
anything else is read), structures are at most :data:`MAX_DEPTH` levels deep, and the only
``_sd_alg`` is ``sha-256`` (the default when absent).

Verification is split into the steps a credential pipeline runs one by one
(:func:`parse`, :func:`verify_issuer_signature`, :func:`process_disclosures`,
:func:`holder_key_from_cnf`, :func:`verify_key_binding`); :func:`verify` runs them all.
:func:`process_disclosures` enforces every rule of RFC 9901 section 7.1:

* ``_sd_alg`` is understood (``sha-256``) and appears only at the top level;
* ``_sd`` is an array of strings; ``{"...": digest}`` is an object with that one key and a
  string digest; ``...`` appears nowhere else;
* a digest appears at most once in the payload and the disclosures, and a disclosure is
  given at most once;
* a disclosure is a JSON array of three elements (salt, name, value) when referenced from
  ``_sd`` and of two (salt, value) when referenced from an array; the salt is a string, the
  name a string that is neither ``_sd`` nor ``...`` nor an existing claim of that object;
* every disclosure is referenced, directly or through another disclosure;
* array elements whose disclosure is absent are removed; ``_sd`` and ``_sd_alg`` are removed.

Errors: structure problems raise :class:`~passerelle.errors.TokenFormatError` (or its
subclasses), JOSE problems the :class:`~passerelle.errors.JoseError` family, disclosure
problems :class:`~passerelle.errors.DisclosureError` and key binding problems
:class:`~passerelle.errors.KeyBindingError` and its subclasses.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from passerelle import errors, jose
from passerelle.encoding import (
    b64url_decode,
    b64url_encode,
    json_dumps,
    json_loads,
    sha256_b64url,
)
from passerelle.keys import PublicKey, SigningKey, public_key_from_jwk

__all__ = [
    "DEFAULT_SD_ALG",
    "ELLIPSIS_KEY",
    "JSON_DISCLOSURES_KEY",
    "JSON_KB_JWT_KEY",
    "KB_JWT_TYP",
    "MAX_DEPTH",
    "MAX_SD_JWT_LENGTH",
    "SD",
    "SD_ALG_KEY",
    "SD_HASH_KEY",
    "SD_KEY",
    "SEPARATOR",
    "ClaimPath",
    "Disclosure",
    "IssuedSdJwt",
    "ParsedSdJwt",
    "VerifiedSdJwt",
    "disclosure_paths",
    "holder_key_from_cnf",
    "issue",
    "parse",
    "present",
    "process_disclosures",
    "random_salt",
    "verify",
    "verify_issuer_signature",
    "verify_key_binding",
]

#: Object key holding the digests of an object's selectively disclosable properties.
SD_KEY = "_sd"
#: The only key of ``{"...": digest}``, the placeholder of a disclosable array element.
ELLIPSIS_KEY = "..."
#: Top-level claim naming the digest algorithm.
SD_ALG_KEY = "_sd_alg"
#: KB-JWT claim: digest of the presented SD-JWT.
SD_HASH_KEY = "sd_hash"
#: ``typ`` of a Key Binding JWT.
KB_JWT_TYP = "kb+jwt"
#: The digest algorithm (the only one supported, and the default when ``_sd_alg`` is absent).
DEFAULT_SD_ALG = "sha-256"
#: Separator of the compact serialization.
SEPARATOR = "~"
#: Unprotected header parameters of the JWS JSON serialization (RFC 9901 section 8.1).
JSON_DISCLOSURES_KEY = "disclosures"
JSON_KB_JWT_KEY = "kb_jwt"

#: Largest serialized SD-JWT accepted, in characters. A Passerelle credential is 2 to 10 KB,
#: the issuer-signed JWT alone may be up to ``jose.MAX_TOKEN_LENGTH`` (1 MiB); anything
#: larger is refused before it is split or decoded.
MAX_SD_JWT_LENGTH = 1024 * 1024
#: Deepest nesting of objects, arrays and recursive disclosures processed.
MAX_DEPTH = 64

ClaimPath = tuple[str | int, ...]
"""Where a claim sits: object keys (``str``) and array positions (``int``) from the top."""

_RESERVED_NAMES = frozenset({SD_KEY, ELLIPSIS_KEY})
#: Keys with a meaning in a payload object (allowed there: ``_sd``; ``_sd_alg`` at the top).
_SD_KEYS = frozenset({SD_KEY, ELLIPSIS_KEY, SD_ALG_KEY})
#: Disclosures are serialised like the spec examples (json.dumps defaults, UTF-8 kept).
_DISCLOSURE_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
#: The string encoder that encoder uses (the C one when available): a disclosure whose
#: value is a string or an integer is written with it directly, to the same text.
_JSON_STRING = json.encoder.encode_basestring


# ---------------------------------------------------------------------------------------
# Disclosures


@dataclass(frozen=True, slots=True)
class SD:
    """Marks what the issuer makes selectively disclosable.

    As a dict key, ``{SD("name"): value}`` makes that property disclosable; as an array
    element, ``[SD(value)]`` makes that element disclosable. Values may contain further
    ``SD`` markers: they become recursive disclosures.
    """

    value: Any


def random_salt() -> str:
    """A fresh salt: 128 bits from :mod:`secrets`, base64url (22 characters)."""
    return b64url_encode(secrets.token_bytes(16))


def _random_decoy() -> str:
    # RFC 9901 section 4.2.5: the digest of a cryptographically secure random number
    return sha256_b64url(secrets.token_bytes(32))


def _open_disclosure(encoded: str) -> tuple[str, str, str | None, Any]:
    """(digest, salt, name or None for an array element, value) of a Disclosure string."""
    try:
        raw = b64url_decode(encoded)
    except errors.Base64UrlError as exc:
        raise errors.DisclosureError(f"a disclosure is not base64url: {exc.detail}") from None
    try:
        content = json_loads(raw, "a disclosure")
    except errors.JsonError:
        raise errors.DisclosureError("a disclosure is not valid JSON") from None
    if type(content) is not list:
        raise errors.DisclosureError("a disclosure must be a JSON array")
    if len(content) == 3:
        salt, name, value = content
        if type(name) is not str:
            raise errors.DisclosureError("a disclosure's claim name must be a string")
        if name in _RESERVED_NAMES:
            raise errors.DisclosureError(f"a disclosure must not be named {name!r}")
    elif len(content) == 2:
        salt, value = content
        name = None
    else:
        raise errors.DisclosureError("a disclosure must have 2 (array element) or 3 elements")
    if type(salt) is not str:
        raise errors.DisclosureError("a disclosure's salt must be a string")
    return sha256_b64url(encoded.encode("ascii")), salt, name, value


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One Disclosure: ``salt``, claim ``name`` (``None`` for an array element), ``value``,
    its base64url ``encoded`` form and the base64url SHA-256 ``digest`` of that form."""

    salt: str
    name: str | None
    value: Any
    encoded: str
    digest: str

    @classmethod
    def create(cls, salt: str, name: str | None, value: Any) -> Disclosure:
        """Serialise ``[salt, name, value]`` (``[salt, value]`` when ``name`` is ``None``) as
        ``json.dumps`` does by default (the spec examples' form), UTF-8, then base64url.

        Raises:
            InvalidInputError: a non-string salt or name, a reserved name (``_sd``,
                ``...``), or a value that is not JSON (including NaN and infinities).
        """
        if not isinstance(salt, str):
            raise errors.InvalidInputError("a salt must be a string")
        if name is not None and (not isinstance(name, str) or name in _RESERVED_NAMES):
            raise errors.InvalidInputError(f"{name!r} cannot be a disclosed claim name")
        kind = type(value)
        try:
            if kind is str or kind is int:  # most claims: what json.dumps writes, 5x faster
                item = _JSON_STRING(value) if kind is str else int.__repr__(value)
                text = (
                    f"[{_JSON_STRING(salt)}, {item}]"
                    if name is None
                    else f"[{_JSON_STRING(salt)}, {_JSON_STRING(name)}, {item}]"
                )
            else:
                content = [salt, value] if name is None else [salt, name, value]
                text = _DISCLOSURE_JSON.encode(content)
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 form
            raise errors.InvalidInputError("claim value is not valid Unicode text") from None
        except (TypeError, ValueError) as exc:
            raise errors.InvalidInputError(f"claim value is not JSON: {exc}") from None
        encoded = b64url_encode(data)
        return cls(salt, name, value, encoded, sha256_b64url(encoded.encode("ascii")))

    @classmethod
    def parse(cls, encoded: str) -> Disclosure:
        """Decode and check one Disclosure string.

        Raises:
            DisclosureError: not strict base64url, not a JSON array of 2 or 3 elements, a
                non-string salt or name, or a name ``_sd`` or ``...``.
        """
        if not isinstance(encoded, str):
            raise errors.DisclosureError("a disclosure must be a string")
        digest, salt, name, value = _open_disclosure(encoded)
        return cls(salt, name, value, encoded, digest)


# ---------------------------------------------------------------------------------------
# Issuance


@dataclass(frozen=True, slots=True)
class IssuedSdJwt:
    """What :func:`issue` returns: the issuer-signed ``jwt``, every Disclosure, and the
    ``payload`` that was signed."""

    jwt: str
    disclosures: tuple[Disclosure, ...]
    payload: dict[str, Any]

    @property
    def compact(self) -> str:
        """``<jwt>~<d1>~...~<dn>~``, the compact SD-JWT handed to the holder."""
        return SEPARATOR.join((self.jwt, *(d.encoded for d in self.disclosures), ""))

    def to_json(self, *, general: bool = False) -> str:
        """The JWS JSON serialization (flattened, or general with one signature)."""
        protected, payload, signature = self.jwt.split(".")
        header = {JSON_DISCLOSURES_KEY: [d.encoded for d in self.disclosures]}
        signed = {"protected": protected, "header": header, "signature": signature}
        if general:
            return jose.json_dumps({"payload": payload, "signatures": [signed]}).decode()
        return jose.json_dumps({"payload": payload, **signed}).decode()


@dataclass(slots=True)
class _Issuance:
    salt: Callable[[], str]
    decoy: Callable[[], str]
    decoys: int
    disclosures: list[Disclosure] = field(default_factory=list)

    def value(self, node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise errors.InvalidInputError(f"claims nested deeper than {MAX_DEPTH} levels")
        kind = type(node)
        if kind is str or kind is int or kind is bool or kind is float or node is None:
            return node
        if isinstance(node, Mapping):
            return self.object(node, depth + 1)
        if isinstance(node, list | tuple):
            return self.array(node, depth + 1)
        if isinstance(node, SD):
            raise errors.InvalidInputError("SD marks a dict key or an array element, not a value")
        return node

    def object(self, node: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        plain: dict[str, Any] = {}
        digests: list[str] = []
        names: set[str] = set()
        for key, value in node.items():
            if type(key) is SD:
                name = key.value
                if not isinstance(name, str):
                    raise errors.InvalidInputError("SD(...) as a key must wrap a string")
                if name in _RESERVED_NAMES:
                    raise errors.InvalidInputError(f"{name!r} cannot be a claim name")
                if name in names:
                    raise errors.InvalidInputError(f"claim {name!r} is given twice")
                names.add(name)
                inner = self.value(value, depth)
                disclosure = Disclosure.create(self.salt(), name, inner)
                self.disclosures.append(disclosure)
                digests.append(disclosure.digest)
            elif isinstance(key, str):
                if key in _RESERVED_NAMES or key == SD_ALG_KEY:
                    raise errors.InvalidInputError(f"{key!r} is reserved by SD-JWT")
                plain[key] = self.value(value, depth)
            else:
                raise errors.InvalidInputError(f"claim names must be strings, not {key!r}")
        clash = names.intersection(plain)
        if clash:
            raise errors.InvalidInputError(f"claim {sorted(clash)[0]!r} is given twice")
        if not digests:
            return plain
        digests.extend(self.decoy() for _ in range(self.decoys))
        digests.sort()  # hides the original order (RFC 9901 section 4.2.4.1)
        result: dict[str, Any] = {SD_KEY: digests}
        result.update(plain)
        return result

    def array(self, node: Sequence[Any], depth: int) -> list[Any]:
        result: list[Any] = []
        for element in node:
            if type(element) is SD:
                inner = self.value(element.value, depth)
                disclosure = Disclosure.create(self.salt(), None, inner)
                self.disclosures.append(disclosure)
                result.append({ELLIPSIS_KEY: disclosure.digest})
            else:
                result.append(self.value(element, depth))
        return result


def issue(
    claims: Mapping[Any, Any],
    key: SigningKey,
    *,
    typ: str | None,
    decoys: int = 0,
    salt_factory: Callable[[], str] = random_salt,
    decoy_factory: Callable[[], str] = _random_decoy,
    extra_header: Mapping[str, Any] | None = None,
    include_kid: bool = True,
) -> IssuedSdJwt:
    """Issue an SD-JWT for ``claims``, where :class:`SD` markers say what is disclosable.

    Each ``_sd`` array gets its digests plus exactly ``decoys`` decoy digests (from
    ``decoy_factory``), sorted; arrays get no decoys. ``_sd_alg: sha-256`` is added to the
    payload. Salts come from ``salt_factory``, called once per disclosure, inner disclosures
    of a recursive one first, otherwise in the order of ``claims``. Disclosures appear in
    the same order.

    Raises:
        InvalidInputError: a reserved name (``_sd``, ``...``, ``_sd_alg``), a claim given
            twice (plainly and as ``SD``), a misplaced ``SD``, a value that is not JSON, a
            negative ``decoys`` or claims nested deeper than :data:`MAX_DEPTH`.
        AlgorithmError, HeaderError: from ``extra_header`` (see :mod:`passerelle.jose`).
    """
    if not isinstance(claims, Mapping):
        raise errors.InvalidInputError("the claims must be a JSON object")
    if decoys < 0:
        raise errors.InvalidInputError("decoys must not be negative")
    issuance = _Issuance(salt=salt_factory, decoy=decoy_factory, decoys=decoys)
    payload = issuance.object(claims, 1)
    payload[SD_ALG_KEY] = DEFAULT_SD_ALG
    jwt = jose.sign_compact(
        json_dumps(payload), key, typ=typ, include_kid=include_kid, extra_header=extra_header
    )
    return IssuedSdJwt(jwt=jwt, disclosures=tuple(issuance.disclosures), payload=payload)


# ---------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True, slots=True)
class ParsedSdJwt:
    """An SD-JWT or SD-JWT+KB split into its parts; nothing is verified yet.

    ``issuer_jwt`` is always the compact JWS (rebuilt from the first signature for the JSON
    serialization); ``unprotected_header`` and ``envelope`` are set for the JSON forms.
    """

    issuer_jwt: str
    disclosures: tuple[str, ...]
    kb_jwt: str | None
    serialization: Literal["compact", "json"] = "compact"
    unprotected_header: Mapping[str, Any] | None = field(default=None, repr=False)
    envelope: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def sd_hash_input(self) -> str:
        """The exact string ``sd_hash`` covers: ``<issuer JWT>~<d1>~...~<dn>~`` (section
        4.3.1; for the JSON serialization the compact form is rebuilt, section 8.1)."""
        return SEPARATOR.join((self.issuer_jwt, *self.disclosures, ""))


def parse(serialized: str) -> ParsedSdJwt:
    """Split a compact or JWS JSON serialized SD-JWT / SD-JWT+KB into its parts.

    A JSON serialization is recognised by its leading ``{``. The length limit is checked
    first, so oversized input is refused without being read.

    Raises:
        TokenTooLargeError: longer than :data:`MAX_SD_JWT_LENGTH`.
        TokenFormatError: no ``~``, an empty disclosure, a part that is not a three-part
            JWS, or a JSON serialization that breaks RFC 9901 section 8.
        JsonError: a JSON serialization that is not a JSON object.
        HeaderError: a key-carrying or ``alg`` parameter in the unprotected header.
    """
    if not isinstance(serialized, str):
        raise errors.TokenFormatError("an SD-JWT must be a string")
    if len(serialized) > MAX_SD_JWT_LENGTH:
        raise errors.TokenTooLargeError(f"SD-JWT longer than {MAX_SD_JWT_LENGTH} characters")
    if serialized[:1] == "{":
        return _parse_json(serialized)
    parts = serialized.split(SEPARATOR)
    if len(parts) < 2:
        raise errors.TokenFormatError("not an SD-JWT: the compact form has at least one '~'")
    issuer_jwt, kb_jwt, disclosures = parts[0], parts[-1], tuple(parts[1:-1])
    _check_jws_shape(issuer_jwt, "issuer-signed JWT")
    if "" in disclosures:
        raise errors.TokenFormatError("empty disclosure ('~~') in the SD-JWT")
    if kb_jwt:
        _check_jws_shape(kb_jwt, "KB-JWT")
    return ParsedSdJwt(issuer_jwt, disclosures, kb_jwt or None)


def _check_jws_shape(token: str, what: str) -> None:
    if token.count(".") != 2:
        raise errors.TokenFormatError(f"the {what} is not a compact JWS (three parts)")


def _parse_json(serialized: str) -> ParsedSdJwt:
    envelope = jose.json_loads_object(serialized, "JWS JSON serialization")
    for name in (JSON_DISCLOSURES_KEY, JSON_KB_JWT_KEY):
        if name in envelope:
            raise errors.TokenFormatError(
                f"'{name}' belongs in the unprotected header (RFC 9901 section 8.1)"
            )
    payload = envelope.get("payload")
    if "signatures" in envelope:
        signatures = envelope["signatures"]
        if not isinstance(signatures, list) or not signatures:
            raise errors.TokenFormatError("'signatures' must be a non-empty array")
        if any(not isinstance(s, dict) for s in signatures):
            raise errors.TokenFormatError("each signature must be a JSON object")
        if "protected" in envelope or "signature" in envelope or "header" in envelope:
            raise errors.TokenFormatError("general and flattened JSON members mixed")
        first: Mapping[str, Any] = signatures[0]
        for other in signatures[1:]:
            header = other.get("header")
            if isinstance(header, dict) and (
                JSON_DISCLOSURES_KEY in header or JSON_KB_JWT_KEY in header
            ):
                raise errors.TokenFormatError(
                    "disclosures and kb_jwt belong in the first signature's header only"
                )
    else:
        first = envelope
    protected, signature = first.get("protected"), first.get("signature")
    for name, value in (("payload", payload), ("protected", protected), ("signature", signature)):
        if not isinstance(value, str):
            raise errors.TokenFormatError(f"the JWS JSON serialization lacks a string '{name}'")
    header = first.get("header", {})
    if not isinstance(header, dict):
        raise errors.TokenFormatError("the unprotected header must be a JSON object")
    forbidden = jose.FORBIDDEN_HEADERS.union({"alg"}).intersection(header)
    if forbidden:
        raise errors.HeaderError(
            f"unprotected header parameter(s) {', '.join(sorted(forbidden))} refused"
        )
    disclosures = header.get(JSON_DISCLOSURES_KEY, [])
    if not isinstance(disclosures, list) or any(
        not isinstance(d, str) or not d for d in disclosures
    ):
        raise errors.TokenFormatError("'disclosures' must be an array of non-empty strings")
    kb_jwt = header.get(JSON_KB_JWT_KEY)
    if kb_jwt is not None:
        if not isinstance(kb_jwt, str):
            raise errors.TokenFormatError("'kb_jwt' must be a string")
        _check_jws_shape(kb_jwt, "KB-JWT")
    issuer_jwt = f"{protected}.{payload}.{signature}"
    _check_jws_shape(issuer_jwt, "issuer-signed JWT")
    return ParsedSdJwt(
        issuer_jwt,
        tuple(disclosures),
        kb_jwt,
        serialization="json",
        unprotected_header=header,
        envelope=envelope,
    )


# ---------------------------------------------------------------------------------------
# Verification steps


def verify_issuer_signature(
    parsed: ParsedSdJwt,
    key: PublicKey | jose.KeyResolver,
    *,
    typ: str | Collection[str] | None,
) -> jose.CompactJWS:
    """Check the issuer-signed JWT's header rules, ``typ`` (when given) and signature.

    ``key`` is the issuer's key or a resolver called with the parsed header and payload.
    Claims such as ``exp`` are not checked here.

    Raises:
        TokenFormatError, Base64UrlError, JsonError: structure of the JWT.
        AlgorithmError, HeaderError, TypError, SignatureError: see :mod:`passerelle.jose`;
            HeaderError too when a parameter is in both the protected and unprotected header.
        KeyNotFoundError (or any error of the resolver).
    """
    jws, public = _issuer_jws_and_key(parsed, key, typ)
    jose.verify_signature(jws, public)
    return jws


def _issuer_jws_and_key(
    parsed: ParsedSdJwt, key: PublicKey | jose.KeyResolver, typ: str | Collection[str] | None
) -> tuple[jose.CompactJWS, PublicKey]:
    """:func:`verify_issuer_signature` up to the signature: the parsed JWS and its key."""
    if len(parsed.issuer_jwt) > jose.MAX_TOKEN_LENGTH:
        raise errors.TokenTooLargeError(f"JWS longer than {jose.MAX_TOKEN_LENGTH} characters")
    jws = jose.parse_compact(parsed.issuer_jwt)
    if parsed.unprotected_header is not None:
        both = set(parsed.unprotected_header).intersection(jws.header)
        if both:
            raise errors.HeaderError(
                f"header parameter(s) {', '.join(sorted(both))} both protected and unprotected"
            )
    if typ is not None:
        jose.check_typ(jws.header, typ)
    public = key if isinstance(key, PublicKey) else key(jws.header, jws.payload)
    return jws, public


def process_disclosures(payload: Mapping[str, Any], disclosures: Sequence[str]) -> dict[str, Any]:
    """The Processed SD-JWT Payload: ``payload`` (the issuer-signed JWT's, as parsed from
    JSON) with ``disclosures`` applied per RFC 9901 section 7.1 (rules in the module
    docstring). Neither argument is modified.

    Raises:
        DisclosureError: any rule broken; the detail says which.
    """
    alg = payload.get(SD_ALG_KEY, DEFAULT_SD_ALG)
    if alg != DEFAULT_SD_ALG:
        raise errors.DisclosureError(f"unsupported _sd_alg {alg!r} (only sha-256)")
    table: dict[str, tuple[str | None, Any]] = {}
    for encoded in disclosures:
        if type(encoded) is not str:
            raise errors.DisclosureError("a disclosure must be a string")
        digest, _salt, name, value = _open_disclosure(encoded)
        if digest in table:
            raise errors.DisclosureError("the same disclosure is given twice")
        table[digest] = (name, value)
    seen: set[str] = set()
    claims = _process_object(payload, table, seen, 0)
    if len(table) > len(seen) or not seen.issuperset(table):
        raise errors.DisclosureError("a disclosure is not referenced by any digest")
    return claims


def _process_value(value: Any, table: _Table, seen: set[str], depth: int) -> Any:
    kind = type(value)
    if kind is dict:
        return _process_object(value, table, seen, depth + 1)
    if kind is list:
        return _process_array(value, table, seen, depth + 1)
    return value


_Table = dict[str, tuple[str | None, Any]]


def _process_object(
    node: Mapping[str, Any], table: _Table, seen: set[str], depth: int
) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise errors.DisclosureError(f"structure nested deeper than {MAX_DEPTH} levels")
    out: dict[str, Any] = {}
    digests: Any = None
    for key, value in node.items():
        if key in _SD_KEYS:  # one set lookup for the common, plain claim
            if key == SD_KEY:
                digests = value
                continue
            if key == SD_ALG_KEY and depth == 0:
                continue
            raise errors.DisclosureError(f"'{key}' is not allowed in this object")
        kind = type(value)
        if kind is dict:
            out[key] = _process_object(value, table, seen, depth + 1)
        elif kind is list:
            out[key] = _process_array(value, table, seen, depth + 1)
        else:
            out[key] = value
    if digests is None:
        return out
    if type(digests) is not list:
        raise errors.DisclosureError("'_sd' must be an array of digests")
    for digest in digests:
        if type(digest) is not str:
            raise errors.DisclosureError("'_sd' must be an array of strings")
        if digest in seen:
            raise errors.DisclosureError("a digest appears more than once")
        seen.add(digest)
        found = table.get(digest)
        if found is None:
            continue  # a decoy, or a claim not disclosed
        name, value = found
        if name is None:
            raise errors.DisclosureError("an array element disclosure is referenced from '_sd'")
        if name in out or name in node:
            raise errors.DisclosureError(f"disclosed claim {name!r} already exists")
        out[name] = _process_value(value, table, seen, depth)
    return out


def _process_array(node: list[Any], table: _Table, seen: set[str], depth: int) -> list[Any]:
    if depth > MAX_DEPTH:
        raise errors.DisclosureError(f"structure nested deeper than {MAX_DEPTH} levels")
    out: list[Any] = []
    for element in node:
        kind = type(element)
        if kind is dict:
            if ELLIPSIS_KEY not in element:
                out.append(_process_object(element, table, seen, depth + 1))
                continue
            if len(element) != 1:
                raise errors.DisclosureError("a '...' array element must have no other key")
            digest = element[ELLIPSIS_KEY]
            if type(digest) is not str:
                raise errors.DisclosureError("a '...' digest must be a string")
            if digest in seen:
                raise errors.DisclosureError("a digest appears more than once")
            seen.add(digest)
            found = table.get(digest)
            if found is None:
                continue  # undisclosed (or decoy) element: removed
            name, value = found
            if name is not None:
                raise errors.DisclosureError(
                    "an object property disclosure is referenced from an array"
                )
            out.append(_process_value(value, table, seen, depth))
        elif kind is list:
            out.append(_process_array(element, table, seen, depth + 1))
        else:
            out.append(element)
    return out


def holder_key_from_cnf(payload: Mapping[str, Any]) -> PublicKey:
    """The holder's public key from ``cnf.jwk`` (RFC 7800) of the issuer-signed payload.

    Raises:
        KeyBindingError: no ``cnf`` object with a ``jwk`` object.
        KeyError_: the JWK is unusable (unsupported, malformed, private, not on the curve).
    """
    cnf = payload.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise errors.KeyBindingError("the SD-JWT has no holder key (cnf.jwk)")
    return public_key_from_jwk(jwk)


def verify_key_binding(
    parsed: ParsedSdJwt,
    holder_key: PublicKey,
    *,
    nonce: str,
    audience: str,
    now: int,
    max_age: int = 300,
    future_leeway: int = 60,
) -> dict[str, Any]:
    """Check the KB-JWT of an SD-JWT+KB (RFC 9901 section 7.3 step 5) and return its payload.

    ``typ`` must be ``kb+jwt``, ``alg`` allowed and the holder key's, the signature valid;
    ``iat`` within ``[now - max_age, now + future_leeway]`` (and ``exp``/``nbf``, if any,
    respected); ``nonce`` and ``aud`` (a single string) equal to the expected ones;
    ``sd_hash`` the SHA-256 of :attr:`ParsedSdJwt.sd_hash_input` (SHA-256 being the only
    ``_sd_alg`` :func:`process_disclosures` accepts).

    Raises:
        KeyBindingError: no KB-JWT. NonceMismatchError, AudienceMismatchError,
        SdHashMismatchError, KeyBindingTimeError: the claim named.
        TokenFormatError, AlgorithmError, HeaderError, TypError, SignatureError: the JWS.
    """
    return _check_key_binding(parsed, holder_key, nonce, audience, now, max_age, future_leeway)


def _check_key_binding(
    parsed: ParsedSdJwt,
    holder_key: PublicKey,
    nonce: str | None,
    audience: str | None,
    now: int,
    max_age: int,
    future_leeway: int,
) -> dict[str, Any]:
    jws = _kb_jws(parsed, holder_key)
    if not holder_key.verify(jws.signing_input, jws.signature):
        raise errors.SignatureError("signature verification failed")
    return _check_kb_claims(jws.payload, parsed, nonce, audience, now, max_age, future_leeway)


def _kb_jws(parsed: ParsedSdJwt, holder_key: PublicKey) -> jose.CompactJWS:
    """The KB-JWT parsed, with its header rules, ``typ`` and ``alg`` (the holder key's)
    checked: everything of :func:`jose.verify_signature` but the signature itself."""
    if parsed.kb_jwt is None:
        raise errors.KeyBindingError("a key binding JWT is required but absent")
    if len(parsed.kb_jwt) > jose.MAX_TOKEN_LENGTH:
        raise errors.TokenTooLargeError("KB-JWT too large")
    jws = jose.parse_compact(parsed.kb_jwt)
    jose.check_typ(jws.header, KB_JWT_TYP)
    jose.check_alg(jws, holder_key)
    return jws


def _check_kb_claims(
    claims: dict[str, Any],
    parsed: ParsedSdJwt,
    nonce: str | None,
    audience: str | None,
    now: int,
    max_age: int,
    future_leeway: int,
) -> dict[str, Any]:
    """The claims of a KB-JWT whose signature verified: time window, nonce, aud, sd_hash."""
    iat = claims.get("iat")
    if type(iat) is not int and type(iat) is not float:
        raise errors.KeyBindingTimeError("the KB-JWT lacks a numeric 'iat'")
    if iat > now + future_leeway:
        raise errors.KeyBindingTimeError("the KB-JWT is issued in the future")
    if iat < now - max_age:
        raise errors.KeyBindingTimeError(f"the KB-JWT is older than {max_age} s")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if exp is not None and (type(exp) not in (int, float) or exp <= now - future_leeway):
        raise errors.KeyBindingTimeError("the KB-JWT has expired")
    if nbf is not None and (type(nbf) not in (int, float) or nbf > now + future_leeway):
        raise errors.KeyBindingTimeError("the KB-JWT is not valid yet")
    got_nonce, got_aud = claims.get("nonce"), claims.get("aud")
    if type(got_nonce) is not str or (nonce is not None and got_nonce != nonce):
        raise errors.NonceMismatchError("the KB-JWT nonce is not the one expected")
    if type(got_aud) is not str:
        raise errors.AudienceMismatchError("the KB-JWT 'aud' must be a single string")
    if audience is not None and got_aud != audience:
        raise errors.AudienceMismatchError("the KB-JWT is meant for another audience")
    expected = sha256_b64url(parsed.sd_hash_input.encode("utf-8"))
    if claims.get(SD_HASH_KEY) != expected:
        raise errors.SdHashMismatchError("sd_hash does not match the presented SD-JWT")
    return claims


# ---------------------------------------------------------------------------------------
# Verification in one call


@dataclass(frozen=True, slots=True)
class VerifiedSdJwt:
    """A verified SD-JWT: issuer JWT ``header`` and signed ``payload``, the processed
    ``claims``, and the KB-JWT payload (``None`` without key binding)."""

    header: dict[str, Any]
    payload: dict[str, Any]
    claims: dict[str, Any]
    kb_payload: dict[str, Any] | None


def verify(
    serialized: str,
    issuer_key: PublicKey | jose.KeyResolver,
    *,
    typ: str | Collection[str] | None = None,
    nonce: str | None = None,
    audience: str | None = None,
    now: int | None = None,
    require_key_binding: bool = False,
    kb_max_age: int = 300,
) -> VerifiedSdJwt:
    """Parse and verify an SD-JWT or SD-JWT+KB (RFC 9901 sections 7.1 and 7.3).

    Key binding is required when ``require_key_binding`` or when ``nonce``/``audience`` is
    given (then both must be). A KB-JWT that is present although not required must still
    be valid (signature, ``typ``, ``iat`` window, ``sd_hash``); its ``nonce`` and ``aud``
    are then not compared. ``now`` defaults to the current time (seconds). Validity claims
    of the credential (``exp``, ``nbf``) are the caller's business.

    Raises:
        every error of :func:`parse`, :func:`verify_issuer_signature`,
        :func:`process_disclosures`, :func:`holder_key_from_cnf` and
        :func:`verify_key_binding`; InvalidInputError for only one of ``nonce``/``audience``.
    """
    required = require_key_binding or nonce is not None or audience is not None
    if required and (nonce is None or audience is None):
        raise errors.InvalidInputError("key binding needs both an expected nonce and audience")
    parsed = parse(serialized)
    if required and parsed.kb_jwt is None:
        raise errors.KeyBindingError("a key binding JWT is required but absent")
    jws, issuer_public = _issuer_jws_and_key(parsed, issuer_key, typ)
    # The KB-JWT is read before the signatures are checked, so that the two signature
    # checks run back to back: each costs less right after the other than after the
    # interpreter's work (CPU caches), measured by bench/bench_sdjwt.py. Nothing is
    # trusted early: an error found while reading the KB-JWT is raised only where the
    # step-by-step order raises it (after the issuer signature and the disclosures), and
    # the KB-JWT's claims are read only once both signatures verified.
    key_binding: tuple[jose.CompactJWS, PublicKey] | errors.PasserelleError | None = None
    if parsed.kb_jwt is not None:
        try:
            holder = holder_key_from_cnf(jws.payload)
            key_binding = (_kb_jws(parsed, holder), holder)
        except errors.PasserelleError as exc:
            key_binding = exc
    jose.verify_signature(jws, issuer_public)
    kb_signed = type(key_binding) is tuple and key_binding[1].verify(
        key_binding[0].signing_input, key_binding[0].signature
    )
    claims = process_disclosures(jws.payload, parsed.disclosures)
    kb_payload = None
    if key_binding is not None:
        if isinstance(key_binding, errors.PasserelleError):
            raise key_binding
        if not kb_signed:
            raise errors.SignatureError("signature verification failed")
        moment = int(time.time()) if now is None else now
        kb_payload = _check_kb_claims(
            key_binding[0].payload, parsed, nonce, audience, moment, kb_max_age, 60
        )
    return VerifiedSdJwt(
        header=jws.header, payload=jws.payload, claims=claims, kb_payload=kb_payload
    )


# ---------------------------------------------------------------------------------------
# Presentation (holder)


@dataclass(frozen=True, slots=True)
class _Found:
    path: ClaimPath
    encoded: str
    parent: int | None


def _find_disclosures(sd_jwt: str) -> tuple[ParsedSdJwt, dict[str, Any], list[_Found]]:
    parsed = parse(sd_jwt)
    if parsed.kb_jwt is not None:
        raise errors.TokenFormatError("an SD-JWT+KB cannot be presented again (section 7.2)")
    payload = jose.parse_compact(parsed.issuer_jwt).payload
    process_disclosures(payload, parsed.disclosures)  # the holder validates (section 7.1)
    table = {}
    for encoded in parsed.disclosures:
        digest, _salt, name, value = _open_disclosure(encoded)
        table[digest] = (encoded, name, value)
    found: list[_Found] = []

    def walk(node: Any, path: ClaimPath, parent: int | None) -> None:
        if type(node) is dict:
            for key, value in node.items():
                if key != SD_KEY and not (key == SD_ALG_KEY and not path):
                    walk(value, (*path, key), parent)
            for digest in node.get(SD_KEY, ()):
                hit = table.get(digest)
                if hit is not None:
                    encoded, name, value = hit
                    assert name is not None  # checked by process_disclosures
                    found.append(_Found((*path, name), encoded, parent))
                    walk(value, (*path, name), len(found) - 1)
        elif type(node) is list:
            index = 0
            for element in node:
                if type(element) is dict and ELLIPSIS_KEY in element:
                    hit = table.get(element[ELLIPSIS_KEY])
                    if hit is None:
                        continue  # decoy: not part of the holder's view of the array
                    found.append(_Found((*path, index), hit[0], parent))
                    walk(hit[2], (*path, index), len(found) - 1)
                else:
                    walk(element, (*path, index), parent)
                index += 1

    walk(payload, (), None)
    return parsed, payload, found


def disclosure_paths(sd_jwt: str) -> list[ClaimPath]:
    """The claim path of every disclosure of an issued SD-JWT, in document order.

    Array positions are those of the fully disclosed array (what the holder sees).

    Raises:
        the errors of :func:`parse` and :func:`process_disclosures` (the issuer signature is
        not verified here); TokenFormatError for an SD-JWT+KB.
    """
    return [item.path for item in _find_disclosures(sd_jwt)[2]]


def present(
    sd_jwt: str,
    disclose: Callable[[ClaimPath], bool] | Iterable[ClaimPath],
    *,
    holder_key: SigningKey | None = None,
    nonce: str | None = None,
    audience: str | None = None,
    iat: int | None = None,
) -> str:
    """The holder's presentation of an issued SD-JWT with a chosen subset of disclosures.

    ``disclose`` is a predicate on claim paths (see :func:`disclosure_paths`) or a
    collection of them, e.g. ``[("address", "street_address"), ("nationalities", 0)]``. A
    disclosure is kept when its path is chosen or when a disclosure nested in its value is
    kept; choosing a path does not by itself keep the disclosures nested inside. Kept
    disclosures keep their issued order. With ``holder_key`` a KB-JWT (``typ: kb+jwt``,
    ``iat`` (default: now), ``aud``, ``nonce``, ``sd_hash``) is appended; without, the
    result ends with ``~``. A JSON serialized SD-JWT is presented in the same JSON form.
    The issuer signature is not verified here (verify the SD-JWT when receiving it).

    Raises:
        InvalidInputError: a chosen path that names no disclosure, or a holder key without
            both nonce and audience (or the other way round).
        the errors of :func:`parse` and :func:`process_disclosures`; TokenFormatError for
        an SD-JWT+KB.
    """
    if holder_key is not None and (nonce is None or audience is None):
        raise errors.InvalidInputError("a KB-JWT needs a nonce and an audience")
    if holder_key is None and (nonce is not None or audience is not None):
        raise errors.InvalidInputError("a KB-JWT needs a holder key, a nonce and an audience")
    parsed, _payload, found = _find_disclosures(sd_jwt)
    if callable(disclose):
        chosen = disclose
    else:
        wanted = {tuple(path) for path in disclose}
        unknown = wanted.difference(item.path for item in found)
        if unknown:
            listed = ", ".join(".".join(map(str, p)) for p in sorted(unknown, key=str))
            raise errors.InvalidInputError(f"no selectively disclosable claim at {listed}")
        chosen = wanted.__contains__
    keep: set[int] = set()
    for index, item in enumerate(found):
        if chosen(item.path):
            position: int | None = index
            while position is not None and position not in keep:
                keep.add(position)
                position = found[position].parent
    kept_encoded = {found[i].encoded for i in keep}
    selected = tuple(d for d in parsed.disclosures if d in kept_encoded)
    presented = ParsedSdJwt(parsed.issuer_jwt, selected, None)
    kb_jwt = None
    if holder_key is not None:
        kb_payload = {
            "nonce": nonce,
            "aud": audience,
            "iat": int(time.time()) if iat is None else iat,
            SD_HASH_KEY: sha256_b64url(presented.sd_hash_input.encode("ascii")),
        }
        kb_jwt = jose.sign_compact(kb_payload, holder_key, typ=KB_JWT_TYP, include_kid=False)
    if parsed.serialization == "json":
        return _present_json(parsed, selected, kb_jwt)
    return presented.sd_hash_input + (kb_jwt or "")


def _present_json(parsed: ParsedSdJwt, selected: tuple[str, ...], kb_jwt: str | None) -> str:
    assert parsed.envelope is not None
    envelope = dict(parsed.envelope)
    header = dict(parsed.unprotected_header or {})
    header[JSON_DISCLOSURES_KEY] = list(selected)
    if kb_jwt is not None:
        header[JSON_KB_JWT_KEY] = kb_jwt
    if "signatures" in envelope:
        signatures = list(envelope["signatures"])
        signatures[0] = {**signatures[0], "header": header}
        envelope["signatures"] = signatures
    else:
        envelope["header"] = header
    return jose.json_dumps(envelope).decode()
