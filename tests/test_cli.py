"""CONTRACT §6: the command line. Secrets come from standard input, never from argv."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from conftest import database_url, dump_database, mobproc, mobproc_process, password_grant, refresh_grant, remember


@pytest.fixture
def database(tmp_path: Path) -> str:
    return database_url(tmp_path / "cli.db")


def test_client_add_generates_a_32_character_secret_printed_once(database: str) -> None:
    result = mobproc("client", "add", "app1", "--grant", "password", "--grant", "refresh_token", "--scope", "MOBPROC",
                     "--database", database)
    assert result.returncode == 0, result.stderr
    secret = re.search(r"client_secret: ([A-Za-z0-9]+)", result.stdout).group(1)
    remember(secret)
    assert len(secret) == 32
    listing = mobproc("client", "list", "--database", database)
    assert "app1" in listing.stdout and "password,refresh_token" in listing.stdout and secret not in listing.stdout
    assert secret not in dump_database(database)


def test_an_imported_secret_shorter_than_32_characters_is_refused(database: str) -> None:
    # The installed executable itself: a secret on its standard input, a usage error's exit
    # status, and no traceback in what it prints.
    result = mobproc_process("client", "add", "app2", "--grant", "password", "--secret-stdin", "--database", database,
                     stdin="tooshort\n")
    assert result.returncode == 2
    assert "at least 32 characters" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_grant_type_is_refused(database: str) -> None:
    result = mobproc("client", "add", "app3", "--grant", "magic", "--database", database)
    assert result.returncode == 2 and "unknown grant type 'magic'" in result.stderr


def test_the_whole_lifecycle_through_the_cli(tmp_path: Path, make_server) -> None:  # noqa: ANN001
    database = tmp_path / "life.db"
    url = database_url(database)
    secret, password = "S" * 16 + "ecretSecretSecret", "correct horse battery"
    remember(secret, password)
    assert mobproc("client", "add", "life", "--grant", "password", "--grant", "refresh_token", "--scope", "MOBPROC",
                   "--secret-stdin", "--database", url, stdin=secret + "\n").returncode == 0
    added = mobproc("user", "add", "rivermine://alice", "--password-stdin", "--tenant", "ACME", "--multitenant",
                    "--database", url, stdin=password + "\n")
    assert added.returncode == 0, added.stderr
    assert "rivermine://alice  tenant=ACME  multitenant=true" in mobproc("user", "list", "--database", url).stdout
    # No client cache: the CLI's changes must show on the very next request here.
    with make_server(database, client_cache_seconds=0) as server, server.client() as http:
        first = password_grant(http, ("life", secret), ("rivermine://alice", password))
        assert first.status_code == 200
        # The client side of the CLI: secret, then password, one a line on standard input.
        got = mobproc("token", "--endpoint", server.url, "--client-id", "life", "--username", "rivermine://alice",
                      stdin=f"{secret}\n{password}\n")
        assert got.returncode == 0, got.stderr
        assert '"expires_in": 7199' in got.stdout
        # A new password revokes the grants of the old one.
        assert mobproc("user", "set-password", "rivermine://alice", "--password-stdin", "--database", url,
                       stdin="another password\n").returncode == 0
        remember("another password")
        assert refresh_grant(http, ("life", secret), first.json()["refresh_token"]).json()["error"] == "invalid_grant"
        # A rotated secret: the old one stops at once.
        rotated = mobproc("client", "rotate-secret", "life", "--database", url)
        new_secret = re.search(r"client_secret: (\S+)", rotated.stdout).group(1)
        remember(new_secret)
        assert password_grant(http, ("life", secret), ("rivermine://alice", "another password")).status_code == 401
        second = password_grant(http, ("life", new_secret), ("rivermine://alice", "another password"))
        assert second.status_code == 200
        # Removing the account ends its grants.
        assert mobproc("user", "remove", "rivermine://alice", "--database", url).returncode == 0
        assert refresh_grant(http, ("life", new_secret), second.json()["refresh_token"]).json()["error"] == "invalid_grant"
        assert mobproc("client", "disable", "life", "--database", url).returncode == 0
        assert mobproc("client", "remove", "life", "--database", url).returncode == 0
    assert mobproc("client", "remove", "life", "--database", url).returncode == 1


def test_user_add_refuses_a_disabled_source_system(database: str) -> None:
    result = mobproc("user", "add", "command://bob", "--password-stdin", "--database", database, stdin="pw\n",
                     env={"MOBPROC_SOURCE_SYSTEMS": "rivermine"})
    assert result.returncode == 2 and "'command' is not enabled" in result.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect

    from mobproc.storage.database import normalize_url

    url = database_url(tmp_path / "fresh.db")
    assert mobproc("db", "upgrade", "--database", url).returncode == 0
    engine = create_engine(normalize_url(url))
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"clients", "accounts", "grants", "access_tokens", "refresh_tokens", "alembic_version"} <= tables
    assert mobproc("db", "upgrade", "--database", url).returncode == 0  # again: nothing to do


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    assert mobproc("db", "upgrade", "--database", f"sqlite:///{path}").returncode == 0
    assert sqlite3.connect(path).execute("pragma journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(("name", "value"), [
    ("MOBPROC_PORT", "not-a-port"),
    ("MOBPROC_ENVIRONMENT", "staging"),
    ("MOBPROC_DATABASE_URL", "mysql://x"),
    ("MOBPROC_ARGON2_TIME_COST", "0"),
    ("MOBPROC_SOURCE_SYSTEMS", "Command://"),
])
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(name: str, value: str) -> None:
    result = mobproc("serve", env={name: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mobproc: {name}:"), result.stderr


def test_the_mobproc_executable_refuses_to_start_with_a_bad_setting() -> None:
    """The checks above, in process; here the installed program itself: exit 2, one line."""
    result = mobproc_process("serve", env={"MOBPROC_PORT": "not-a-port"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mobproc: MOBPROC_PORT: Input should be a valid integer, unable to parse string as an integer"]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from mobproc.config import load_settings

    monkeypatch.setenv("MOBPROC_ACCESS_TOKEN_LIFETIME", "600")
    monkeypatch.setenv("MOBPROC_SOURCE_SYSTEMS", "command, platform")
    settings = load_settings(port=9999)
    assert settings.access_token_lifetime == 600
    assert settings.source_systems == ("command", "platform")
    assert settings.port == 9999
