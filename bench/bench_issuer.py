"""Issuer benchmarks: a 10,000-row CSV batch end to end (parse, validate, sign, allocate,
persist) on SQLite and PostgreSQL, and publishing a revocation in a 1,048,576-entry list
(revoke, then fetch the re-signed Status List Token).

    .venv/bin/python bench/bench_issuer.py [--rows 10000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import csv
import io
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from issuer.db import create_db_engine, migrate
from issuer.keyring import TenantKeyring
from issuer.service import IssuerService, TenantProfile
from issuer.settings import IssuerSettings
from passerelle.credtypes import load_types

PASSPHRASE = "bench-passphrase"
HEADER = [
    "given_name", "family_name", "birthdate", "nationalities", "qualification.title.fr",
    "qualification.title.ar", "qualification.awarded_on", "qualification.isco08",
    "qualification.eqf_level", "qualification.nqf.framework", "qualification.nqf.level",
    "qualification.isced_f", "qualification.learning_hours", "qualification.assessment_method",
    "qualification.language_of_instruction", "qualification.country_of_award",
]  # fmt: skip


def cohort(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for n in range(rows):
        writer.writerow(
            ["Youssef", f"El Amrani {n}", "1998-04-17", "MA", "Soudeur qualifié", "لحّام مؤهل",
             "2025-07-04", "7212", "3", "CNC Maroc", "3", "0715", "1600", "mixed", "fr", "MA"]
        )  # fmt: skip
    return out.getvalue().encode()


def service_for(url: str, keys: Path, list_size: int) -> IssuerService:
    migrate(url)
    settings = IssuerSettings(
        database_url=url,
        key_store=keys,
        key_passphrase=PASSPHRASE,
        public_url="https://issuer.example",
        status_list_size=list_size,
    )
    return IssuerService(
        create_db_engine(url), settings, load_types(), TenantKeyring(keys, PASSPHRASE)
    )


def bench_batch(name: str, url: str, keys: Path, rows: int) -> None:
    service = service_for(url, keys, 131_072)
    slug = "bench-" + secrets.token_hex(3)
    service.create_tenant(TenantProfile(slug=slug, names={"fr": "Bench"}, country="MA"))
    principal = service.cli_principal(slug)
    data = cohort(rows)
    start = time.perf_counter()
    parsed = service.parse_csv("QualificationCredential", data)
    result = service.issue_batch(
        principal, type_name="QualificationCredential", rows=parsed, valid_days=3650
    )
    elapsed = time.perf_counter() - start
    assert result.count == rows
    print(f"{name}: batch of {rows} from CSV: {elapsed:.2f} s, {rows / elapsed:,.0f} credentials/s")
    service.engine.dispose()


def bench_revocation(name: str, url: str, keys: Path, repeats: int = 20) -> None:
    size = 1_048_576
    service = service_for(url, keys, size)
    slug = "rev-" + secrets.token_hex(3)
    service.create_tenant(TenantProfile(slug=slug, names={"fr": "Bench"}, country="MA"))
    principal = service.cli_principal(slug)
    rows = service.parse_csv("QualificationCredential", cohort(repeats))
    batch = service.issue_batch(
        principal, type_name="QualificationCredential", rows=rows, valid_days=None
    )
    service.status_list_token(slug, 1)  # the first signature
    timings = []
    for item in batch.credentials:
        start = time.perf_counter()
        service.change_status(principal, item.record.id, "revoke", "bench")
        service.status_list_token(slug, 1)
        timings.append((time.perf_counter() - start) * 1000)
    print(
        f"{name}: revoke + re-signed Status List Token ({size:,} entries): "
        f"median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms"
    )
    service.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        keys = Path(folder) / "keys"
        sqlite = f"sqlite:///{folder}/bench.db"
        bench_batch("sqlite", sqlite, keys, args.rows)
        bench_revocation("sqlite", sqlite, keys)
        name = "issuer_bench_" + secrets.token_hex(3)
        try:
            admin = psycopg.connect(args.postgres, autocommit=True, connect_timeout=3)
        except psycopg.OperationalError as exc:
            print(f"postgresql: skipped ({exc})")
            return
        with admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        base = args.postgres.rsplit("/", 1)[0]
        try:
            pg = f"{base}/{name}"
            bench_batch("postgresql", pg, keys, args.rows)
            bench_revocation("postgresql", pg, keys)
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
