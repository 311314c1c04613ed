"""Schema migrations with Alembic: the server upgrades on start; ``mobproc db upgrade`` alone."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .database import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(connection=None) -> Config:  # noqa: ANN001
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(database: Database) -> None:
    with database.engine.begin() as connection:
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
