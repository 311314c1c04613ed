"""The database: an engine per URL, transactions, and what a failing database means."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, TimeoutError as PoolTimeoutError


class DatabaseUnavailable(Exception):
    """The database cannot answer now (down, locked past the busy timeout): served as 503."""


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3, the driver mobproc ships with."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


class Database:
    def __init__(self, url: str, *, busy_timeout_ms: int = 5000) -> None:
        self.url = make_url(normalize_url(url))
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # SQLite has one writer per file. Threads of this process queue for it here, woken the
        # moment it is free, rather than in SQLite's busy handler, which sleeps 1, 2, 5 ... 100 ms
        # between tries; other processes still wait in the busy handler, up to its timeout.
        self._write_turn = threading.RLock() if self.is_sqlite else None
        self._busy_timeout = busy_timeout_ms / 1000
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url, busy_timeout_ms)
        else:
            self.engine = create_engine(
                self.url,
                pool_pre_ping=True,
                pool_size=8,
                max_overflow=8,
                pool_timeout=busy_timeout_ms / 1000,
                connect_args={
                    "connect_timeout": max(1, busy_timeout_ms // 1000),
                    # A row or table lock waited on past the timeout fails (503) instead of
                    # holding the request: the PostgreSQL twin of SQLite's busy timeout.
                    "options": f"-c lock_timeout={int(busy_timeout_ms)} -c statement_timeout={max(30000, 2 * int(busy_timeout_ms))}",
                },
            )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE), so two
        processes never both read and then fail to upgrade: one waits its busy timeout."""
        turn = self._write_turn
        # Waiting for the turn counts against the same timeout as waiting for the lock.
        if turn is not None and not turn.acquire(timeout=self._busy_timeout):
            raise DatabaseUnavailable("OperationalError")
        try:
            with self._translate_errors(), self.engine.connect() as connection:
                connection = connection.execution_options(sqlite_begin="IMMEDIATE")
                with connection.begin():
                    yield connection
        finally:
            if turn is not None:
                turn.release()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translate_errors(), self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise
        except (DBAPIError, PoolTimeoutError) as error:
            raise DatabaseUnavailable(type(error.orig if isinstance(error, DBAPIError) else error).__name__) from None

    def dispose(self) -> None:
        self.engine.dispose()


_BEGIN = {"": "BEGIN", "IMMEDIATE": "BEGIN IMMEDIATE", "EXCLUSIVE": "BEGIN EXCLUSIVE"}


def _sqlite_engine(url, busy_timeout_ms: int) -> Engine:  # noqa: ANN001
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        # SQLAlchemy's documented recipe: let it, not pysqlite, emit BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # WAL: readers never block the writer, and several processes share one file safely.
        # NORMAL: a commit survives a crash of the process (kill -9); FULL would also survive
        # power loss, at an fsync per commit.
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        # Straight to the driver: BEGIN needs no result, and SQLAlchemy's whole execution
        # path (events, result set-up) costs more than SQLite's BEGIN itself. Its failure (the
        # file locked past the busy timeout) is translated as SQLAlchemy would.
        try:
            connection.connection.driver_connection.execute(_BEGIN[mode])
        except sqlite3.Error as error:
            raise OperationalError(_BEGIN[mode], None, error) from error

    return engine
