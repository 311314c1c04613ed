"""Test fixtures: real servers over real HTTP on real databases.

Every password, client secret and token the suite sends or receives is recorded in
``SECRETS``; once the last test of the run (of each worker, under pytest-xdist) is done,
``_no_secret_in_any_log`` looks for each in every server log of the run.
"""

from __future__ import annotations

import itertools
import sqlite3
from contextlib import contextmanager
import logging
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import ahocorasick
import httpx
import pytest
import uvicorn
from sqlalchemy import text

from mobproc.config import load_settings
from mobproc.domain.identities import Username
from mobproc.server.app import create_app, listeners
from mobproc.services import Services
from mobproc.server.http import CoalescingHttpToolsProtocol
from mobproc.storage.migrate import upgrade
from slapd import PEOPLE as DIRECTORY_PEOPLE
from slapd import SERVICE_DN, Slapd

# The whole suite runs once per database: `make test` runs it on SQLite, then with
# MOBPROC_TEST_BACKEND=postgresql on the PostgreSQL server (which must be reachable:
# a PostgreSQL run fails, never skips, without it).
BACKEND = os.environ.get("MOBPROC_TEST_BACKEND", "sqlite")
POSTGRES_ADMIN_URL = os.environ.get("MOBPROC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRETS: set[str] = set()
LOG_FILES: list[Path] = []
TOKEN_PATH = "/as/token.oauth2"
MOBPROC = str(Path(sys.executable).with_name("mobproc"))  # the installed console script
_names = itertools.count(1)
T = TypeVar("T")


def database_url(path: Path) -> str:
    """The database of one test server: a SQLite file at ``path``, or on PostgreSQL a fresh
    database named after ``path`` (so two servers given one path share one database)."""
    if BACKEND == "sqlite":
        return f"sqlite:///{path}"
    import hashlib

    import psycopg

    name = "mobproc_test_" + hashlib.sha1(str(path).encode()).hexdigest()[:16]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
            POSTGRES_DATABASES.append(name)
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


POSTGRES_DATABASES: list[str] = []


def dump_database(url: str) -> str:
    """Every row of every table, all columns, as text: ``table: cell | cell``, bytes both as
    hex and as Latin-1 (so a secret stored raw shows as itself)."""
    from sqlalchemy import MetaData, create_engine, select

    from mobproc.storage.database import normalize_url

    engine = create_engine(normalize_url(url))
    metadata = MetaData()
    metadata.reflect(engine)
    lines = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                cells = [
                    f"{bytes(v).hex()} {bytes(v).decode('latin-1')}" if isinstance(v, bytes | memoryview) else str(v)
                    for v in row
                ]
                lines.append(f"{table.name}: " + " | ".join(cells))
    engine.dispose()
    return "\n".join(lines)


@contextmanager
def write_lock_held(server) -> Iterator[None]:  # noqa: ANN001
    """Hold the lock a token write needs, as a stuck process would."""
    if BACKEND == "sqlite":
        blocker = sqlite3.connect(server.services.database.url.database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
    else:
        import psycopg

        url = server.settings.database_url
        with psycopg.connect(url) as blocker:
            blocker.execute("LOCK TABLE grants, access_tokens IN ACCESS EXCLUSIVE MODE")
            yield
            blocker.rollback()


def query(url: str, statement: str, **params: object) -> list[tuple]:
    """Run one SQL statement on a test database (either kind) and answer its rows."""
    from sqlalchemy import create_engine, text

    from mobproc.storage.database import normalize_url

    engine = create_engine(normalize_url(url))
    with engine.begin() as connection:
        result = connection.execute(text(statement), params)
        rows = [tuple(row) for row in result] if result.returns_rows else []
    engine.dispose()
    return rows


def remember(*values: str | None) -> None:
    SECRETS.update(value for value in values if value)


def record_tokens(response: httpx.Response) -> None:
    response.read()
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            body = response.json()
        except ValueError:
            return
        if isinstance(body, dict):
            remember(*(body.get(k) for k in ("access_token", "refresh_token") if isinstance(body.get(k), str)))


def listening_socket() -> socket.socket:
    """A socket bound to a port of the kernel's choosing on loopback, ready to serve."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _CommandWarnings(logging.Handler):
    """What logging's last resort prints for a program that configures no logging (a warning or
    worse, its message alone, on standard error), for the records of one thread: the command's,
    not those of a server that runs in the same test process."""

    def __init__(self, thread: int) -> None:
        super().__init__(logging.WARNING)
        self.thread = thread

    def emit(self, record: logging.LogRecord) -> None:
        # The logging thread's own id: the server's log set-up stops records carrying it.
        if threading.get_ident() == self.thread:
            sys.stderr.write(self.format(record) + "\n")  # the CliRunner's, while the command runs


def mobproc(*args: str, stdin: str = "", env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
    """``mobproc ARGS`` run in this process by Typer's CliRunner, on the app the console script
    runs (``mobproc.cli.app``), with ``env`` over this process's environment (None unsets) and
    ``stdin`` as its standard input: what a command does, without a Python start-up (about a
    second of CPU) per command. ``mobproc_process`` runs the installed executable itself.

    An exception the command lets out is raised here, where the real executable would have
    printed a traceback. A warning the command logs is on its standard error, as the program's
    (which configures no logging) would be. ``serve`` may only fail its checks: one that passed
    them would listen and serve in the test process, so that is an error too."""
    from unittest import mock

    from typer.testing import CliRunner

    from mobproc.cli import app

    def no_serving(*_: object, **__: object) -> None:
        raise RuntimeError("mobproc serve passed its checks and was about to serve inside the test process")

    warnings = _CommandWarnings(threading.get_ident())
    logging.getLogger().addHandler(warnings)
    try:
        with mock.patch.object(uvicorn, "Config", no_serving):
            result = CliRunner().invoke(app, list(args), input=stdin, env=env, prog_name="mobproc")
    finally:
        logging.getLogger().removeHandler(warnings)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["mobproc", *args], result.exit_code, result.stdout, result.stderr)


def mobproc_process(*args: str, stdin: str = "", env: dict[str, str] | None = None,
                    inherit_env: bool = True, **options: object) -> subprocess.CompletedProcess[str]:
    """The installed ``mobproc`` executable, as a separate process (``env`` over this process's
    environment, or alone with ``inherit_env=False``): for what only the real program shows,
    its start-up, exit status and output."""
    environment = {**(os.environ if inherit_env else {}), **(env or {})}
    options.setdefault("timeout", 60)
    return subprocess.run([MOBPROC, *args], input=stdin, capture_output=True, text=True, env=environment, **options)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}x{secrets.token_hex(3)}"


def all_at_once(count: int, call: Callable[[int], T]) -> list[T]:
    """``call(0)`` to ``call(count - 1)``, each on a thread of its own, all released together by a
    barrier: the races the tests need. Their results in that order; if a call raised, the first
    such error is raised here once every call has ended."""
    start, results, errors = threading.Barrier(count), [None] * count, []

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = call(n)
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


class Provisioning:
    """Creates clients and accounts directly in a server's database."""

    services = None  # set by subclasses
    operations_url = ""

    def operations(self) -> httpx.Client:
        """The operations listener: /metrics and the detailed /readyz."""
        return httpx.Client(base_url=self.operations_url, timeout=30)

    def add_client(
        self,
        grants: tuple[str, ...] = ("password", "refresh_token"),
        scopes: tuple[str, ...] = ("MOBPROC",),
        default_scopes: tuple[str, ...] | None = None,
    ) -> tuple[str, str]:
        client_id, secret = unique("client"), secrets.token_hex(16)
        self.services.clients.add_client(client_id, secret, grants, scopes, default_scopes)
        remember(secret)
        return client_id, secret

    def add_user(self, source: str = "command", tenant: str | None = "XYZ", **attributes) -> tuple[str, str]:
        name, password = unique("user"), "pw-" + secrets.token_urlsafe(12)
        username = Username(source, name)
        self.services.accounts.add_account(username, self.services.hasher.hash(password), tenant=tenant, **attributes)
        remember(password)
        return str(username), password


class LiveServer(Provisioning):
    """The ASGI app on uvicorn in a thread of the test process, on a real database (see database_url)."""

    def __init__(self, database_path: Path, *, migrate: bool = True, http: type = CoalescingHttpToolsProtocol,
                 extra_grants: tuple = (), **settings: object) -> None:
        self.migrate, self.http, self.extra_grants = migrate, http, extra_grants
        # Bound now, on ports the kernel picks: a port found free and bound later may be taken
        # meanwhile by another test's server.
        self._sockets = [listening_socket()]
        self.port = self._sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        settings.setdefault("database_url", database_url(database_path))
        settings.setdefault("port", self.port)  # so that the dev issuer is this server's URL
        if settings.get("issuer") == "self":  # qa and production need one: this server's URL
            settings["issuer"] = self.url
        if "operations_port" not in settings:
            self._sockets.append(listening_socket())
            settings["operations_port"] = self._sockets[1].getsockname()[1]
        if settings.get("admin_port") == "own":  # the admin API on a listener of its own
            self._sockets.append(listening_socket())
            settings["admin_port"] = self._sockets[-1].getsockname()[1]
        self.settings = load_settings(**settings)
        if len(self._sockets) == 1:
            self._sockets += listeners(self.settings)
        self.operations_url = f"http://127.0.0.1:{self.settings.operations_port}"
        self.admin_url = f"http://127.0.0.1:{self.settings.admin_port or self.port}"

    def __enter__(self) -> LiveServer:
        services = Services.build(self.settings, extra_grants=self.extra_grants)
        app = self.app = create_app(self.settings, services=services)
        self.services = app.state.services
        if self.migrate:
            upgrade(self.services.database)
        # As `mobproc serve` runs it: uvicorn must not rewrite the peer address from
        # X-Forwarded-For itself (mobproc decides whom to believe, MOBPROC_TRUSTED_PROXIES).
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False,
                                lifespan="on", proxy_headers=False, http=self.http)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": self._sockets}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.services.close()

    def client(self, connections: int = 100) -> httpx.Client:
        """``connections``: as many requests at once, each on a connection of its own."""
        return httpx.Client(base_url=self.url, timeout=30, limits=httpx.Limits(max_connections=connections),
                            event_hooks={"response": [record_tokens]})


class ServerProcess(Provisioning):
    """``mobproc serve`` as a separate process (several workers, or the CLI itself)."""

    def __init__(
        self, workdir: Path, *args: str, env: dict[str, str] | None = None, verify: ssl.SSLContext | bool = True
    ) -> None:
        self.port = free_port()
        # --tls-cert: HTTPS, checked against ``verify`` (a context trusting the test's certificate).
        self.verify = verify
        self.url = f"{'https' if '--tls-cert' in args else 'http'}://127.0.0.1:{self.port}"
        self.database_url = database_url(workdir / "mobproc.db")
        self.env = {**os.environ, "MOBPROC_DATABASE_URL": self.database_url,
                    "MOBPROC_OPERATIONS_PORT": str(free_port()), **(env or {})}
        self.operations_url = f"http://127.0.0.1:{self.env['MOBPROC_OPERATIONS_PORT']}"
        self.args = ["serve", "--port", str(self.port), *args]
        self.log_path = workdir / f"server-{self.port}.log"
        self.out_path = workdir / f"server-{self.port}.out"
        LOG_FILES.append(self.log_path)

    def __enter__(self) -> ServerProcess:
        self._log, self._out = self.log_path.open("wb"), self.out_path.open("wb")
        self.process = subprocess.Popen(
            [MOBPROC, *self.args], env=self.env, stdout=self._out, stderr=self._log
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(self.url + TOKEN_PATH, timeout=1, verify=False)  # any answer: it is up
                break
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mobproc serve did not start: {self.log_path.read_text()}") from None
                time.sleep(0.1)
        settings = load_settings(
            database_url=self.database_url, environment=self.env.get("MOBPROC_ENVIRONMENT", "dev")
        )
        self.services = Services.build(settings)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()
        self._out.close()
        self.services.database.dispose()

    def client(self, connections: int = 100) -> httpx.Client:
        hooks = {"response": [record_tokens]}
        return httpx.Client(base_url=self.url, timeout=60, verify=self.verify,
                            limits=httpx.Limits(max_connections=connections), event_hooks=hooks)


@pytest.fixture(scope="session")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Everything the in-process servers log, as they would print it."""
    path = tmp_path_factory.mktemp("logs") / "server.log"
    LOG_FILES.append(path)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("mobproc", "uvicorn")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield path
    for logger in loggers:
        logger.removeHandler(handler)
    handler.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, server_log: Path) -> Iterator[LiveServer]:
    """One shared server for the tests that need no special settings."""
    with LiveServer(tmp_path_factory.mktemp("server") / "mobproc.db") as live:
        yield live


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture
def make_server(tmp_path: Path, server_log: Path):  # noqa: ANN201
    """A server of its own with other settings: ``with make_server(access_token_lifetime=2) as s``."""

    def make(database: Path | None = None, *, migrate: bool = True, **settings: object) -> LiveServer:
        return LiveServer(database or tmp_path / "mobproc.db", migrate=migrate, **settings)

    return make


def lock_subject(server: Provisioning, subject: str, *, until: float) -> None:
    """Lock ``subject`` until then, as a streak of failures would (its login_attempts row)."""
    key = server.services.pseudonyms.attempts_key(subject)
    with server.services.database.transaction(write=True) as transaction:
        transaction.execute(text(
            "INSERT INTO login_attempts (environment, subject_key, streak, lockouts, locked_until, window_start,"
            " window_failures, known, updated_at) VALUES (:environment, :key, 0, 1, :until, 0, 0, true, 0)"
        ), {"environment": server.services.settings.environment.value, "key": key, "until": until})


def password_grant(http: httpx.Client, client: tuple[str, str], user: tuple[str, str], **extra: str) -> httpx.Response:
    form = {"grant_type": "password", "client_id": client[0], "client_secret": client[1],
            "username": user[0], "password": user[1], "scope": "MOBPROC", **extra}
    return http.post(TOKEN_PATH, data={k: v for k, v in form.items() if v is not None})


def refresh_grant(http: httpx.Client, client: tuple[str, str], refresh_token: str, **extra: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "client_id": client[0], "client_secret": client[1],
            "refresh_token": refresh_token, **extra}
    return http.post(TOKEN_PATH, data=form)


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_databases() -> Iterator[None]:
    yield
    if POSTGRES_DATABASES:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            for name in POSTGRES_DATABASES:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def leaked_secrets(secrets_used: set[str], logs: list[Path]) -> list[tuple[str, str]]:
    """(log file, the secret's first characters) for each secret found in a log: all of them
    looked for in one pass over each log (searched one by one, the reliability suite's 10⁵
    tokens took minutes)."""
    if not secrets_used:
        return []
    automaton = ahocorasick.Automaton()
    for secret in secrets_used:
        automaton.add_word(secret, secret)
    automaton.make_automaton()
    found = []
    for path in logs:
        if path.exists():
            hits = {secret for _, secret in automaton.iter(path.read_text(errors="replace"))}
            found += [(path.name, secret[:6]) for secret in sorted(hits)]
    return found


@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_any_log() -> Iterator[None]:
    """CONTRACT §7: no password, secret or token in any log line. Checked after the run's last
    test, over what every test made the servers log (each pytest-xdist worker: its own tests);
    a leak fails the run as an error in this fixture's teardown."""
    yield
    leaks = leaked_secrets(SECRETS, LOG_FILES)
    assert not leaks, f"secrets found in logs: {leaks[:10]}"


# --- introspection, revocation, validation, JWT access tokens ------------------------------

INTROSPECT_PATH = "/as/introspect.oauth2"
REVOKE_PATH = "/as/revoke_token.oauth2"
JWKS_PATH = "/pf/JWKS"
VALIDATE_BEARER = "urn:pingidentity.com:oauth2:grant_type:validate_bearer"
EVERY_GRANT = ("password", "refresh_token", "client_credentials", "access_token_validation")


@pytest.fixture(scope="session")
def jwt_server(tmp_path_factory: pytest.TempPathFactory, server_log: Path) -> Iterator[LiveServer]:
    """One shared server issuing RFC 9068 JWT access tokens (ES256)."""
    with LiveServer(tmp_path_factory.mktemp("jwt") / "mobproc.db", access_token_format="jwt") as live:
        yield live


def client_credentials_grant(http: httpx.Client, client: tuple[str, str], **extra: str) -> httpx.Response:
    return http.post(TOKEN_PATH, data={"grant_type": "client_credentials", **extra}, auth=client)


def introspect(http: httpx.Client, caller: tuple[str, str], token: str, **extra: str) -> httpx.Response:
    return http.post(INTROSPECT_PATH, data={"token": token, **extra}, auth=caller)


def revoke(http: httpx.Client, client: tuple[str, str], token: str, **extra: str) -> httpx.Response:
    return http.post(REVOKE_PATH, data={"token": token, **extra}, auth=client)


def validate_bearer(http: httpx.Client, caller: tuple[str, str], token: str) -> httpx.Response:
    return http.post(TOKEN_PATH, data={"grant_type": VALIDATE_BEARER, "token": token}, auth=caller)


# --- identity sources: a real OpenLDAP ------------------------------------------------------


# The directory's people (uid -> what add_person takes besides the password); each test that
# changes an entry (locks, deletes it) has one of its own.
DIRECTORY_ACCOUNTS = {
    "alice": {"tenant": "XYZ"},
    "multi": {"tenant": "ABC", "multitenant": True},
    "twin": {}, "twin ": {"under": f"ou=others,{DIRECTORY_PEOPLE}"},
    "locked": {"policy": "strict", "locked": True},
    "expired": {"policy": "expiring", "changed": "20000101000000Z"},
    "strict": {"policy": "strict"},
    "jürgen": {"tenant": "DE"},
    "leaver": {}, "disabled": {"policy": "strict"},
    "victim": {}, "timer": {}, "down": {}, "bench": {},
}


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """Debian's slapd on loopback ports with a throwaway configuration and directory, TLS from
    a test CA, and the ppolicy overlay (tests/slapd.py). ``slapd.passwords[uid]``."""
    directory = Slapd(tmp_path_factory.mktemp("slapd"))
    directory.seed()
    directory.passwords = {}
    for uid, attributes in DIRECTORY_ACCOUNTS.items():
        uid = uid.strip()  # "twin " is the second entry named twin
        password = directory.passwords.setdefault(uid, "dir-" + secrets.token_urlsafe(12))
        directory.add_person(uid, password, **attributes)
    remember(directory.service_password, directory.root_password, *directory.passwords.values())
    LOG_FILES.append(directory.log_path)
    with directory:
        yield directory


def ldap_sources(slapd: Slapd, workdir: Path, source: str = "command", **settings: object) -> Path:
    """A MOBPROC_IDENTITY_SOURCES file putting ``source`` on the test directory over ldaps://,
    with ``settings`` over the defaults (a value of None leaves a setting out)."""
    password_file = workdir / f"bind-password-{source}"
    password_file.write_text(slapd.service_password + "\n")
    table = {
        "type": "ldap", "url": [slapd.url(tls=True)], "ca_file": str(slapd.ca_file), "bind_dn": SERVICE_DN,
        "bind_password_file": str(password_file), "base": DIRECTORY_PEOPLE, "timeout": 2,
        **settings,
    }
    attributes = table.pop("attributes", {"tenant": "o", "multitenant": "employeeType", "domain": "=example.com"})
    lines = [f"[sources.{source}]"]
    lines += [f"{key} = {_toml(value)}" for key, value in table.items() if value is not None]
    lines += [f"[sources.{source}.attributes]"] + [f"{key} = {_toml(value)}" for key, value in attributes.items()]
    path = workdir / f"sources-{source}-{secrets.token_hex(3)}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: object) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)
