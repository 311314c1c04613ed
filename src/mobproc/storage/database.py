"""The database: an engine per URL, transactions, and what a failing database means."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Insert, create_engine, event
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, TimeoutError as PoolTimeoutError

log = logging.getLogger("mobproc.database")


class DatabaseUnavailable(Exception):
    """The database cannot answer now (down, locked past the busy timeout): served as 503."""


class WriteWouldWait(Exception):
    """Under :meth:`Database.optimistic`, the first write found the write lock taken. Nothing
    was written: run the whole request again where it may wait."""


class LoopScope:
    """One request's code on the event loop (:meth:`Database.on_event_loop`): whether its
    first write may still step aside (``optimistic``), and the group commit it joined."""

    __slots__ = ("loop", "thread", "optimistic", "group")

    def __init__(self, loop: asyncio.AbstractEventLoop, optimistic: bool) -> None:
        self.loop, self.thread, self.optimistic, self.group = loop, threading.get_ident(), optimistic, None

    async def durable(self) -> None:
        """Returns once what the code wrote (or read unconfirmed) is committed; raises
        :class:`DatabaseUnavailable` if that commit failed."""
        if self.group is not None:
            # Shielded: a client that hangs up cancels its own wait, never the commit.
            await asyncio.shield(self.group.committed)


class _GroupCommit:
    """The event loop's open write transaction on SQLite, which every request handled in the
    same turn of the loop joins (each in a SAVEPOINT of its own) and which commits once,
    from a callback queued behind them. A commit writes each page it changed to the log
    once: the tails of the token and audit tables and their time indexes are shared by the
    whole group, and so are BEGIN, COMMIT and their file locks."""

    __slots__ = ("connection", "committed", "after", "broken", "done")

    def __init__(self, connection: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.connection = connection  # the loop thread's own; if it is replaced, the group is lost
        self.committed = loop.create_future()
        # A wait that was cancelled leaves the outcome unread; reading it here keeps
        # asyncio from logging "exception was never retrieved".
        self.committed.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.after: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self.broken: BaseException | None = None
        self.done = False


# Set by Database.on_event_loop for the request code it runs.
_scope: ContextVar[LoopScope | None] = ContextVar("mobproc_loop_scope", default=None)


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3, the driver mobproc ships with."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


# SQLite's own checkpoint, run by the commit that takes the WAL past this many pages, is the
# fallback when background checkpoints (below) are on: 64 MiB, against SQLite's 4 MiB.
FALLBACK_CHECKPOINT_PAGES = 16384


class Database:
    """``background_checkpoints`` (SQLite, the server's): a thread of this process copies the
    write-ahead log back into the database file every ``checkpoint_interval`` seconds, so
    that no request pays for it. SQLite does it otherwise in whichever commit takes the log
    past 1000 pages, and that commit then copies them all and syncs the file.

    Every 0.1 s, not more seldom: the commit that next restarts the log from its start (on
    the event loop) syncs the log's header, and with it every page of the log written since
    the checkpoint synced it. Under write load, checkpoints every 0.5 s made that commit take
    up to 30 ms and every 5 s up to 57 ms, and refresh's p99 followed; every 0.1 s it stays
    under 12 ms. An idle log costs a checkpoint nothing."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = 5000,
        background_checkpoints: bool = False,
        checkpoint_interval: float = 0.1,
    ) -> None:
        self.url = make_url(normalize_url(url))
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # SQLite has one writer per file. Threads of this process queue for it here, woken the
        # moment it is free, rather than in SQLite's busy handler, which sleeps 1, 2, 5 ... 100 ms
        # between tries; other processes still wait in the busy handler, up to its timeout.
        self._write_turn = threading.RLock() if self.is_sqlite else None
        self._busy_timeout = busy_timeout_ms / 1000
        self._prepared: dict[tuple[int, tuple[str, ...]], _Prepared] = {}
        self._stop = threading.Event()
        self._own = threading.local()  # SQLite: each thread's own connection, for transaction()
        if self.is_sqlite:
            background_checkpoints = background_checkpoints and self.url.database not in (None, "", ":memory:")
            self.engine = _sqlite_engine(
                self.url, busy_timeout_ms, FALLBACK_CHECKPOINT_PAGES if background_checkpoints else None
            )
            if background_checkpoints:
                threading.Thread(
                    target=self._checkpoints, args=(checkpoint_interval,), name="mobproc-checkpoints", daemon=True
                ).start()
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
        self._commit_open_group()  # the loop's own group holds the lock this would wait for
        self.end_optimism()  # it writes: a rerun of the request would write again
        with self._turn(), self._translate_errors(), self.engine.connect() as connection:
            connection = connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                yield connection

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """This thread's turn to write (SQLite; elsewhere there is no turn to take). Waiting
        for it counts against the same timeout as waiting for the lock."""
        self._take_turn(optimistic=False)
        try:
            yield
        finally:
            if self._write_turn is not None:
                self._write_turn.release()

    def _take_turn(self, *, optimistic: bool) -> None:
        """An optimistic writer does not wait at all."""
        turn = self._write_turn
        if turn is None:
            return
        if optimistic:
            if not turn.acquire(blocking=False):
                raise WriteWouldWait()
        elif not turn.acquire(timeout=self._busy_timeout):
            raise DatabaseUnavailable("OperationalError")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translate_errors(), self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Transaction]:
        """A transaction for the hot paths (token issue, refresh, lookup, login bookkeeping):
        Core statements compiled once for this database and run on the driver's connection
        (on SQLite this thread's own, on PostgreSQL one lent by the pool).

        SQLAlchemy's per-execution machinery (execution context, events, result set-up) costs
        about 70 µs a statement and as much again a transaction; SQLite spends 10-15 µs
        running one of these statements. Same SQL, same pool, same errors as :meth:`write`
        and :meth:`read`; only the Python around them is gone. A read of SQLite runs in
        autocommit (one statement is its own transaction); a write takes the lock at BEGIN.

        On SQLite, request code on the event loop (:meth:`on_event_loop`) writes in the
        loop's group commit (:class:`_GroupCommit`), and reads there too while one is open:
        they run on the same connection, and see what the group wrote before it commits.
        """
        if self.is_sqlite:
            scope, group = self._join_group(write)
            if group is not None:
                with self._member(group, write) as transaction:
                    yield transaction
                if write:
                    scope.optimistic = False  # written: from here on, a rerun would write twice
                return
        with self._turn() if write else nullcontext():
            with self._driver_errors() as driver:
                if write and self.is_sqlite:
                    self._begin_immediate(driver, optimistic=False)
                try:
                    yield Transaction(self, driver.cursor())
                    driver.commit()
                except BaseException:
                    driver.rollback()
                    raise

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        """The first row of one read, run as ``transaction(write=False)`` would run it (on
        PostgreSQL the pool's reset ends it). The hot paths' lookups are one statement each:
        without the two context managers around it an introspection costs 3 µs less."""
        if self.is_sqlite:
            self._join_group(write=False)
        with _DriverConnection(self) as driver:
            return Transaction(self, driver.cursor()).first(statement, params)

    def _join_group(self, write: bool) -> tuple[LoopScope | None, _GroupCommit | None]:
        """SQLite: the request's scope and the loop's group commit its statements join. Code
        that is not a request's on the loop (contextvars follow work to threads too) joins
        none: the loop's open group, if this is the loop's thread, commits first. A request
        joins the open group, or opens one with its first write; once it has joined (a read
        may see the group's rows), its answer waits for the group's commit."""
        scope = _scope.get()
        if scope is None or scope.thread != threading.get_ident():
            self._commit_open_group()
            return None, None
        group = getattr(self._own, "group", None) or (self._open_group(scope) if write else None)
        if group is not None:
            scope.group = group
        return scope, group

    def _open_group(self, scope: LoopScope) -> _GroupCommit:
        """BEGIN the loop's group commit, and queue its COMMIT behind the requests the loop
        is running now. The group keeps the write turn until it commits."""
        self._take_turn(optimistic=scope.optimistic)
        try:
            with self._driver_errors() as driver:
                self._begin_immediate(driver, scope.optimistic)
        except BaseException:
            self._write_turn.release()
            raise
        group = self._own.group = _GroupCommit(self._own.connection, scope.loop)
        scope.loop.call_soon(self._commit_group, group)
        return group

    @contextmanager
    def _member(self, group: _GroupCommit, write: bool) -> Iterator[Transaction]:
        """One request's statements in the group; a write in a SAVEPOINT, undone alone if it fails."""
        with self._driver_errors() as driver:
            cursor = driver.cursor()
            if not write:
                yield Transaction(self, cursor)
                return
            try:
                cursor.execute("SAVEPOINT request")
                try:
                    yield Transaction(self, cursor)
                except BaseException:
                    cursor.execute("ROLLBACK TO request")
                    cursor.execute("RELEASE request")
                    raise
                cursor.execute("RELEASE request")
            except sqlite3.IntegrityError:
                raise  # this request's conflict, undone with its savepoint
            except sqlite3.Error as error:
                # The connection failed mid-group: nobody's work can be vouched for, none commits.
                group.broken = group.broken or error
                raise

    def _commit_group(self, group: _GroupCommit) -> None:
        """COMMIT (on the loop's thread, from the callback :meth:`_open_group` queued, or
        earlier when code outside a request needs the connection or the lock)."""
        if group.done:
            return
        group.done, self._own.group = True, None
        try:
            if getattr(self._own, "connection", None) is not group.connection:
                group.broken = group.broken or DatabaseUnavailable("connection lost")
            with self._driver_errors() as driver:
                if group.broken is not None:
                    driver.rollback()
                    raise DatabaseUnavailable(type(group.broken).__name__)
                driver.commit()
        except Exception as error:  # noqa: BLE001 - every waiting request must hear of it
            if not isinstance(error, DatabaseUnavailable):
                log.exception("group commit failed")
                error = DatabaseUnavailable(type(error).__name__)
            with suppress(Exception):
                self._own.connection.dbapi_connection.rollback()
            group.committed.set_exception(error)
        else:
            group.committed.set_result(None)
            for callback, args in group.after:
                try:
                    callback(*args)
                except Exception:  # noqa: BLE001 - one failing callback must not hide the rest
                    log.exception("after-commit callback failed")
        finally:
            self._write_turn.release()

    def _commit_open_group(self) -> None:
        group = getattr(self._own, "group", None)
        if group is not None:
            self._commit_group(group)

    def after_commit(self, callback: Callable[..., None], *args: Any) -> None:
        """Call ``callback(*args)`` once what this thread wrote is committed: at once, or
        when the loop's group commit has committed (never, if it fails). For what must not
        be said before it is true, such as an audit line."""
        group = getattr(self._own, "group", None) if self.is_sqlite else None
        if group is None:
            callback(*args)
        else:
            group.after.append((callback, args))

    def _begin_immediate(self, driver: sqlite3.Connection, optimistic: bool) -> None:
        # An optimistic BEGIN must not wait for the lock; the connection is this thread's
        # own, so it keeps its busy timeout until the next BEGIN wants the other one (the
        # event loop's stays at 0 and costs no PRAGMA a write).
        timeout = 0 if optimistic else int(self._busy_timeout * 1000)
        if getattr(self._own, "busy_timeout", None) != timeout:
            driver.execute(f"PRAGMA busy_timeout = {timeout}")
            self._own.busy_timeout = timeout
        try:
            driver.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            if optimistic:
                raise WriteWouldWait() from None  # another process holds the lock
            raise

    @contextmanager
    def on_event_loop(self) -> Iterator[LoopScope]:
        """Run a request's code on the event loop, where it must not wait for SQLite's write
        lock: its first write, finding the lock taken by another thread or process, raises
        :class:`WriteWouldWait` instead of waiting, before anything is written. Writes after
        the first one wait as usual. Its writes join the loop's group commit: answer only
        after ``await scope.durable()``. Outside SQLite it changes nothing."""
        scope = LoopScope(asyncio.get_running_loop(), self.is_sqlite)
        token = _scope.set(scope)
        try:
            yield scope
        finally:
            _scope.reset(token)

    @staticmethod
    def end_optimism() -> None:
        """Code about to do something a rerun would repeat (log a line) calls this first: later
        writes then wait instead of asking for a rerun."""
        scope = _scope.get()
        if scope is not None:
            scope.optimistic = False

    def _driver_errors(self) -> _DriverConnection:
        """A driver connection; the driver's errors as :meth:`_translate_errors` has them.

        On SQLite each thread keeps one, taken from the pool once and detached from it: a
        checkout and check-in through the pool cost more Python than a SQLite statement,
        and a file's connections are cheap. On PostgreSQL the pool lends one per use.
        """
        return _DriverConnection(self)

    def prepared(self, statement: Executable, keys: tuple[str, ...]) -> _Prepared:
        """``statement`` compiled for this database (an INSERT for the columns ``keys``)."""
        is_insert = isinstance(statement, Insert)
        cache_key = (id(statement), keys if is_insert else ())
        found = self._prepared.get(cache_key)
        if found is None:
            # An INSERT given its columns as parameters (not one whose values are expressions)
            columns = keys if is_insert and set(keys) <= set(statement.table.c.keys()) else ()
            found = self._prepared[cache_key] = _Prepared(statement, self._dialect(), columns)
        return found

    def _dialect(self):  # noqa: ANN202
        # Named parameters on SQLite as on PostgreSQL (pyformat), so that both take a dict.
        return sqlite_dialect.dialect(paramstyle="named") if self.is_sqlite else self.engine.dialect

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: it copies what no reader still needs and waits for no one.
        Answers SQLite's (busy, pages in the log, pages copied back)."""
        with self._driver_errors() as driver:
            return tuple(driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

    def _checkpoints(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.checkpoint()
            except DatabaseUnavailable as error:  # the next one will do
                log.debug("checkpoint skipped (%s)", error)
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("checkpoint failed")

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise
        except (DBAPIError, PoolTimeoutError) as error:
            raise DatabaseUnavailable(type(error.orig if isinstance(error, DBAPIError) else error).__name__) from None

    def dispose(self) -> None:
        self._stop.set()
        self.engine.dispose()


class _DriverConnection:
    """:meth:`Database._driver_errors`, as a class: every token request enters two or three of
    these, and a generator-made context manager costs twice what its methods do."""

    __slots__ = ("_db", "_pooled", "_lent")

    def __init__(self, database: Database) -> None:
        self._db = database

    def __enter__(self) -> Any:
        db = self._db
        pooled = getattr(db._own, "connection", None) if db.is_sqlite else None
        lent = pooled is None
        if lent:
            dbapi = db.engine.dialect.loaded_dbapi
            try:
                pooled = db.engine.raw_connection()
            except (DBAPIError, PoolTimeoutError, dbapi.Error) as error:  # a failed connect is the driver's own
                raise DatabaseUnavailable(type(error.orig if isinstance(error, DBAPIError) else error).__name__) from None
            if db.is_sqlite:
                pooled.detach()
                db._own.connection, db._own.busy_timeout, lent = pooled, None, False
        self._pooled, self._lent = pooled, lent
        # (A detached connection answers only to dbapi_connection: on SQLite, the driver's.)
        return pooled.dbapi_connection if db.is_sqlite else pooled.driver_connection

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: Any) -> bool:
        db, pooled = self._db, self._pooled
        try:
            if error is None:
                return False
            dbapi = db.engine.dialect.loaded_dbapi
            if isinstance(error, dbapi.IntegrityError):
                raise IntegrityError(None, None, error) from error
            if isinstance(error, dbapi.Error):
                if db.engine.dialect.is_disconnect(error, pooled, None):
                    pooled.invalidate(error)  # a dead connection must not go back to the pool
                    db._own.connection, self._lent = None, False
                raise DatabaseUnavailable(type(error).__name__) from None
            return False
        finally:
            if self._lent:
                pooled.close()


class _Prepared:
    """A statement's SQL in the driver's paramstyle, the values of the parameters it carries
    itself (a literal such as the 1 of ``failed_logins + 1``), and for one that returns rows a
    row type whose fields are its columns' names (as SQLAlchemy's rows have them)."""

    __slots__ = ("sql", "own", "row")

    def __init__(self, statement: Executable, dialect, keys: tuple[str, ...]) -> None:  # noqa: ANN001
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        self.sql = str(compiled)
        self.own = {
            name: bind.effective_value
            for bind, name in compiled.bind_names.items()
            if not bind.required and name not in keys
        }
        columns = getattr(statement, "exported_columns", ())
        names = [getattr(column, "name", None) or f"_{index}" for index, column in enumerate(columns)]
        self.row = namedtuple("Row", names, rename=True) if names else None

    def params(self, given: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**self.own, **given} if self.own else given


class Transaction:
    """Statements of one :meth:`Database.transaction`. ``params`` name the statement's bound
    parameters, or an INSERT's columns."""

    __slots__ = ("_db", "_cursor")

    def __init__(self, database: Database, cursor: Any) -> None:
        self._db, self._cursor = database, cursor

    def execute(self, statement: Executable, params: Mapping[str, Any]) -> int:
        """Run it; the number of rows it changed."""
        prepared = self._db.prepared(statement, tuple(params))
        self._cursor.execute(prepared.sql, prepared.params(params))
        return self._cursor.rowcount

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        """Its first row (fields named as the statement's columns), or None."""
        prepared = self._db.prepared(statement, tuple(params))
        self._cursor.execute(prepared.sql, prepared.params(params))
        row = self._cursor.fetchone()
        return None if row is None else prepared.row._make(row)

    def scalar(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        """The first column of its first row, or None."""
        prepared = self._db.prepared(statement, tuple(params))
        self._cursor.execute(prepared.sql, prepared.params(params))
        row = self._cursor.fetchone()
        return None if row is None else row[0]


_BEGIN = {"": "BEGIN", "IMMEDIATE": "BEGIN IMMEDIATE", "EXCLUSIVE": "BEGIN EXCLUSIVE"}


def _private_file(path: str | None) -> None:
    """Create the database file readable and writable by its owner alone, before SQLite makes it
    0644 under the usual umask: it holds password hashes, token digests and, with JWT access
    tokens, private signing keys. SQLite gives the -wal and -shm files the database file's mode.
    A file made earlier, or by another tool, that others can read is left as it is, with a
    warning: a backup group may read it on purpose."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            log.warning("%s can be read by other users (mode %04o): chmod 600 it and its -wal and -shm files",
                        path, mode)
    except OSError:
        pass  # no such folder, no permission: SQLite says so itself, as before


def _sqlite_engine(url, busy_timeout_ms: int, checkpoint_pages: int | None) -> Engine:  # noqa: ANN001
    _private_file(url.database)
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
        # Each request of a group commit writes in a SAVEPOINT, and SQLite keeps the pages it
        # changes there in a statement journal, a temporary file written page by page: 17
        # pwrite calls a refresh. In memory, that journal costs a copy; it is emptied with
        # each RELEASE and never outlives the transaction, so nothing durable moves.
        cursor.execute("PRAGMA temp_store = MEMORY")
        if checkpoint_pages is not None:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint_pages)}")
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
