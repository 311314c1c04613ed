"""The database's files and its URL: a SQLite file other local users cannot read, and a
PostgreSQL password that need never be on a command line (`ps` shows those to every user)."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import POSTGRES_ADMIN_URL, ServerProcess, database_url, password_grant
from conftest import mobproc as run_mobproc

PASSWORD = "not-for-ps-" + os.urandom(6).hex()


def mobproc(*args: str, env: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess[str]:
    """In ``cwd`` (a command that ignored the URL it was given would make ./mobproc.db there),
    with no database URL from this process's environment; run in this process."""
    unset = {name: None for name in os.environ if name.startswith("MOBPROC_DATABASE_URL")}
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        return run_mobproc(*args, env={**unset, **(env or {})})
    finally:
        os.chdir(previous)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """022, the umask under which SQLite made its files readable by everyone."""
    saved = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(saved)


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.mark.sqlite_only
def test_a_new_sqlite_database_and_its_wal_and_shm_files_are_readable_by_their_owner_alone(
        make_server, tmp_path: Path, usual_umask: None) -> None:  # noqa: ANN001
    database = tmp_path / "mobproc.db"
    with make_server(database) as server, server.client() as http:
        assert password_grant(http, server.add_client(), server.add_user()).status_code == 200
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert all(path.exists() for path in files)  # in WAL mode, while the server runs
        assert {path.name: mode(path) for path in files} == {path.name: "0o600" for path in files}


@pytest.mark.sqlite_only
def test_the_command_line_makes_the_database_private_too(tmp_path: Path, usual_umask: None) -> None:
    database = tmp_path / "cli.db"
    result = mobproc("client", "add", "c1", "--grant", "client_credentials", "--database", f"sqlite:///{database}",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mode(database) == "0o600"


@pytest.mark.sqlite_only
def test_an_existing_database_others_can_read_is_warned_about(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    assert mobproc("db", "upgrade", "--database", f"sqlite:///{database}", cwd=tmp_path).returncode == 0
    database.chmod(0o644)  # as earlier versions made it
    result = mobproc("db", "upgrade", "--database", f"sqlite:///{database}", cwd=tmp_path)
    assert result.returncode == 0
    assert f"{database} can be read by other users (mode 0644): chmod 600" in result.stderr


def test_the_database_url_may_come_from_a_file(tmp_path: Path) -> None:
    url_file = tmp_path / "database-url"
    url_file.write_text(database_url(tmp_path / "from-file.db") + "\n")
    env = {"MOBPROC_DATABASE_URL_FILE": str(url_file)}
    assert mobproc("client", "add", "c1", "--grant", "client_credentials", env=env, cwd=tmp_path).returncode == 0
    listed = mobproc("client", "list", "--database", database_url(tmp_path / "from-file.db"), cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.startswith("c1 "), listed.stderr
    assert mobproc("client", "list", env=env, cwd=tmp_path).stdout == listed.stdout
    # --database on the command line wins over the file, as every flag wins over the environment.
    other = mobproc("client", "list", "--database", database_url(tmp_path / "other.db"), env=env, cwd=tmp_path)
    assert other.returncode == 0 and other.stdout == ""


def test_serve_reads_the_database_url_from_a_file_in_every_worker(tmp_path: Path) -> None:
    url_file = tmp_path / "database-url"
    url_file.write_text(database_url(tmp_path / "mobproc.db"))
    server = ServerProcess(tmp_path, "--workers", "2", env={"MOBPROC_DATABASE_URL_FILE": str(url_file)})
    del server.env["MOBPROC_DATABASE_URL"]
    with server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        assert all(password_grant(http, client, user).status_code == 200 for _ in range(4))


@pytest.mark.parametrize(("env", "message"), [
    ({"MOBPROC_DATABASE_URL": "sqlite:///a.db", "MOBPROC_DATABASE_URL_FILE": "URL_FILE"},
     "mobproc: MOBPROC_DATABASE_URL_FILE: set MOBPROC_DATABASE_URL or MOBPROC_DATABASE_URL_FILE, not both"),
    ({"MOBPROC_DATABASE_URL_FILE": "/nonexistent/url"},
     "mobproc: MOBPROC_DATABASE_URL_FILE: cannot read /nonexistent/url"),
])
def test_a_url_file_that_cannot_be_used_stops_in_one_line(env: dict[str, str], message: str, tmp_path: Path) -> None:
    (tmp_path / "url").write_text("sqlite:///b.db")
    env = {name: str(tmp_path / "url") if value == "URL_FILE" else value for name, value in env.items()}
    result = mobproc("client", "list", env=env, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_password_in_database_on_the_command_line_is_warned_about(tmp_path: Path) -> None:
    result = mobproc("client", "list", "--database", f"postgresql://mobproc:{PASSWORD}@127.0.0.1:1/none", cwd=tmp_path)
    assert "mobproc: warning: --database holds a password, which `ps` shows to every local user" in result.stderr
    assert "MOBPROC_DATABASE_URL_FILE" in result.stderr and "PGPASSFILE" in result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    assert result.stderr.splitlines()[-1] == "mobproc: the database cannot be reached (OperationalError)"  # no trace
    quiet = mobproc("client", "list", "--database", "postgresql://mobproc@127.0.0.1:1/none", cwd=tmp_path)
    assert "warning" not in quiet.stderr


@pytest.mark.postgresql_only
def test_libpqs_password_file_supplies_the_password(tmp_path: Path) -> None:
    """psycopg is libpq: a URL without a password takes it from PGPASSFILE (or ~/.pgpass).
    (The test cluster trusts every local connection, so it is read from the connection, not proved by a login.)"""
    from mobproc.storage.database import Database

    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:5432:*:postgres:{PASSWORD}\n")
    passfile.chmod(0o600)  # libpq ignores a password file others can read
    os.environ["PGPASSFILE"] = str(passfile)
    try:
        database = Database(POSTGRES_ADMIN_URL)
        connection = database.engine.raw_connection()
        try:
            assert connection.driver_connection.info.password == PASSWORD
        finally:
            connection.close()
            database.dispose()
    finally:
        del os.environ["PGPASSFILE"]
