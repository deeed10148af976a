"""QR transport for SD-JWT credentials: a compact paper payload, rendering and decoding.

An employer scans a QR code printed on a paper certificate or shown on a phone. The code
carries either the plain compact SD-JWT (QR byte mode) or, much smaller, the *compact payload*
defined here, which QR alphanumeric mode can carry (``0-9 A-Z`` space ``$%*+-./:``).

Compact payload, version 1 (``PS1:``)
=====================================

``encode_payload(token)`` maps any token string to a payload and ``decode_payload`` gives back
exactly the same string, character for character. The signed bytes are never re-serialised:
the base64url parts of an SD-JWT are replaced by the bytes they encode, which is exact because
unpadded base64url with zero trailing bits (RFC 7515 section 2) has one encoding per byte
string. Anything that is not such a token is carried verbatim (form 0)::

    payload   = "PS1:" || Base45(frame)                         (RFC 9285 Base45)
    frame     = deflate || check || pool
    deflate   = raw DEFLATE stream (RFC 1951, no zlib header) of ``structure``, compressed
                with the preset dictionary DICTIONARY below (zlib ``zdict``; SHA-256 of its
                bytes is DICTIONARY_SHA256); it ends with its final block, and what follows
                it in ``frame`` is ``check || pool``
    check     = CRC-32 (ISO-HDLC, as zlib.crc32) of the UTF-8 token, 4 bytes big-endian
    pool      = the incompressible bytes (signatures, salts, digests), in the order the
                structure consumes them; every pool byte must be consumed

    structure = form:u8 body                   (at most MAX_STRUCTURE_BYTES = 1 MiB)
    form 0    verbatim:  body = the UTF-8 bytes of the token (to the end of the structure)
    form 1    JWS:       body = jws                                     token "H.P.S"
    form 2    SD-JWT:    body = n:varint jws disclosure{n}              token "J~D1~..~Dn~"
    form 3    SD-JWT+KB: body = n:varint jws disclosure{n} jws          token "J~D1~..~Dn~K"
    jws       = json(header) json(payload) sig          (the three dot-separated parts)
    disclosure= json
    json      = v:varint, then v >> 1 bytes in the structure; when v & 1 they may hold
                markers (below), when not they are taken literally
    sig       = len:varint, then len bytes taken from the pool
    varint    = unsigned LEB128, at most 4 bytes

Each part stands for the base64url encoding of its bytes after marker expansion. Markers are
bytes that never occur in UTF-8 (so never in JSON); each expands to base64url text:

    0xF8 len:varint   base64url(the next len pool bytes): a salt, a key thumbprint, a digest
    0xF9 k:varint     base64url(SHA-256(ASCII of disclosure k as it appears in the token)),
                      k counted from 0: the ``_sd`` digest of a disclosure that is present
    0xFA              base64url(SHA-256(ASCII of the token up to and including the "~" before
                      the KB-JWT)): the KB-JWT's ``sd_hash``; only in the KB-JWT's parts
    0xF5-0xF7, 0xFB-0xFF    invalid

Decoders must reject: another prefix, a character outside the Base45 alphabet, a Base45
group over its range, a DEFLATE error or unterminated stream, a structure over 1 MiB or a
token over ``MAX_TOKEN_LENGTH``, a truncated structure or pool, bytes left after the last
part, an unknown form or marker, a reference to a missing disclosure or a cycle of
references, and a CRC-32 mismatch. Which strings an encoder turns into markers is its own
choice (this one: strings of 22 or more base64url characters between double quotes, and
exact digest matches); any choice decodes to the same token. Another dictionary or layout
is another version prefix.

The last character of a payload is never a space (Base45's last digit of a group is at most
``W``), so scanners' surrounding whitespace can be stripped safely.

What a scanner may return
=========================

``normalise`` accepts the compact payload, a plain compact SD-JWT, or a URL whose fragment
carries either: ``https://verifier.example/#PS1:...`` or ``https://verifier.example/#token=<
SD-JWT or payload, percent-encoded if needed>`` (``&``-separated, other names ignored). The
fragment, never the query, is used: browsers do not send it to the server, so the
credential stays out of web logs. ``#`` is not in the QR alphanumeric set, so a link is
coded in two segments: byte mode up to ``#``, alphanumeric for the payload.

Links: :func:`verification_link` writes the payload percent-encoded (a space as ``%20``, a
``%`` as ``%25``; both stay in the alphanumeric set), so that a browser opening it changes
nothing. A link typed or printed without that escaping is still read: a browser escapes its
spaces but not its ``%``, which makes the text ambiguous, so every reading is tried
(percent-decoded, literal, only ``%20`` as a space) and the CRC-32 in the payload says which
one is the credential (a wrong reading is refused with probability 1 - 2^-32).
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, unquote

import qrcode
import qrcode.constants
import qrcode.exceptions
import qrcode.util
import zxingcpp
from PIL import Image, UnidentifiedImageError

from passerelle import errors
from passerelle.jose import MAX_TOKEN_LENGTH, b64url_decode, b64url_encode

__all__ = [
    "BASE45_ALPHABET",
    "DEFAULT_MASK",
    "DICTIONARY",
    "DICTIONARY_SHA256",
    "EC_LEVELS",
    "IMAGE_FORMATS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_STRUCTURE_BYTES",
    "PREFIX",
    "b45decode",
    "b45encode",
    "decode_image",
    "decode_payload",
    "encode_payload",
    "is_compact_payload",
    "normalise",
    "qr_version",
    "render_png",
    "render_svg",
    "verification_link",
]

PREFIX: Final = "PS1:"
BASE45_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
#: Largest decompressed structure accepted: far above any credential, far below harm.
MAX_STRUCTURE_BYTES: Final = 1024 * 1024
#: Uploads larger than this are refused before Pillow sees them.
MAX_IMAGE_BYTES: Final = 25 * 1024 * 1024
#: A 48-megapixel phone photo passes; a decompression bomb does not.
MAX_IMAGE_PIXELS: Final = 50_000_000
IMAGE_FORMATS: Final = ("PNG", "JPEG")
#: Mask pattern used unless the caller asks for another (or ``None``: ISO/IEC 18004 choice,
#: 8 trial placements, the slow part of qrcode). Compressed payloads and base64url look
#: random, so the masks' penalties differ little: over our test credentials mask 2 had the
#: lowest mean penalty, 2.5 % above the best of the eight for each code.
DEFAULT_MASK: Final = 2
#: JPEGs larger than this (longest side, pixels) are decoded at a reduced scale.
_DECODE_SIDE: Final = 3000
_QR_FORMATS: Final = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
EC_LEVELS: Final = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}

#: Preset DEFLATE dictionary of PS1 (part of the format: never change it, add PS2 instead).
#: JSON text of Passerelle's SD-JWT VCs (schemas/), the most frequent last (shortest
#: distances). It shrinks a paper QualificationCredential's DEFLATE stream by 36 %.
DICTIONARY: Final = "".join(
    (
        '"esco_skills":["http://data.europa.eu/esco/skill/',
        '"esco_occupation":"http://data.europa.eu/esco/occupation/',
        '","given_name","","family_name","","birthdate","","nationalities",["',
        '"cnf":{"jwk":{"kty":"OKP","crv":"Ed25519","x":"',
        '{"alg":"ES256","typ":"dc+sd-jwt","kid":"',
        '"skill":{"title":{"fr":"en":"es":"ar":"',
        '"proficiency":"assessed_on":"vct":"https://credentials.passerelle.org/types/skill/v1"',
        '"description":{"fr":"en":"es":"ar":"',
        '"qualification":{"title":{"fr":"en":"es":"ar":"',
        '"awarded_on":"isco08":"eqf_level":"nqf":{"framework":"level":"isced_f":"',
        '"learning_hours":"assessment_method":"language_of_instruction":"',
        '"country_of_award":"},"_sd_alg":"sha-256"}',
        '{"alg":"ES256","typ":"kb+jwt"}{"nonce":"aud":"https://"iat":"sd_hash":"',
        '{"alg":"EdDSA","typ":"dc+sd-jwt","kid":"',
        '{"_sd":["","iss":"https://","iat":',
        '"vct":"https://credentials.passerelle.org/types/qualification/v1","exp":',
        '"cnf":{"jwk":{"kty":"EC","crv":"P-256","x":"","y":"',
        '"}},"status":{"status_list":{"idx":"uri":"https://"credential_number":"',
        '["", "nationalities", ["", "birthdate", "", "family_name", "", "given_name", "',
    )
).encode("ascii")
DICTIONARY_SHA256: Final = hashlib.sha256(DICTIONARY).hexdigest()

_FORM_VERBATIM, _FORM_JWS, _FORM_SD_JWT, _FORM_SD_JWT_KB = 0, 1, 2, 3
_POOL, _DIGEST, _SD_HASH = 0xF8, 0xF9, 0xFA
_NOT_UTF8 = re.compile(rb"[\xf5-\xff]")
#: Encoder's choice: quoted base64url strings of at least 16 encoded bytes go to the pool.
_QUOTED_B64 = re.compile(rb'"([A-Za-z0-9_-]{22,})"')
_B64URL_TEXT = r"[A-Za-z0-9_-]"
_SD_JWT_SHAPE = re.compile(
    rf"{_B64URL_TEXT}+\.{_B64URL_TEXT}+\.{_B64URL_TEXT}*(?:~[A-Za-z0-9_.-]*)*"
)
_B45_VALUE = {c: i for i, c in enumerate(BASE45_ALPHABET)}
_B45_TEXT = re.compile(r"[0-9A-Z $%*+\-./:]*")


# --- Base45 (RFC 9285) -----------------------------------------------------------------


def b45encode(data: bytes) -> str:
    """RFC 9285 Base45: two bytes to three characters, a last odd byte to two."""
    out: list[str] = []
    alphabet = BASE45_ALPHABET
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out.append(alphabet[c] + alphabet[d] + alphabet[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out.append(alphabet[c] + alphabet[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Strict RFC 9285 Base45 decoding.

    Raises:
        QrError: a character outside the alphabet, a length of 3k+1, or a group over
            its range (above 65535, or 255 for a final pair).
    """
    values = [_B45_VALUE.get(c) for c in text]
    if None in values:
        bad = next(c for c, v in zip(text, values, strict=True) if v is None)
        raise errors.QrError(f"character {bad!r} is not Base45")
    if len(text) % 3 == 1:
        raise errors.QrError("impossible Base45 length")
    out = bytearray()
    ints: list[int] = values  # type: ignore[assignment]  # no None left
    for i in range(0, len(ints) - 2, 3):
        n = ints[i] + ints[i + 1] * 45 + ints[i + 2] * 2025
        if n > 0xFFFF:
            raise errors.QrError("Base45 group out of range")
        out += n.to_bytes(2, "big")
    if len(ints) % 3 == 2:
        n = ints[-2] + ints[-1] * 45
        if n > 0xFF:
            raise errors.QrError("Base45 group out of range")
        out.append(n)
    return bytes(out)


# --- the container ---------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _b64_digest(text: str) -> str:
    return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())


@dataclass
class _Writer:
    structure: bytearray = field(default_factory=bytearray)
    pool: bytearray = field(default_factory=bytearray)

    def signature(self, raw: bytes) -> None:
        self.structure += _varint(len(raw))
        self.pool += raw

    def json(self, raw: bytes, digests: dict[bytes, int], sd_hash: bytes | None) -> None:
        if _NOT_UTF8.search(raw):  # not UTF-8 text: no room for markers, store as is
            self.structure += _varint(len(raw) << 1) + raw
            return

        def substitute(match: re.Match[bytes]) -> bytes:
            text = match.group(1)
            if text in digests:
                return b'"' + bytes([_DIGEST]) + _varint(digests[text]) + b'"'
            if text == sd_hash:
                return b'"' + bytes([_SD_HASH]) + b'"'
            try:
                decoded = b64url_decode(text.decode("ascii"))
            except errors.Base64UrlError:  # not canonical: keep the text
                return match.group(0)
            self.pool += decoded
            return b'"' + bytes([_POOL]) + _varint(len(decoded)) + b'"'

        body = _QUOTED_B64.sub(substitute, raw)
        self.structure += _varint(len(body) << 1 | 1) + body

    def jws(self, parts: list[bytes], digests: dict[bytes, int], sd_hash: bytes | None) -> None:
        self.json(parts[0], digests, sd_hash)
        self.json(parts[1], digests, sd_hash)
        self.signature(parts[2])


def _decode_jws(text: str) -> list[bytes] | None:
    parts = text.split(".")
    if len(parts) != 3:
        return None
    try:
        return [b64url_decode(part) for part in parts]
    except errors.Base64UrlError:
        return None


def _structured(token: str) -> _Writer | None:
    """The structured container of ``token``, or None when it is not a canonical (SD-)JWT."""
    segments = token.split("~")
    writer = _Writer()
    issuer_jws = _decode_jws(segments[0])
    if issuer_jws is None:
        return None
    if len(segments) == 1:
        writer.structure.append(_FORM_JWS)
        writer.jws(issuer_jws, {}, None)
        return writer
    disclosures, last = segments[1:-1], segments[-1]
    try:
        raw_disclosures = [b64url_decode(d) for d in disclosures]
    except errors.Base64UrlError:
        return None
    kb_jws = _decode_jws(last) if last else None
    if last and kb_jws is None:
        return None
    writer.structure.append(_FORM_SD_JWT_KB if kb_jws else _FORM_SD_JWT)
    writer.structure += _varint(len(disclosures))
    digests: dict[bytes, int] = {}
    for index, disclosure in enumerate(disclosures):
        digests.setdefault(_b64_digest(disclosure).encode("ascii"), index)
    writer.jws(issuer_jws, digests, None)
    for raw in raw_disclosures:
        writer.json(raw, digests, None)
    if kb_jws is not None:
        sd_hash = _b64_digest(token[: len(token) - len(last)]).encode("ascii")
        writer.jws(kb_jws, digests, sd_hash)
    return writer


def _compressor() -> Any:
    return zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)


def encode_payload(token: str) -> str:
    """The compact payload (``PS1:`` + Base45, QR alphanumeric mode) of ``token``.

    Any string round-trips exactly through :func:`decode_payload`; a canonical compact
    (SD-)JWT is stored as raw bytes and compresses best.

    Raises:
        TokenTooLargeError: ``token`` is over ``MAX_TOKEN_LENGTH`` characters.
        TokenFormatError: ``token`` holds a lone surrogate (not Unicode text).
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise errors.TokenTooLargeError(f"token over {MAX_TOKEN_LENGTH} characters")
    try:
        utf8 = token.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise errors.TokenFormatError("the token is not valid Unicode text") from exc
    writer = _structured(token)
    if writer is None:
        writer = _Writer(structure=bytearray([_FORM_VERBATIM]) + utf8)
    if len(writer.structure) > MAX_STRUCTURE_BYTES:
        raise errors.TokenTooLargeError("token too large for a compact payload")
    compressor = _compressor()
    deflated = compressor.compress(bytes(writer.structure)) + compressor.flush()
    check = struct.pack(">I", zlib.crc32(utf8))
    return PREFIX + b45encode(deflated + check + bytes(writer.pool))


@dataclass
class _Reader:
    data: bytes
    pos: int = 0
    what: str = "structure"

    def take(self, count: int) -> bytes:
        if count > len(self.data) - self.pos:
            raise errors.QrError(f"truncated compact payload ({self.what} ends early)")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def varint(self) -> int:
        value = 0
        for shift in range(0, 28, 7):
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise errors.QrError("compact payload length field too long")

    @property
    def done(self) -> bool:
        return self.pos == len(self.data)


# A part being decoded: its bytes, where a digest or sd_hash reference is left as
# (marker, disclosure index) until every part is read (a reference may point forward).
_Chunk = bytes | tuple[int, int]


def _read_json(structure: _Reader, pool: _Reader, *, kb: bool) -> list[_Chunk]:
    value = structure.varint()
    body = structure.take(value >> 1)
    if not value & 1:
        return [body]
    chunks: list[_Chunk] = []
    start = 0
    inner = _Reader(body, what="part")
    for match in _NOT_UTF8.finditer(body):
        if match.start() < inner.pos:  # inside a varint already read
            continue
        chunks.append(body[start : match.start()])
        inner.pos = match.end()
        marker = body[match.start()]
        if marker == _POOL:
            chunks.append(b64url_encode(pool.take(inner.varint())).encode("ascii"))
        elif marker == _DIGEST:
            chunks.append((_DIGEST, inner.varint()))
        elif marker == _SD_HASH and kb:
            chunks.append((_SD_HASH, 0))
        else:
            raise errors.QrError(f"invalid marker 0x{marker:02X} in the compact payload")
        start = inner.pos
    chunks.append(body[start:])
    return chunks


def decode_payload(text: str) -> str:
    """The token a compact payload was made from, exactly.

    Raises:
        QrError: wrong prefix, bad Base45, bad DEFLATE data, a truncated or over-long
            structure, trailing bytes, an unknown form or marker, a dangling reference, or a
            checksum mismatch; the detail says which.
    """
    if not text.startswith(PREFIX):
        raise errors.QrError(f"not a compact payload (expected the prefix {PREFIX!r})")
    if len(text) > 2 * MAX_TOKEN_LENGTH:
        raise errors.QrError("compact payload too long")
    frame = b45decode(text[len(PREFIX) :])
    inflater = zlib.decompressobj(-15, zdict=DICTIONARY)
    try:
        structure = inflater.decompress(frame, MAX_STRUCTURE_BYTES + 1)
    except zlib.error as exc:
        raise errors.QrError(f"compact payload is not valid DEFLATE data ({exc})") from exc
    if len(structure) > MAX_STRUCTURE_BYTES:
        raise errors.QrError("compact payload decompresses to more than 1 MiB")
    if not inflater.eof:
        raise errors.QrError("truncated compact payload (DEFLATE stream ends early)")
    rest = _Reader(inflater.unused_data, what="pool")
    (expected_crc,) = struct.unpack(">I", rest.take(4))
    token = _rebuild(_Reader(structure), rest)
    if not rest.done:
        raise errors.QrError("compact payload has trailing bytes")
    if zlib.crc32(token.encode("utf-8")) != expected_crc:
        raise errors.QrError("compact payload checksum mismatch (corrupted)")
    return token


def _rebuild(structure: _Reader, pool: _Reader) -> str:
    form = structure.take(1)[0]
    if form == _FORM_VERBATIM:
        body = structure.take(len(structure.data) - structure.pos)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise errors.QrError("verbatim compact payload is not UTF-8") from exc
    if form not in (_FORM_JWS, _FORM_SD_JWT, _FORM_SD_JWT_KB):
        raise errors.QrError(f"unknown compact payload form {form}")
    count = structure.varint() if form != _FORM_JWS else 0
    if count > len(structure.data):  # each disclosure takes at least one byte
        raise errors.QrError("truncated compact payload (structure ends early)")

    def jws(kb: bool) -> list[list[_Chunk]]:
        header = _read_json(structure, pool, kb=kb)
        payload = _read_json(structure, pool, kb=kb)
        signature: list[_Chunk] = [pool.take(structure.varint())]
        return [header, payload, signature]

    issuer = jws(False)
    disclosures = [_read_json(structure, pool, kb=False) for _ in range(count)]
    kb_parts = jws(True) if form == _FORM_SD_JWT_KB else None
    if not structure.done:
        raise errors.QrError("compact payload has trailing bytes in its structure")

    resolved: dict[int, str] = {}
    in_progress: set[int] = set()
    sd_hash = ""  # set once the SD-JWT before the KB-JWT is known

    def expand(chunks: list[_Chunk]) -> str:
        raw = bytearray()
        for chunk in chunks:
            if isinstance(chunk, bytes):
                raw += chunk
            elif chunk[0] == _DIGEST:
                raw += _b64_digest(disclosure(chunk[1])).encode("ascii")
            else:
                raw += sd_hash.encode("ascii")
            if len(raw) > MAX_TOKEN_LENGTH:
                raise errors.QrError("compact payload expands beyond the token size limit")
        return b64url_encode(bytes(raw))

    def disclosure(index: int) -> str:
        if index in resolved:
            return resolved[index]
        if index >= count:
            raise errors.QrError(f"compact payload refers to a missing disclosure {index}")
        if index in in_progress:
            raise errors.QrError("compact payload has a cycle of disclosure references")
        in_progress.add(index)
        resolved[index] = expand(disclosures[index])
        return resolved[index]

    token = ".".join(expand(part) for part in issuer)
    if form == _FORM_JWS:
        return token
    token += "".join("~" + disclosure(i) for i in range(count)) + "~"
    if len(token) > MAX_TOKEN_LENGTH:
        raise errors.QrError("compact payload expands beyond the token size limit")
    if kb_parts is not None:
        sd_hash = _b64_digest(token)
        token += ".".join(expand(part) for part in kb_parts)
    return token


def is_compact_payload(text: str) -> bool:
    """Whether ``text`` looks like a compact payload (prefix and Base45 alphabet)."""
    return text.startswith(PREFIX) and _B45_TEXT.fullmatch(text, len(PREFIX)) is not None


def normalise(text: str) -> str:
    """The compact SD-JWT carried by what a scanner returned.

    Accepts a compact payload, a plain compact SD-JWT (or JWS), or a URL whose fragment is
    ``PS1:...`` or ``token=<value>`` (see the module docstring). Surrounding whitespace is
    ignored.

    Raises:
        QrError: the payload does not decode, the URL carries no credential, or the text is
            not an SD-JWT at all (a QR code for something else).
        TokenTooLargeError: the text is over the token size limit.
    """
    text = text.strip()
    if len(text) > 2 * MAX_TOKEN_LENGTH:
        raise errors.TokenTooLargeError("scanned text too long")
    if is_compact_payload(text):
        token = decode_payload(text)
    elif re.match(r"(?i)https?://", text):
        token = _from_url(text)
    else:
        token = text
    if not _SD_JWT_SHAPE.fullmatch(token):
        raise errors.QrError("the QR code does not hold an SD-JWT credential")
    return token


_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def verification_link(base_url: str, token: str) -> str:
    """``BASE_URL#PS1:...``: a link a phone's camera app opens straight into the verifier.

    The base URL is upper-cased when that keeps it valid (scheme and host are
    case-insensitive; a path is not, so give one without lower-case letters or accept byte
    mode) and the payload percent-encoded (see the module docstring).
    """
    base = base_url.split("#", 1)[0]
    scheme, sep, rest = base.partition("://")
    host, slash, path = rest.partition("/")
    if sep:
        base = f"{scheme.upper()}://{host.upper()}{slash}{path}"
    return f"{base}#{quote(encode_payload(token), safe=':$*+-./')}"


def _from_url(url: str) -> str:
    _, hash_sign, fragment = url.partition("#")
    if not hash_sign or not fragment:
        raise errors.QrError("the URL carries no credential (no fragment)")
    for item in fragment.split("&"):
        name, _, value = item.partition("=")
        if name == "token" and value:
            fragment = value
            break
    readings = dict.fromkeys((unquote(fragment), fragment, fragment.replace("%20", " ")))
    for reading in readings:
        if reading.startswith(PREFIX):
            try:
                return decode_payload(reading)
            except errors.QrError:
                continue
        elif _SD_JWT_SHAPE.fullmatch(reading):
            return reading
    if any(reading.startswith(PREFIX) for reading in readings):
        raise errors.QrError("the link's PS1: payload is corrupt")
    raise errors.QrError("the URL fragment carries neither PS1: nor token=")


# --- rendering -------------------------------------------------------------------------


def _qr_segments(data: str) -> list[Any]:
    """The segments of ``data``: one alphanumeric segment for a compact payload, byte mode
    (UTF-8, no ECI) for a plain token, and for a link byte mode up to ``#`` (not in the
    alphanumeric set) then alphanumeric for the payload."""
    if "#" in data and data.isascii():
        head, _, tail = data.partition("#")
        if tail and all(c in _ALNUM for c in tail):
            return [
                qrcode.util.QRData(head + "#", mode=qrcode.util.MODE_8BIT_BYTE),
                qrcode.util.QRData(tail),
            ]
    return [qrcode.util.QRData(data)]


def _code(data: str, ec: str, border: int) -> Any:
    try:
        level = EC_LEVELS[ec]
    except KeyError:
        raise errors.InvalidInputError("error correction level must be one of L, M, Q, H") from None
    code = qrcode.QRCode(error_correction=level, border=border)
    for segment in _qr_segments(data):
        code.add_data(segment)
    try:
        code.best_fit()
    except (qrcode.exceptions.DataOverflowError, ValueError):  # qrcode 8 raises the latter
        raise errors.QrTooLargeError(
            f"{len(data)} characters do not fit in a QR code (version 40, level {ec})"
        ) from None
    return code


def qr_version(data: str, ec: str = "M") -> int:
    """The smallest QR version (1-40) that holds ``data`` at error correction level ``ec``.

    Raises:
        QrTooLargeError: ``data`` needs more than version 40.
        InvalidInputError: ``ec`` is not L, M, Q or H.
    """
    return int(_code(data, ec, 0).version)


def _matrix(data: str, ec: str, border: int, mask: int | None) -> list[list[bool]]:
    if border < 0:
        raise errors.InvalidInputError("the border must be zero or more modules")
    if mask is not None and mask not in range(8):
        raise errors.InvalidInputError("the mask pattern must be 0 to 7, or None")
    code = _code(data, ec, border)
    code.mask_pattern = mask
    code.make(fit=False)
    return [[bool(module) for module in row] for row in code.get_matrix()]


def render_png(
    data: str,
    *,
    ec: str = "M",
    box_size: int = 8,
    border: int = 4,
    mask: int | None = DEFAULT_MASK,
) -> bytes:
    """A 1-bit PNG of the QR code of ``data`` (``box_size`` pixels a module).

    ``mask`` is the QR mask pattern; ``None`` lets qrcode try all eight and keep the best by
    the ISO/IEC 18004 penalty, which costs about 30 ms more for a version-25 code.

    Raises:
        QrTooLargeError, InvalidInputError: as :func:`qr_version`, or a bad size.
    """
    if box_size < 1:
        raise errors.InvalidInputError("the box size must be at least one pixel")
    matrix = _matrix(data, ec, border, mask)
    size = len(matrix)
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (size, size), pixels)
    image = image.resize((size * box_size, size * box_size), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.convert("1").save(out, format="PNG")
    return out.getvalue()


def render_svg(
    data: str,
    *,
    ec: str = "M",
    box_size: int = 8,
    border: int = 4,
    mask: int | None = DEFAULT_MASK,
) -> str:
    """An SVG document of the QR code of ``data``: one path of horizontal runs.

    ``mask`` as for :func:`render_png`.

    Raises:
        QrTooLargeError, InvalidInputError: as :func:`qr_version`, or a bad size.
    """
    if box_size < 1:
        raise errors.InvalidInputError("the box size must be at least one unit")
    matrix = _matrix(data, ec, border, mask)
    size = len(matrix)
    path: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            path.append(f"M{start} {y}h{x - start}v1h{start - x}z")
    pixels = size * box_size
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{pixels}" height="{pixels}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(path)}"/></svg>\n'
    )


# --- decoding --------------------------------------------------------------------------


def _barcode_text(barcode: Any) -> str:
    """The text of a decoded code: byte-mode content is read as UTF-8 when it is (qrcode
    writes UTF-8 without an ECI, which zxing would otherwise guess as ISO-8859-1)."""
    raw: bytes = barcode.bytes
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return str(barcode.text)


def _open_image(data: bytes) -> Image.Image:
    if len(data) > MAX_IMAGE_BYTES:
        raise errors.QrError(f"image over {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    try:
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise errors.QrError(f"image of {width}x{height} pixels is too large")
        longest = max(width, height)
        if longest > _DECODE_SIDE:  # JPEG only: decode at 1/2, 1/4 or 1/8 scale, much faster
            image.draft("L", (width * _DECODE_SIDE // longest, height * _DECODE_SIDE // longest))
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            # transparent pixels are often black: lay the image on white paper first
            paper = Image.new("RGBA", image.size, "white")
            paper.alpha_composite(image.convert("RGBA"))
            return paper.convert("L")
        return image.convert("L")
    except errors.QrError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise errors.QrError("not a PNG or JPEG image, or too large") from exc
    except (OSError, ValueError, SyntaxError, struct.error) as exc:
        raise errors.QrError("unreadable or truncated image") from exc


def decode_image(data: bytes) -> str:
    """The text of the one QR code in a PNG or JPEG image, exactly as encoded.

    Identical codes seen twice count once.

    Raises:
        QrError: not a PNG/JPEG, unreadable, or over the size limits.
        QrNotFoundError: no QR code found.
        QrMultipleError: several different QR codes.
    """
    image = _open_image(data)
    try:
        barcodes = zxingcpp.read_barcodes(image, formats=_QR_FORMATS)
    except (RuntimeError, ValueError) as exc:
        raise errors.QrError(f"QR decoder failed: {exc}") from exc
    texts = list(dict.fromkeys(_barcode_text(b) for b in barcodes))
    if not texts:
        raise errors.QrNotFoundError("no QR code found in the image")
    if len(texts) > 1:
        raise errors.QrMultipleError(f"{len(texts)} different QR codes in the image")
    return texts[0]
