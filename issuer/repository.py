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
import secrets
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, update
from sqlmodel import Session, col, select

from issuer.models import (
    GENESIS_HASH,
    ApiKey,
    AuditEvent,
    Credential,
    IdempotencyRecord,
    StatusList,
    Tenant,
)
from passerelle.statuslist import IndexAllocator

__all__ = [
    "IndexCache",
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


def lock_tenant(session: Session, tenant_id: int) -> Tenant:
    """The tenant row, locked until the end of the transaction (refreshed from the database)."""
    statement = (
        select(Tenant)
        .where(Tenant.id == tenant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).one()


def all_tenants(session: Session) -> Sequence[Tenant]:
    return session.exec(select(Tenant).order_by(col(Tenant.id))).all()


def api_key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()


def api_keys(session: Session, tenant_id: int) -> Sequence[ApiKey]:
    statement = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(col(ApiKey.id))
    return session.exec(statement).all()


# -- status lists ----------------------------------------------------------------------------
class IndexCache:
    """Per-process allocators of free status indices, one per list.

    An allocator is reused only while the list row's ``alloc_tag`` is the tag this process
    wrote last: any allocation elsewhere (another process) or a rolled back transaction
    changes or keeps another tag, and the taken indices are then read again.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[str, IndexAllocator]] = {}
        self._lock = threading.Lock()

    def allocate(self, session: Session, status_list: StatusList, count: int) -> list[int]:
        """Up to ``count`` free indices of ``status_list`` (a row locked by the caller)."""
        assert status_list.id is not None
        with self._lock:
            entry = self._entries.get(status_list.id)
            if entry is None or entry[0] != status_list.alloc_tag:
                taken = session.exec(
                    select(Credential.status_idx).where(Credential.status_list_id == status_list.id)
                ).all()
                allocator = IndexAllocator(status_list.size, taken=taken)
            else:
                allocator = entry[1]
            wanted = min(count, allocator.remaining)
            indices = [allocator.allocate() for _ in range(wanted)]
            tag = secrets.token_hex(8)
            status_list.alloc_tag = tag
            status_list.allocated = status_list.size - allocator.remaining
            session.add(status_list)
            self._entries[status_list.id] = (tag, allocator)
            return indices


def open_status_list(session: Session, tenant_id: int) -> StatusList | None:
    """The tenant's newest list with free indices, locked; ``None`` when there is none."""
    statement = (
        select(StatusList)
        .where(StatusList.tenant_id == tenant_id, StatusList.allocated < StatusList.size)
        .order_by(col(StatusList.number).desc())
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).first()


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
        session.execute(insert(Credential), rows)


def credential(session: Session, tenant_id: int, public_id: str) -> Credential | None:
    statement = select(Credential).where(
        Credential.tenant_id == tenant_id, Credential.public_id == public_id
    )
    return session.exec(statement).first()


def credentials_by_ids(session: Session, ids: Iterable[str]) -> Sequence[Credential]:
    statement = select(Credential).where(col(Credential.public_id).in_(list(ids)))
    return session.exec(statement.order_by(col(Credential.number))).all()


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


def append_audit(session: Session, tenant: Tenant, events: list[dict[str, Any]]) -> None:
    """Chain ``events`` (``at``, ``actor``, ``action``, ``subject``, ``reason``, ``data``)
    after the tenant's head. The tenant row must be locked by the caller."""
    assert tenant.id is not None
    head, seq = tenant.audit_head, tenant.audit_seq
    rows: list[dict[str, Any]] = []
    for event in events:
        seq += 1
        row = {"tenant_id": tenant.id, "seq": seq, **event}
        digest = audit_digest(head, audit_document(tenant.slug, row))
        row.update(prev_hash=head, hash=digest)
        rows.append(row)
        head = digest
    if rows:
        session.execute(insert(AuditEvent), rows)
    tenant.audit_head, tenant.audit_seq = head, seq
    session.add(tenant)


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


def genesis() -> str:
    return GENESIS_HASH


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
