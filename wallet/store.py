"""The wallet at rest: holder keys and credentials, encrypted with a passphrase.

One file, ``wallet.pswallet``, in the wallet directory. Its bytes are an *envelope*::

    offset  size  field
    0       8     magic  b"PSWALLET"
    8       1     format version (1)
    9       1     kind: 1 wallet, 2 backup
    10      1     KDF: 1 scrypt
    11      1     scrypt log2(N)
    12      1     scrypt r
    13      1     scrypt p
    14      16    salt (random, new on every write)
    30      12    AES-GCM nonce (random, new on every write)
    42      ...   AES-256-GCM ciphertext and 16-byte tag

The key is ``scrypt(passphrase (NFC, UTF-8), salt, N, r, p)`` (32 bytes) and the whole
42-byte header is the associated data, so a changed version, kind or KDF parameter fails
authentication like a changed ciphertext byte. Encryption is ``cryptography``'s AESGCM and
Scrypt: no home-made primitive. The default KDF cost is OWASP's minimum for scrypt
(N = 2^17, r = 8, p = 1: 128 MiB, about 0.3 s); a file may declare other parameters within
:data:`MAX_KDF_MEMORY`, so tests can run with a cheap KDF.

The plaintext is a JSON document: the holder keys (PKCS#8 DER of each private key, which
therefore only ever exists on disk inside the envelope) and the credential records. A
backup file is the same envelope with kind 2 and its own passphrase.

Writes go to a temporary file in the same directory, are flushed to disk and then renamed
over the old file (``os.replace``), so a crash leaves the old or the new wallet, never half
of one. Reads never modify anything: a wrong passphrase or a damaged file raises
:class:`~passerelle.errors.WalletLockedError` and leaves every byte where it was.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from passerelle import errors, jose, sdjwt
from passerelle.credtypes import LANGUAGES, TypeRegistry
from passerelle.encoding import b64url_decode, b64url_encode, json_dumps, json_loads_object
from passerelle.keys import SigningKey, generate_key

__all__ = [
    "DEFAULT_KDF",
    "FILE_NAME",
    "KIND_BACKUP",
    "KIND_WALLET",
    "MAGIC",
    "MAX_KDF_MEMORY",
    "MIN_PASSPHRASE_LENGTH",
    "CredentialRecord",
    "HolderKey",
    "KdfParams",
    "MergeReport",
    "WalletContents",
    "WalletStore",
    "credential_id",
    "open_envelope",
    "seal",
]

MAGIC = b"PSWALLET"
FORMAT_VERSION = 1
KIND_WALLET = 1
KIND_BACKUP = 2
_KDF_SCRYPT = 1
_HEADER = struct.Struct(">8sBBBBBB16s12s")
_KINDS = {KIND_WALLET: "wallet", KIND_BACKUP: "backup"}
#: Name of the wallet file inside the wallet directory.
FILE_NAME = "wallet.pswallet"
#: Largest scrypt memory (128 * r * N bytes) a file may ask for: a crafted file must not
#: make the wallet allocate gigabytes.
MAX_KDF_MEMORY = 256 * 1024 * 1024
#: Shortest passphrase accepted when a wallet or backup is created.
MIN_PASSPHRASE_LENGTH = 8
#: The plaintext document's format marker.
_DOCUMENT_FORMAT = "passerelle-wallet"


@dataclass(frozen=True, slots=True)
class KdfParams:
    """scrypt parameters (``N = 2 ** log2_n``)."""

    log2_n: int = 17
    r: int = 8
    p: int = 1

    def check(self) -> None:
        """Raises WalletFileError: parameters out of the accepted range."""
        if not (1 <= self.log2_n <= 24 and 1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise errors.WalletFileError("scrypt parameters out of range")
        if 128 * self.r * (1 << self.log2_n) > MAX_KDF_MEMORY:
            raise errors.WalletFileError("scrypt parameters ask for too much memory")


#: OWASP Password Storage Cheat Sheet: scrypt N=2^17 (128 MiB), r=8, p=1.
DEFAULT_KDF = KdfParams()


def _derive(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    kdf = Scrypt(salt=salt, length=32, n=1 << params.log2_n, r=params.r, p=params.p)
    return kdf.derive(secret)


def seal(plaintext: bytes, passphrase: str, *, kind: int, kdf: KdfParams = DEFAULT_KDF) -> bytes:
    """The envelope of ``plaintext`` (see the module docstring): fresh salt and nonce."""
    kdf.check()
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header = _HEADER.pack(
        MAGIC, FORMAT_VERSION, kind, _KDF_SCRYPT, kdf.log2_n, kdf.r, kdf.p, salt, nonce
    )
    key = _derive(passphrase, salt, kdf)
    return header + AESGCM(key).encrypt(nonce, plaintext, header)


def open_envelope(data: bytes, passphrase: str, *, kinds: Iterable[int]) -> tuple[int, bytes]:
    """``(kind, plaintext)`` of an envelope whose kind is one of ``kinds``.

    Raises:
        WalletFileError: not an envelope (magic), a newer format version, an unknown or
            unexpected kind or KDF, KDF parameters out of range, or a truncated file.
        WalletLockedError: authentication failed (wrong passphrase or changed bytes).
    """
    if len(data) < _HEADER.size + 16 or not data.startswith(MAGIC):
        raise errors.WalletFileError("not a Passerelle wallet or backup file")
    _magic, version, kind, kdf_id, log2_n, r, p, salt, nonce = _HEADER.unpack_from(data)
    if version != FORMAT_VERSION:
        raise errors.WalletFileError(
            f"file format version {version} is not supported (this wallet reads version "
            f"{FORMAT_VERSION}); update the wallet software"
        )
    allowed = set(kinds)
    if kind not in _KINDS or kind not in allowed:
        wanted = " or ".join(_KINDS[k] for k in sorted(allowed))
        raise errors.WalletFileError(f"this file is not a {wanted} file")
    if kdf_id != _KDF_SCRYPT:
        raise errors.WalletFileError(f"unknown key derivation function {kdf_id}")
    params = KdfParams(log2_n, r, p)
    params.check()
    header = data[: _HEADER.size]
    key = _derive(passphrase, salt, params)
    try:
        plaintext = AESGCM(key).decrypt(nonce, data[_HEADER.size :], header)
    except InvalidTag:
        raise errors.WalletLockedError(
            f"cannot open the {_KINDS[kind]}: wrong passphrase, or the file is damaged"
        ) from None
    return kind, plaintext


# ---------------------------------------------------------------------------------------
# The document


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("a time must be an RFC 3339 string")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a time must carry a time zone")
    return moment


def credential_id(compact: str) -> str:
    """The record id of a credential: 16 hex digits of the SHA-256 of its issuer-signed JWT.

    Stable, so the same credential received or imported twice has the same id (how
    duplicates are recognised), and independent of which disclosures accompany it.
    """
    issuer_jwt = compact.split(sdjwt.SEPARATOR, 1)[0]
    return hashlib.sha256(issuer_jwt.encode("ascii", "replace")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class HolderKey:
    """One holder key: the private key, when it was made."""

    key: SigningKey
    created_at: datetime

    @property
    def kid(self) -> str:
        return self.key.kid

    def to_json(self) -> dict[str, Any]:
        der = self.key.private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),  # inside the AES-GCM envelope only
        )
        return {
            "kid": self.kid,
            "alg": self.key.alg,
            "pkcs8": b64url_encode(der),
            "created_at": _iso(self.created_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HolderKey:
        private = serialization.load_der_private_key(b64url_decode(data["pkcs8"]), None)
        if not isinstance(private, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("unsupported private key type")
        key = SigningKey.from_crypto(private)
        if key.kid != data["kid"]:
            raise ValueError("a holder key does not match its kid")
        return cls(key=key, created_at=_parse_iso(data["created_at"]))


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """A credential held: the compact SD-JWT VC as issued (every disclosure) and what the
    wallet shows about it without opening it again."""

    id: str
    credential: str
    issuer: str
    vct: str
    received_at: datetime
    holder_kid: str | None = None
    #: Display name of the credential type by language (``{"en": ..., "fr": ...}``).
    display: dict[str, str] = field(default_factory=dict)
    #: Display name of the issuer by language, from its OpenID4VCI metadata.
    issuer_display: dict[str, str] = field(default_factory=dict)
    #: The OpenID4VCI credential issuer identifier and configuration it came from.
    credential_issuer: str | None = None
    configuration_id: str | None = None

    @classmethod
    def from_credential(
        cls,
        compact: str,
        *,
        received_at: datetime,
        holder_kid: str | None = None,
        registry: TypeRegistry | None = None,
        display: Mapping[str, str] | None = None,
        issuer_display: Mapping[str, str] | None = None,
        credential_issuer: str | None = None,
        configuration_id: str | None = None,
    ) -> CredentialRecord:
        """A record for an issued SD-JWT VC (parsed and its disclosures checked, not its
        signature). The type's display names come from ``registry`` when it knows the
        ``vct``, else from ``display``.

        Raises:
            TokenFormatError, DisclosureError...: the credential is not an SD-JWT, or
                carries a KB-JWT; ClaimsError: no ``iss`` or ``vct``.
        """
        parsed = sdjwt.parse(compact)
        if parsed.kb_jwt is not None or parsed.serialization != "compact":
            raise errors.TokenFormatError("a held credential is a compact SD-JWT without KB-JWT")
        payload = jose.parse_compact(parsed.issuer_jwt).payload
        sdjwt.process_disclosures(payload, parsed.disclosures)
        issuer, vct = payload.get("iss"), payload.get("vct")
        if not isinstance(issuer, str) or not isinstance(vct, str):
            raise errors.ClaimsError("an SD-JWT VC must carry 'iss' and 'vct'")
        names = dict(display or {})
        if registry is not None and vct in registry:
            ctype = registry.get(vct)
            names = {lang: ctype.display_name(lang) for lang in LANGUAGES}
        return cls(
            id=credential_id(compact),
            credential=compact,
            issuer=issuer,
            vct=vct,
            received_at=received_at,
            holder_kid=holder_kid,
            display=names,
            issuer_display=dict(issuer_display or {}),
            credential_issuer=credential_issuer,
            configuration_id=configuration_id,
        )

    def display_name(self, lang: str) -> str:
        """The type's name in ``lang``, else English, else the ``vct``."""
        return self.display.get(lang) or self.display.get("en") or self.vct

    def issuer_name(self, lang: str) -> str:
        return self.issuer_display.get(lang) or self.issuer_display.get("en") or self.issuer

    def claims(self) -> dict[str, Any]:
        """Every claim of the credential (all disclosures applied, signature not checked)."""
        parsed = sdjwt.parse(self.credential)
        payload = jose.parse_compact(parsed.issuer_jwt).payload
        return sdjwt.process_disclosures(payload, parsed.disclosures)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "credential": self.credential,
            "issuer": self.issuer,
            "vct": self.vct,
            "received_at": _iso(self.received_at),
            "holder_kid": self.holder_kid,
            "display": self.display,
            "issuer_display": self.issuer_display,
            "credential_issuer": self.credential_issuer,
            "configuration_id": self.configuration_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CredentialRecord:
        record = cls(
            id=str(data["id"]),
            credential=str(data["credential"]),
            issuer=str(data["issuer"]),
            vct=str(data["vct"]),
            received_at=_parse_iso(data["received_at"]),
            holder_kid=data.get("holder_kid"),
            display={str(k): str(v) for k, v in dict(data.get("display") or {}).items()},
            issuer_display={
                str(k): str(v) for k, v in dict(data.get("issuer_display") or {}).items()
            },
            credential_issuer=data.get("credential_issuer"),
            configuration_id=data.get("configuration_id"),
        )
        if record.id != credential_id(record.credential):
            raise ValueError(f"record {record.id} does not match its credential")
        return record


@dataclass(frozen=True, slots=True)
class MergeReport:
    """What :meth:`WalletContents.merge` did: ids of credentials added and already held,
    kids of holder keys added."""

    added: tuple[str, ...]
    already_held: tuple[str, ...]
    keys_added: tuple[str, ...]


@dataclass(slots=True)
class WalletContents:
    """The decrypted wallet: holder keys (the first is the default) and credentials."""

    keys: list[HolderKey]
    credentials: list[CredentialRecord] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    # -- keys ------------------------------------------------------------------------------
    @property
    def holder_key(self) -> SigningKey:
        """The default holder key (the one new credentials are bound to).

        Raises:
            WalletFileError: the wallet has no key (a damaged document).
        """
        if not self.keys:
            raise errors.WalletFileError("the wallet holds no key")
        return self.keys[0].key

    def key(self, kid: str | None) -> SigningKey:
        """The holder key ``kid`` (the default one for ``None``).

        Raises:
            KeyNotFoundError: the wallet has no key ``kid``.
        """
        if kid is None:
            return self.holder_key
        for held in self.keys:
            if held.kid == kid:
                return held.key
        raise errors.KeyNotFoundError(f"the wallet holds no key {kid}")

    # -- credentials -----------------------------------------------------------------------
    def add(self, record: CredentialRecord) -> bool:
        """Add ``record`` unless a credential with its id is held; True when added."""
        if any(held.id == record.id for held in self.credentials):
            return False
        self.credentials.append(record)
        return True

    def get(self, wanted: str) -> CredentialRecord:
        """The credential whose id is ``wanted`` or starts with it (at least 4 characters).

        Raises:
            CredentialNotFoundError: none, or the prefix is ambiguous or too short.
        """
        exact = [r for r in self.credentials if r.id == wanted]
        if exact:
            return exact[0]
        found = [r for r in self.credentials if len(wanted) >= 4 and r.id.startswith(wanted)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise errors.CredentialNotFoundError(f"several credentials start with {wanted!r}")
        raise errors.CredentialNotFoundError(f"no credential {wanted!r} in the wallet")

    def remove(self, wanted: str) -> CredentialRecord:
        record = self.get(wanted)
        self.credentials.remove(record)
        return record

    def merge(self, other: WalletContents) -> MergeReport:
        """Add what ``other`` holds and this does not: keys by kid, credentials by id.

        Nothing already held is replaced or dropped, nothing is added twice.
        """
        held_kids = {k.kid for k in self.keys}
        keys_added = []
        for key in other.keys:
            if key.kid not in held_kids:
                self.keys.append(key)
                held_kids.add(key.kid)
                keys_added.append(key.kid)
        added: list[str] = []
        already: list[str] = []
        for record in other.credentials:
            (added if self.add(record) else already).append(record.id)
        return MergeReport(tuple(added), tuple(already), tuple(keys_added))

    # -- serialisation ---------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        return json_dumps(
            {
                "format": _DOCUMENT_FORMAT,
                "version": FORMAT_VERSION,
                "created_at": _iso(self.created_at),
                "keys": [k.to_json() for k in self.keys],
                "credentials": [r.to_json() for r in self.credentials],
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> WalletContents:
        """Raises WalletFileError: the decrypted document is not a wallet document."""
        try:
            doc = json_loads_object(data, "wallet document")
            if doc.get("format") != _DOCUMENT_FORMAT or doc.get("version") != FORMAT_VERSION:
                raise ValueError("unknown document format or version")
            return cls(
                keys=[HolderKey.from_json(k) for k in doc["keys"]],
                credentials=[CredentialRecord.from_json(r) for r in doc["credentials"]],
                created_at=_parse_iso(doc["created_at"]),
            )
        except (errors.PasserelleError, ValueError, KeyError, TypeError) as exc:
            detail = exc.detail if isinstance(exc, errors.PasserelleError) else str(exc)
            raise errors.WalletFileError(f"the wallet document is unreadable: {detail}") from None


# ---------------------------------------------------------------------------------------
# The store


def _check_new_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise errors.InvalidInputError(
            f"a passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters"
        )


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a flushed temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pswallet")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _read(path: Path, missing: errors.PasserelleError) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise missing from None
    except OSError as exc:
        raise errors.WalletFileError(f"cannot read {path}: {exc.strerror}") from None


class WalletStore:
    """The wallet file in ``directory``, opened with ``passphrase``.

    Nothing is read or derived until a method is called. ``kdf`` is the cost used on
    writes (reads use what the file says); ``now`` is the clock.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        passphrase: str,
        *,
        kdf: KdfParams = DEFAULT_KDF,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME
        self._passphrase = passphrase
        self.kdf = kdf
        self.now = now

    def exists(self) -> bool:
        return self.path.exists()

    def init(self, alg: str = "ES256") -> WalletContents:
        """Create the wallet with one fresh holder key (``ES256`` or ``EdDSA``).

        Raises:
            WalletExistsError: a wallet is already there (it is left untouched).
            InvalidInputError: a passphrase shorter than :data:`MIN_PASSPHRASE_LENGTH`.
            AlgorithmError: an unsupported ``alg``.
        """
        if self.exists():
            raise errors.WalletExistsError(f"a wallet already exists in {self.directory}")
        _check_new_passphrase(self._passphrase)
        moment = self.now()
        contents = WalletContents(keys=[HolderKey(generate_key(alg), moment)], created_at=moment)
        self.save(contents)
        return contents

    def load(self) -> WalletContents:
        """Decrypt and read the wallet.

        Raises:
            WalletNotFoundError: no wallet in the directory.
            WalletLockedError: wrong passphrase, or the file was damaged.
            WalletFileError: not a wallet file, a newer format, an unreadable document.
        """
        missing = errors.WalletNotFoundError(
            f"no wallet in {self.directory}: run 'wallet init' first"
        )
        data = _read(self.path, missing)
        _kind, plaintext = open_envelope(data, self._passphrase, kinds=(KIND_WALLET,))
        return WalletContents.from_bytes(plaintext)

    def save(self, contents: WalletContents) -> None:
        """Encrypt ``contents`` (new salt and nonce) and replace the wallet file atomically."""
        _write_atomic(
            self.path, seal(contents.to_bytes(), self._passphrase, kind=KIND_WALLET, kdf=self.kdf)
        )

    def add_credential(self, record: CredentialRecord) -> bool:
        """Store ``record`` unless already held; True when added (the file is then rewritten)."""
        contents = self.load()
        if not contents.add(record):
            return False
        self.save(contents)
        return True

    def remove_credential(self, wanted: str) -> CredentialRecord:
        contents = self.load()
        record = contents.remove(wanted)
        self.save(contents)
        return record

    # -- backups ---------------------------------------------------------------------------
    def export_backup(self, target: str | os.PathLike[str], passphrase: str) -> WalletContents:
        """Write everything the wallet holds to ``target``, encrypted with ``passphrase``.

        Raises:
            InvalidInputError: a short backup passphrase; the errors of :meth:`load`.
        """
        _check_new_passphrase(passphrase)
        contents = self.load()
        data = seal(contents.to_bytes(), passphrase, kind=KIND_BACKUP, kdf=self.kdf)
        _write_atomic(Path(target), data)
        return contents

    def import_backup(self, source: str | os.PathLike[str], passphrase: str) -> MergeReport:
        """Merge the backup ``source`` into the wallet (created from it when absent).

        A wallet file (kind 1) is accepted too, so an old phone's file can be restored.
        Nothing held is replaced, nothing is stored twice; when the backup cannot be
        opened the wallet is not touched.

        Raises:
            WalletNotFoundError: no such backup file. WalletLockedError: wrong backup
            passphrase or damaged backup (or wallet). WalletFileError: not a backup.
        """
        missing = errors.WalletNotFoundError(f"no backup file {source}")
        data = _read(Path(source), missing)
        _kind, plaintext = open_envelope(data, passphrase, kinds=(KIND_BACKUP, KIND_WALLET))
        incoming = WalletContents.from_bytes(plaintext)
        if not self.exists():
            _check_new_passphrase(self._passphrase)
            contents = WalletContents(keys=[], created_at=self.now())
        else:
            contents = self.load()
        report = contents.merge(incoming)
        if report.added or report.keys_added or not self.exists():
            self.save(contents)
        return report
