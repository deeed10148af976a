"""Alembic environment of the issuer database (configured by ``issuer.db.alembic_config``)."""

from __future__ import annotations

from alembic import context

from issuer import models
from issuer.db import create_db_engine

target_metadata = models.SQLModel.metadata


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # batch mode rebuilds a table by copy, drop and rename, which the foreign
                # keys of the rows pointing at it would refuse; the pragma only takes
                # effect outside a transaction, hence on the driver's connection
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
