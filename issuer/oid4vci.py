"""OpenID4VCI 1.0 on the issuer: credential offers and the pre-authorized code flow.

A training centre creates a **credential offer** (``POST /api/v1/offers``) for one credential
of one type, with the subject claims (validated at once, every violation reported) and,
optionally, a 6-digit **transaction code** that staff send to the worker by another channel.
The worker's wallet reads the offer (QR code or ``openid-credential-offer://`` link), reads
the metadata, redeems the **pre-authorized code** at the token endpoint, fetches a
``c_nonce`` at the nonce endpoint and asks the credential endpoint for the credential with a
key proof. The credential is issued like ``POST /api/v1/credentials`` (running number, status
list index, audit event, in the transaction that marks the offer issued) and bound to the
proof's key (``cnf.jwk``).

Per tenant, the Credential Issuer Identifier is the tenant's issuer URL
``https://host/tenants/<slug>``; the issuer is its own authorization server, so its metadata
has no ``authorization_servers``. Endpoints: ``<issuer>/token``, ``<issuer>/nonce``,
``<issuer>/credential``.

Offer states::

    offered ──token──▶ token_issued ──credential──▶ issued
       │                    │
       ├────────────────────┴──▶ expired   (the code, or the access token, expired)
       └──▶ voided                          (MAX_TX_CODE_FAILURES wrong transaction codes)

What is stored, and how secrets are kept:

* the **pre-authorized code** (256 bits) is ``HMAC-SHA256(K_code, tenant ‖ offer id ‖
  salt)``, ``K_code`` derived (HKDF) from the key store passphrase; the database keeps only
  its SHA-256. Deriving it again lets an authenticated centre redraw the QR code while the
  offer is open; the database alone does not reveal it;
* the **transaction code** (6 digits from :mod:`secrets`) is returned once; the database
  keeps a salted SHA-256. A hash of a 6-digit code does not resist offline guessing: what
  protects the offer is the pre-authorized code's hash and the attempt limit;
* the **access token** (256 random bits, 5 minutes, one per offer) is kept as SHA-256; it
  obtains one credential, after which it is spent;
* a **c_nonce** is stateless: expiry ‖ 128 random bits ‖ an HMAC tag bound to the tenant
  (``K_nonce``), so the unauthenticated nonce endpoint writes nothing. A nonce used in a key
  proof is recorded (SHA-256) until it expires, so it serves once;
* the **claims to issue** stay in the offer row until the credential is issued or the offer
  ends (expired, voided); they are then deleted (set to NULL). Ended offers are swept when
  the tenant creates an offer, when a wallet calls the token endpoint, and by
  :meth:`Oid4vciService.purge_expired`; until then an offer past its expiry keeps its claims
  but can no longer be redeemed.

Storage code lives here too (the offer and nonce tables are this module's alone); writes
start with :func:`issuer.repository.lock_tenant`, as every tenant write does, so a second
redemption of a code, even concurrent, waits for the first and then sees it used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import and_, delete, or_, update
from sqlmodel import Session, col, select

from issuer import repository as repo
from issuer.models import CredentialOffer, SpentNonce, Tenant
from issuer.service import IssuerService, Principal, audit_event, credential_record
from issuer.settings import IssuerSettings
from passerelle import errors, qr
from passerelle.credential import REGISTERED_CLAIMS, issue_credential
from passerelle.credtypes import CredentialType
from passerelle.encoding import b64url_decode, b64url_encode, json_dumps, json_loads_object
from passerelle.keys import PublicKey, public_key_from_jwk, resolve_passphrase

__all__ = [
    "AS_WELL_KNOWN",
    "ISSUER_WELL_KNOWN",
    "OFFER_SCHEME",
    "PRE_AUTHORIZED_GRANT",
    "PROOF_ALGS",
    "PROOF_TYP",
    "SD_JWT_VC_FORMAT",
    "CredentialResponse",
    "IssuedItem",
    "KeyProof",
    "NonceMint",
    "NonceResponse",
    "OAuthErrorBody",
    "OfferCreate",
    "OfferCreated",
    "OfferPublic",
    "Oid4vciPolicy",
    "Oid4vciService",
    "TokenResponse",
    "claim_problems",
    "derive_key",
    "passphrase_of",
    "verify_proof_jwt",
]

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
OFFER_SCHEME = "openid-credential-offer"
PROOF_TYP = "openid4vci-proof+jwt"
SD_JWT_VC_FORMAT = "dc+sd-jwt"
ISSUER_WELL_KNOWN = "/.well-known/openid-credential-issuer"
AS_WELL_KNOWN = "/.well-known/oauth-authorization-server"
#: Key proof algorithms accepted: asymmetric only (never ``none``, never HMAC).
PROOF_ALGS: tuple[str, ...] = ("ES256", "EdDSA")
#: JWK members that only a private key has (``k``: a symmetric key).
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: Key-identifying proof headers other than ``jwk`` (only ``jwk`` is supported) and ``crit``.
_REFUSED_PROOF_HEADERS = frozenset({"kid", "x5c", "jku", "x5u", "crit", "key_attestation"})
_HKDF_SALT = b"passerelle issuer oid4vci"
_NONCE_BODY = 8 + 16  # expiry (seconds, big-endian) and randomness
_NONCE_TAG = 16

OfferState = Literal["offered", "token_issued", "issued", "expired", "voided"]
_ENDED: dict[str, str] = {
    "token_issued": "the pre-authorized code was already redeemed",
    "issued": "the pre-authorized code was already redeemed and the credential issued",
    "expired": "the pre-authorized code has expired",
    "voided": "the offer was voided after too many wrong transaction codes",
}


@dataclass(frozen=True, slots=True)
class Oid4vciPolicy:
    """Lifetimes (seconds) and limits of the flow."""

    access_token_lifetime: int = 300
    nonce_lifetime: int = 300
    #: Wrong transaction codes that void an offer.
    max_tx_code_failures: int = 5
    tx_code_length: int = 6
    #: A key proof's ``iat`` may be this old, or this far in the future (clock skew).
    proof_max_age: int = 300
    proof_leeway: int = 60
    max_proof_length: int = 8 * 1024


# -- API shapes ------------------------------------------------------------------------------
class OfferCreate(BaseModel):
    """An offer of one credential: its type (name or ``vct``), the subject claims (checked by
    the type's JSON Schema now), a validity in days, whether a transaction code protects it
    and how long the code may be redeemed."""

    model_config = ConfigDict(extra="forbid")
    type: str = PydanticField(min_length=1, max_length=300, examples=["QualificationCredential"])
    claims: dict[str, Any]
    valid_days: int | None = PydanticField(default=None, ge=1, le=36_500)
    tx_code: bool = PydanticField(
        default=False,
        description="Protect the offer with a 6-digit code, returned once, to send apart.",
    )
    tx_code_description: str | None = PydanticField(
        default=None,
        max_length=300,
        description="Shown by the wallet next to the code field (how the code was sent).",
    )
    expires_in: int = PydanticField(
        default=600, ge=60, le=7 * 86_400, description="Seconds the code may be redeemed."
    )


class OfferCreated(BaseModel):
    offer_id: str
    state: OfferState
    credential_offer: dict[str, Any] = PydanticField(
        description="The Credential Offer object (OpenID4VCI 1.0 section 4.1.1)."
    )
    offer_uri: str = PydanticField(
        description="openid-credential-offer://?credential_offer=... (the QR code's content)."
    )
    qr: str = PydanticField(description="URL of the QR code (PNG) while the offer is open.")
    tx_code: str | None = PydanticField(
        description="The transaction code: shown this once, send it by another channel."
    )
    expires_at: datetime


class OfferPublic(BaseModel):
    """An offer's state (no code, no claims)."""

    offer_id: str
    type: str
    credential_configuration_id: str
    state: OfferState
    tx_code_required: bool
    tx_code_failures: int
    created_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    issued_at: datetime | None
    ended_at: datetime | None
    credential_id: str | None = PydanticField(description="The issued credential's record id.")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class NonceResponse(BaseModel):
    c_nonce: str


class IssuedItem(BaseModel):
    credential: str = PydanticField(description="The SD-JWT VC (every disclosure).")


class CredentialResponse(BaseModel):
    credentials: list[IssuedItem]


class OAuthErrorBody(BaseModel):
    """RFC 6749 section 5.2 error body (OpenID4VCI 1.0 sections 6.3 and 8.3.1)."""

    error: str
    error_description: str | None = None


# -- secrets -----------------------------------------------------------------------------------
def passphrase_of(settings: IssuerSettings) -> str:
    """The key store passphrase the service runs with (see :func:`issuer.app.create_app`).

    Raises:
        KeyStoreLockedError: none configured outside development.
    """
    if settings.key_passphrase is not None:
        return settings.key_passphrase.get_secret_value()
    return resolve_passphrase()


def derive_key(passphrase: str, purpose: str) -> bytes:
    """A 256-bit key for one ``purpose``, derived from the passphrase (HKDF-SHA256)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=purpose.encode())
    return hkdf.derive(passphrase.encode())


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _tx_code_hash(salt: str, tx_code: str) -> str:
    return hashlib.sha256(f"tx_code:{salt}:{tx_code}".encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else _utc(moment)


class NonceMint:
    """Stateless ``c_nonce`` values bound to one tenant: ``base64url(expiry ‖ random ‖
    HMAC tag)``. Single use is enforced where a nonce is spent (:class:`SpentNonce`)."""

    def __init__(self, key: bytes, lifetime: int) -> None:
        self._key = key
        self._lifetime = lifetime

    def _tag(self, tenant: str, body: bytes) -> bytes:
        mac = hmac.new(self._key, tenant.encode() + b"\x00" + body, hashlib.sha256)
        return mac.digest()[:_NONCE_TAG]

    def mint(self, tenant: str, now: datetime) -> str:
        expiry = int(now.timestamp()) + self._lifetime
        body = expiry.to_bytes(8, "big") + secrets.token_bytes(_NONCE_BODY - 8)
        return b64url_encode(body + self._tag(tenant, body))

    def check(self, tenant: str, nonce: str, now: datetime) -> datetime:
        """The expiry of a nonce this tenant minted and that has not expired.

        Raises:
            InvalidNonceError: not one of ours (or another tenant's), or expired.
        """
        try:
            raw = b64url_decode(nonce)
        except errors.Base64UrlError:
            raw = b""
        body, tag = raw[:_NONCE_BODY], raw[_NONCE_BODY:]
        if len(raw) != _NONCE_BODY + _NONCE_TAG or not hmac.compare_digest(
            tag, self._tag(tenant, body)
        ):
            raise errors.InvalidNonceError(
                "the proof's nonce is not a c_nonce of this issuer: get one from the nonce endpoint"
            )
        expiry = int.from_bytes(body[:8], "big")
        if expiry <= int(now.timestamp()):
            raise errors.InvalidNonceError("the c_nonce has expired: get a fresh one")
        return datetime.fromtimestamp(expiry, UTC)


# -- key proofs --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyProof:
    """A verified ``jwt`` key proof: the holder key it proves possession of, its nonce."""

    key: PublicKey
    nonce: str
    issued_at: float


def verify_proof_jwt(
    proof: Any,
    *,
    audience: str,
    now: datetime,
    algs: Collection[str] = PROOF_ALGS,
    max_age: int = 300,
    leeway: int = 60,
    max_length: int = 8 * 1024,
) -> KeyProof:
    """Check an OpenID4VCI ``jwt`` key proof (appendix F.1) and return its key.

    The key comes from the proof's own ``jwk`` header: the one JWS whose key may travel in
    it, because the proof shows possession of exactly that key (the credential is then bound
    to it). Checked: compact JWS, ``typ`` ``openid4vci-proof+jwt``, ``alg`` in ``algs`` and
    the key's, a public ``jwk`` (one with a private part is refused) and no other
    key-identifying header, the signature, ``aud`` = ``audience``, ``iat`` within
    ``max_age`` seconds in the past or ``leeway`` in the future, and a ``nonce`` (whose
    freshness the caller checks).

    Raises:
        InvalidProofError: with what was wrong.
    """
    invalid = errors.InvalidProofError
    if not isinstance(proof, str) or not proof:
        raise invalid("a jwt key proof is a compact JWS string")
    if len(proof) > max_length:
        raise invalid(f"the key proof is longer than {max_length} characters")
    parts = proof.split(".")
    if len(parts) != 3:
        raise invalid("the key proof is not a compact JWS (three dot-separated parts)")
    try:
        header = json_loads_object(b64url_decode(parts[0]), "key proof header", unique=True)
        claims = json_loads_object(b64url_decode(parts[1]), "key proof payload")
        signature = b64url_decode(parts[2])
    except errors.TokenFormatError as exc:
        raise invalid(f"the key proof is not a compact JWS: {exc.detail}") from None
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() != PROOF_TYP:  # RFC 7515 4.1.9: case-insensitive
        raise invalid(f"the key proof's typ must be {PROOF_TYP}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algs:
        raise invalid(
            f"key proof alg {alg!r} is not accepted (only {', '.join(algs)}; never none or MAC)"
        )
    refused = sorted(_REFUSED_PROOF_HEADERS.intersection(header))
    if refused:
        raise invalid(
            f"key proof header(s) {', '.join(refused)} are not supported: the holder key "
            "travels in the jwk header"
        )
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise invalid("the key proof must carry the holder's public key in its jwk header")
    if _PRIVATE_JWK_MEMBERS.intersection(jwk):
        raise invalid("the jwk header carries private key material: send the public key only")
    try:
        key = public_key_from_jwk(jwk)
    except errors.KeyError_ as exc:
        raise invalid(f"the jwk header is not a usable public key: {exc.detail}") from None
    if key.alg != alg:
        raise invalid(f"the key proof's alg {alg} is not the algorithm of its jwk ({key.alg})")
    if not key.verify(f"{parts[0]}.{parts[1]}".encode("ascii"), signature):
        raise invalid("the key proof's signature does not verify with the key in its jwk header")
    if claims.get("aud") != audience:
        raise invalid(f"the key proof's aud must be the credential issuer {audience}")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise invalid("the key proof has no numeric iat")
    moment = now.timestamp()
    if iat > moment + leeway:
        raise invalid("the key proof's iat is in the future")
    if iat < moment - max_age:
        raise invalid(f"the key proof is older than {max_age} seconds")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise invalid("the key proof has no nonce: get a c_nonce from the nonce endpoint")
    return KeyProof(key=key, nonce=nonce, issued_at=float(iat))


def claim_problems(ctype: CredentialType, claims: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every problem of ``claims`` for ``ctype`` (as ``POST /api/v1/credentials`` checks
    them): registered claims that only the issuer sets, and JSON Schema violations. A
    missing ``credential_number`` is fine (it is numbered at issuance)."""
    found = [
        {"path": f"$.{name}", "message": "set by the issuer, not here"}
        for name in sorted(REGISTERED_CLAIMS.intersection(claims))
    ]
    subject = {k: v for k, v in claims.items() if k not in REGISTERED_CLAIMS}
    subject.setdefault("credential_number", "placeholder")
    found.extend(ctype.violations(subject))
    return found


def _description(entries: Any, text: str) -> list[dict[str, Any]]:
    """OpenID4VCI display objects (``name``, ``locale``, ...) from Type Metadata entries
    whose text member is ``text`` (``name`` for types, ``label`` for claims)."""
    display: list[dict[str, Any]] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get(text), str):
            continue
        item: dict[str, Any] = {"name": entry[text]}
        if isinstance(entry.get("locale"), str):
            item["locale"] = entry["locale"]
        if text == "name" and isinstance(entry.get("description"), str):
            item["description"] = entry["description"]
        rendering = entry.get("rendering")
        simple = rendering.get("simple") if isinstance(rendering, dict) else None
        if text == "name" and isinstance(simple, dict):
            for member in ("background_color", "text_color"):
                if isinstance(simple.get(member), str):
                    item[member] = simple[member]
        display.append(item)
    return display


# -- storage -----------------------------------------------------------------------------------
def _lock_offer(session: Session, *conditions: Any) -> CredentialOffer | None:
    statement = (
        select(CredentialOffer)
        .where(*conditions)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).first()


def _sweep(session: Session, tenant_id: int, now: datetime) -> None:
    """End the tenant's offers past their expiry and delete their claims (the tenant row is
    locked by the caller, so sweeps of one tenant never overlap)."""
    session.execute(
        update(CredentialOffer)
        .where(
            col(CredentialOffer.tenant_id) == tenant_id,
            or_(
                and_(
                    col(CredentialOffer.state) == "offered", col(CredentialOffer.expires_at) <= now
                ),
                and_(
                    col(CredentialOffer.state) == "token_issued",
                    col(CredentialOffer.token_expires_at) <= now,
                ),
            ),
        )
        .values(state="expired", claims=None, ended_at=now)
    )
    session.execute(
        delete(SpentNonce).where(
            col(SpentNonce.tenant_id) == tenant_id, col(SpentNonce.expires_at) <= now
        )
    )


# -- the service -------------------------------------------------------------------------------
class Oid4vciService:
    """The OpenID4VCI use cases, over an :class:`IssuerService` (its engine, clock, types,
    keys and issuance rules)."""

    def __init__(
        self, issuer: IssuerService, *, passphrase: str, policy: Oid4vciPolicy | None = None
    ) -> None:
        self.issuer = issuer
        self.policy = policy or Oid4vciPolicy()
        self._code_key = derive_key(passphrase, "pre-authorized code v1")
        self.nonces = NonceMint(derive_key(passphrase, "c_nonce v1"), self.policy.nonce_lifetime)

    # -- helpers ---------------------------------------------------------------------------
    def _now(self) -> datetime:
        return _utc(self.issuer.clock())

    def _code(self, tenant_id: int, offer_id: str, salt: str) -> str:
        message = f"{tenant_id}:{offer_id}:{salt}".encode()
        return b64url_encode(hmac.new(self._code_key, message, hashlib.sha256).digest())

    def _tenant(self, slug: str) -> Tenant:
        with self.issuer.session() as session:
            tenant = repo.tenant_by_slug(session, slug)
        if tenant is None or tenant.id is None:
            raise errors.NotFoundError(f"no issuer {slug!r}")
        return tenant

    def _credential_offer(
        self, issuer_url: str, configuration_id: str, code: str, tx: dict[str, Any] | None
    ) -> dict[str, Any]:
        grant: dict[str, Any] = {"pre-authorized_code": code}
        if tx is not None:
            grant["tx_code"] = tx
        return {
            "credential_issuer": issuer_url,
            "credential_configuration_ids": [configuration_id],
            "grants": {PRE_AUTHORIZED_GRANT: grant},
        }

    @staticmethod
    def _tx_object(length: int, description: str | None) -> dict[str, Any]:
        return {
            "input_mode": "numeric",
            "length": length,
            "description": description
            or "The code your training centre sent you separately (SMS, e-mail or paper).",
        }

    @staticmethod
    def offer_uri(credential_offer: Mapping[str, Any]) -> str:
        """``openid-credential-offer://?credential_offer=<the offer, URL-encoded JSON>``."""
        return f"{OFFER_SCHEME}://?credential_offer={quote(json_dumps(credential_offer), safe='')}"

    def _state(self, offer: CredentialOffer, now: datetime) -> OfferState:
        """The state as of ``now`` (an offer past its expiry may not be swept yet)."""
        state = cast(OfferState, offer.state)
        if state == "offered" and _utc(offer.expires_at) <= now:
            return "expired"
        expires = offer.token_expires_at
        if state == "token_issued" and expires is not None and _utc(expires) <= now:
            return "expired"
        return state

    # -- offers (the centre's API) ---------------------------------------------------------
    def create_offer(self, principal: Principal, request: OfferCreate) -> OfferCreated:
        """Validate the claims and open an offer.

        Raises:
            PermissionDeniedError, UnknownTypeError, SchemaError (every violation in
            ``violations``).
        """
        self.issuer.require(principal, "issue")
        ctype = self.issuer.credential_type(request.type)
        problems = claim_problems(ctype, request.claims)
        if problems:
            raise errors.SchemaError(
                "; ".join(f"{p['path']}: {p['message']}" for p in problems[:10]),
                violations=problems,
            )
        now = self._now()
        expires = now + timedelta(seconds=request.expires_in)
        offer_id, salt = secrets.token_urlsafe(12), secrets.token_hex(16)
        code = self._code(principal.tenant_id, offer_id, salt)
        length = self.policy.tx_code_length
        tx_code = f"{secrets.randbelow(10**length):0{length}d}" if request.tx_code else None
        with self.issuer.session() as session:
            tenant = repo.lock_tenant(session, principal.tenant_id)
            _sweep(session, principal.tenant_id, now)
            session.add(
                CredentialOffer(
                    public_id=offer_id,
                    tenant_id=principal.tenant_id,
                    type_name=ctype.name,
                    configuration_id=ctype.name,
                    claims=request.claims,
                    valid_days=request.valid_days,
                    salt=salt,
                    code_hash=_sha256(code),
                    tx_code_hash=_tx_code_hash(salt, tx_code) if tx_code else None,
                    tx_code_description=request.tx_code_description if tx_code else None,
                    created_by=principal.actor,
                    created_at=now,
                    expires_at=expires,
                )
            )
            event = audit_event(
                "offer_created",
                offer_id,
                now,
                principal.actor,
                {
                    "type": ctype.name,
                    "tx_code": tx_code is not None,
                    "expires_at": repo.iso(expires),
                },
            )
            repo.append_audit(session, tenant, [event])
            session.commit()
            issuer_url = tenant.issuer_url
        tx = self._tx_object(length, request.tx_code_description) if tx_code else None
        offer = self._credential_offer(issuer_url, ctype.name, code, tx)
        return OfferCreated(
            offer_id=offer_id,
            state="offered",
            credential_offer=offer,
            offer_uri=self.offer_uri(offer),
            qr=f"{self.issuer.settings.base_url}/api/v1/offers/{offer_id}/qr.png",
            tx_code=tx_code,
            expires_at=expires,
        )

    def _own_offer(self, session: Session, principal: Principal, offer_id: str) -> CredentialOffer:
        row = session.exec(
            select(CredentialOffer).where(
                CredentialOffer.tenant_id == principal.tenant_id,
                CredentialOffer.public_id == offer_id,
            )
        ).first()
        if row is None:
            raise errors.NotFoundError(f"no offer {offer_id!r}")
        return row

    def offer(self, principal: Principal, offer_id: str) -> OfferPublic:
        """Raises NotFoundError for an unknown offer and for another tenant's."""
        self.issuer.require(principal, "read")
        with self.issuer.session() as session:
            row = self._own_offer(session, principal, offer_id)
        return OfferPublic(
            offer_id=row.public_id,
            type=row.type_name,
            credential_configuration_id=row.configuration_id,
            state=self._state(row, self._now()),
            tx_code_required=row.tx_code_hash is not None,
            tx_code_failures=row.tx_code_failures,
            created_at=_utc(row.created_at),
            expires_at=_utc(row.expires_at),
            redeemed_at=_utc_or_none(row.redeemed_at),
            issued_at=_utc_or_none(row.issued_at),
            ended_at=_utc_or_none(row.ended_at),
            credential_id=row.credential_id,
        )

    def offer_qr(self, principal: Principal, offer_id: str) -> bytes:
        """The QR code (PNG) of an open offer's link.

        Raises:
            NotFoundError; ConflictError: the offer was redeemed or has ended (its code is
            dead), or the code cannot be derived again (the passphrase changed).
        """
        self.issuer.require(principal, "issue")
        with self.issuer.session() as session:
            row = self._own_offer(session, principal, offer_id)
            tenant = repo.tenant_by_id(session, principal.tenant_id)
        assert tenant is not None
        state = self._state(row, self._now())
        if state != "offered":
            raise errors.ConflictError(f"the offer is {state}: its QR code is no longer usable")
        code = self._code(principal.tenant_id, row.public_id, row.salt)
        if not hmac.compare_digest(_sha256(code), row.code_hash):
            raise errors.ConflictError("this offer's code cannot be derived again: make a new one")
        tx = None
        if row.tx_code_hash is not None:
            tx = self._tx_object(self.policy.tx_code_length, row.tx_code_description)
        offer = self._credential_offer(tenant.issuer_url, row.configuration_id, code, tx)
        return qr.render_png(self.offer_uri(offer), ec="M", box_size=8)

    def purge_expired(self, slug: str) -> None:
        """End the tenant's expired offers now and delete their claims."""
        tenant = self._tenant(slug)
        assert tenant.id is not None
        with self.issuer.session() as session:
            repo.lock_tenant(session, tenant.id)
            _sweep(session, tenant.id, self._now())
            session.commit()

    # -- metadata --------------------------------------------------------------------------
    def _configuration(self, ctype: CredentialType, signing_algs: list[str]) -> dict[str, Any]:
        claims = []
        for entry in ctype.metadata.get("claims", []):
            item: dict[str, Any] = {"path": entry["path"]}
            if isinstance(entry.get("mandatory"), bool):
                item["mandatory"] = entry["mandatory"]
            display = _description(entry.get("display"), "label")
            if display:
                item["display"] = display
            claims.append(item)
        metadata: dict[str, Any] = {"display": _description(ctype.metadata.get("display"), "name")}
        if claims:
            metadata["claims"] = claims
        return {
            "format": SD_JWT_VC_FORMAT,
            "vct": ctype.vct,
            "cryptographic_binding_methods_supported": ["jwk"],
            "credential_signing_alg_values_supported": signing_algs,
            "proof_types_supported": {
                "jwt": {"proof_signing_alg_values_supported": list(PROOF_ALGS)}
            },
            "credential_metadata": metadata,
        }

    def issuer_metadata(self, slug: str) -> dict[str, Any]:
        """Credential Issuer Metadata (OpenID4VCI 1.0 section 12.2.4) of a tenant.

        Raises:
            NotFoundError: no such tenant.
        """
        tenant = self._tenant(slug)
        base = tenant.issuer_url
        # the algorithms of the tenant's keys, the active one first
        records = sorted(
            self.issuer.keyring.records(slug), key=lambda r: (r.status != "active", r.alg)
        )
        algs = list(dict.fromkeys(r.alg for r in records)) or list(PROOF_ALGS)
        display: list[dict[str, Any]] = []
        for locale, name in sorted(tenant.names.items()):
            item: dict[str, Any] = {"name": name, "locale": locale}
            if tenant.logo_url:
                item["logo"] = {"uri": tenant.logo_url, "alt_text": name}
            display.append(item)
        return {
            "credential_issuer": base,
            "credential_endpoint": f"{base}/credential",
            "nonce_endpoint": f"{base}/nonce",
            "display": display,
            "credential_configurations_supported": {
                ctype.name: self._configuration(ctype, algs) for ctype in self.issuer.types
            },
        }

    def authorization_server_metadata(self, slug: str) -> dict[str, Any]:
        """RFC 8414 metadata of the tenant's authorization server (the issuer itself).

        Raises:
            NotFoundError: no such tenant.
        """
        tenant = self._tenant(slug)
        base = tenant.issuer_url
        return {
            "issuer": base,
            "token_endpoint": f"{base}/token",
            "grant_types_supported": [PRE_AUTHORIZED_GRANT],
            "token_endpoint_auth_methods_supported": ["none"],
            "pre-authorized_grant_anonymous_access_supported": True,
        }

    # -- token endpoint --------------------------------------------------------------------
    def token(self, slug: str, form: Mapping[str, str]) -> TokenResponse:
        """Redeem a pre-authorized code (once) for an access token.

        Raises:
            NotFoundError: no such tenant. InvalidTokenRequestError: a parameter missing, or
            a transaction code missing or not expected. UnsupportedGrantTypeError.
            InvalidGrantError: an unknown, used, expired or voided code, or a wrong
            transaction code (counted; the last allowed one voids the offer).
        """
        grant_type = form.get("grant_type")
        if not grant_type:
            raise errors.InvalidTokenRequestError("grant_type is missing")
        if grant_type != PRE_AUTHORIZED_GRANT:
            raise errors.UnsupportedGrantTypeError(
                f"only the {PRE_AUTHORIZED_GRANT} grant is supported"
            )
        code = form.get("pre-authorized_code")
        if not code:
            raise errors.InvalidTokenRequestError("pre-authorized_code is missing")
        tx_code = form.get("tx_code")
        tenant = self._tenant(slug)
        assert tenant.id is not None
        code_hash = _sha256(code)
        with self.issuer.session() as session:
            known = session.exec(
                select(CredentialOffer.id).where(
                    CredentialOffer.tenant_id == tenant.id, CredentialOffer.code_hash == code_hash
                )
            ).first()
        if known is None:  # refused before any lock: junk codes cannot queue the tenant's writes
            raise errors.InvalidGrantError("unknown pre-authorized code")
        now = self._now()
        access_token = secrets.token_urlsafe(32)
        expires_in = self.policy.access_token_lifetime
        refusal: errors.OAuthError | None = None
        with self.issuer.session() as session:
            locked = repo.lock_tenant(session, tenant.id)
            _sweep(session, tenant.id, now)
            offer = _lock_offer(session, CredentialOffer.id == known)
            assert offer is not None  # offers are never deleted
            expected = offer.tx_code_hash
            if offer.state != "offered":
                refusal = errors.InvalidGrantError(_ENDED.get(offer.state, "the offer has ended"))
            elif expected is None and tx_code is not None:
                refusal = errors.InvalidTokenRequestError("this offer takes no tx_code")
            elif expected is not None and not tx_code:
                refusal = errors.InvalidTokenRequestError(
                    "this offer needs the transaction code (tx_code) sent separately"
                )
            elif expected is not None and not hmac.compare_digest(
                _tx_code_hash(offer.salt, tx_code or ""), expected
            ):
                refusal = self._wrong_tx_code(session, locked, offer, now)
            else:
                offer.state = "token_issued"
                offer.token_hash = _sha256(access_token)
                offer.token_expires_at = now + timedelta(seconds=expires_in)
                offer.redeemed_at = now
                session.add(offer)
                event = audit_event("offer_redeemed", offer.public_id, now, "wallet")
                repo.append_audit(session, locked, [event])
            session.commit()
        if refusal is not None:
            raise refusal
        return TokenResponse(access_token=access_token, expires_in=expires_in)

    def _wrong_tx_code(
        self, session: Session, tenant: repo.LockedTenant, offer: CredentialOffer, now: datetime
    ) -> errors.OAuthError:
        offer.tx_code_failures += 1
        left = self.policy.max_tx_code_failures - offer.tx_code_failures
        session.add(offer)
        if left > 0:
            return errors.InvalidGrantError(
                f"wrong transaction code ({left} attempt{'s' if left > 1 else ''} left)"
            )
        offer.state, offer.claims, offer.ended_at = "voided", None, now
        event = audit_event(
            "offer_voided",
            offer.public_id,
            now,
            "wallet",
            {"tx_code_failures": offer.tx_code_failures},
        )
        repo.append_audit(session, tenant, [event])
        return errors.InvalidGrantError(
            "wrong transaction code: the offer is now void; ask the training centre for a new one"
        )

    # -- nonce endpoint --------------------------------------------------------------------
    def nonce(self, slug: str) -> NonceResponse:
        """A fresh ``c_nonce`` for a key proof (raises NotFoundError: no such tenant)."""
        self._tenant(slug)
        return NonceResponse(c_nonce=self.nonces.mint(slug, self._now()))

    # -- credential endpoint ---------------------------------------------------------------
    def _usable(self, offer: CredentialOffer | None, now: datetime) -> CredentialOffer:
        if offer is None:
            raise errors.InvalidAccessTokenError("unknown access token")
        if offer.state == "issued":
            raise errors.InvalidAccessTokenError(
                "this access token was used: one credential per offer"
            )
        expires = offer.token_expires_at
        if offer.state != "token_issued" or expires is None or _utc(expires) <= now:
            raise errors.InvalidAccessTokenError("the access token has expired")
        return offer

    @staticmethod
    def _configuration_id(body: Any) -> str:
        """The ``credential_configuration_id`` of a Credential Request."""
        invalid = errors.InvalidCredentialRequestError
        if not isinstance(body, dict):
            raise invalid("the credential request must be a JSON object")
        if "credential_identifier" in body:
            raise invalid(
                "credential_identifier is not used by this issuer: send credential_configuration_id"
            )
        if "credential_response_encryption" in body:
            raise invalid("encrypted credential responses are not supported")
        configuration_id = body.get("credential_configuration_id")
        if not isinstance(configuration_id, str) or not configuration_id:
            raise invalid("credential_configuration_id is missing")
        return configuration_id

    @staticmethod
    def _proof(body: dict[str, Any]) -> Any:
        """The one ``jwt`` key proof of a Credential Request."""
        invalid = errors.InvalidCredentialRequestError
        proofs, single = body.get("proofs"), body.get("proof")
        if proofs is not None and single is not None:
            raise invalid("send proofs, not both proofs and proof")
        if single is not None:  # the singular form of the drafts before 1.0
            if not isinstance(single, dict) or single.get("proof_type") != "jwt":
                raise errors.InvalidProofError("proof.proof_type must be jwt")
            return single.get("jwt")
        if proofs is None:
            raise errors.InvalidProofError("the request carries no key proof (proofs.jwt)")
        if not isinstance(proofs, dict) or len(proofs) != 1:
            raise invalid("proofs must hold exactly one proof type")
        if "jwt" not in proofs:
            raise errors.InvalidProofError(f"proof type {next(iter(proofs))!r} is not supported")
        listed = proofs["jwt"]
        if not isinstance(listed, list) or not listed:
            raise invalid("proofs.jwt must be a non-empty array")
        if len(listed) > 1:
            raise invalid("one key proof per request: batch issuance is not offered")
        return listed[0]

    def credential(self, slug: str, access_token: str, body: Any) -> CredentialResponse:
        """Issue the offered credential, bound to the key proven by the request's proof.

        Raises:
            NotFoundError: no such tenant. InvalidAccessTokenError (401): unknown, expired
            or used access token. InvalidCredentialRequestError,
            UnknownCredentialConfigurationError, InvalidProofError, InvalidNonceError: the
            request. CredentialRequestDeniedError: the offered claims no longer pass the
            type's schema.
        """
        tenant = self._tenant(slug)
        assert tenant.id is not None
        now = self._now()
        token_hash = _sha256(access_token)
        with self.issuer.session() as session:
            found = session.exec(
                select(CredentialOffer).where(
                    CredentialOffer.tenant_id == tenant.id,
                    CredentialOffer.token_hash == token_hash,
                )
            ).first()
        offer = self._usable(found, now)
        configuration_id = self._configuration_id(body)
        if configuration_id not in self.issuer.types:
            raise errors.UnknownCredentialConfigurationError(
                f"no credential configuration {configuration_id!r}"
            )
        if configuration_id != offer.configuration_id:
            raise errors.InvalidCredentialRequestError(
                f"this access token is for {offer.configuration_id}, not {configuration_id}"
            )
        proof = verify_proof_jwt(
            self._proof(body),
            audience=tenant.issuer_url,
            now=now,
            max_age=self.policy.proof_max_age,
            leeway=self.policy.proof_leeway,
            max_length=self.policy.max_proof_length,
        )
        nonce_expiry = self.nonces.check(slug, proof.nonce, now)
        key = self.issuer.keyring.signing_key(slug)
        ctype = self.issuer.credential_type(offer.type_name)
        with self.issuer.session() as session:
            locked = repo.lock_tenant(session, tenant.id)
            current = self._usable(
                _lock_offer(session, CredentialOffer.id == offer.id), now
            )  # a concurrent request may have used the token meanwhile
            self._spend_nonce(session, tenant.id, proof.nonce, nonce_expiry)
            number = repo.take_numbers(session, locked, 1)
            # the service's allocator: status lists are opened and filled as for any issuance
            [(status_list, idx)] = self.issuer.allocate(session, locked, 1)
            claims = dict(current.claims or {})
            claims.setdefault("credential_number", f"{locked.credential_prefix}-{number:06d}")
            valid_for = timedelta(days=current.valid_days) if current.valid_days else None
            try:
                compact = issue_credential(
                    claims,
                    credential_type=ctype,
                    key=key,
                    issuer=locked.issuer_url,
                    now=now,
                    valid_for=valid_for,
                    holder_jwk=proof.key.to_jwk(),
                    status={"uri": status_list.uri, "idx": idx},
                ).compact
            except (errors.SchemaError, errors.InvalidInputError) as exc:
                raise errors.CredentialRequestDeniedError(
                    f"the offered claims can no longer be issued: {exc.detail}"
                ) from None
            record = credential_record(
                tenant_id=tenant.id,
                ctype=ctype,
                claims=claims,
                number=number,
                position=(status_list, idx),
                holder_bound=True,
                batch_id=None,
                issued_at=now,
                expires_at=now + valid_for if valid_for else None,
                token=compact if self.issuer.settings.retain_tokens else None,
            )
            public_id = record["public_id"]
            repo.insert_credentials(session, [record])
            current.state, current.claims = "issued", None
            current.issued_at = current.ended_at = now
            current.credential_id = public_id
            session.add(current)
            event = audit_event(
                "credential_issued",
                public_id,
                now,
                "oid4vci",
                {
                    "offer": current.public_id,
                    "offered_by": current.created_by,
                    "type": ctype.name,
                    "number": number,
                    "holder_kid": proof.key.kid,
                },
            )
            repo.append_audit(session, locked, [event])
            session.commit()
        return CredentialResponse(credentials=[IssuedItem(credential=compact)])

    @staticmethod
    def _spend_nonce(session: Session, tenant_id: int, nonce: str, expires: datetime) -> None:
        digest = _sha256(nonce)
        used = session.exec(select(SpentNonce.id).where(SpentNonce.nonce_hash == digest)).first()
        if used is not None:
            raise errors.InvalidNonceError("this c_nonce was already used: get a fresh one")
        session.add(SpentNonce(tenant_id=tenant_id, nonce_hash=digest, expires_at=expires))
        session.flush()
