"""Killing the issuing process (SIGKILL) in the middle of a batch leaves all or nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, func, select

from issuer.models import Credential
from issuer.service import IssuerService

from .conftest import PASSPHRASE

WORKER = Path(__file__).with_name("crash_worker.py")


def _count(service: IssuerService, tenant_id: int) -> int:
    with Session(service.engine) as session:
        statement = select(func.count()).select_from(Credential)
        return session.exec(statement.where(Credential.tenant_id == tenant_id)).one()


def test_sigkill_mid_batch_leaves_nothing(service: IssuerService, tenant, settings):
    process = subprocess.Popen(
        [
            sys.executable,
            str(WORKER),
            settings.database_url,
            str(settings.key_store),
            PASSPHRASE,
            tenant.slug,
            "3000",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # wait until it is half-way through signing
        if line.strip().isdigit() and int(line) >= 1500:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert _count(service, tenant.principal.tenant_id) == 0
    assert service.verify_audit(tenant.principal).valid
    # the database is still usable and the next batch is whole
    completed = subprocess.run(
        [
            sys.executable,
            str(WORKER),
            settings.database_url,
            str(settings.key_store),
            PASSPHRASE,
            tenant.slug,
            "300",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert completed.stdout.strip().endswith("committed")
    assert _count(service, tenant.principal.tenant_id) == 300
