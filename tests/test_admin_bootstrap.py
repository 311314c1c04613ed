"""The first admin comes from the command line (never from a default password): an account, a
client people sign in with, and `mobproc user grant-role`; roles show in `user list --json` and
end with `revoke-role`. The migration that brings roles and versions keeps the data it finds."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from conftest import database_url, mobproc, password_grant, remember
from test_schema_migration import upgraded_from


def test_the_first_admin_is_made_from_the_command_line(tmp_path: Path, make_server) -> None:  # noqa: ANN001
    database = tmp_path / "bootstrap.db"
    url = database_url(database)
    secret, password = "B" * 40, "a long admin password"
    remember(secret, password)
    assert mobproc("client", "add", "ops", "--grant", "password", "--scope", "mobproc:admin", "--secret-stdin",
                   "--database", url, stdin=secret + "\n").returncode == 0
    assert mobproc("user", "add", "command://root", "--password-stdin", "--database", url,
                   stdin=password + "\n").returncode == 0
    with make_server(database) as server, httpx.Client(base_url=server.url) as http:
        token = password_grant(http, ("ops", secret), ("command://root", password), scope="mobproc:admin")
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        # Without a role the admin scope is worth nothing.
        assert http.get("/admin/v1/me", headers=headers).status_code == 403
        granted = mobproc("user", "grant-role", "command://root", "admin", "--database", url)
        assert granted.returncode == 0 and "role admin granted" in granted.stdout, granted.stderr
        assert "held already" in mobproc("user", "grant-role", "command://root", "mobproc:admin",
                                         "--database", url).stdout
        assert http.get("/admin/v1/me", headers=headers).json()["role"] == "admin"
        listed = json.loads(mobproc("user", "list", "--json", "--database", url).stdout)
        assert listed == [{"username": "command://root", "tenant": None, "multitenant": False, "domain": None,
                           "locked_until": None, "last_login_at": listed[0]["last_login_at"], "roles": ["admin"]}]
        events = http.get("/admin/v1/audit", headers=headers, params={"event": "role_granted"}).json()["items"]
        assert events[0]["subject"] == "command://root" and events[0]["actor"].startswith("cli:")
        assert mobproc("user", "revoke-role", "command://root", "admin", "--database", url).returncode == 0
        assert http.get("/admin/v1/me", headers=headers).status_code == 403


@pytest.mark.parametrize("args, code, message", [
    (("user", "grant-role", "command://root", "superuser"), 2, "is not a role"),
    (("user", "grant-role", "command://ghost", "admin"), 1, "no account command://ghost"),
    (("user", "revoke-role", "command://root", "auditor"), 1, "does not hold the role auditor"),
])
def test_a_role_refused_is_one_line(tmp_path: Path, args: tuple[str, ...], code: int, message: str) -> None:
    url = database_url(tmp_path / "roles.db")
    remember("pw-root-1")
    assert mobproc("user", "add", "command://root", "--password-stdin", "--database", url,
                   stdin="pw-root-1\n").returncode == 0
    result = mobproc(*args, "--database", url)
    assert result.returncode == code and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.sqlite_only
def test_0009_adds_roles_and_versions_to_existing_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with upgraded_from(path, "0007_mobproc_api",
                       "INSERT INTO clients (environment, client_id, secret_digest, grant_types, scopes, default_scopes,"
                       " enabled, created_at) VALUES ('dev', 'old', x'00', 'password', 'MOBPROC', 'MOBPROC', 1, 0)",
                       "INSERT INTO accounts (environment, source_system, name, password_hash, multitenant, created_at)"
                       " VALUES ('dev', 'command', 'existing', '$argon2id$x', 0, 0)") as new:
        assert new.execute("SELECT client_id, version FROM clients").fetchall() == [("old", 0)]
        assert new.execute("SELECT name, version FROM accounts").fetchall() == [("existing", 0)]
        assert new.execute("SELECT count(*) FROM account_roles").fetchone() == (0,)
        indexes = {row[0] for row in new.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"ix_accounts_search", "ix_audit_events_subject_at", "ix_audit_events_client_at"} <= indexes
    with sqlite3.connect(path) as downgraded:
        tables = {row[0] for row in downgraded.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "account_roles" not in tables
        assert downgraded.execute("SELECT client_id FROM clients").fetchall() == [("old",)]
