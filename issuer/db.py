"""Engines and migrations.

SQLite (the default, a file) runs in WAL mode and opens every writing transaction with
``BEGIN IMMEDIATE``: writers queue on the database lock instead of failing on a late lock
upgrade; read-only sessions (``read_only`` execution option) start a deferred ``BEGIN`` and
read a snapshot without waiting. PostgreSQL serialises writers of one tenant with
``SELECT ... FOR UPDATE`` on the tenant row (see :mod:`issuer.repository`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

__all__ = ["MIGRATIONS", "create_db_engine", "migrate", "normalise_url"]

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations" / "issuer"


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` use the psycopg (3) driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_db_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; a SQLite file's directory is created."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # kept open: a connection made per request costs more than the request
        options.setdefault("pool_size", 20)
        options.setdefault("max_overflow", 20)
        options.setdefault("pool_pre_ping", True)
        return create_engine(url, **options)
    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        # a connection per request thread (anyio's pool has 40): opening one costs PRAGMAs
        options.setdefault("pool_size", 40)
        options.setdefault("max_overflow", 20)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False}, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # writers take the lock up front; sessions marked read_only read a WAL snapshot
        read_only = connection.get_execution_options().get("read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (Alembic)."""
    command.upgrade(alembic_config(url), revision)
