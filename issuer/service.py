"""The issuer's use cases. Routes and the CLI call these; they orchestrate the core
(:mod:`passerelle`: validation, signing, status lists) and storage (:mod:`issuer.repository`).

Transactions: each use case is one transaction, except issuing, which reserves numbers and
status indices in one, signs holding no lock, and stores in a second (see
:meth:`IssuerService._issue_group`). A request's credentials, their audit events and its
idempotency record are committed together or not at all; concurrent requests share these
transactions (:mod:`issuer.groupcommit`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from issuer import repository as repo
from issuer.apikeys import new_api_key, split_api_key, verify_secret
from issuer.batchcsv import ParsedRow, RowError, parse_csv
from issuer.certificate import IssuerProfile
from issuer.groupcommit import AsyncGroupCommitter, GroupCommitter, Job
from issuer.keyring import TenantKeyring
from issuer.models import (
    GENESIS_HASH,
    ApiKey,
    ApiKeyCreated,
    ApiKeyPublic,
    AuditEventPublic,
    AuditPage,
    AuditVerification,
    BatchIssued,
    Credential,
    CredentialPage,
    CredentialPublic,
    IssuedCredential,
    SigningKeyPublic,
    StatusList,
    StatusListOrder,
    StatusReference,
    Tenant,
    TenantPublic,
)
from issuer.settings import IssuerSettings
from passerelle import errors, sdjwt
from passerelle.credential import REGISTERED_CLAIMS, VC_TYP, issue_credential
from passerelle.credtypes import CredentialType, TypeRegistry
from passerelle.errors import BatchInvalidError, IdempotencyConflictError, StatusTransitionError
from passerelle.keys import SigningKey, public_key_from_jwk
from passerelle.statuslist import REVOKED, SUSPENDED, VALID, create_status_list_token
from passerelle.statuslist import StatusList as CoreStatusList

__all__ = [
    "PERMISSIONS",
    "PRINCIPAL_CACHE_SECONDS",
    "CertificateSource",
    "IssuerService",
    "Principal",
    "TenantProfile",
    "audit_event",
    "credential_record",
]

Permission = Literal["issue", "read", "status", "admin"]
PERMISSIONS: dict[Permission, frozenset[str]] = {
    "issue": frozenset({"admin", "issuer"}),
    "read": frozenset({"admin", "issuer", "revoker"}),
    "status": frozenset({"admin", "revoker"}),
    "admin": frozenset({"admin"}),
}
StatusAction = Literal["revoke", "suspend", "reinstate"]
#: action -> (states it may start from, resulting state, status list value)
_TRANSITIONS: dict[str, tuple[frozenset[str], str, int]] = {
    "revoke": (frozenset({"valid", "suspended"}), "revoked", REVOKED),
    "suspend": (frozenset({"valid"}), "suspended", SUSPENDED),
    "reinstate": (frozenset({"suspended"}), "valid", VALID),
}
_PAST = {"revoke": "revoked", "suspend": "suspended", "reinstate": "reinstated"}
IDEMPOTENCY_KEEP = timedelta(hours=24)
#: How long a process trusts an API key it has checked without reading it again: a key
#: revoked by another process stops working there within this many seconds (at once in
#: the process that revoked it).
PRINCIPAL_CACHE_SECONDS = 2.0
_PRINCIPAL_CACHE_SIZE = 10_000
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: a tenant, a role and the id of the key (or ``cli``) named in the audit."""

    tenant_id: int
    slug: str
    role: str
    actor: str


@dataclass(frozen=True, slots=True)
class TenantProfile:
    slug: str
    names: dict[str, str]
    country: str
    accreditation_body: str | None = None
    accreditation_number: str | None = None
    website: str | None = None
    logo_url: str | None = None
    default_language: str = "en"
    credential_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class _IssueJob:
    """Rows to issue for one request (validated), as queued for a group commit."""

    principal: Principal
    ctype: CredentialType
    rows: Sequence[ParsedRow]
    valid_days: int | None
    idempotency_key: str | None
    request_hash: str | None
    progress: Progress | None


@dataclass(frozen=True, slots=True)
class CertificateSource:
    """What a printed certificate is made of: the signed credential (``compact``, every
    disclosure), its subject claims, its type, the issuing centre and the record's dates."""

    public_id: str
    compact: str
    claims: dict[str, Any]
    credential_type: CredentialType
    issuer: IssuerProfile
    default_language: str
    credential_number: str
    issued_at: datetime
    expires_at: datetime | None


class _Prevalidated(CredentialType):
    """``ctype`` whose claims were all validated by the batch's first pass.

    The claims signed are the ones validated, except a generated ``credential_number``
    (``<prefix>-<number>``, within the schema's limits), so validating again inside the
    transaction would only double the cost of a batch.
    """

    def validate(self, claims: Mapping[str, Any]) -> None:
        return None


def _prevalidated(ctype: CredentialType) -> CredentialType:
    return _Prevalidated(
        name=ctype.name,
        vct=ctype.vct,
        schema=ctype.schema,
        metadata=ctype.metadata,
        example=ctype.example,
    )


def credential_record(
    *,
    tenant_id: int | None,
    ctype: CredentialType,
    claims: dict[str, Any],
    number: int,
    position: tuple[repo.ListSlot, int],
    holder_bound: bool,
    batch_id: str | None,
    issued_at: datetime,
    expires_at: datetime | None,
    token: str | None,
) -> dict[str, Any]:
    """The database row of one issued credential: the one recipe for every issuance path
    (single, batch, OpenID4VCI), keeping only the personal data the registrar searches by."""
    status_list, idx = position
    holder = " ".join(str(claims[n]) for n in ("given_name", "family_name") if n in claims)
    return {
        "public_id": secrets.token_urlsafe(12),
        "tenant_id": tenant_id,
        "number": number,
        "credential_number": str(claims["credential_number"]),
        "type_name": ctype.name,
        "vct": ctype.vct,
        "status_list_id": status_list.id,
        "status_idx": idx,
        "status": "valid",
        "holder_name": holder[:201],
        "holder_bound": holder_bound,
        "batch_id": batch_id,
        "issued_at": issued_at,
        "expires_at": expires_at,
        "token": token,
    }


def audit_event(
    action: str,
    subject: str,
    at: datetime,
    actor: str,
    data: dict[str, Any] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """One audit log entry (see :func:`issuer.repository.append_audit`)."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "reason": reason,
        "data": data or {},
    }


def _pack_order(order: array[int]) -> bytes:
    """``index_order`` bytes: unsigned 32-bit little-endian integers."""
    if sys.byteorder == "big":
        order = array("I", order)
        order.byteswap()
    return order.tobytes()


def _unpack_order(data: bytes) -> array[int]:
    order = array("I")
    order.frombytes(data)
    if sys.byteorder == "big":
        order.byteswap()
    return order


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class IssuerService:
    def __init__(
        self,
        engine: Engine,
        settings: IssuerSettings,
        types: TypeRegistry,
        keyring: TenantKeyring,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.types = types
        self.keyring = keyring
        self.clock = clock
        self._read_engine = engine.execution_options(read_only=True)
        #: SHA-256 of a full API key -> (until when, its principal): keys checked lately
        self._principals: dict[bytes, tuple[float, Principal]] = {}
        self._rng = secrets.SystemRandom()
        self._orders: dict[int, array[int]] = {}  # status list id -> its index_order
        # type name -> (type, its _Prevalidated twin), made once: what the twin computes on
        # first use (the claim table, the disclosable paths) is then computed once too
        self._signing_types: dict[str, tuple[CredentialType, CredentialType]] = {}
        self._issuance: GroupCommitter[_IssueJob, BatchIssued] = GroupCommitter(self._issue_group)
        self._issuance_async = AsyncGroupCommitter(self._issuance)
        self._type_documents = self._index_type_documents(types)

    def session(self) -> Session:
        """A session for a write (on SQLite its transaction starts ``BEGIN IMMEDIATE``)."""
        return Session(self.engine, expire_on_commit=False)

    def read_session(self) -> Session:
        """A session that only reads: on SQLite a deferred ``BEGIN``, so readers never queue
        behind the writers' lock (WAL lets them read while one writes)."""
        return Session(self._read_engine, expire_on_commit=False)

    # -- identity ------------------------------------------------------------------------
    def authenticate(self, key: str | None) -> Principal:
        """The principal of an API key.

        Raises:
            AuthenticationError: no key, a malformed, unknown or revoked one.
        """
        if not key:
            raise errors.AuthenticationError(
                "send an API key: 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )
        parts = split_api_key(key)
        if parts is None:
            raise errors.AuthenticationError("malformed API key")
        fingerprint = hashlib.sha256(key.encode()).digest()
        moment = time.monotonic()
        known = self._principals.get(fingerprint)
        if known is not None and known[0] > moment:
            return known[1]
        with self._read_engine.connect() as connection:
            holder = repo.api_key_holder(connection, parts[0])
        if holder is None:
            raise errors.AuthenticationError("unknown or revoked API key")
        tenant_id, slug, role, secret_hash, revoked_at = holder
        if revoked_at is not None or not verify_secret(parts[1], secret_hash):
            raise errors.AuthenticationError("unknown or revoked API key")
        principal = Principal(tenant_id, slug, role, parts[0])
        if len(self._principals) >= _PRINCIPAL_CACHE_SIZE:
            self._principals.clear()
        self._principals[fingerprint] = (moment + PRINCIPAL_CACHE_SECONDS, principal)
        return principal

    @staticmethod
    def require(principal: Principal, permission: Permission) -> None:
        """Raises PermissionDeniedError when the principal's role lacks ``permission``."""
        if principal.role not in PERMISSIONS[permission]:
            raise errors.PermissionDeniedError(
                f"the {principal.role} role may not do this ({permission} is needed)"
            )

    def cli_principal(self, slug: str | None) -> Principal:
        """An admin principal for the command line (the tenant by slug, or the only one)."""
        with self.session() as session:
            if slug is None:
                tenants = repo.all_tenants(session)
                if len(tenants) != 1:
                    raise errors.InvalidInputError(
                        f"{len(tenants)} tenants exist: say which one with --tenant"
                    )
                tenant = tenants[0]
            else:
                found = repo.tenant_by_slug(session, slug)
                if found is None:
                    raise errors.NotFoundError(f"no tenant {slug!r}")
                tenant = found
            assert tenant.id is not None
            return Principal(tenant.id, tenant.slug, "admin", "cli")

    # -- tenants -------------------------------------------------------------------------
    def issuer_url(self, slug: str) -> str:
        return f"{self.settings.base_url}/tenants/{slug}"

    def create_tenant(self, profile: TenantProfile, *, actor: str = "cli") -> tuple[Tenant, str]:
        """A tenant with a signing key (created in the key store unless one is active) and a
        first admin API key; returns the tenant and that key (shown once).

        Raises:
            InvalidInputError: a bad slug or country; ConflictError: the slug is taken.
        """
        if not _SLUG.fullmatch(profile.slug):
            raise errors.InvalidInputError(
                "a tenant slug is 1 to 64 lowercase letters, digits and inner hyphens"
            )
        if not re.fullmatch(r"[A-Z]{2}", profile.country):
            raise errors.InvalidInputError("country: an ISO 3166-1 alpha-2 code such as MA")
        now = self.clock()
        with self.session() as session:
            if repo.tenant_by_slug(session, profile.slug) is not None:
                raise errors.ConflictError(f"a tenant {profile.slug!r} already exists")
            tenant = Tenant(
                slug=profile.slug,
                names=profile.names,
                country=profile.country,
                accreditation_body=profile.accreditation_body,
                accreditation_number=profile.accreditation_number,
                website=profile.website,
                logo_url=profile.logo_url,
                default_language=profile.default_language,
                issuer_url=self.issuer_url(profile.slug),
                credential_prefix=profile.credential_prefix or profile.slug.upper(),
                created_at=now,
            )
            session.add(tenant)
            session.flush()
            records = self.keyring.records(profile.slug)
            if not any(r.status == "active" for r in records):
                record = self.keyring.create(profile.slug)
                kid = record.kid
            else:
                kid = next(r.kid for r in records if r.status == "active")
            full, public_id, digest = new_api_key()
            assert tenant.id is not None
            session.add(
                ApiKey(
                    tenant_id=tenant.id,
                    prefix=public_id,
                    secret_hash=digest,
                    role="admin",
                    label="bootstrap",
                    created_at=now,
                )
            )
            base = {"at": now, "actor": actor, "reason": None}
            repo.append_audit(
                session,
                repo.lock_tenant(session, tenant.id),
                [
                    {**base, "action": "tenant_created", "subject": tenant.slug, "data": {}},
                    {**base, "action": "signing_key_active", "subject": kid, "data": {}},
                    {
                        **base,
                        "action": "api_key_created",
                        "subject": public_id,
                        "data": {"role": "admin"},
                    },
                ],
            )
            session.commit()
            return tenant, full

    def tenant_public(self, principal: Principal) -> TenantPublic:
        with self.read_session() as session:
            tenant = repo.tenant_by_id(session, principal.tenant_id)
            assert tenant is not None
            return self._tenant_public(tenant)

    @staticmethod
    def _tenant_public(tenant: Tenant) -> TenantPublic:
        return TenantPublic(
            slug=tenant.slug,
            names=tenant.names,
            country=tenant.country,
            accreditation_body=tenant.accreditation_body,
            accreditation_number=tenant.accreditation_number,
            website=tenant.website,
            logo_url=tenant.logo_url,
            default_language=tenant.default_language,
            issuer=tenant.issuer_url,
        )

    # -- API keys and signing keys -------------------------------------------------------
    def create_api_key(self, principal: Principal, role: str, label: str) -> ApiKeyCreated:
        self.require(principal, "admin")
        now = self.clock()
        full, public_id, digest = new_api_key()
        with self.session() as session:
            tenant = repo.lock_tenant(session, principal.tenant_id)
            row = ApiKey(
                tenant_id=principal.tenant_id,
                prefix=public_id,
                secret_hash=digest,
                role=role,
                label=label,
                created_at=now,
            )
            session.add(row)
            repo.append_audit(
                session,
                tenant,
                [
                    audit_event(
                        "api_key_created",
                        public_id,
                        now,
                        principal.actor,
                        {"role": role, "label": label},
                    )
                ],
            )
            session.commit()
            return ApiKeyCreated(key=full, **self._api_key_public(row).model_dump())

    @staticmethod
    def _api_key_public(row: ApiKey) -> ApiKeyPublic:
        return ApiKeyPublic(
            id=row.prefix,
            role=row.role,
            label=row.label,
            created_at=_utc(row.created_at) or row.created_at,
            revoked_at=_utc(row.revoked_at),
        )

    def list_api_keys(self, principal: Principal) -> list[ApiKeyPublic]:
        self.require(principal, "admin")
        with self.read_session() as session:
            return [self._api_key_public(r) for r in repo.api_keys(session, principal.tenant_id)]

    def revoke_api_key(self, principal: Principal, key_id: str) -> ApiKeyPublic:
        self.require(principal, "admin")
        now = self.clock()
        with self.session() as session:
            tenant = repo.lock_tenant(session, principal.tenant_id)
            row = repo.api_key_by_prefix(session, key_id)
            if row is None or row.tenant_id != principal.tenant_id:
                raise errors.NotFoundError(f"no API key {key_id!r}")
            if row.revoked_at is None:
                row.revoked_at = now
                session.add(row)
                repo.append_audit(
                    session,
                    tenant,
                    [audit_event("api_key_revoked", key_id, now, principal.actor, {})],
                )
                session.commit()
                self._principals.clear()  # after the commit: a check meanwhile saw it valid
            return self._api_key_public(row)

    def signing_keys(self, principal: Principal) -> list[SigningKeyPublic]:
        self.require(principal, "read")
        return [
            SigningKeyPublic(kid=r.kid, alg=r.alg, status=r.status)
            for r in self.keyring.records(principal.slug)
        ]

    def rotate_signing_key(self, principal: Principal) -> SigningKeyPublic:
        """A new active key; the old one is retired and stays in the JWKS, so credentials
        it signed keep verifying."""
        self.require(principal, "admin")
        now = self.clock()
        with self.session() as session:
            tenant = repo.lock_tenant(session, principal.tenant_id)
            record = self.keyring.rotate(principal.slug)
            repo.append_audit(
                session,
                tenant,
                [
                    audit_event(
                        "signing_key_rotated", record.kid, now, principal.actor, {"alg": record.alg}
                    )
                ],
            )
            session.commit()
        return SigningKeyPublic(kid=record.kid, alg=record.alg, status=record.status)

    # -- issuance ------------------------------------------------------------------------
    def credential_type(self, name_or_vct: str) -> CredentialType:
        return self.types.get(name_or_vct)

    def issue(
        self,
        principal: Principal,
        *,
        type_name: str,
        claims: dict[str, Any],
        holder_jwk: dict[str, Any] | None,
        valid_days: int | None,
        idempotency_key: str | None = None,
    ) -> IssuedCredential:
        """Issue one credential (validated by the type's JSON Schema).

        Raises:
            UnknownTypeError, SchemaError (with ``violations``), KeyError_ (holder key),
            IdempotencyConflictError, PermissionDeniedError.
        """
        job = self._single_job(
            principal, type_name, claims, holder_jwk, valid_days, idempotency_key
        )
        return self._issuance.submit(job).credentials[0]

    async def issue_async(
        self,
        principal: Principal,
        *,
        type_name: str,
        claims: dict[str, Any],
        holder_jwk: dict[str, Any] | None,
        valid_days: int | None,
        idempotency_key: str | None = None,
    ) -> IssuedCredential:
        """:meth:`issue` for the event loop: the validation runs on the loop, the signing and
        the transaction in a worker thread, in a group with the requests waiting meanwhile."""
        job = self._single_job(
            principal, type_name, claims, holder_jwk, valid_days, idempotency_key
        )
        return (await self._issuance_async.submit(job)).credentials[0]

    def _single_job(
        self,
        principal: Principal,
        type_name: str,
        claims: dict[str, Any],
        holder_jwk: dict[str, Any] | None,
        valid_days: int | None,
        idempotency_key: str | None,
    ) -> _IssueJob:
        self.require(principal, "issue")
        ctype = self.types.get(type_name)
        row = ParsedRow(row=1, claims=claims, holder_jwk=holder_jwk)
        problems = self._row_errors(ctype, row)
        if problems:
            raise errors.SchemaError(
                "; ".join(f"{p.field}: {p.message}" for p in problems[:10]),
                violations=[{"path": p.field, "message": p.message} for p in problems],
            )
        return self._job(principal, ctype, [row], valid_days, "single", idempotency_key)

    def issue_batch(
        self,
        principal: Principal,
        *,
        type_name: str,
        rows: Sequence[ParsedRow],
        valid_days: int | None,
        idempotency_key: str | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> BatchIssued:
        """Validate every row, then issue them all in one transaction (or none).

        Raises:
            BatchInvalidError: with every row error in ``extra["errors"]``.
        """
        self.require(principal, "issue")
        ctype = self.types.get(type_name)
        if len(rows) > self.settings.max_batch_rows:
            raise errors.PayloadTooLargeError(
                f"a batch holds at most {self.settings.max_batch_rows} rows"
            )
        problems = [p for row in rows for p in self._row_errors(ctype, row)]
        if problems:
            rows_with = sorted({p.row for p in problems})
            raise BatchInvalidError(
                f"{len(problems)} error(s) in {len(rows_with)} row(s); nothing was issued",
                errors=[p.to_json() for p in problems],
            )
        if dry_run:
            return BatchIssued(batch_id="", count=len(rows), credentials=[])
        job = self._job(principal, ctype, rows, valid_days, "batch", idempotency_key, progress)
        return self._issuance.submit(job)

    def parse_csv(self, type_name: str, data: bytes) -> list[ParsedRow]:
        if len(data) > self.settings.max_upload_bytes:
            raise errors.PayloadTooLargeError(
                f"the upload exceeds {self.settings.max_upload_bytes} bytes"
            )
        return parse_csv(data, self.types.get(type_name), max_rows=self.settings.max_batch_rows)

    @staticmethod
    def _row_errors(ctype: CredentialType, row: ParsedRow) -> list[RowError]:
        found: list[RowError] = []
        clashes = sorted(REGISTERED_CLAIMS.intersection(row.claims))
        for name in clashes:
            found.append(
                RowError(row.row, f"$.{name}", "registered_claim", "set by the issuer, not here")
            )
        claims = {k: v for k, v in row.claims.items() if k not in REGISTERED_CLAIMS}
        if "credential_number" not in claims:
            claims["credential_number"] = "placeholder"  # numbered at issuance
        for violation in ctype.violations(claims):
            found.append(
                RowError(row.row, violation["path"], "schema_violation", violation["message"])
            )
        if row.holder_jwk is not None:
            try:
                public_key_from_jwk(row.holder_jwk)
            except errors.PasserelleError as exc:
                found.append(RowError(row.row, "holder_jwk", exc.code, exc.detail))
        return found

    @staticmethod
    def _request_hash(op: str, ctype: CredentialType, rows: Iterable[ParsedRow], days: Any) -> str:
        document = {
            "op": op,
            "type": ctype.name,
            "valid_days": days,
            "rows": [{"claims": r.claims, "holder_jwk": r.holder_jwk} for r in rows],
        }
        return hashlib.sha256(repo.canonical_json(document)).hexdigest()

    def _job(
        self,
        principal: Principal,
        ctype: CredentialType,
        rows: Sequence[ParsedRow],
        valid_days: int | None,
        op: str,
        idempotency_key: str | None,
        progress: Progress | None = None,
    ) -> _IssueJob:
        """What to sign and store for ``rows`` (validated by the caller); the transaction is
        shared with the issuances other requests submit meanwhile (:mod:`issuer.groupcommit`).
        """
        request_hash = None
        if idempotency_key is not None:
            if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
                raise errors.RequestInvalidError(
                    "Idempotency-Key: 1 to 200 visible ASCII characters"
                )
            request_hash = self._request_hash(op, ctype, rows, valid_days)
        return _IssueJob(
            principal, ctype, rows, valid_days, idempotency_key, request_hash, progress
        )

    def _issue_group(self, jobs: Sequence[Job[_IssueJob, BatchIssued]]) -> None:
        """Issue ``jobs`` in three steps, so that the tenants' locks are not held while
        signing (the costly part, which processes would otherwise take in turns):

        1. under the tenants' row locks, screen the Idempotency-Keys and reserve the
           credential numbers and status indices of every row, and commit;
        2. sign, holding no lock;
        3. under the locks again, insert the credentials, chain their audit events and
           store the idempotency records, in one transaction.

        A job is all-or-nothing: its credentials are stored together in step 3 or not at
        all. A crash between steps 1 and 3 only leaves the reserved numbers and indices
        unused (a gap in the numbering; a status entry nobody holds).
        """
        now = self.clock()
        tenant_ids = sorted({job.item.principal.tenant_id for job in jobs})
        outcome: dict[int, BatchIssued | Exception | _IssueJob] = {}  # by id(job.item)
        with self.session() as session:
            tenants = {tid: repo.lock_tenant(session, tid) for tid in tenant_ids}
            todo = self._screen(session, jobs, outcome)
            reserved: dict[int, tuple[int, list[tuple[repo.ListSlot, int]]]] = {}
            for tid in tenant_ids:
                mine = [job.item for job in todo if job.item.principal.tenant_id == tid]
                total = sum(len(item.rows) for item in mine)
                if not total:
                    continue
                number = repo.take_numbers(session, tenants[tid], total)
                positions = self.allocate(session, tenants[tid], total)
                for item in mine:
                    count = len(item.rows)
                    reserved[id(item)] = (number, positions[:count])
                    number, positions = number + count, positions[count:]
            session.commit()
        # the key index is read from disk once per tenant and group, not per request
        signers = {job.item.principal.tenant_id for job in todo}
        keys = {tid: self.keyring.signing_key(tenants[tid].slug) for tid in signers}
        signed = {
            id(job.item): self._sign(
                tenants[job.item.principal.tenant_id],
                keys[job.item.principal.tenant_id],
                job.item,
                now,
                *reserved.get(id(job.item), (0, [])),  # (a batch of no rows reserves nothing)
            )
            for job in todo
        }
        with self.session() as session:
            locked = {tid: repo.lock_tenant(session, tid) for tid in tenant_ids}
            stored = self._screen(session, [job for job in todo if id(job.item) in signed], outcome)
            records: list[dict[str, Any]] = []
            events: dict[int, list[dict[str, Any]]] = {tid: [] for tid in tenant_ids}
            for job in stored:
                item = job.item
                result, rows, row_events = signed[id(item)]
                outcome[id(item)] = result
                records.extend(rows)
                events[item.principal.tenant_id].extend(row_events)
                if item.idempotency_key is not None and item.request_hash is not None:
                    repo.save_idempotency(
                        session,
                        item.principal.tenant_id,
                        item.idempotency_key,
                        request_hash=item.request_hash,
                        status_code=201,
                        response=result.model_dump_json(),
                        now=now,
                        keep=IDEMPOTENCY_KEEP,
                    )
            repo.insert_credentials(session, records)
            for tid in tenant_ids:
                repo.append_audit(session, locked[tid], events[tid])
            session.commit()
        for job in jobs:
            found = outcome[id(job.item)]
            while isinstance(found, _IssueJob):  # a retry within the group: the first's
                found = outcome[id(found)]
            if isinstance(found, Exception):
                job.fail(found)
            else:
                job.succeed(found)

    @staticmethod
    def _screen(
        session: Session,
        jobs: Sequence[Job[_IssueJob, BatchIssued]],
        outcome: dict[int, BatchIssued | Exception | _IssueJob],
    ) -> list[Job[_IssueJob, BatchIssued]]:
        """The jobs to issue; the others' ``outcome`` is set: a retry of a stored request
        gets its response, or of a job of this group that job, and a reused key with
        another body an IdempotencyConflictError."""
        todo: list[Job[_IssueJob, BatchIssued]] = []
        firsts: dict[tuple[int, str], _IssueJob] = {}
        for job in jobs:
            item = job.item
            if item.idempotency_key is None or item.request_hash is None:
                todo.append(job)
                continue
            slot = (item.principal.tenant_id, item.idempotency_key)
            earlier: tuple[str, BatchIssued | _IssueJob] | None = None
            if slot in firsts:
                first = firsts[slot]
                earlier = (first.request_hash or "", first)
            else:
                record = repo.idempotency_record(session, slot[0], slot[1])
                if record is not None:
                    response = BatchIssued.model_validate_json(record.response)
                    earlier = (record.request_hash, response)
            if earlier is None:
                firsts[slot] = item
                todo.append(job)
            elif earlier[0] != item.request_hash:
                outcome[id(item)] = IdempotencyConflictError(
                    "this Idempotency-Key was used with another request body"
                )
            else:
                outcome[id(item)] = earlier[1]
        return todo

    def _sign(
        self,
        tenant: repo.LockedTenant,
        key: SigningKey,
        item: _IssueJob,
        now: datetime,
        number: int,
        positions: Sequence[tuple[repo.ListSlot, int]],
    ) -> tuple[BatchIssued, list[dict[str, Any]], list[dict[str, Any]]]:
        """The signed credentials of ``item``'s rows at their reserved numbers and status
        positions: the response, the database rows and the audit events."""
        ctype, rows, progress = item.ctype, item.rows, item.progress
        valid_for = timedelta(days=item.valid_days) if item.valid_days else None
        expires = now + valid_for if valid_for else None
        batch_id = secrets.token_hex(8)
        known = self._signing_types.get(ctype.name)
        if known is None or known[0] is not ctype:
            known = self._signing_types[ctype.name] = (ctype, _prevalidated(ctype))
        signing_type = known[1]
        records: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        issued: list[IssuedCredential] = []
        for offset, (row, (slot, idx)) in enumerate(zip(rows, positions, strict=True)):
            claims = dict(row.claims)
            claims.setdefault("credential_number", f"{tenant.credential_prefix}-{number:06d}")
            token = issue_credential(
                claims,
                credential_type=signing_type,
                key=key,
                issuer=tenant.issuer_url,
                now=now,
                valid_for=valid_for,
                holder_jwk=row.holder_jwk,
                status={"uri": slot.uri, "idx": idx},
            ).compact
            record = credential_record(
                tenant_id=tenant.id,
                ctype=ctype,
                claims=claims,
                number=number,
                position=(slot, idx),
                holder_bound=row.holder_jwk is not None,
                batch_id=batch_id,
                issued_at=now,
                expires_at=expires,
                token=token if self.settings.retain_tokens else None,
            )
            records.append(record)
            issued.append(
                IssuedCredential(
                    credential=token, record=self._public_from_values(record, slot.uri)
                )
            )
            events.append(
                audit_event(
                    "credential_issued",
                    record["public_id"],
                    now,
                    item.principal.actor,
                    {"batch": batch_id, "type": ctype.name, "number": number},
                )
            )
            number += 1
            if progress is not None and (offset + 1) % 100 == 0:
                progress(offset + 1, len(rows))
        if progress is not None:
            progress(len(rows), len(rows))
        result = BatchIssued(batch_id=batch_id, count=len(issued), credentials=issued)
        return result, records, events

    def allocate(
        self, session: Session, tenant: repo.LockedTenant, count: int
    ) -> list[tuple[repo.ListSlot, int]]:
        """``count`` status positions: the next indices of the tenant's open list, then of
        new lists as they fill (the tenant row is locked by the caller)."""
        positions: list[tuple[repo.ListSlot, int]] = []
        while len(positions) < count:
            slot = repo.open_status_list(session, tenant.id)
            if slot is None:
                slot = self._new_status_list(session, tenant)
            order = self._orders.get(slot.id)
            if order is None:  # fixed for the list's life: read once per process
                order = self._orders[slot.id] = _unpack_order(repo.list_order(session, slot.id))
            indices = repo.take_indices(session, slot, count - len(positions), order)
            positions.extend((slot, idx) for idx in indices)
        return positions

    def _new_status_list(self, session: Session, tenant: repo.LockedTenant) -> repo.ListSlot:
        number = repo.next_list_number(session, tenant.id)
        size = self.settings.status_list_size
        order = array("I", range(size))
        self._rng.shuffle(order)  # the OS's randomness: the order must not be guessable
        status_list = StatusList(
            tenant_id=tenant.id,
            number=number,
            uri=f"{self.settings.base_url}/status/{tenant.slug}/{number}",
            bits=2,
            size=size,
            data=CoreStatusList(2, size).to_bytes(),
            created_at=self.clock(),
        )
        session.add(status_list)
        session.flush()
        assert status_list.id is not None
        session.add(StatusListOrder(status_list_id=status_list.id, index_order=_pack_order(order)))
        self._orders[status_list.id] = order
        return repo.ListSlot(status_list.id, status_list.uri, size, 0)

    # -- records -------------------------------------------------------------------------
    @staticmethod
    def _public_from_values(values: dict[str, Any], uri: str) -> CredentialPublic:
        return CredentialPublic(
            id=values["public_id"],
            number=values["number"],
            credential_number=values["credential_number"],
            type=values["type_name"],
            vct=values["vct"],
            status=values["status"],
            status_reason=values.get("status_reason"),
            status_changed_at=_utc(values.get("status_changed_at")),
            status_list=StatusReference(uri=uri, idx=values["status_idx"]),
            holder_name=values["holder_name"],
            holder_bound=values["holder_bound"],
            batch_id=values["batch_id"],
            issued_at=_utc(values["issued_at"]) or values["issued_at"],
            expires_at=_utc(values["expires_at"]),
        )

    def _public(self, session: Session, rows: Sequence[Credential]) -> list[CredentialPublic]:
        ids = {r.status_list_id for r in rows}
        uris: dict[int | None, str] = {}
        if ids:
            lists = session.exec(select(StatusList).where(col(StatusList.id).in_(ids))).all()
            uris = {lst.id: lst.uri for lst in lists}
        return [self._public_from_values(r.model_dump(), uris[r.status_list_id]) for r in rows]

    def get_credential(self, principal: Principal, public_id: str) -> CredentialPublic:
        """Raises NotFoundError for an unknown id and for another tenant's (never 403)."""
        self.require(principal, "read")
        with self.read_session() as session:
            row = repo.credential(session, principal.tenant_id, public_id)
            if row is None:
                raise errors.NotFoundError(f"no credential {public_id!r}")
            return self._public(session, [row])[0]

    def credential_token(self, principal: Principal, public_id: str) -> str | None:
        """The retained token (``ISSUER_RETAIN_TOKENS``), or None."""
        self.require(principal, "read")
        with self.read_session() as session:
            row = repo.credential(session, principal.tenant_id, public_id)
            if row is None:
                raise errors.NotFoundError(f"no credential {public_id!r}")
            return row.token

    def list_credentials(
        self,
        principal: Principal,
        *,
        query: str | None = None,
        status: str | None = None,
        type_name: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> CredentialPage:
        self.require(principal, "read")
        if type_name is not None:
            type_name = self.types.get(type_name).name
        with self.read_session() as session:
            rows, total = repo.search_credentials(
                session,
                principal.tenant_id,
                query=query,
                status=status,
                type_name=type_name,
                offset=(page - 1) * page_size,
                limit=page_size,
            )
            items = self._public(session, rows)
        return CredentialPage(items=items, total=total, page=page, page_size=page_size)

    def change_status(
        self, principal: Principal, public_id: str, action: StatusAction, reason: str
    ) -> CredentialPublic:
        """Revoke (final), suspend or reinstate; the list is re-signed on its next fetch.

        Raises:
            NotFoundError: unknown id or another tenant's; StatusTransitionError: e.g. a
            revoked credential, or suspending a suspended one.
        """
        self.require(principal, "status")
        allowed, target, value = _TRANSITIONS[action]
        now = self.clock()
        with self.session() as session:
            tenant = repo.lock_tenant(session, principal.tenant_id)
            row = repo.credential(session, principal.tenant_id, public_id)
            if row is None:
                raise errors.NotFoundError(f"no credential {public_id!r}")
            if row.status not in allowed:
                raise StatusTransitionError(
                    f"a {row.status} credential cannot be {_PAST[action]}"
                    + (" (revocation is final)" if row.status == "revoked" else "")
                )
            status_list = repo.lock_status_list(session, row.status_list_id)
            core = CoreStatusList(status_list.bits, status_list.size, data=status_list.data)
            core.set(row.status_idx, value)
            status_list.data = core.to_bytes()
            status_list.version += 1
            session.add(status_list)
            previous = row.status
            row.status, row.status_reason, row.status_changed_at = target, reason, now
            session.add(row)
            repo.append_audit(
                session,
                tenant,
                [
                    audit_event(
                        f"credential_{_PAST[action]}",
                        public_id,
                        now,
                        principal.actor,
                        {"from": previous, "to": target},
                        reason=reason,
                    )
                ],
            )
            session.commit()
            return self._public(session, [row])[0]

    # -- public documents ----------------------------------------------------------------
    def status_list_token(self, slug: str, number: int) -> tuple[str, str]:
        """The Status List Token and its ETag; signed again when a status changed since the
        last signature or half of its lifetime is gone.

        Raises:
            NotFoundError: no such tenant or list.
        """
        with self.session() as session:
            tenant = repo.tenant_by_slug(session, slug)
            found = repo.status_list(session, tenant.id, number) if tenant and tenant.id else None
            if tenant is None or found is None or found.id is None:
                raise errors.NotFoundError(f"no status list {slug}/{number}")
            now = self.clock()
            moment = int(now.timestamp())
            fresh = found.token_exp - moment > self.settings.status_lifetime // 2
            if found.token and found.etag and found.token_version == found.version and fresh:
                return found.token, found.etag
            token = create_status_list_token(
                CoreStatusList(found.bits, found.size, data=found.data),
                self.keyring.signing_key(slug),
                uri=found.uri,
                now=now,
                issuer=tenant.issuer_url,
                ttl=self.settings.status_ttl,
                lifetime=self.settings.status_lifetime,
            )
            etag = '"' + hashlib.sha256(token.encode()).hexdigest()[:32] + '"'
            repo.store_signed_token(
                session,
                found.id,
                token=token,
                version=found.version,
                exp=moment + self.settings.status_lifetime,
                etag=etag,
            )
            session.commit()
            return token, etag

    def _public_tenant(self, slug: str) -> Tenant:
        with self.read_session() as session:
            tenant = repo.tenant_by_slug(session, slug)
            if tenant is None:
                raise errors.NotFoundError(f"no issuer {slug!r}")
            return tenant

    def issuer_metadata(self, slug: str) -> dict[str, Any]:
        """JWT VC Issuer Metadata: ``issuer`` and its ``jwks`` (active and retired keys)."""
        tenant = self._public_tenant(slug)
        return {"issuer": tenant.issuer_url, "jwks": self.keyring.jwks(slug)}

    def jwks(self, slug: str) -> dict[str, Any]:
        self._public_tenant(slug)
        return self.keyring.jwks(slug)

    @staticmethod
    def _index_type_documents(types: TypeRegistry) -> dict[str, dict[str, Any]]:
        documents: dict[str, dict[str, Any]] = {}
        for ctype in types:
            documents[urlsplit(ctype.vct).path.rstrip("/")] = ctype.metadata
            schema_id = ctype.schema.get("$id")
            if isinstance(schema_id, str):
                documents[urlsplit(schema_id).path] = ctype.schema
        return documents

    def type_document(self, path: str) -> dict[str, Any]:
        """Type Metadata (or the claims JSON Schema) served at the path of its URL."""
        document = self._type_documents.get("/" + path.strip("/"))
        if document is None:
            raise errors.NotFoundError(f"no credential type document at /{path.strip('/')}")
        return document

    # -- audit ---------------------------------------------------------------------------
    def audit_page(self, principal: Principal, *, after: int, limit: int) -> AuditPage:
        self.require(principal, "read")
        with self.read_session() as session:
            rows = repo.audit_events(session, principal.tenant_id, after=after, limit=limit + 1)
        items = [
            AuditEventPublic(
                seq=r.seq,
                at=_utc(r.at) or r.at,
                actor=r.actor,
                action=r.action,
                subject=r.subject,
                reason=r.reason,
                data=r.data,
                prev_hash=r.prev_hash,
                hash=r.hash,
            )
            for r in rows[:limit]
        ]
        next_after = items[-1].seq if len(rows) > limit else None
        return AuditPage(items=items, next_after=next_after)

    def verify_audit(self, principal: Principal) -> AuditVerification:
        """Recompute the tenant's chain; report the first event that does not fit."""
        self.require(principal, "read")
        with self.read_session() as session:
            tenant = repo.tenant_by_id(session, principal.tenant_id)
            assert tenant is not None
            rows = repo.audit_events(session, principal.tenant_id)
        head, expected = GENESIS_HASH, 1
        for row in rows:
            problem = None
            if row.seq != expected:
                problem = f"event {expected} is missing"
            elif row.prev_hash != head:
                problem = "its prev_hash is not the hash of the event before"
            else:
                digest = repo.audit_digest(head, repo.audit_document(tenant.slug, row))
                if digest != row.hash:
                    problem = "its content does not match its hash"
            if problem:
                return AuditVerification(
                    valid=False, events=len(rows), head=head, first_bad_seq=row.seq, detail=problem
                )
            head, expected = row.hash, expected + 1
        if tenant.audit_seq != len(rows) or tenant.audit_head != head:
            return AuditVerification(
                valid=False,
                events=len(rows),
                head=head,
                first_bad_seq=len(rows) + 1,
                detail="events were removed from the end of the chain",
            )
        return AuditVerification(valid=True, events=len(rows), head=head)

    # -- certificates --------------------------------------------------------------------
    def certificate_source(
        self, principal: Principal, public_id: str, compact: str | None = None
    ) -> CertificateSource:
        """What the certificate of one of the tenant's credentials is printed from.

        ``compact`` is the signed credential as issued, for a service that does not retain
        tokens; without it the retained token is used. A given token must be this record's
        (signed by the tenant's key, same status list entry), so a certificate cannot put
        other claims under the centre's letterhead.

        Raises:
            NotFoundError: unknown id or another tenant's. TokenNotRetainedError: no
            ``compact`` and none retained (``ISSUER_RETAIN_TOKENS`` off). RequestInvalidError:
            ``compact`` is not this record's credential; the SD-JWT errors when it does not
            parse or verify.
        """
        self.require(principal, "read")
        with self.session() as session:
            row = repo.credential(session, principal.tenant_id, public_id)
            tenant = repo.tenant_by_id(session, principal.tenant_id)
            if row is None or tenant is None:
                raise errors.NotFoundError(f"no credential {public_id!r}")
            uri = self._public(session, [row])[0].status_list.uri
        token = compact if compact is not None else row.token
        if token is None:
            raise errors.TokenNotRetainedError(
                "this service does not keep signed credentials (ISSUER_RETAIN_TOKENS is off); "
                "print the certificate when issuing, or send the credential with "
                f"POST /api/v1/credentials/{public_id}/certificate"
            )
        payload = self._verified_payload(tenant, token)
        reference = payload.get("status", {}).get("status_list", {})
        if reference != {"idx": row.status_idx, "uri": uri}:
            raise errors.RequestInvalidError("the credential sent is not this record's")
        ctype = self.types.get(row.type_name)
        known = ctype.schema.get("properties", {})
        claims = {k: v for k, v in payload.items() if k in known}
        profile = IssuerProfile(
            names=tenant.names,
            country=tenant.country,
            accreditation_body=tenant.accreditation_body or "",
            accreditation_number=tenant.accreditation_number or "",
            website=tenant.website,
            logo_url=tenant.logo_url,
        )
        return CertificateSource(
            public_id=row.public_id,
            compact=token,
            claims=claims,
            credential_type=ctype,
            issuer=profile,
            default_language=tenant.default_language,
            credential_number=row.credential_number,
            issued_at=_utc(row.issued_at) or row.issued_at,
            expires_at=_utc(row.expires_at),
        )

    def _verified_payload(self, tenant: Tenant, compact: str) -> dict[str, Any]:
        """The processed payload of a credential the tenant signed (any of its keys)."""
        keys = {k.get("kid"): k for k in self.keyring.jwks(tenant.slug)["keys"]}

        def tenant_key(header: Mapping[str, Any], _: Mapping[str, Any]) -> Any:
            jwk = keys.get(header.get("kid"))
            if jwk is None:
                raise errors.RequestInvalidError("the credential is not signed by this centre")
            return public_key_from_jwk(
                {k: v for k, v in jwk.items() if k not in ("kid", "alg", "use")}
            )

        parsed = sdjwt.parse(compact)
        jws = sdjwt.verify_issuer_signature(parsed, tenant_key, typ=VC_TYP)
        if jws.payload.get("iss") != tenant.issuer_url:
            raise errors.RequestInvalidError("the credential is not issued by this centre")
        return sdjwt.process_disclosures(jws.payload, parsed.disclosures)

    # -- registrar web sessions ----------------------------------------------------------
    def key_principal(self, key_id: str) -> Principal:
        """The principal of an API key by its public id, while the key is not revoked (a
        web session holds the id, so revoking the key ends its sessions).

        Raises:
            AuthenticationError: unknown or revoked key.
        """
        with self.read_session() as session:
            row = repo.api_key_by_prefix(session, key_id)
            if row is None or row.revoked_at is not None:
                raise errors.AuthenticationError("unknown or revoked API key")
            tenant = repo.tenant_by_id(session, row.tenant_id)
            assert tenant is not None
            return Principal(row.tenant_id, tenant.slug, row.role, row.prefix)
