"""Storage: queries that read and write rows. No business rules, no signing.

Concurrency: every write of a tenant's data starts with :func:`lock_tenant`
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions are ``BEGIN IMMEDIATE``), so
credential numbers, status indices and the audit chain of one tenant are handed out by one
transaction at a time, whichever process it runs in. The unique constraints on
``(status_list_id, status_idx)`` and ``(tenant_id, number)`` back this up.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from issuer.models import (
    ApiKey,
    AuditEvent,
    Credential,
    IdempotencyRecord,
    StatusList,
    StatusListOrder,
    Tenant,
)

__all__ = [
    "ListSlot",
    "LockedTenant",
    "append_audit",
    "audit_digest",
    "canonical_json",
]


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes the audit chain hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# -- tenants and keys ------------------------------------------------------------------------
def tenant_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.exec(select(Tenant).where(Tenant.slug == slug)).first()


def tenant_by_id(session: Session, tenant_id: int) -> Tenant | None:
    return session.get(Tenant, tenant_id)


@dataclass(slots=True)
class LockedTenant:
    """The columns of a tenant row that its writers need, read under the row lock; the
    writers below keep ``next_number`` and the audit head up to date as they go."""

    id: int
    slug: str
    issuer_url: str
    credential_prefix: str
    next_number: int
    audit_seq: int
    audit_head: str


# The statements of the issuing path are built once: building one costs more than running it.
_TENANT = Tenant.__table__  # type: ignore[attr-defined]
_STATUS_LIST = StatusList.__table__  # type: ignore[attr-defined]
_CREDENTIAL = Credential.__table__  # type: ignore[attr-defined]
_AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]
_API_KEY = ApiKey.__table__  # type: ignore[attr-defined]
_LOCK_TENANT = (
    sa_select(
        _TENANT.c.id,
        _TENANT.c.slug,
        _TENANT.c.issuer_url,
        _TENANT.c.credential_prefix,
        _TENANT.c.next_number,
        _TENANT.c.audit_seq,
        _TENANT.c.audit_head,
    )
    .where(_TENANT.c.id == bindparam("tenant_id"))
    .with_for_update()
)
_SET_NEXT_NUMBER = (
    update(_TENANT)
    .where(_TENANT.c.id == bindparam("tenant_id"))
    .values(next_number=bindparam("next_number"))
)
_SET_AUDIT_HEAD = (
    update(_TENANT)
    .where(_TENANT.c.id == bindparam("tenant_id"))
    .values(audit_head=bindparam("head"), audit_seq=bindparam("seq"))
)
_KEY_HOLDER = (
    sa_select(
        _API_KEY.c.tenant_id,
        _TENANT.c.slug,
        _API_KEY.c.role,
        _API_KEY.c.secret_hash,
        _API_KEY.c.revoked_at,
    )
    .join_from(_API_KEY, _TENANT, _API_KEY.c.tenant_id == _TENANT.c.id)
    .where(_API_KEY.c.prefix == bindparam("prefix"))
)
_OPEN_LIST = (
    sa_select(_STATUS_LIST.c.id, _STATUS_LIST.c.uri, _STATUS_LIST.c.size, _STATUS_LIST.c.allocated)
    .where(
        _STATUS_LIST.c.tenant_id == bindparam("tenant_id"),
        _STATUS_LIST.c.allocated < _STATUS_LIST.c.size,
    )
    .order_by(_STATUS_LIST.c.number.desc())
    .limit(1)
    .with_for_update()
)
_ORDER = StatusListOrder.__table__  # type: ignore[attr-defined]
_LIST_ORDER = sa_select(_ORDER.c.index_order).where(_ORDER.c.status_list_id == bindparam("list_id"))
_ADD_ALLOCATED = (
    update(_STATUS_LIST)
    .where(_STATUS_LIST.c.id == bindparam("list_id"))
    .values(allocated=_STATUS_LIST.c.allocated + bindparam("count"))
)
_INSERT_CREDENTIALS = insert(_CREDENTIAL)
_INSERT_AUDIT = insert(_AUDIT)


def lock_tenant(session: Session, tenant_id: int) -> LockedTenant:
    """The tenant row, locked until the end of the transaction."""
    return LockedTenant(*session.connection().execute(_LOCK_TENANT, {"tenant_id": tenant_id}).one())


def take_numbers(session: Session, tenant: LockedTenant, count: int) -> int:
    """The first of ``count`` consecutive credential numbers, from now on taken."""
    first = tenant.next_number
    tenant.next_number = first + count
    session.connection().execute(
        _SET_NEXT_NUMBER, {"tenant_id": tenant.id, "next_number": tenant.next_number}
    )
    return first


def all_tenants(session: Session) -> Sequence[Tenant]:
    return session.exec(select(Tenant).order_by(col(Tenant.id))).all()


def api_key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()


def api_key_holder(connection: Connection, prefix: str) -> tuple[Any, ...] | None:
    """``(tenant id, tenant slug, role, secret hash, revoked at)`` of a key, in one query."""
    row = connection.execute(_KEY_HOLDER, {"prefix": prefix}).first()
    return tuple(row) if row is not None else None


def api_keys(session: Session, tenant_id: int) -> Sequence[ApiKey]:
    statement = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(col(ApiKey.id))
    return session.exec(statement).all()


# -- status lists ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ListSlot:
    """Where new credentials go: a status list's id, URI, size and indices handed out."""

    id: int
    uri: str
    size: int
    allocated: int


def open_status_list(session: Session, tenant_id: int) -> ListSlot | None:
    """The tenant's newest list with free indices, locked; ``None`` when there is none."""
    row = session.connection().execute(_OPEN_LIST, {"tenant_id": tenant_id}).first()
    return ListSlot(*row) if row is not None else None


def list_order(session: Session, list_id: int) -> bytes:
    """A list's ``index_order`` (fixed when the list was made)."""
    return bytes(session.connection().execute(_LIST_ORDER, {"list_id": list_id}).scalar_one())


def take_indices(session: Session, slot: ListSlot, count: int, order: array[int]) -> list[int]:
    """Up to ``count`` indices of ``slot`` (locked by the caller): the next entries of its
    random ``order``, from now on counted as allocated.

    The order is a permutation drawn when the list was made, so indices look random to
    anyone outside (herd privacy) while handing them out is one counter update: no two
    transactions, in this process or another, can take the same entry, and a reservation
    never has to be looked up. Entries taken by a transaction that is later lost stay
    unused.
    """
    start = slot.allocated
    picks = order[start : min(start + count, slot.size)].tolist()
    if picks:
        session.connection().execute(_ADD_ALLOCATED, {"list_id": slot.id, "count": len(picks)})
    return picks


def next_list_number(session: Session, tenant_id: int) -> int:
    statement = select(func.max(StatusList.number)).where(StatusList.tenant_id == tenant_id)
    current = session.exec(statement).one()
    return (current or 0) + 1


def status_list(session: Session, tenant_id: int, number: int) -> StatusList | None:
    statement = select(StatusList).where(
        StatusList.tenant_id == tenant_id, StatusList.number == number
    )
    return session.exec(statement).first()


def lock_status_list(session: Session, list_id: int) -> StatusList:
    statement = (
        select(StatusList)
        .where(StatusList.id == list_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).one()


def store_signed_token(
    session: Session, list_id: int, *, token: str, version: int, exp: int, etag: str
) -> None:
    """Keep a freshly signed token unless a newer version was stored meanwhile."""
    session.execute(
        update(StatusList)
        .where(col(StatusList.id) == list_id, col(StatusList.token_version) <= version)
        .values(token=token, token_version=version, token_exp=exp, etag=etag)
    )


# -- credentials -----------------------------------------------------------------------------
def insert_credentials(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.connection().execute(_INSERT_CREDENTIALS, rows)


def credential(session: Session, tenant_id: int, public_id: str) -> Credential | None:
    statement = select(Credential).where(
        Credential.tenant_id == tenant_id, Credential.public_id == public_id
    )
    return session.exec(statement).first()


def search_credentials(
    session: Session,
    tenant_id: int,
    *,
    query: str | None,
    status: str | None,
    type_name: str | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[Credential], int]:
    """A page of a tenant's credentials, newest first, and the total number matching."""
    conditions: list[Any] = [Credential.tenant_id == tenant_id]
    if query:
        needle = query.lower()
        conditions.append(
            or_(
                func.lower(Credential.holder_name).contains(needle, autoescape=True),
                func.lower(Credential.credential_number).contains(needle, autoescape=True),
                col(Credential.public_id) == query,
            )
        )
    if status:
        conditions.append(Credential.status == status)
    if type_name:
        conditions.append(Credential.type_name == type_name)
    total = session.exec(select(func.count()).select_from(Credential).where(*conditions)).one()
    statement = (
        select(Credential)
        .where(*conditions)
        .order_by(col(Credential.number).desc())
        .offset(offset)
        .limit(limit)
    )
    return session.exec(statement).all(), int(total)


# -- audit -----------------------------------------------------------------------------------
def audit_digest(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical_json(event)).hexdigest()


def audit_document(tenant_slug: str, row: AuditEvent | dict[str, Any]) -> dict[str, Any]:
    """The part of an event the hash covers (every column but the hashes and ids)."""
    values = row if isinstance(row, dict) else row.model_dump()
    get = values.get
    return {
        "tenant": tenant_slug,
        "seq": get("seq"),
        "at": iso(values["at"]),
        "actor": get("actor"),
        "action": get("action"),
        "subject": get("subject"),
        "reason": get("reason"),
        "data": get("data"),
    }


def append_audit(session: Session, tenant: LockedTenant, events: list[dict[str, Any]]) -> None:
    """Chain ``events`` (``at``, ``actor``, ``action``, ``subject``, ``reason``, ``data``)
    after the tenant's head. The tenant row must be locked by the caller."""
    head, seq = tenant.audit_head, tenant.audit_seq
    rows: list[dict[str, Any]] = []
    for event in events:
        seq += 1
        row = {"tenant_id": tenant.id, "seq": seq, **event}
        digest = audit_digest(head, audit_document(tenant.slug, row))
        row.update(prev_hash=head, hash=digest)
        rows.append(row)
        head = digest
    if not rows:
        return
    connection = session.connection()
    connection.execute(_INSERT_AUDIT, rows)
    tenant.audit_head, tenant.audit_seq = head, seq
    connection.execute(_SET_AUDIT_HEAD, {"tenant_id": tenant.id, "head": head, "seq": seq})


def audit_events(
    session: Session, tenant_id: int, *, after: int = 0, limit: int | None = None
) -> Sequence[AuditEvent]:
    statement = (
        select(AuditEvent)
        .where(AuditEvent.tenant_id == tenant_id, AuditEvent.seq > after)
        .order_by(col(AuditEvent.seq))
    )
    if limit is not None:
        statement = statement.limit(limit)
    return session.exec(statement).all()


# -- idempotency -----------------------------------------------------------------------------
def idempotency_record(session: Session, tenant_id: int, key: str) -> IdempotencyRecord | None:
    statement = select(IdempotencyRecord).where(
        IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key
    )
    return session.exec(statement).first()


def save_idempotency(
    session: Session,
    tenant_id: int,
    key: str,
    *,
    request_hash: str,
    status_code: int,
    response: str,
    now: datetime,
    keep: timedelta,
) -> None:
    """Store a response under ``key`` and forget the tenant's records older than ``keep``."""
    session.execute(
        IdempotencyRecord.__table__.delete().where(  # type: ignore[attr-defined]
            col(IdempotencyRecord.tenant_id) == tenant_id,
            col(IdempotencyRecord.created_at) < now - keep,
        )
    )
    session.add(
        IdempotencyRecord(
            tenant_id=tenant_id,
            key=key,
            request_hash=request_hash,
            status_code=status_code,
            response=response,
            created_at=now,
        )
    )
