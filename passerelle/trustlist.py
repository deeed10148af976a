"""Trust lists: an accreditation body's signed list of the training centres it vouches for.

A verifier (an employer abroad) is configured with the public keys of the *trust anchors*
its country trusts, one or a few per origin country. Each anchor publishes a trust list; the
verifier checks its signature, then trusts an issuer only as far as the list says: which
credential types (``vct``) it is accredited for, during which period, and with which keys.

Format
======

A compact JWS (:mod:`passerelle.jose` rules apply: ``EdDSA`` or ``ES256``, no key in the
header) with this protected header::

    {"alg": "EdDSA", "typ": "trustlist+jwt", "kid": "<RFC 7638 thumbprint of the anchor key>"}

and this payload (every member listed here; **any other member is refused**, at every
level, so that a misspelt ``valid_untill`` can never be silently ignored)::

    {
      "iss": "https://anapec.example.ma",           anchor identifier: https URL
      "iat": 1767225600,                            NumericDate (integer seconds, UTC)
      "exp": 1769817600,                            NumericDate, iat < exp <= iat + 366 days
      "jurisdiction": "MA",                         ISO 3166-1 alpha-2, upper case
      "issuers": [                                  at least one entry, ids unique
        {
          "id": "https://cfp-casablanca.example.ma",   = the ``iss`` of its credentials
          "names": {"fr": "...", "ar": "...", "en": "..."},  language tag -> name, >= 1
          "country": "MA",                             ISO 3166-1 alpha-2, upper case
          "accreditation": {
            "body": {"fr": "...", "en": "..."},        names of the accrediting body
            "id": "MA-OFPPT-2024-0173",                accreditation number (a string)
            "scope": ["https://.../vct/QualificationCredential"]   vct URLs, >= 1, unique
          },
          "status": "active",                          "active" | "suspended" | "withdrawn"
          "valid_from": "2024-09-01T00:00:00Z",        accreditation period (RFC 3339 UTC)
          "valid_until": "2029-08-31T23:59:59Z",       optional; end of the period (exclusive)
          "jwks": {"keys": [                           >= 1 public key
            {"kty": "OKP", "crv": "Ed25519", "x": "...",   public members only, never "d"
             "kid": "<its RFC 7638 thumbprint>",          required and checked
             "alg": "EdDSA",                              must match the key
             "use": "sig",                                optional; "sig" only
             "valid_from": "2024-09-01T00:00:00Z",        required
             "valid_until": "2026-09-01T00:00:00Z",       optional (exclusive)
             "compromised_at": "2025-03-01T10:00:00Z"}    optional: signatures from then on are void
          ]}
        }
      ]
    }

Times
-----
``iat`` and ``exp`` are NumericDate integers, as RFC 7519 defines them for every JWT. Every
other time is an RFC 3339 string in the single canonical form ``YYYY-MM-DDTHH:MM:SSZ`` (UTC,
``Z``, whole seconds): readable by the official who inspects a list, and comparable without
time-zone arithmetic. Anything else (an offset, fractions of a second, a bare date, a
number) is refused in a signed list. The human-edited *source* is more lenient: any RFC 3339
date-time with ``Z`` or an offset (normalised to UTC), never a bare date, because
``valid_until: 2029-08-31`` would leave open whether the last day is included.
Periods are half-open: a key or accreditation is valid at ``t`` when
``valid_from <= t < valid_until``; a key is void for every credential issued at or after
``compromised_at``.

Identifiers
-----------
``iss``, issuer ``id`` and ``vct`` URLs are ``https`` URLs with a host, no user part and no
fragment; ``http`` is accepted for ``localhost``/``127.0.0.1`` only (pilots, as for
credentials). Scopes match ``vct`` exactly (no prefixes, no wildcards).

Status
------
``active``: trusted within its period. ``suspended``: the accreditation is on hold (an
inquiry); every credential from the issuer is refused meanwhile, and the body may set it back
to ``active``. ``withdrawn``: permanently revoked (fraud); every credential is refused,
including old ones. To end an accreditation *normally* (a centre closes, an accreditation
lapses), set ``valid_until`` and keep ``active``: credentials issued before stay valid.

Source
======
A YAML (or JSON) file with ``iss``, ``jurisdiction`` and ``issuers``, entries as above except
that a key's ``kid`` and ``alg`` may be left out (they are computed). YAML is read with a
safe loader restricted to YAML 1.2 core scalars: only ``true``/``false`` are booleans and
timestamps and numbers stay text, so ``country: NO`` (Norway) and ``id: 0173`` mean what
they say; duplicate keys are refused. See ``examples/trust-list-source.yaml``.

Trusting several lists
======================
:class:`TrustStore` combines verified lists of several anchors. When several lists of the
*same* anchor (``iss``) are given, the one with the latest ``iat`` is kept (a cache may hold an
old and a new version). The same issuer ``id`` in the lists of two anchors must be listed
identically (then either list vouches for it), otherwise :class:`TrustConflictError`: two
bodies disagreeing about one issuer is a question for people, not for code.

The limit of the model: ``iat`` is written by the issuer, so whoever holds a compromised
key can backdate a credential to before ``compromised_at``. Withdraw the issuer or revoke the
credentials in their status list when that matters.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NoReturn, cast
from urllib.parse import urlsplit

import yaml

from passerelle import errors, jose
from passerelle.keys import PublicKey, SigningKey, jwk_thumbprint, public_key_from_jwk

__all__ = [
    "DEFAULT_LEEWAY",
    "MAX_LIFETIME",
    "STATUSES",
    "TRUST_LIST_TYP",
    "Accreditation",
    "IssuerRecord",
    "ListedKey",
    "Moment",
    "TrustList",
    "TrustStore",
    "build_trust_list",
    "load_source",
    "sign_trust_list",
    "verify_trust_list",
]

TRUST_LIST_TYP = "trustlist+jwt"
STATUSES: tuple[str, ...] = ("active", "suspended", "withdrawn")
Status = Literal["active", "suspended", "withdrawn"]
#: Longest lifetime of a list: a withdrawal must reach verifiers within a year at worst.
MAX_LIFETIME = timedelta(days=366)
#: Clock skew tolerated on ``iat`` and ``exp`` of the list itself, in seconds.
DEFAULT_LEEWAY = 60
#: Largest source file read, in bytes.
MAX_SOURCE_BYTES = 4 * 1024 * 1024

Moment = datetime | int
"""A point in time: an aware ``datetime`` or an integer epoch (seconds, UTC)."""

_SOURCE_TOP = frozenset({"iss", "jurisdiction", "issuers"})
_PAYLOAD_TOP = frozenset({"iss", "iat", "exp", "jurisdiction", "issuers"})
_ENTRY_REQUIRED = frozenset(
    {"id", "names", "country", "accreditation", "status", "valid_from", "jwks"}
)
_ENTRY_OPTIONAL = frozenset({"valid_until"})
_ACCREDITATION = frozenset({"body", "id", "scope"})
_KEY_PUBLIC = {"OKP": ("kty", "crv", "x"), "EC": ("kty", "crv", "x", "y")}
_KEY_META = frozenset({"kid", "alg", "use", "valid_from", "valid_until", "compromised_at"})
#: JWK members that only a private key has (RFC 7518 section 6).
_KEY_PRIVATE = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

_CANONICAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_SOURCE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}([Zz]|[+-]\d{2}:\d{2})")
_COUNTRY = re.compile(r"[A-Z]{2}")
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_MAX_TEXT = 500


# ---------------------------------------------------------------------------------------
# Times


def _epoch(value: Moment, name: str = "now") -> int:
    """``value`` as integer epoch seconds.

    Raises:
        InvalidInputError: a naive datetime, a bool or another type.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise errors.InvalidInputError(f"{name} must be a timezone-aware datetime")
        return int(value.timestamp())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise errors.InvalidInputError(f"{name} must be an aware datetime or an integer epoch")


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@lru_cache(maxsize=1024)
def _rfc3339(moment: datetime) -> str:
    """``moment`` in RFC 3339 (UTC, whole seconds), remembered: the validity dates of the
    lists' records and keys are formatted into every verification result."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class Accreditation:
    """What an accreditation body says about one issuer."""

    body: Mapping[str, str]
    id: str
    scope: tuple[str, ...]

    def covers(self, vct: str) -> bool:
        """True when the issuer may issue credentials of type ``vct`` (exact match)."""
        return vct in self.scope

    def to_json(self) -> dict[str, Any]:
        return {"body": dict(self.body), "id": self.id, "scope": list(self.scope)}


@dataclass(frozen=True, slots=True)
class ListedKey:
    """One public key of an issuer, with the period in which it may sign."""

    kid: str
    jwk: Mapping[str, str]
    valid_from: datetime
    valid_until: datetime | None = None
    compromised_at: datetime | None = None
    key: PublicKey = field(compare=False, repr=False, kw_only=True)

    def valid_at(self, moment: datetime) -> bool:
        """Within ``[valid_from, valid_until)``; compromise is checked separately."""
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)

    def compromised_by(self, moment: datetime) -> bool:
        """True when a signature made at ``moment`` is void (``compromised_at <= moment``)."""
        return self.compromised_at is not None and self.compromised_at <= moment

    def to_json(self) -> dict[str, Any]:
        """The JWKS member form (public members, ``kid``, ``alg``, validity)."""
        out: dict[str, Any] = dict(self.jwk)
        out["kid"] = self.kid
        out["alg"] = self.key.alg
        out["valid_from"] = _rfc3339(self.valid_from)
        if self.valid_until is not None:
            out["valid_until"] = _rfc3339(self.valid_until)
        if self.compromised_at is not None:
            out["compromised_at"] = _rfc3339(self.compromised_at)
        return out


@dataclass(frozen=True, slots=True)
class IssuerRecord:
    """An accredited issuer as a trust list describes it.

    ``anchor`` and ``jurisdiction`` say which list it was read from; they take no part in
    equality, so that two anchors listing an issuer identically compare equal.
    """

    id: str
    names: Mapping[str, str]
    country: str
    accreditation: Accreditation
    status: Status
    valid_from: datetime
    valid_until: datetime | None
    keys: tuple[ListedKey, ...]
    anchor: str = field(default="", compare=False)
    jurisdiction: str = field(default="", compare=False)

    def accredited_at(self, moment: datetime) -> bool:
        """Within the accreditation period ``[valid_from, valid_until)``."""
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)

    def key_for(self, kid: str | None, issued_at: Moment) -> PublicKey:
        """The key that may have signed a credential issued at ``issued_at``.

        With ``kid`` None, the single key valid and not compromised at that time.

        Raises:
            KeyNotFoundError: no key ``kid``, or several candidates and no ``kid``.
            KeyValidityError: the key was not valid at ``issued_at``.
            KeyCompromisedError: the key was compromised at or before ``issued_at``.
        """
        moment = _utc(_epoch(issued_at, "issued_at"))
        if kid is None:
            valid = [k for k in self.keys if k.valid_at(moment)]
            if not valid:
                raise errors.KeyValidityError(
                    f"no key of {self.id} was valid at {_rfc3339(moment)}"
                )
            usable = [k for k in valid if not k.compromised_by(moment)] if len(valid) > 1 else valid
            if len(usable) != 1:
                raise errors.KeyNotFoundError(
                    f"{self.id} has several keys valid at {_rfc3339(moment)}: "
                    "the credential must name its kid"
                )
            listed = usable[0]
        else:
            found = [k for k in self.keys if k.kid == kid]
            if not found:
                raise errors.KeyNotFoundError(f"key {kid} is not listed for {self.id}")
            listed = found[0]
        if not listed.valid_at(moment):
            until = f" until {_rfc3339(listed.valid_until)}" if listed.valid_until else ""
            raise errors.KeyValidityError(
                f"key {listed.kid} of {self.id} is valid from {_rfc3339(listed.valid_from)}"
                f"{until}, not at issuance ({_rfc3339(moment)})"
            )
        if listed.compromised_by(moment):
            assert listed.compromised_at is not None
            raise errors.KeyCompromisedError(
                f"key {listed.kid} of {self.id} is compromised since "
                f"{_rfc3339(listed.compromised_at)}; the credential was issued at "
                f"{_rfc3339(moment)}"
            )
        return listed.key

    def to_entry(self) -> dict[str, Any]:
        """The trust list payload form of this entry."""
        entry: dict[str, Any] = {
            "id": self.id,
            "names": dict(self.names),
            "country": self.country,
            "accreditation": self.accreditation.to_json(),
            "status": self.status,
            "valid_from": _rfc3339(self.valid_from),
        }
        if self.valid_until is not None:
            entry["valid_until"] = _rfc3339(self.valid_until)
        entry["jwks"] = {"keys": [k.to_json() for k in self.keys]}
        return entry

    def to_json(self, *, include_keys: bool = False) -> dict[str, Any]:
        """The ``issuer`` member of a verification result (public information only)."""
        out: dict[str, Any] = {
            "id": self.id,
            "names": dict(self.names),
            "country": self.country,
            "accreditation": self.accreditation.to_json(),
            "status": self.status,
            "valid_from": _rfc3339(self.valid_from),
            "valid_until": _rfc3339(self.valid_until) if self.valid_until else None,
            "trusted_by": {"anchor": self.anchor, "jurisdiction": self.jurisdiction},
        }
        if include_keys:
            out["keys"] = [k.to_json() for k in self.keys]
        return out


@dataclass(frozen=True, slots=True)
class TrustList:
    """A verified trust list: who signed it, when, and the issuers it vouches for."""

    iss: str
    kid: str
    jurisdiction: str
    iat: datetime
    exp: datetime
    issuers: Mapping[str, IssuerRecord]
    token: str = field(repr=False)

    def expired_at(self, now: Moment, leeway: int = DEFAULT_LEEWAY) -> bool:
        """True when the list is past ``exp`` (plus ``leeway`` seconds) at ``now``."""
        return _epoch(now) >= int(self.exp.timestamp()) + leeway

    def to_json(self, *, include_keys: bool = True) -> dict[str, Any]:
        return {
            "anchor": self.iss,
            "anchor_kid": self.kid,
            "jurisdiction": self.jurisdiction,
            "issued_at": _rfc3339(self.iat),
            "expires_at": _rfc3339(self.exp),
            "issuers": [r.to_json(include_keys=include_keys) for r in self.issuers.values()],
        }


# ---------------------------------------------------------------------------------------
# Validation (one reader for sources and payloads; ``source`` relaxes kid/alg and times)


def _fail(where: str, message: str) -> NoReturn:
    raise errors.TrustError(f"{where}: {message}" if where else message)


def _members(
    value: Any, where: str, required: frozenset[str], optional: frozenset[str] = frozenset()
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(where, f"must be an object, not {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in required | optional)
    if unknown:
        _fail(where, f"unknown field(s) {', '.join(unknown)}")
    missing = sorted(required.difference(value))
    if missing:
        _fail(where, f"missing field(s) {', '.join(missing)}")
    return value


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool | int | float):
        _fail(where, f"must be text; quote it in YAML ({value!r})")
    if not isinstance(value, str) or not value.strip():
        _fail(where, "must be a non-empty string")
    if len(value) > _MAX_TEXT:
        _fail(where, f"longer than {_MAX_TEXT} characters")
    return value


def _url(value: Any, where: str) -> str:
    text = _text(value, where)
    parts = urlsplit(text)
    local = parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS
    if (
        (parts.scheme != "https" and not local)
        or not parts.hostname
        or parts.username is not None
        or parts.fragment
        or any(c.isspace() for c in text)
    ):
        _fail(where, f"{text!r} is not an https URL (with a host, no user part, no fragment)")
    return text


def _country(value: Any, where: str) -> str:
    text = _text(value, where)
    if not _COUNTRY.fullmatch(text):
        _fail(where, f"{text!r} is not an ISO 3166-1 alpha-2 code in capitals, e.g. MA")
    return text


def _names(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not value:
        _fail(where, 'must be a non-empty map of language tag to text, e.g. {"fr": "..."}')
    out: dict[str, str] = {}
    for lang, text in value.items():
        if not isinstance(lang, str) or not _LANGUAGE_TAG.fullmatch(lang):
            _fail(where, f"{lang!r} is not a language tag such as fr, ar or en")
        out[lang] = _text(text, f"{where}.{lang}")
    return out


def _time(value: Any, where: str, *, source: bool) -> datetime:
    if isinstance(value, datetime):
        if not source:
            _fail(where, "must be an RFC 3339 date-time string such as 2026-01-31T00:00:00Z")
        if value.tzinfo is None:
            _fail(where, "needs a time zone (Z or +hh:mm)")
        moment = value.astimezone(UTC).replace(microsecond=0)
        if moment != value:
            _fail(where, "must be whole seconds")
        return moment
    if isinstance(value, date):
        _fail(where, "a bare date is ambiguous: give a date-time such as 2026-01-31T00:00:00Z")
    if not isinstance(value, str):
        _fail(where, "must be an RFC 3339 date-time string such as 2026-01-31T00:00:00Z")
    pattern = _SOURCE_TIME if source else _CANONICAL_TIME
    if not pattern.fullmatch(value):
        shape = "with Z or an offset" if source else "in UTC, exactly YYYY-MM-DDTHH:MM:SSZ"
        _fail(where, f"{value!r} is not an RFC 3339 date-time {shape}, whole seconds")
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        _fail(where, f"{value!r} is not a real date-time")


def _scope(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        _fail(where, "must be a non-empty list of vct URLs")
    scope = tuple(_url(item, f"{where}[{i}]") for i, item in enumerate(value))
    if len(set(scope)) != len(scope):
        _fail(where, "lists a vct twice")
    return scope


def _key(value: Any, where: str, *, source: bool) -> ListedKey:
    if not isinstance(value, Mapping):
        _fail(where, "must be a JWK object")
    private = sorted(_KEY_PRIVATE.intersection(value))
    if private:
        # a private part in a public list means the key is exposed: refuse the whole list
        _fail(
            where,
            f"contains the private part {', '.join(map(repr, private))}: a trust list holds "
            "public keys only; treat this key as compromised",
        )
    kty = value.get("kty")
    if kty not in _KEY_PUBLIC:
        _fail(where, f"kty {kty!r} is not supported (OKP Ed25519 or EC P-256)")
    public = frozenset(_KEY_PUBLIC[kty])
    required = public | {"valid_from"} if source else public | {"valid_from", "kid"}
    _members(value, where, required, (_KEY_META | public) - required)
    try:
        jwk = {name: value[name] for name in _KEY_PUBLIC[kty]}
        key = public_key_from_jwk(jwk)
        thumbprint = jwk_thumbprint(jwk)
    except errors.KeyError_ as exc:
        _fail(where, exc.detail)
    kid = value.get("kid", thumbprint)
    if kid != thumbprint:
        _fail(where, f"kid {kid!r} is not the key's RFC 7638 thumbprint {thumbprint!r}")
    if "alg" in value and value["alg"] != key.alg:
        _fail(where, f"alg {value['alg']!r} does not match the key ({key.alg})")
    if "use" in value and value["use"] != "sig":
        _fail(where, f"use {value['use']!r}: only signature keys ('sig') are listed")
    valid_from = _time(value["valid_from"], f"{where}.valid_from", source=source)
    valid_until = _optional_time(value, "valid_until", where, source=source)
    if valid_until is not None and valid_until <= valid_from:
        _fail(where, "valid_until must be after valid_from")
    return ListedKey(
        kid=thumbprint,
        jwk=jwk,
        valid_from=valid_from,
        valid_until=valid_until,
        compromised_at=_optional_time(value, "compromised_at", where, source=source),
        key=key,
    )


def _optional_time(
    value: Mapping[str, Any], name: str, where: str, *, source: bool
) -> datetime | None:
    return _time(value[name], f"{where}.{name}", source=source) if name in value else None


def _issuer(
    value: Any, where: str, *, source: bool, anchor: str, jurisdiction: str
) -> IssuerRecord:
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        where = f"{where} ({value['id']})"
    entry = _members(value, where, _ENTRY_REQUIRED, _ENTRY_OPTIONAL)
    issuer_id = _url(entry["id"], f"{where}.id")
    acc = _members(entry["accreditation"], f"{where}.accreditation", _ACCREDITATION)
    accreditation = Accreditation(
        body=_names(acc["body"], f"{where}.accreditation.body"),
        id=_text(acc["id"], f"{where}.accreditation.id"),
        scope=_scope(acc["scope"], f"{where}.accreditation.scope"),
    )
    status = entry["status"]
    if status not in STATUSES:
        _fail(f"{where}.status", f"{status!r} is not one of {', '.join(STATUSES)}")
    valid_from = _time(entry["valid_from"], f"{where}.valid_from", source=source)
    valid_until = _optional_time(entry, "valid_until", where, source=source)
    if valid_until is not None and valid_until <= valid_from:
        _fail(where, "valid_until must be after valid_from")
    jwks = _members(entry["jwks"], f"{where}.jwks", frozenset({"keys"}))
    if not isinstance(jwks["keys"], list) or not jwks["keys"]:
        _fail(f"{where}.jwks.keys", "must be a non-empty list of public JWKs")
    keys = tuple(
        _key(item, f"{where}.jwks.keys[{i}]", source=source) for i, item in enumerate(jwks["keys"])
    )
    kids = [k.kid for k in keys]
    if len(set(kids)) != len(kids):
        _fail(f"{where}.jwks.keys", "lists the same key twice")
    return IssuerRecord(
        id=issuer_id,
        names=_names(entry["names"], f"{where}.names"),
        country=_country(entry["country"], f"{where}.country"),
        accreditation=accreditation,
        status=cast(Status, status),
        valid_from=valid_from,
        valid_until=valid_until,
        keys=keys,
        anchor=anchor,
        jurisdiction=jurisdiction,
    )


def _body(data: Any, *, source: bool) -> tuple[str, str, dict[str, IssuerRecord]]:
    """Validate the members common to a source and a payload: iss, jurisdiction, issuers."""
    top = _SOURCE_TOP if source else _PAYLOAD_TOP
    what = "trust list source" if source else "trust list payload"
    _members(data, what, top)
    anchor = _url(data["iss"], "iss")
    jurisdiction = _country(data["jurisdiction"], "jurisdiction")
    if not isinstance(data["issuers"], list) or not data["issuers"]:
        _fail("issuers", "must be a non-empty list")
    records: dict[str, IssuerRecord] = {}
    owner: dict[str, str] = {}
    for i, item in enumerate(data["issuers"]):
        record = _issuer(
            item, f"issuers[{i}]", source=source, anchor=anchor, jurisdiction=jurisdiction
        )
        if record.id in records:
            _fail(f"issuers[{i}]", f"issuer {record.id} is listed twice")
        for listed in record.keys:
            if listed.kid in owner:
                _fail(
                    f"issuers[{i}] ({record.id})",
                    f"key {listed.kid} is already listed for {owner[listed.kid]}",
                )
            owner[listed.kid] = record.id
        records[record.id] = record
    return anchor, jurisdiction, records


def _payload_times(data: Mapping[str, Any]) -> tuple[int, int]:
    values = []
    for name in ("iat", "exp"):
        value = data.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            _fail(name, "must be a NumericDate (non-negative integer seconds)")
        values.append(value)
    iat, exp = values
    if exp <= iat:
        _fail("exp", "must be after iat")
    if exp - iat > MAX_LIFETIME.total_seconds():
        _fail("exp", f"a trust list may live at most {MAX_LIFETIME.days} days")
    return iat, exp


def _validate_payload(payload: Any) -> tuple[str, str, int, int, dict[str, IssuerRecord]]:
    anchor, jurisdiction, records = _body(payload, source=False)
    iat, exp = _payload_times(payload)
    return anchor, jurisdiction, iat, exp, records


# ---------------------------------------------------------------------------------------
# Source -> payload -> token


class _SourceLoader(yaml.SafeLoader):
    """Safe YAML restricted to YAML 1.2 core booleans and null; refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


# No timestamp, int, float, merge or yes/no resolvers: such scalars stay text.
_SourceLoader.yaml_implicit_resolvers = {}
_SourceLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_SourceLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise errors.TrustError(f"trust list source: duplicate key {key!r}")
        out[key] = value
    return out


def _parse_text(text: str, *, json_only: bool, name: str) -> Any:
    if len(text.encode()) > MAX_SOURCE_BYTES:
        _fail(name, f"larger than {MAX_SOURCE_BYTES} bytes")
    try:
        if json_only:
            return json.loads(text, object_pairs_hook=_reject_duplicates)
        return yaml.load(text, Loader=_SourceLoader)  # noqa: S506 - a SafeLoader subclass
    except ValueError as exc:
        _fail(name, f"not valid JSON: {exc}")
    except yaml.YAMLError as exc:
        _fail(name, f"not valid YAML: {exc}")


def _normalised_source(
    anchor: str, jurisdiction: str, records: Iterable[IssuerRecord]
) -> dict[str, Any]:
    return {
        "iss": anchor,
        "jurisdiction": jurisdiction,
        "issuers": [r.to_entry() for r in records],
    }


def load_source(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Read and validate a human-edited trust list source; return it normalised.

    ``source`` is a path (``.json`` files are read as JSON, anything else as YAML), YAML/JSON
    *text* when a ``str``, or an already parsed mapping. The result has ``iss``,
    ``jurisdiction`` and ``issuers`` in the payload form (kids and algs filled in, times in
    canonical UTC), ready for :func:`build_trust_list`.

    Raises:
        TrustError: unreadable or invalid source; the message names the entry and the field
            (missing or unknown field, bad country, unknown status, a private key part,
            a kid that is not the thumbprint, an issuer listed twice, ...).
    """
    if isinstance(source, Mapping):
        data: Any = source
    elif isinstance(source, str):
        data = _parse_text(source, json_only=False, name="trust list source")
        if isinstance(data, str) and "\n" not in source:
            _fail("trust list source", "a str is read as YAML text: pass a pathlib.Path for a file")
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(str(path), f"cannot read: {exc}")
        data = _parse_text(text, json_only=path.suffix.lower() == ".json", name=str(path))
    anchor, jurisdiction, records = _body(data, source=True)
    return _normalised_source(anchor, jurisdiction, records.values())


def build_trust_list(
    source: Mapping[str, Any], *, now: Moment, lifetime: timedelta | int
) -> dict[str, Any]:
    """The unsigned trust list payload for ``source``, issued at ``now``.

    ``source`` is validated again (it may come straight from YAML); ``lifetime`` (a
    timedelta or seconds) sets ``exp`` and is at most :data:`MAX_LIFETIME`.

    Raises:
        TrustError: invalid source. InvalidInputError: bad ``now`` or ``lifetime``.
    """
    iat = _epoch(now)
    seconds = int(lifetime.total_seconds()) if isinstance(lifetime, timedelta) else lifetime
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise errors.InvalidInputError("lifetime must be a positive duration")
    if seconds > MAX_LIFETIME.total_seconds():
        raise errors.InvalidInputError(f"lifetime must be at most {MAX_LIFETIME.days} days")
    anchor, jurisdiction, records = _body(source, source=True)
    return {
        "iss": anchor,
        "iat": iat,
        "exp": iat + seconds,
        "jurisdiction": jurisdiction,
        "issuers": [r.to_entry() for r in records.values()],
    }


def sign_trust_list(payload: Mapping[str, Any], anchor_key: SigningKey) -> str:
    """Sign a payload from :func:`build_trust_list` as a ``trustlist+jwt`` compact JWS.

    The payload is validated first: a list that verifiers would refuse is never signed.

    Raises:
        TrustError: invalid payload.
    """
    _validate_payload(payload)
    return jose.sign_compact(payload, anchor_key, typ=TRUST_LIST_TYP)


def verify_trust_list(
    token: str,
    anchors: Sequence[PublicKey],
    *,
    now: Moment,
    leeway: int = DEFAULT_LEEWAY,
) -> TrustList:
    """Verify a trust list signed by one of ``anchors`` and valid at ``now``.

    Raises:
        TokenFormatError, AlgorithmError, HeaderError: not a well-formed compact JWS (a
            ``kid`` is required).
        TypError: ``typ`` is not ``trustlist+jwt``.
        TrustAnchorError: ``kid`` names none of ``anchors``.
        SignatureError: the signature does not verify.
        TrustError: ``iat`` in the future, or a payload that breaks the format (including a
            listed key with a private part).
        TrustListExpiredError: ``exp`` has passed.
    """
    at = _epoch(now)
    if not isinstance(token, str):
        raise errors.TokenFormatError("a trust list must be a compact JWS string")
    text = token.strip()

    def anchor_for(header: Mapping[str, Any], _payload: Mapping[str, Any]) -> PublicKey:
        kid = header["kid"]
        for anchor in anchors:
            if anchor.kid == kid:
                return anchor
        raise errors.TrustAnchorError(
            f"trust list signed by key {kid}, which is not a configured trust anchor"
        )

    jws = jose.decode_compact(text, anchor_for, typ=TRUST_LIST_TYP, require_kid=True)
    iat, exp = _payload_times(jws.payload)
    if iat > at + leeway:
        raise errors.TrustError(f"trust list issued in the future ({_rfc3339(_utc(iat))})")
    if at >= exp + leeway:
        raise errors.TrustListExpiredError(f"trust list expired at {_rfc3339(_utc(exp))}")
    anchor, jurisdiction, _, _, records = _validate_payload(jws.payload)
    return TrustList(
        iss=anchor,
        kid=str(jws.header["kid"]),
        jurisdiction=jurisdiction,
        iat=_utc(iat),
        exp=_utc(exp),
        issuers=records,
        token=text,
    )


# ---------------------------------------------------------------------------------------
# Trust store


class TrustStore:
    """The issuers a verifier trusts, merged from the verified lists of its anchors.

    Build it with :meth:`from_lists`; ``TrustStore()`` is an empty store that trusts nobody.
    """

    def __init__(self, *, leeway: int = DEFAULT_LEEWAY) -> None:
        self.leeway = leeway
        self._lists: tuple[TrustList, ...] = ()
        self._index: dict[str, tuple[IssuerRecord, tuple[TrustList, ...]]] = {}

    @classmethod
    def from_lists(cls, lists: Iterable[TrustList], *, leeway: int = DEFAULT_LEEWAY) -> TrustStore:
        """Merge verified lists (see the module docstring for the rules).

        Raises:
            TrustConflictError: an issuer listed differently by two lists, or two different
                lists of one anchor with the same ``iat``.
        """
        latest: dict[str, TrustList] = {}
        for trust_list in lists:
            kept = latest.get(trust_list.iss)
            if kept is None or trust_list.iat > kept.iat:
                latest[trust_list.iss] = trust_list
            elif trust_list.iat == kept.iat and trust_list.token != kept.token:
                raise errors.TrustConflictError(
                    f"two different lists of {trust_list.iss} issued at {_rfc3339(kept.iat)}"
                )
        store = cls(leeway=leeway)
        store._lists = tuple(latest.values())
        for trust_list in store._lists:
            for record in trust_list.issuers.values():
                known = store._index.get(record.id)
                if known is None:
                    store._index[record.id] = (record, (trust_list,))
                elif known[0] != record:
                    raise errors.TrustConflictError(
                        f"issuer {record.id} is listed differently by {known[0].anchor} and "
                        f"{trust_list.iss}"
                    )
                else:
                    store._index[record.id] = (known[0], (*known[1], trust_list))
        return store

    @property
    def lists(self) -> tuple[TrustList, ...]:
        """The lists in use (the latest of each anchor)."""
        return self._lists

    def issuers(self) -> list[IssuerRecord]:
        """Every listed issuer, whatever its status."""
        return [record for record, _ in self._index.values()]

    def resolve(
        self,
        iss: str,
        kid: str | None,
        *,
        vct: str,
        issued_at: Moment,
        now: Moment,
    ) -> tuple[PublicKey, IssuerRecord]:
        """The key that must have signed a credential, and the issuer's record.

        Checks, in this order: the issuer is listed, by a list unexpired at ``now``; it is
        ``active``; its accreditation covers ``vct``; its accreditation period covers
        ``issued_at``; then the key (see :meth:`IssuerRecord.key_for`).

        Raises:
            IssuerUntrustedError: not listed, not active (the detail names the status) or
                not accredited at ``issued_at``.
            TrustListExpiredError: every list naming the issuer has expired.
            ScopeError: not accredited for ``vct``.
            KeyNotFoundError, KeyValidityError, KeyCompromisedError: see ``key_for``.
        """
        at = _epoch(now)
        moment = _utc(_epoch(issued_at, "issued_at"))
        known = self._index.get(iss)
        if known is None:
            raise errors.IssuerUntrustedError(f"issuer {iss} is in no trusted list")
        record, lists = known
        if all(t.expired_at(at, self.leeway) for t in lists):
            raise errors.TrustListExpiredError(
                f"the trust list of {lists[0].iss} listing {iss} expired at "
                f"{_rfc3339(max(t.exp for t in lists))}"
            )
        if record.status != "active":
            raise errors.IssuerUntrustedError(
                f"issuer {iss}: accreditation {record.status} by {record.anchor}"
            )
        if not record.accreditation.covers(vct):
            raise errors.ScopeError(f"issuer {iss} is not accredited to issue {vct}")
        if not record.accredited_at(moment):
            until = f" until {_rfc3339(record.valid_until)}" if record.valid_until else ""
            raise errors.IssuerUntrustedError(
                f"issuer {iss} is accredited from {_rfc3339(record.valid_from)}{until}, "
                f"not at issuance ({_rfc3339(moment)})"
            )
        return record.key_for(kid, moment), record

    def key_resolver(self, *, now: Moment, vct: str | None = None) -> jose.KeyResolver:
        """A resolver for :func:`passerelle.jose.decode_compact`.

        It reads ``iss`` and ``iat`` from the payload and ``kid`` from the header; ``vct``
        from the payload unless given (a Status List Token has none: pass the credential's).

        Raises (when called):
            ClaimsError: ``iss``, ``iat`` or ``vct`` missing or mistyped; and every error of
                :meth:`resolve`.
        """

        def resolve(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
            iss, iat = payload.get("iss"), payload.get("iat")
            wanted = vct if vct is not None else payload.get("vct")
            kid = header.get("kid")
            if not isinstance(iss, str) or not isinstance(wanted, str):
                raise errors.ClaimsError("the token must carry 'iss' and 'vct'")
            if not isinstance(iat, int) or isinstance(iat, bool):
                raise errors.ClaimsError("'iat' must be a NumericDate")
            if kid is not None and not isinstance(kid, str):
                raise errors.HeaderError("'kid' must be a string")
            key, _ = self.resolve(iss, kid, vct=wanted, issued_at=iat, now=now)
            return key

        return resolve
