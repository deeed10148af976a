"""Engines and migrations.

SQLite (the default, a file) runs in WAL mode and opens every writing transaction with
``BEGIN IMMEDIATE``, after its turn at the :class:`WriterGate`: writers queue instead of
failing on a late lock upgrade or polling the lock; read-only sessions (``read_only``
execution option) start a deferred ``BEGIN`` and read a snapshot without waiting.
PostgreSQL serialises writers of one tenant with ``SELECT ... FOR UPDATE`` on the tenant
row (see :mod:`issuer.repository`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's busy timeout alone orders the processes
    fcntl = None  # type: ignore[assignment]

__all__ = ["MIGRATIONS", "WriterGate", "create_db_engine", "migrate", "normalise_url"]

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
    gate = WriterGate(Path(f"{database}.writers")) if database and database != ":memory:" else None

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
        info = connection.connection.info
        if not read_only and gate is not None and not info.get("writer_gate"):
            gate.acquire()  # held until the connection goes back to the pool
            info["writer_gate"] = True
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # after the commit or rollback, when the connection goes back to the pool
        if record is not None and record.info.pop("writer_gate", False) and gate is not None:
            gate.release()

    return engine


class WriterGate:
    """SQLite writers of every process, one at a time, each woken as soon as the last one
    is done.

    SQLite makes a writer that finds the database locked poll: its busy handler sleeps 1,
    2, 5 ... up to 100 ms between tries, so two issuer processes writing in turn make each
    other wait tens of milliseconds for a lock released long before. Here writers queue on
    an exclusive ``flock`` of a file beside the database, which the kernel hands to the
    next waiter the moment it is released (and releases itself when a process dies), and
    ``BEGIN IMMEDIATE`` then finds the database free. Within a process, a thread lock with a
    timeout keeps one thread at the file lock and turns a writer waiting for itself into an
    error, as SQLite's busy timeout did. A writer that does not use the gate (``sqlite3``
    by hand) is still covered by SQLite's own lock and busy timeout.
    """

    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        self._path = path
        self._timeout = timeout
        self._local = threading.Lock()
        self._fd: int | None = None

    def acquire(self) -> None:
        if not self._local.acquire(timeout=self._timeout):
            raise sqlite3.OperationalError("database is locked (another writer of this process)")
        try:
            if fcntl is not None:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._local.release()
            raise

    def release(self) -> None:
        if fcntl is not None and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._local.release()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (Alembic)."""
    command.upgrade(alembic_config(url), revision)
