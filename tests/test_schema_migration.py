"""Migrations upgrade a database with accounts in it, and downgrade again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command

from mobproc.storage.database import Database
from mobproc.storage.migrate import _config, is_current, upgrade


@pytest.mark.sqlite_only
def test_0003_adds_lockout_columns_audit_and_throttle_tables_to_existing_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    database = Database(f"sqlite:///{path}")
    with database.engine.begin() as connection:
        command.upgrade(_config(connection), "0002")
    with sqlite3.connect(path) as old:
        old.execute("INSERT INTO accounts (environment, source_system, name, password_hash, multitenant, created_at)"
                    " VALUES ('dev', 'command', 'existing', '$argon2id$x', 0, 0)")
    with database.engine.begin() as connection:
        command.upgrade(_config(connection), "0003")
    with sqlite3.connect(path) as new:
        assert new.execute("SELECT failed_logins, lockouts, locked_until FROM accounts").fetchall() == [(0, 0, None)]
        tables = {row[0] for row in new.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"audit_events", "throttle"} <= tables
    with database.engine.begin() as connection:
        command.downgrade(_config(connection), "0002")
    with sqlite3.connect(path) as downgraded:
        tables = {row[0] for row in downgraded.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "audit_events" not in tables and "throttle" not in tables
        assert downgraded.execute("SELECT name FROM accounts").fetchall() == [("existing",)]
    database.dispose()


@pytest.mark.sqlite_only
def test_0006_moves_lockout_to_login_attempts_and_keeps_the_accounts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    database = Database(f"sqlite:///{path}")
    with database.engine.begin() as connection:
        command.upgrade(_config(connection), "0004")
    with sqlite3.connect(path) as old:
        old.execute("INSERT INTO accounts (environment, source_system, name, password_hash, multitenant, created_at,"
                    " failed_logins, lockouts, locked_until) VALUES ('dev', 'command', 'existing', '$argon2id$x', 0, 0,"
                    " 3, 1, 99)")
    upgrade(database)
    assert is_current(database)
    with sqlite3.connect(path) as new:
        assert new.execute("SELECT name, credential_version, last_login_at FROM accounts").fetchall() == [
            ("existing", 0, None)]
        tables = {row[0] for row in new.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"login_attempts", "deployment_secrets"} <= tables
    with database.engine.begin() as connection:
        command.downgrade(_config(connection), "0004")
    with sqlite3.connect(path) as downgraded:
        assert downgraded.execute("SELECT name, failed_logins, locked_until FROM accounts").fetchall() == [
            ("existing", 0, None)]
    database.dispose()
