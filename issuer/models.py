"""Database tables (SQLModel) and the API's public shapes, one family per entity.

What a credential record keeps (personal data minimisation): the holder's display name
(given and family name, for search), the issuer's ``credential_number``, the type, the status
list position and status, the dates and whether the credential is holder-bound. Birthdate,
nationalities and the other claims are **not** stored; the signed token itself is stored only
when ``ISSUER_RETAIN_TOKENS=true``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "ROLES",
    "ApiKey",
    "AuditEvent",
    "Credential",
    "CredentialOffer",
    "IdempotencyRecord",
    "SpentNonce",
    "StatusList",
    "StatusListOrder",
    "Tenant",
]

Role = Literal["admin", "issuer", "revoker"]
ROLES: tuple[str, ...] = ("admin", "issuer", "revoker")
CredentialStatus = Literal["valid", "revoked", "suspended"]
GENESIS_HASH = "0" * 64


# -- tables ----------------------------------------------------------------------------------
class Tenant(SQLModel, table=True):
    """A training centre. ``next_number`` and the audit head are updated under a row lock."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    names: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    country: str = Field(max_length=2)
    accreditation_body: str | None = Field(default=None, max_length=200)
    accreditation_number: str | None = Field(default=None, max_length=100)
    website: str | None = Field(default=None, max_length=300)
    logo_url: str | None = Field(default=None, max_length=300)
    default_language: str = Field(default="en", max_length=8)
    issuer_url: str = Field(max_length=300, unique=True)
    credential_prefix: str = Field(max_length=32)
    next_number: int = Field(default=1)
    audit_seq: int = Field(default=0)
    audit_head: str = Field(default=GENESIS_HASH, max_length=64)
    created_at: datetime


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    prefix: str = Field(max_length=32, unique=True, index=True)
    secret_hash: str = Field(max_length=64)
    role: str = Field(max_length=16)
    label: str = Field(default="", max_length=200)
    created_at: datetime
    revoked_at: datetime | None = None


class StatusList(SQLModel, table=True):
    """One Token Status List of a tenant; ``data`` is the uncompressed 2-bit array.

    ``version`` grows with every status change; ``token`` is the last signed Status List
    Token and ``token_version`` the version it was signed at (dirty when they differ).
    New credentials take the entries of its :class:`StatusListOrder` in turn;
    ``allocated`` counts the entries taken (see ``repository.take_indices``).
    """

    __tablename__ = "status_list"
    __table_args__ = (UniqueConstraint("tenant_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    number: int
    uri: str = Field(max_length=400, unique=True)
    bits: int = 2
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    allocated: int = 0
    version: int = 1
    token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    token_version: int = 0
    token_exp: int = 0
    etag: str | None = Field(default=None, max_length=80)
    created_at: datetime


class StatusListOrder(SQLModel, table=True):
    """The order in which a status list hands out its indices: a random permutation of
    them (unsigned 32-bit, little-endian), drawn when the list is made. Apart from the
    list's row, which is read at every status change (4 MiB for a list of 2^20 entries)."""

    __tablename__ = "status_list_order"

    status_list_id: int = Field(foreign_key="status_list.id", primary_key=True)
    index_order: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Credential(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("status_list_id", "status_idx"),
        UniqueConstraint("tenant_id", "number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=32, unique=True, index=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    number: int
    credential_number: str = Field(max_length=64, index=True)
    type_name: str = Field(max_length=64)
    vct: str = Field(max_length=300)
    status_list_id: int = Field(foreign_key="status_list.id")
    status_idx: int
    status: str = Field(default="valid", max_length=16, index=True)
    status_reason: str | None = Field(default=None, max_length=500)
    status_changed_at: datetime | None = None
    holder_name: str = Field(max_length=201, index=True)
    holder_bound: bool = False
    batch_id: str | None = Field(default=None, max_length=32, index=True)
    issued_at: datetime
    expires_at: datetime | None = None
    token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AuditEvent(SQLModel, table=True):
    """Append-only; ``hash = sha256(prev_hash || canonical JSON of the event)``."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("tenant_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    seq: int
    at: datetime
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    subject: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=500)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime


class CredentialOffer(SQLModel, table=True):
    """An OpenID4VCI credential offer with a pre-authorized code (see :mod:`issuer.oid4vci`).

    Secrets are kept as hashes only: ``code_hash`` (SHA-256 of the pre-authorized code),
    ``tx_code_hash`` (salted SHA-256 of the transaction code) and ``token_hash`` (SHA-256 of
    the access token). ``claims`` holds the subject claims until the credential is issued or
    the offer ends (expired, voided); it is then set to NULL.
    """

    __tablename__ = "credential_offer"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=32, unique=True, index=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    type_name: str = Field(max_length=64)
    configuration_id: str = Field(max_length=64)
    claims: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    valid_days: int | None = None
    state: str = Field(default="offered", max_length=16, index=True)
    salt: str = Field(max_length=32)
    code_hash: str = Field(max_length=64, unique=True)
    tx_code_hash: str | None = Field(default=None, max_length=64)
    tx_code_description: str | None = Field(default=None, max_length=300)
    tx_code_failures: int = 0
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    token_expires_at: datetime | None = None
    created_by: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None = None
    issued_at: datetime | None = None
    ended_at: datetime | None = None
    credential_id: str | None = Field(default=None, max_length=32)


class SpentNonce(SQLModel, table=True):
    """A ``c_nonce`` used in a key proof, kept until it expires so it is used once only."""

    __tablename__ = "spent_nonce"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    nonce_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(index=True)


# -- API shapes ------------------------------------------------------------------------------
class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = PydanticField(min_length=1, max_length=500)


class CredentialIssue(BaseModel):
    """One credential to issue: the type (name or ``vct``), the subject claims (checked by
    the type's JSON Schema), an optional holder public JWK and a validity in days."""

    model_config = ConfigDict(extra="forbid")
    type: str = PydanticField(min_length=1, max_length=300, examples=["QualificationCredential"])
    claims: dict[str, Any]
    holder_jwk: dict[str, Any] | None = None
    valid_days: int | None = PydanticField(default=None, ge=1, le=36_500)


class BatchRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claims: dict[str, Any]
    holder_jwk: dict[str, Any] | None = None


class BatchIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = PydanticField(min_length=1, max_length=300)
    valid_days: int | None = PydanticField(default=None, ge=1, le=36_500)
    rows: list[BatchRow] = PydanticField(min_length=1)


class StatusReference(BaseModel):
    uri: str
    idx: int


class CredentialPublic(BaseModel):
    """The stored record of an issued credential (no birthdate, no nationality)."""

    id: str
    number: int
    credential_number: str
    type: str
    vct: str
    status: CredentialStatus
    status_reason: str | None
    status_changed_at: datetime | None
    status_list: StatusReference
    holder_name: str
    holder_bound: bool
    batch_id: str | None
    issued_at: datetime
    expires_at: datetime | None


class IssuedCredential(BaseModel):
    credential: str = PydanticField(description="The compact SD-JWT VC (every disclosure).")
    record: CredentialPublic


class BatchIssued(BaseModel):
    batch_id: str
    count: int
    credentials: list[IssuedCredential]


class BatchPreview(BaseModel):
    """Result of a dry run: the rows are valid, nothing was issued."""

    count: int
    valid: bool


class CredentialPage(BaseModel):
    items: list[CredentialPublic]
    total: int
    page: int
    page_size: int


class AuditEventPublic(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str | None
    reason: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEventPublic]
    next_after: int | None


class AuditVerification(BaseModel):
    valid: bool
    events: int
    head: str
    first_bad_seq: int | None = None
    detail: str | None = None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    label: str = PydanticField(default="", max_length=200)


class ApiKeyPublic(BaseModel):
    id: str
    role: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = PydanticField(description="The secret; shown once, store it now.")


class TenantPublic(BaseModel):
    slug: str
    names: dict[str, str]
    country: str
    accreditation_body: str | None
    accreditation_number: str | None
    website: str | None
    logo_url: str | None
    default_language: str
    issuer: str


class SigningKeyPublic(BaseModel):
    kid: str
    alg: str
    status: str


class Problem(BaseModel):
    """RFC 9457 problem details, with Passerelle's stable ``code``."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    code: str
