"""Run by test_crash: issue a large batch and report progress on stdout until killed."""

from __future__ import annotations

import sys
from pathlib import Path

from issuer.batchcsv import ParsedRow
from issuer.db import create_db_engine
from issuer.keyring import TenantKeyring
from issuer.service import IssuerService
from issuer.settings import IssuerSettings
from passerelle.credtypes import load_types

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.issuer.helpers import QUALIFICATION, claims


def main() -> None:
    url, key_store, passphrase, slug, count = sys.argv[1:6]
    settings = IssuerSettings(
        database_url=url,
        key_store=Path(key_store),
        key_passphrase=passphrase,
        public_url="https://issuer.example",
        status_list_size=131_072,
    )
    service = IssuerService(
        create_db_engine(url), settings, load_types(), TenantKeyring(Path(key_store), passphrase)
    )
    rows = [ParsedRow(n, claims()) for n in range(1, int(count) + 1)]

    def progress(done: int, total: int) -> None:
        print(done, flush=True)

    service.issue_batch(
        service.cli_principal(slug),
        type_name=QUALIFICATION,
        rows=rows,
        valid_days=None,
        progress=progress,
    )
    print("committed", flush=True)


if __name__ == "__main__":
    main()
