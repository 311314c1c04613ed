"""Schema migrations with Alembic: the server upgrades on start; ``mobproc db upgrade`` alone."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from .database import Database

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant: the key of the PostgreSQL advisory lock that serialises migrations.
MIGRATION_LOCK = 0x6D6F6270  # "mobp"


def _config(connection=None) -> Config:  # noqa: ANN001
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(database: Database) -> None:
    """Upgrade to the newest revision. Safe from several machines at once: the migration
    runs under a database-wide lock (an advisory lock on PostgreSQL, an exclusive
    transaction on SQLite), so one upgrades and the others wait, then find it done."""
    with database.engine.connect() as connection:
        connection = connection.execution_options(sqlite_begin="EXCLUSIVE")
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            command.upgrade(_config(connection), "head")


def is_current(database: Database) -> bool:
    """True when the database's schema is the one this code expects."""
    heads = set(ScriptDirectory.from_config(_config()).get_heads())
    with database.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads()) == heads


def revision(database: Database, message: str) -> None:
    """For developers: write a new migration by comparing the schema with the database."""
    with database.engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
