"""Migrations upgrade a database with data in it, and downgrade again."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command

from mobproc.storage.database import Database
from mobproc.storage.migrate import _config, is_current, upgrade


def at_revision(database: Database, revision: str, *, down: bool = False) -> None:
    with database.engine.begin() as connection:
        (command.downgrade if down else command.upgrade)(_config(connection), revision)


@contextmanager
def upgraded_from(path: Path, revision: str, *rows: str, to: str = "head") -> Iterator[sqlite3.Connection]:
    """A database at ``revision`` holding ``rows`` (INSERT statements), upgraded to ``to`` (the
    newest revision): a connection to it, and once the block is done, downgraded to
    ``revision`` again."""
    database = Database(f"sqlite:///{path}")
    at_revision(database, revision)
    with sqlite3.connect(path) as old:
        for row in rows:
            old.execute(row)
    if to == "head":
        upgrade(database)
        assert is_current(database)
    else:
        at_revision(database, to)
    try:
        with sqlite3.connect(path) as new:
            yield new
        at_revision(database, revision, down=True)
    finally:
        database.dispose()


def tables(connection: sqlite3.Connection) -> set[str]:
    return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.mark.sqlite_only
def test_0003_adds_lockout_columns_audit_and_throttle_tables_to_existing_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with upgraded_from(path, "0002", "INSERT INTO accounts (environment, source_system, name, password_hash, "
                       "multitenant, created_at) VALUES ('dev', 'command', 'existing', '$argon2id$x', 0, 0)",
                       to="0003") as new:
        assert new.execute("SELECT failed_logins, lockouts, locked_until FROM accounts").fetchall() == [(0, 0, None)]
        assert {"audit_events", "throttle"} <= tables(new)
    with sqlite3.connect(path) as downgraded:
        assert "audit_events" not in tables(downgraded) and "throttle" not in tables(downgraded)
        assert downgraded.execute("SELECT name FROM accounts").fetchall() == [("existing",)]


@pytest.mark.sqlite_only
def test_0005_gives_existing_signing_keys_the_time_they_began_to_sign(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with upgraded_from(path, "0004", "INSERT INTO signing_keys (environment, kid, alg, public_jwk, private_key, "
                       "created_at) VALUES ('dev', 'k1', 'ES256', '{}', NULL, 1234.5)") as new:
        assert new.execute("SELECT signs_from FROM signing_keys").fetchall() == [(1234.5,)]
    with sqlite3.connect(path) as downgraded:
        assert "signs_from" not in [row[1] for row in downgraded.execute("PRAGMA table_info(signing_keys)")]


@pytest.mark.sqlite_only
def test_0006_moves_lockout_to_login_attempts_and_keeps_the_accounts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with upgraded_from(path, "0005_staged_signing_keys",
                       "INSERT INTO accounts (environment, source_system, name, password_hash, multitenant, created_at,"
                       " failed_logins, lockouts, locked_until) VALUES ('dev', 'command', 'existing', '$argon2id$x', 0,"
                       " 0, 3, 1, 99)") as new:
        assert new.execute("SELECT name, credential_version, last_login_at FROM accounts").fetchall() == [
            ("existing", 0, None)]
        assert {"login_attempts", "deployment_secrets"} <= tables(new)
    with sqlite3.connect(path) as downgraded:
        assert downgraded.execute("SELECT name, failed_logins, locked_until FROM accounts").fetchall() == [
            ("existing", 0, None)]


@pytest.mark.sqlite_only
def test_0008_gives_existing_clients_and_keys_the_sign_in_defaults_and_a_ring(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with upgraded_from(path, "0007_mobproc_api",
                       "INSERT INTO clients (environment, client_id, secret_digest, grant_types, scopes, default_scopes,"
                       " enabled, created_at) VALUES ('dev', 'app', x'00', 'password', 'MOBPROC', 'MOBPROC', 1, 0)",
                       "INSERT INTO signing_keys (environment, kid, alg, public_jwk, private_key, created_at, signs_from)"
                       " VALUES ('dev', 'k1', 'ES256', '{}', NULL, 1, 1)") as new:
        assert new.execute("SELECT redirect_uris, public, pkce, trusted, access_token_lifetime, id_token_alg"
                           " FROM clients").fetchall() == [("", 0, "required", 0, None, None)]
        assert new.execute("SELECT kid, ring FROM signing_keys").fetchall() == [("k1", "access")]
        assert {"browser_sessions", "authorization_codes", "consents"} <= tables(new)
        # One newest key per environment and ring: an ID-token key beside the access tokens' one.
        new.execute("INSERT INTO signing_keys (environment, kid, alg, public_jwk, created_at, ring)"
                    " VALUES ('dev', 'k2', 'RS256', '{}', 2, 'id_token')")
        with pytest.raises(sqlite3.IntegrityError):
            new.execute("INSERT INTO signing_keys (environment, kid, alg, public_jwk, created_at, ring)"
                        " VALUES ('dev', 'k3', 'RS256', '{}', 3, 'id_token')")
        new.commit()
    with sqlite3.connect(path) as downgraded:
        assert "browser_sessions" not in tables(downgraded)
        assert downgraded.execute("SELECT kid FROM signing_keys").fetchall() == [("k1",)]
        assert downgraded.execute("SELECT client_id FROM clients").fetchall() == [("app",)]
