"""IETF Token Status List (draft-ietf-oauth-status-list): the list, its token, its indices.

* :class:`StatusList` is the byte array of the draft's section "Compressed Byte Array":
  ``bits`` (1, 2, 4 or 8) per Referenced Token; the status of index ``i`` sits in byte
  ``i * bits // 8`` at bit offset ``(i * bits) % 8`` counted from the least significant bit.
  :meth:`StatusList.encode` gives the JSON form ``{"bits", "lst"}`` (DEFLATE with the ZLIB
  wrapper of RFC 1950, then unpadded base64url); :meth:`StatusList.decode` reverses it with a
  capped decompression, so that a zlib bomb is refused before it is inflated.
* A Status List Token is a JWS with ``typ: statuslist+jwt`` whose payload carries ``sub``
  (the token's own URI), ``iat``, ``exp``, ``ttl`` and ``status_list``:
  :func:`create_status_list_token`, :func:`verify_status_list_token`, and
  :func:`check_status` for one Referenced Token's ``status`` claim.
* :class:`IndexAllocator` hands out random, never repeated indices (herd privacy).

Status values (draft section "Status Types"): 0x00 VALID, 0x01 INVALID (Passerelle says
*revoked*), 0x02 SUSPENDED, 0x03 and 0x0C..0x0F application-specific.

Compression level: the draft RECOMMENDS the highest level, but level 9 costs 13 times level 6
on a list of 2^20 two-bit entries with 1 % revoked (52 ms against 4 ms, for a token 16 %
smaller) and 250 ms at 10 % revoked. ``DEFAULT_COMPRESSION_LEVEL`` is 6 so that publishing a
revocation stays a few milliseconds whatever the revocation rate; pass ``level=9`` for the
smallest token (bench/bench_statuslist.py has the figures).
"""

from __future__ import annotations

import enum
import math
import re
import secrets
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from random import Random
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from passerelle import errors, jose
from passerelle.keys import PublicKey, SigningKey

__all__ = [
    "ALLOWED_BITS",
    "APPLICATION_SPECIFIC",
    "DEFAULT_BITS",
    "DEFAULT_COMPRESSION_LEVEL",
    "DEFAULT_LEEWAY",
    "DEFAULT_LIFETIME",
    "DEFAULT_LIST_SIZE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TTL",
    "INVALID",
    "REVOKED",
    "STATUS_LIST_MEDIA_TYPE",
    "STATUS_LIST_TYP",
    "SUSPENDED",
    "VALID",
    "IndexAllocator",
    "Status",
    "StatusList",
    "StatusListToken",
    "check_status",
    "create_status_list_token",
    "parse_status_list_token",
    "verify_status_list_token",
]

#: JOSE ``typ`` of a Status List Token, compared exactly.
STATUS_LIST_TYP = "statuslist+jwt"
#: HTTP media type a Status List Token is served with.
STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"

#: Bits per status allowed by the draft.
ALLOWED_BITS: tuple[int, ...] = (1, 2, 4, 8)
#: Passerelle's lists: valid, revoked, suspended (DESIGN.md).
DEFAULT_BITS = 2
#: Entries per list: DESIGN.md asks for at least 2^17 (herd privacy); 32 KiB at 2 bits.
DEFAULT_LIST_SIZE = 131_072
#: zlib level used by :meth:`StatusList.encode` (see the module docstring for the trade-off).
DEFAULT_COMPRESSION_LEVEL = 6
#: Largest decompressed byte array accepted: 16 MiB, i.e. 2^27 one-bit or 2^24 eight-bit
#: entries, 64 times a list of 2^20 two-bit entries. Decompression stops at this size.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
#: ``ttl`` of a new token: verifiers should fetch a fresh copy after an hour.
DEFAULT_TTL = 3600
#: ``exp - iat`` of a new token: one day, the longest a stale copy may be relied upon.
DEFAULT_LIFETIME = 86_400
#: Clock skew tolerated on ``iat`` and ``exp`` (seconds).
DEFAULT_LEEWAY = 60

# Status Type values (draft section "Status Types Values").
VALID = 0x00
INVALID = 0x01
REVOKED = INVALID  # Passerelle's word for INVALID
SUSPENDED = 0x02
APPLICATION_SPECIFIC = 0x03


class Status(enum.IntEnum):
    """The registered Status Types under the names Passerelle reports."""

    VALID = VALID
    REVOKED = INVALID
    SUSPENDED = SUSPENDED


_NONZERO_BYTE = re.compile(rb"[^\x00]")
# When no more than 1/_DENSE_RATIO of the indices are free, the allocator stops drawing at
# random among all indices (expected draws: size / free) and draws among a list of the free ones.
_DENSE_RATIO = 8


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_bits(bits: Any) -> int:
    if not _is_int(bits) or bits not in ALLOWED_BITS:
        raise errors.StatusListError(f"'bits' must be 1, 2, 4 or 8, not {bits!r}")
    return int(bits)


class StatusList:
    """A mutable array of ``size`` statuses of ``bits`` bits each, packed as in the draft.

    Build an empty list with ``StatusList(bits, size)`` (every status 0, VALID) or wrap an
    uncompressed byte array with ``StatusList(bits, data=...)`` (its size is then
    ``len(data) * 8 // bits``; pass ``size`` too when the last byte is only partly used).

    Raises:
        StatusListError: ``bits`` not in 1, 2, 4, 8; ``size`` not positive or not matching
            ``data``.
        StatusListTooLargeError: more than ``DEFAULT_MAX_BYTES`` bytes.
    """

    __slots__ = ("_bits", "_data", "_mask", "_size")

    def __init__(
        self, bits: int, size: int | None = None, *, data: bytes | bytearray | None = None
    ) -> None:
        self._bits = _check_bits(bits)
        self._mask = (1 << self._bits) - 1
        if data is None:
            if size is None:
                raise errors.StatusListError("give the list's size or its byte array")
            if not _is_int(size) or size < 1:
                raise errors.StatusListError(f"a status list size must be positive, not {size!r}")
            length = math.ceil(size * self._bits / 8)
            if length > DEFAULT_MAX_BYTES:
                raise errors.StatusListTooLargeError(
                    f"{size} entries of {bits} bits exceed {DEFAULT_MAX_BYTES} bytes"
                )
            self._data = bytearray(length)
            self._size = size
            return
        if not data:
            raise errors.StatusListError("a status list cannot be empty")
        if len(data) > DEFAULT_MAX_BYTES:
            raise errors.StatusListTooLargeError(f"more than {DEFAULT_MAX_BYTES} bytes")
        capacity = len(data) * 8 // self._bits
        if size is None:
            size = capacity
        elif not _is_int(size) or not capacity - 8 // self._bits < size <= capacity:
            raise errors.StatusListError(
                f"size {size!r} does not match {len(data)} bytes of {bits}-bit statuses"
            )
        self._data = bytearray(data)
        self._size = size

    @property
    def bits(self) -> int:
        return self._bits

    @property
    def size(self) -> int:
        """Number of entries (indices ``0 .. size - 1``)."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatusList):
            return NotImplemented
        return (self._bits, self._size, self._data) == (other._bits, other._size, other._data)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"StatusList(bits={self._bits}, size={self._size})"

    def to_bytes(self) -> bytes:
        """The uncompressed byte array (a copy)."""
        return bytes(self._data)

    def _index_error(self, index: Any) -> errors.StatusIndexError:
        return errors.StatusIndexError(
            f"index {index!r} is outside the status list (0 .. {self._size - 1})"
        )

    def get(self, index: int) -> int:
        """The status value at ``index``.

        Raises:
            StatusIndexError: ``index`` is not an integer in ``0 .. size - 1``.
        """
        if type(index) is not int or not 0 <= index < self._size:
            raise self._index_error(index)
        position = index * self._bits
        return (self._data[position >> 3] >> (position & 7)) & self._mask

    def set(self, index: int, value: int) -> None:
        """Set the status at ``index`` to ``value``.

        Raises:
            StatusIndexError: ``index`` is outside the list.
            StatusListError: ``value`` does not fit in ``bits`` bits.
        """
        if type(index) is not int or not 0 <= index < self._size:
            raise self._index_error(index)
        if not _is_int(value) or not 0 <= value <= self._mask:
            raise errors.StatusListError(
                f"status value {value!r} does not fit in {self._bits} bit(s)"
            )
        position = index * self._bits
        shift = position & 7
        byte = position >> 3
        self._data[byte] = (self._data[byte] & ~(self._mask << shift)) | (value << shift)

    def nonzero(self) -> Iterator[tuple[int, int]]:
        """``(index, value)`` of every entry whose status is not 0, by increasing index."""
        per_byte = 8 // self._bits
        for match in _NONZERO_BYTE.finditer(self._data):
            position = match.start()
            byte = self._data[position]
            for slot in range(per_byte):
                value = (byte >> (slot * self._bits)) & self._mask
                index = position * per_byte + slot
                if value and index < self._size:
                    yield index, value

    def counts(self) -> dict[int, int]:
        """How many entries hold each status value (values absent from the list omitted)."""
        per_byte = 8 // self._bits
        totals: Counter[int] = Counter()
        for byte, occurrences in Counter(self._data).items():
            for slot in range(per_byte):
                totals[(byte >> (slot * self._bits)) & self._mask] += occurrences
        for index in range(self._size, len(self._data) * per_byte):  # padding entries
            position = index * self._bits
            totals[(self._data[position >> 3] >> (position & 7)) & self._mask] -= 1
        return {value: count for value, count in sorted(totals.items()) if count}

    def encode(self, level: int = DEFAULT_COMPRESSION_LEVEL) -> dict[str, Any]:
        """The JSON Status List ``{"bits": ..., "lst": ...}`` (zlib at ``level``, base64url).

        Raises:
            InvalidInputError: ``level`` is not 0..9.
        """
        if not _is_int(level) or not 0 <= level <= 9:
            raise errors.InvalidInputError(f"zlib level must be 0..9, not {level!r}")
        return {"bits": self._bits, "lst": jose.b64url_encode(zlib.compress(self._data, level))}

    @classmethod
    def decode(
        cls,
        value: Mapping[str, Any] | None = None,
        *,
        bits: int | None = None,
        lst: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> StatusList:
        """Decode a JSON Status List, given as ``{"bits", "lst"}`` or as ``bits=`` and ``lst=``.

        Members other than ``bits`` and ``lst`` (such as ``aggregation_uri``) are ignored.
        Decompression stops after ``max_bytes`` bytes, so that a small ``lst`` cannot
        inflate to gigabytes.

        Raises:
            StatusListError: not an object, ``bits`` not 1/2/4/8, ``lst`` not a string, not
                base64url, not a complete zlib (RFC 1950) stream, empty, or followed by data.
            StatusListTooLargeError: the array inflates beyond ``max_bytes``.
        """
        if value is not None:
            if bits is not None or lst is not None:
                raise errors.InvalidInputError("give a status list object or bits and lst")
            if not isinstance(value, Mapping):
                raise errors.StatusListError("'status_list' must be a JSON object")
            bits, lst = value.get("bits"), value.get("lst")
        checked_bits = _check_bits(bits)
        if not isinstance(lst, str):
            raise errors.StatusListError("'lst' must be a string")
        if not lst:
            raise errors.StatusListError("'lst' is empty")
        try:
            compressed = jose.b64url_decode(lst)
        except errors.Base64UrlError as exc:
            raise errors.StatusListError(f"'lst' is not base64url: {exc.detail}") from exc
        return cls(checked_bits, data=_inflate(compressed, max_bytes))


def _inflate(compressed: bytes, max_bytes: int) -> bytes:
    # wbits=15 (the default) insists on the RFC 1950 header and Adler-32 trailer; max_length
    # bounds the output buffer, so a bomb is stopped after max_bytes + 1 bytes, not inflated.
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise errors.StatusListError(f"'lst' is not a valid zlib (RFC 1950) stream: {exc}") from exc
    if len(data) > max_bytes:
        raise errors.StatusListTooLargeError(
            f"'lst' inflates beyond {max_bytes} bytes ({len(compressed)} bytes compressed)",
        )
    if not inflater.eof:
        raise errors.StatusListError("'lst' is a truncated zlib stream")
    if inflater.unused_data:
        raise errors.StatusListError("'lst' carries data after the end of its zlib stream")
    if not data:
        raise errors.StatusListError("'lst' inflates to an empty byte array")
    return data


@dataclass(frozen=True, slots=True)
class StatusListToken:
    """The claims of a Status List Token, with its list decoded."""

    uri: str
    iss: str | None
    iat: int
    exp: int | None
    ttl: int | None
    status_list: StatusList
    header: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _timestamp(moment: int | float | datetime, name: str = "now") -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise errors.InvalidInputError(f"'{name}' must be timezone-aware")
        return math.floor(moment.timestamp())
    if isinstance(moment, bool) or not isinstance(moment, int | float):
        raise errors.InvalidInputError(f"'{name}' must be a datetime or a Unix time")
    return math.floor(moment)


def create_status_list_token(
    status_list: StatusList,
    key: SigningKey,
    *,
    uri: str,
    now: int | float | datetime,
    issuer: str | None = None,
    ttl: int = DEFAULT_TTL,
    lifetime: int = DEFAULT_LIFETIME,
    level: int = DEFAULT_COMPRESSION_LEVEL,
) -> str:
    """Sign ``status_list`` as a Status List Token (``typ: statuslist+jwt``, ``kid`` set).

    The payload is ``sub`` = ``uri``, ``iss`` (when given), ``iat`` = ``now``,
    ``exp`` = ``iat + lifetime``, ``ttl`` and ``status_list``.

    Raises:
        InvalidInputError: ``uri`` is not an absolute URI, ``ttl`` or ``lifetime`` not a
            positive integer, ``now`` a naive datetime, ``level`` not 0..9.
    """
    if not isinstance(uri, str) or not urlsplit(uri).scheme:
        raise errors.InvalidInputError(f"status list URI {uri!r} is not an absolute URI")
    for name, seconds in (("ttl", ttl), ("lifetime", lifetime)):
        if not _is_int(seconds) or seconds <= 0:
            raise errors.InvalidInputError(f"'{name}' must be a positive number of seconds")
    iat = _timestamp(now)
    payload: dict[str, Any] = {"sub": uri}
    if issuer is not None:
        payload["iss"] = issuer
    payload.update(
        {"iat": iat, "exp": iat + lifetime, "ttl": ttl, "status_list": status_list.encode(level)}
    )
    return jose.sign_compact(payload, key, typ=STATUS_LIST_TYP)


def _numeric(payload: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise errors.StatusListError(f"the Status List Token lacks '{name}'")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise errors.StatusListError(f"'{name}' must be a number")
    return math.floor(value)


def _parse(token: str) -> tuple[jose.CompactJWS, dict[str, Any], Mapping[str, Any]]:
    """Structure, exact ``typ`` and claims; returns the JWS, the claims and the encoded list."""
    jws = jose.parse_compact(token)
    typ = jws.header.get("typ")
    if typ != STATUS_LIST_TYP:
        raise errors.TypError(f"typ {typ!r} where {STATUS_LIST_TYP!r} is expected")
    payload = jws.payload
    uri = payload.get("sub")
    if not isinstance(uri, str) or not uri:
        raise errors.StatusListError("the Status List Token lacks 'sub' (its own URI)")
    iss = payload.get("iss")
    if iss is not None and not isinstance(iss, str):
        raise errors.StatusListError("'iss' must be a string")
    claims: dict[str, Any] = {
        "uri": uri,
        "iss": iss,
        "iat": _numeric(payload, "iat", required=True),
        "exp": _numeric(payload, "exp", required=False),
        "ttl": _numeric(payload, "ttl", required=False),
        "header": dict(jws.header),
    }
    if claims["ttl"] is not None and claims["ttl"] <= 0:
        raise errors.StatusListError("'ttl' must be positive")
    encoded = payload.get("status_list")
    if encoded is None:
        raise errors.StatusListError("the Status List Token lacks 'status_list'")
    if not isinstance(encoded, Mapping):
        raise errors.StatusListError("'status_list' must be a JSON object")
    return jws, claims, encoded


def parse_status_list_token(token: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> StatusListToken:
    """Decode a Status List Token WITHOUT verifying its signature or its times.

    For inspection only (``passerelle status-list inspect`` without ``--key``): nothing in
    the result may be trusted. Use :func:`verify_status_list_token` to rely on a list.

    Raises:
        TokenFormatError (and subclasses), AlgorithmError, HeaderError: the JWS structure.
        TypError: ``typ`` is not exactly ``statuslist+jwt``.
        StatusListError (and subclasses): claims missing or mistyped, the list undecodable.
    """
    _, claims, encoded = _parse(token)
    return StatusListToken(status_list=StatusList.decode(encoded, max_bytes=max_bytes), **claims)


def verify_status_list_token(
    token: str,
    key: PublicKey | jose.KeyResolver,
    *,
    expected_uri: str | None,
    now: int | float | datetime,
    leeway: int = DEFAULT_LEEWAY,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> StatusListToken:
    """Verify a Status List Token and decode its list.

    ``key`` is the issuer's public key or a resolver called with the parsed header and
    payload. ``expected_uri`` is the ``uri`` of the Referenced Token's ``status_list`` claim;
    pass ``None`` only to inspect a token on its own. ``ttl`` is returned, not enforced: it
    is a caching hint for whoever fetched the token.

    Raises:
        TokenFormatError (and subclasses), AlgorithmError, HeaderError: the JWS structure.
        TypError: ``typ`` is not exactly ``statuslist+jwt``.
        SignatureError: the signature does not verify with ``key``.
        StatusListError: ``sub``, ``iat`` or ``status_list`` missing or mistyped, or ``iat``
            more than ``leeway`` seconds in the future.
        StatusListMismatchError: ``sub`` is not ``expected_uri``.
        StatusListExpiredError: ``exp`` is more than ``leeway`` seconds past.
        StatusListTooLargeError: the list inflates beyond ``max_bytes``.
    """
    at = _timestamp(now)
    jws, claims, encoded = _parse(token)
    public = key if isinstance(key, PublicKey) else key(jws.header, jws.payload)
    jose.verify_signature(jws, public)
    uri, iat, exp = claims["uri"], claims["iat"], claims["exp"]
    if expected_uri is not None and uri != expected_uri:
        raise errors.StatusListMismatchError(
            f"the Status List Token is for {uri!r}, not the referenced {expected_uri!r}"
        )
    if exp is not None and at - leeway >= exp:
        raise errors.StatusListExpiredError(f"the Status List Token expired at {exp} (now {at})")
    if iat > at + leeway:
        raise errors.StatusListError(
            f"the Status List Token is issued in the future (iat {iat}, now {at})"
        )
    return StatusListToken(status_list=StatusList.decode(encoded, max_bytes=max_bytes), **claims)


def check_status(status_claim: Mapping[str, Any], token: StatusListToken) -> Status:
    """The status of a Referenced Token, given its ``status`` claim and a verified token.

    ``status_claim`` is ``{"status_list": {"idx": ..., "uri": ...}}``.

    Raises:
        StatusListError: the claim is malformed, or the value is not a registered status
            (0x03 and above are application-specific: no statement can be made).
        StatusListMismatchError: ``uri`` is not the token's ``sub``.
        StatusIndexError: ``idx`` is outside the list.
    """
    reference = status_claim.get("status_list") if isinstance(status_claim, Mapping) else None
    if not isinstance(reference, Mapping):
        raise errors.StatusListError("the 'status' claim lacks a 'status_list' object")
    uri, idx = reference.get("uri"), reference.get("idx")
    if not isinstance(uri, str) or not uri:
        raise errors.StatusListError("'status_list.uri' must be a non-empty string")
    if not _is_int(idx) or idx < 0:
        raise errors.StatusListError("'status_list.idx' must be a non-negative integer")
    if uri != token.uri:
        raise errors.StatusListMismatchError(
            f"the credential refers to {uri!r}, the Status List Token is {token.uri!r}"
        )
    value = token.status_list.get(idx)
    try:
        return Status(value)
    except ValueError:
        raise errors.StatusListError(
            f"status value {value:#04x} at index {idx} is application-specific or unregistered"
        ) from None


class IndexAllocator:
    """Random, never repeated indices of a status list of ``size`` entries.

    ``taken`` are the indices already handed out (as persisted by the issuer service), so an
    allocator can be recreated after a restart. Draws are uniform over the free indices: at
    random among all indices while more than 1/8 are free, then from a list of the free ones
    (built once), so that a nearly full list costs no more than an empty one.

    Not thread-safe, and not shared between processes: the issuer's database must hold a
    unique constraint on (list, index); on a conflict, allocate again.

    Raises:
        StatusListError: ``size`` is not a positive integer.
        StatusIndexError: an index in ``taken`` is outside the list.
    """

    def __init__(
        self,
        size: int = DEFAULT_LIST_SIZE,
        *,
        taken: Iterable[int] = (),
        rng: Random | None = None,
    ) -> None:
        if not _is_int(size) or size < 1:
            raise errors.StatusListError(f"a status list size must be positive, not {size!r}")
        self._size = size
        self._taken: set[int] = set()
        for index in taken:
            if not _is_int(index) or not 0 <= index < size:
                raise errors.StatusIndexError(f"taken index {index!r} is outside 0 .. {size - 1}")
            self._taken.add(index)
        self._rng: Random = rng if rng is not None else secrets.SystemRandom()
        self._free: list[int] | None = None

    @property
    def size(self) -> int:
        return self._size

    @property
    def remaining(self) -> int:
        """How many indices are still free."""
        return self._size - len(self._taken)

    def allocate(self) -> int:
        """A free index, chosen uniformly at random, from now on taken.

        Raises:
            StatusListFullError: every index is taken.
        """
        free = self._size - len(self._taken)
        if free <= 0:
            raise errors.StatusListFullError(
                f"all {self._size} indices of this status list are taken; open a new list"
            )
        if self._free is None and free * _DENSE_RATIO > self._size:
            while True:
                index = self._rng.randrange(self._size)
                if index not in self._taken:
                    self._taken.add(index)
                    return index
        if self._free is None:
            taken = self._taken
            self._free = [i for i in range(self._size) if i not in taken]
        pool = self._free
        pick = self._rng.randrange(len(pool))
        pool[pick], pool[-1] = pool[-1], pool[pick]
        index = pool.pop()
        self._taken.add(index)
        return index
