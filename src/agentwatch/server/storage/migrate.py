"""Schema migrations: bring a database to the newest revision, safely from several processes."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

__all__ = ["MIGRATIONS_DIR", "upgrade"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Arbitrary constant: the PostgreSQL advisory lock that serializes concurrent upgrades.
_MIGRATION_LOCK_ID = 0x61677477


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An in-memory Alembic config pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: sa.Engine) -> None:
    """Apply every pending migration in one transaction.

    On PostgreSQL a transaction-scoped advisory lock makes two servers starting at once
    on one database take turns instead of both creating the tables.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        command.upgrade(alembic_config(connection), "head")
