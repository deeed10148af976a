"""Several issuers (each with its own engine and caches, as separate processes have) issue
and revoke at once on one database: numbers, status indices and the audit chain stay right."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session, select

from issuer.batchcsv import ParsedRow
from issuer.db import create_db_engine
from issuer.keyring import TenantKeyring
from issuer.models import Credential
from issuer.service import IssuerService
from passerelle.credtypes import load_types

from .conftest import PASSPHRASE
from .helpers import QUALIFICATION, claims

WORKERS = 6
BATCHES = 4
ROWS = 15


def _issuers(settings, count: int) -> list[IssuerService]:
    """Issuers with an engine and caches of their own each, as separate processes have."""
    types = load_types()
    return [
        IssuerService(
            create_db_engine(settings.database_url),
            settings,
            types,
            TenantKeyring(settings.key_store, PASSPHRASE),
        )
        for _ in range(count)
    ]


def test_concurrent_issuers_share_one_database(service: IssuerService, tenant, settings):
    issuers = _issuers(settings, WORKERS)

    def work(issuer: IssuerService) -> list[str]:
        ids = []
        for _ in range(BATCHES):
            rows = [ParsedRow(n, claims()) for n in range(1, ROWS + 1)]
            batch = issuer.issue_batch(
                tenant.principal, type_name=QUALIFICATION, rows=rows, valid_days=None
            )
            ids += [c.record.id for c in batch.credentials]
            issuer.change_status(tenant.principal, ids[-1], "revoke", "test")
        return ids

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(work, issuers))
    total = WORKERS * BATCHES * ROWS
    assert sum(len(r) for r in results) == total
    with Session(service.engine) as session:
        rows = session.exec(
            select(Credential).where(Credential.tenant_id == tenant.principal.tenant_id)
        ).all()
    assert len(rows) == total
    assert sorted(r.number for r in rows) == list(range(1, total + 1))
    assert len({(r.status_list_id, r.status_idx) for r in rows}) == total
    # 360 credentials in lists of 1,024 entries: one list, every index distinct
    assert sum(r.status == "revoked" for r in rows) == WORKERS * BATCHES
    assert service.verify_audit(tenant.principal).valid
    token, _ = service.status_list_token(tenant.slug, 1)
    from passerelle.statuslist import parse_status_list_token

    statuses = parse_status_list_token(token).status_list
    assert sum(1 for _ in statuses.nonzero()) == WORKERS * BATCHES
    for issuer in issuers:
        issuer.engine.dispose()


def test_lists_roll_over_when_full(service: IssuerService, tenant):
    rows = [ParsedRow(n, claims()) for n in range(1, 1101)]
    batch = service.issue_batch(tenant.principal, type_name=QUALIFICATION, rows=rows, valid_days=1)
    uris = {c.record.status_list.uri for c in batch.credentials}
    assert len(uris) == 2
    positions = {(c.record.status_list.uri, c.record.status_list.idx) for c in batch.credentials}
    assert len(positions) == 1100


def test_single_issuances_from_threads_of_several_issuers(service: IssuerService, tenant, settings):
    issuers = _issuers(settings, 2)

    def one(n: int) -> str:
        issued = issuers[n % 2].issue(
            tenant.principal,
            type_name=QUALIFICATION,
            claims=claims(),
            holder_jwk=None,
            valid_days=None,
        )
        return issued.record.id

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(one, range(80)))
    assert len(set(ids)) == 80
    with Session(service.engine) as session:
        rows = session.exec(
            select(Credential).where(Credential.tenant_id == tenant.principal.tenant_id)
        ).all()
    assert sorted(r.number for r in rows) == list(range(1, 81))
    indices = [r.status_idx for r in rows]
    assert len(set(indices)) == 80
    # drawn at random over the 1,024 entries, not handed out in order
    assert max(indices) > 512 and sorted(indices) != indices
    assert service.verify_audit(tenant.principal).valid
    for issuer in issuers:
        issuer.engine.dispose()


def test_a_list_fills_to_its_last_index(service: IssuerService, tenant):
    for size in (1000, 24):  # the random draws, then the last free indices read in full
        rows = [ParsedRow(n, claims()) for n in range(1, size + 1)]
        service.issue_batch(tenant.principal, type_name=QUALIFICATION, rows=rows, valid_days=1)
    with Session(service.engine) as session:
        rows_in_db = session.exec(
            select(Credential).where(Credential.tenant_id == tenant.principal.tenant_id)
        ).all()
    first_list = {
        r.status_idx for r in rows_in_db if r.status_list_id == rows_in_db[0].status_list_id
    }
    assert first_list == set(range(1024))
    assert len({r.status_list_id for r in rows_in_db}) == 1
