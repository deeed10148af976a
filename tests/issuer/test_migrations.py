"""Migration 0003 gives the status lists of an existing database their index order: the
indices already held come first, so the next credentials never reuse one."""

from __future__ import annotations

from array import array
from pathlib import Path

from alembic import command
from sqlalchemy import text

from issuer.batchcsv import ParsedRow
from issuer.db import alembic_config, create_db_engine, migrate
from issuer.keyring import TenantKeyring
from issuer.service import IssuerService
from passerelle.credtypes import load_types

from .conftest import PASSPHRASE, make_settings, new_tenant
from .helpers import QUALIFICATION, claims


def test_existing_lists_get_an_order_that_skips_the_held_indices(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'issuer.db'}"
    migrate(url)
    settings = make_settings(url, tmp_path / "keys")
    engine = create_db_engine(url)
    keyring = TenantKeyring(settings.key_store, PASSPHRASE)
    service = IssuerService(engine, settings, load_types(), keyring)
    tenant = new_tenant(service)
    rows = [ParsedRow(n, claims()) for n in range(1, 41)]
    service.issue_batch(tenant.principal, type_name=QUALIFICATION, rows=rows, valid_days=None)
    engine.dispose()

    command.downgrade(alembic_config(url), "0002")
    migrate(url)

    engine = create_db_engine(url)
    with engine.connect() as connection:
        held = set(connection.execute(text("SELECT status_idx FROM credential")).scalars())
        (data,) = connection.execute(text("SELECT index_order FROM status_list_order")).one()
        allocated = connection.execute(text("SELECT allocated FROM status_list")).scalar_one()
    order = array("I")
    order.frombytes(data)
    assert sorted(order) == list(range(1024)) and allocated == 40
    assert set(order[:40]) == held
    service = IssuerService(engine, settings, load_types(), keyring)
    more = service.issue_batch(
        tenant.principal, type_name=QUALIFICATION, rows=rows, valid_days=None
    )
    assert not held & {c.record.status_list.idx for c in more.credentials}
    engine.dispose()
