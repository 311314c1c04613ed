"""The database: one way to run a transaction, what a failing database means, and where a
request's code runs.

:meth:`Database.transaction` is the one way in, for reads and writes, for the hot paths and
the command line alike: SQLAlchemy Core statements, compiled once per statement and run on
the driver's connection (:class:`Transaction`). A transaction opened while another is open in
the same context joins it, so that a domain service can make several stores' writes one
transaction (:class:`mobproc.domain.authentication.Authenticator`'s success path). What must
be said only once a write is true (an audit line, a metric) is handed to
:meth:`Transaction.after_commit` and happens after the commit, never before, never twice.

:meth:`Database.run` is where a request's code runs: on a worker thread, or, for a handler
that opts in on SQLite, on the event loop in the loop's group commit (see
:meth:`Database.run`). The HTTP edge never decides it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
import threading
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from contextvars import ContextVar
from typing import Any, NoReturn, TypeVar

import anyio.to_thread
from sqlalchemy import Boolean, Connection, Engine, Executable, Float, Insert, create_engine, event
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

log = logging.getLogger("mobproc.database")
A = TypeVar("A")
R = TypeVar("R")


class DatabaseUnavailable(Exception):
    """The database cannot answer now (down, locked past the busy timeout): served as 503."""


class WriteWouldWait(Exception):
    """In an optimistic run (:meth:`Database.run` on the event loop), the first write found the
    write lock taken. Nothing was written: the whole request is run again where it may wait."""


class LoopScope:
    """One request's code on the event loop: whether its first write may still step aside
    (``optimistic``: nothing written yet, so a rerun repeats nothing), and the group commit
    it joined."""

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
# The transaction open in this context, which a nested Database.transaction joins.
_current: ContextVar[Transaction | None] = ContextVar("mobproc_transaction", default=None)
# Set by Database.run for the request code it hands to a worker thread (SQLite): the event
# loop that thread's writes go to (Database.write).
_request_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar("mobproc_request_loop", default=None)


def optimistic_now() -> bool:
    """True while request code runs optimistically on the event loop and has written nothing:
    anything it does now but read would be done again if it is rerun. (Tests hold opted-in
    handlers to that: ``tests/test_handler_placement.py``.)"""
    scope = _scope.get()
    return scope is not None and scope.optimistic


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3, the driver mobproc ships with."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


# SQLite's own checkpoint, run by the commit that takes the WAL past this many pages, is the
# fallback when background checkpoints (below) are on: 64 MiB, against SQLite's 4 MiB.
FALLBACK_CHECKPOINT_PAGES = 16384


def _run_callbacks(callbacks: list[tuple[Callable[..., None], tuple[Any, ...]]]) -> None:
    for callback, args in callbacks:
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - one failing callback must not hide the rest
            log.exception("after-commit callback failed")


class Database:
    """``background_checkpoints`` (SQLite, the server's): a thread of this process copies the
    write-ahead log back into the database file every ``checkpoint_interval`` seconds, so
    that no request pays for it (README, Operations: why every 0.1 s)."""

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
        # Compiled statements, by statement: a module's constant stays, one built per call
        # (the command line's) goes with it.
        self._prepared: weakref.WeakKeyDictionary[Executable, dict[tuple[str, ...], _Prepared]] = (
            weakref.WeakKeyDictionary()
        )
        self._prepared_lock = threading.Lock()
        self._hot: dict[int, tuple[Executable, dict[tuple[str, ...], _Prepared]]] = {}
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
        self._dialect = sqlite_dialect.dialect(paramstyle="named") if self.is_sqlite else self.engine.dialect

    # --- transactions ------------------------------------------------------------------------

    def transaction(self, *, write: bool, join: bool = True) -> AbstractContextManager[Transaction]:
        """A transaction. On SQLite a write takes the write lock at BEGIN (IMMEDIATE), so two
        processes never both read and then fail to upgrade: one waits its busy timeout; a read
        runs in autocommit (each statement its own snapshot). On PostgreSQL the pool lends a
        connection for it.

        Opened while another transaction is open in this context (a store called by a domain
        service that made one), it joins that one: its statements commit or roll back with
        it. A write cannot join a read. A transaction that must stand alone (``join=False``:
        one that recovers from a failed statement, which on PostgreSQL aborts the whole
        transaction) refuses to be opened inside another.

        On SQLite, request code on the event loop (:meth:`run`) writes in the loop's group
        commit (:class:`_GroupCommit`), and reads there too while one is open: they run on the
        same connection, and see what the group wrote before it commits.
        """
        outer = _current.get()
        if outer is not None and outer.thread == threading.get_ident():
            if (write and not outer.write) or not join:
                raise RuntimeError("this transaction cannot join the one open" if not join else
                                   "a write transaction cannot join a read transaction")
            return _Joined(outer)  # the hot paths' stores join one: no generator for it
        if self.is_sqlite:
            scope, group = self._join_group(write)
            if group is not None:
                return _Member(self, group, scope, write)
        return self._transaction(write)

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Transaction]:
        with self._turn() if write else _NO_TURN:
            with _DriverConnection(self) as driver:
                if write and self.is_sqlite:
                    self._begin_immediate(driver, optimistic=False)
                transaction = Transaction(self, driver.cursor(), write)
                token = _current.set(transaction)
                try:
                    yield transaction
                    driver.commit()
                except BaseException:
                    driver.rollback()
                    raise
                finally:
                    _current.reset(token)
        _run_callbacks(transaction.after)

    def write(self, body: Callable[..., R], *args: Any) -> R:
        """``body(*args)`` in a write transaction of its own (or the one open in this context),
        answered once it is committed; for code on a request's worker thread that writes
        between slow steps it takes outside any transaction (a password check's hash).

        On SQLite such a thread's write is handed to the event loop and joins the loop's group
        commit there (the thread waits for it): a thread that held the write lock would keep
        the handlers on the loop waiting for as long as it is kept from running (by the loop
        itself, among others), and make them run again on threads. When the lock is taken
        (another process, a thread that is not a request's) it runs here instead, as it does
        elsewhere and inside an open transaction; either way once, and what it must say
        after its commit goes through :meth:`Transaction.after_commit`."""
        loop = _request_loop.get() if self.is_sqlite and _current.get() is None else None
        if loop is not None:
            try:
                return asyncio.run_coroutine_threadsafe(self._write_on_loop(body, args), loop).result()
            except WriteWouldWait:
                pass
        with self.transaction(write=True):
            return body(*args)

    async def _write_on_loop(self, body: Callable[..., R], args: tuple[Any, ...]) -> R:
        with self.on_event_loop() as scope:
            try:
                with self.transaction(write=True):
                    answer, failure = body(*args), None
            except WriteWouldWait:
                raise
            except Exception as error:  # noqa: BLE001 - raised below, once what it joined is durable
                answer, failure = None, error
        await scope.durable()
        if failure is not None:
            raise failure
        return answer  # type: ignore[return-value]

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        """The first row of one read, run as ``transaction(write=False)`` would run it. The hot
        paths' lookups are one statement each, and skip the context managers around it."""
        outer = _current.get()
        if outer is not None and outer.thread == threading.get_ident():
            return outer.first(statement, params)
        if self.is_sqlite:
            self._join_group(write=False)
        with _DriverConnection(self) as driver:
            return Transaction(self, driver.cursor(), False).first(statement, params)

    def after_commit(self, callback: Callable[..., None], *args: Any) -> None:
        """Call ``callback(*args)`` once what this request wrote is committed: with the open
        transaction's commit, with the loop's group commit (never, if it fails), or at once
        when nothing is open. For what must not be said before it is true: an audit line."""
        outer = _current.get()
        if outer is not None and outer.thread == threading.get_ident():
            outer.after_commit(callback, *args)
            return
        scope = _scope.get()
        group = getattr(self._own, "group", None) if self.is_sqlite else None
        if group is not None and scope is not None and scope.group is group:
            group.after.append((callback, args))
        else:
            callback(*args)

    # --- where a request runs ---------------------------------------------------------------

    async def run(self, handle: Callable[[A], R], argument: A, *, on_event_loop: bool = False) -> R:
        """``handle(argument)``, answered once what it wrote is committed.

        By default it runs on a worker thread: a handler that hashes a password (argon2id
        releases the GIL) or reaches the network, and every handler on PostgreSQL, where each
        statement is a network round trip. A handler that opts in with ``on_event_loop``
        (a few hundred microseconds of lookups and writes: refresh, client credentials,
        introspection, revocation) runs on SQLite on the event loop, where handing it to a
        thread and back would cost as much again. There it runs optimistically: its first
        write, finding the write lock taken (a cleanup batch, another process), raises
        :class:`WriteWouldWait` before anything is written, and the whole handler is run again
        on a thread, where it may wait. So an opted-in handler may be run twice up to its
        first write: before it, it may only read, and whatever it must say (audit lines,
        metrics) goes through :meth:`Transaction.after_commit`, which a rerun cannot repeat.
        Its writes join the loop's group commit, and its answer, errors included, waits for it.
        """
        if not self.is_sqlite:
            return await anyio.to_thread.run_sync(handle, argument)
        if not on_event_loop:
            return await self._on_thread(handle, argument)
        # As on_event_loop() does, without a generator's cost on the hot paths.
        scope = LoopScope(asyncio.get_running_loop(), True)
        token = _scope.set(scope)
        rerun = False
        try:
            answer, failure = handle(argument), None
        except WriteWouldWait:
            answer, failure, rerun = None, None, True
        except Exception as error:  # noqa: BLE001 - raised below, once its writes are durable
            answer, failure = None, error
        finally:
            _scope.reset(token)
        if rerun:
            return await self._on_thread(handle, argument)
        # Its writes are in the loop's group commit: no answer, not even an error, before it commits.
        await scope.durable()
        if failure is not None:
            raise failure
        return answer  # type: ignore[return-value]

    async def _on_thread(self, handle: Callable[[A], R], argument: A) -> R:
        """SQLite: on a worker thread that knows the loop its :meth:`write` calls go to."""
        token = _request_loop.set(asyncio.get_running_loop())
        try:
            return await anyio.to_thread.run_sync(handle, argument)  # (the thread gets a copy of this context)
        finally:
            _request_loop.reset(token)

    @contextmanager
    def on_event_loop(self) -> Iterator[LoopScope]:
        """Request code on the event loop, as :meth:`run` runs it: its first write, finding the
        lock taken by another thread or process, raises :class:`WriteWouldWait` instead of
        waiting, before anything is written; later writes wait as usual. Its writes join the
        loop's group commit: answer only after ``await scope.durable()``. Outside SQLite it
        changes nothing."""
        scope = LoopScope(asyncio.get_running_loop(), self.is_sqlite)
        token = _scope.set(scope)
        try:
            yield scope
        finally:
            _scope.reset(token)

    # --- SQLite: the write turn and the loop's group commit -----------------------------------

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """This thread's turn to write (SQLite; elsewhere there is no turn to take). Waiting
        for it counts against the same timeout as waiting for the lock. The loop's own open
        group holds the lock this would wait for: it commits first."""
        self._commit_open_group()
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
            with _DriverConnection(self) as driver:
                self._begin_immediate(driver, scope.optimistic)
        except BaseException:
            self._write_turn.release()
            raise
        group = self._own.group = _GroupCommit(self._own.connection, scope.loop)
        scope.loop.call_soon(self._commit_group, group)
        return group

    def _commit_group(self, group: _GroupCommit) -> None:
        """COMMIT (on the loop's thread, from the callback :meth:`_open_group` queued, or
        earlier when code outside a request needs the connection or the lock)."""
        if group.done:
            return
        group.done, self._own.group = True, None
        try:
            if getattr(self._own, "connection", None) is not group.connection:
                group.broken = group.broken or DatabaseUnavailable("connection lost")
            with _DriverConnection(self) as driver:
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
            _run_callbacks(group.after)
        finally:
            self._write_turn.release()

    def _commit_open_group(self) -> None:
        group = getattr(self._own, "group", None) if self.is_sqlite else None
        if group is not None:
            self._commit_group(group)

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

    # --- statements ---------------------------------------------------------------------------

    def prepared(self, statement: Executable, keys: tuple[str, ...]) -> _Prepared:
        """``statement`` compiled for this database (an INSERT for the columns ``keys``)."""
        is_insert = isinstance(statement, Insert)
        variant = keys if is_insert else ()
        hot = self._hot.get(id(statement))
        if hot is not None and hot[0] is statement:
            found = hot[1].get(variant)
            if found is not None:
                return found
        variants = self._prepared.get(statement)
        found = variants.get(variant) if variants is not None else None
        if found is None:
            # An INSERT given its columns as parameters (not one whose values are expressions)
            columns = keys if is_insert and set(keys) <= set(statement.table.c.keys()) else ()
            found = _Prepared(statement, self._dialect, columns)
            with self._prepared_lock:
                variants = self._prepared.setdefault(statement, {})
                variants[variant] = found
        elif len(self._hot) < _HOT_STATEMENTS:
            # Seen before: a module's constant, most likely. From now on it is found through a
            # plain dict by its id (which no other object can take while it is held here): a
            # weak key is made anew for every lookup.
            self._hot[id(statement)] = (statement, variants)
        return found

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: it copies what no reader still needs and waits for no one.
        Answers SQLite's (busy, pages in the log, pages copied back)."""
        with _DriverConnection(self) as driver:
            return tuple(driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

    def _checkpoints(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.checkpoint()
            except DatabaseUnavailable as error:  # the next one will do
                log.debug("checkpoint skipped (%s)", error)
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("checkpoint failed")

    def dispose(self) -> None:
        self._stop.set()
        self.engine.dispose()


_NO_TURN = suppress()  # a reusable context manager that does nothing
# Statements found again without a weak reference (Database.prepared): the hot paths' constants,
# a few dozen; the bound keeps statements built per call, should one be run twice, from piling up.
_HOT_STATEMENTS = 512


class _DriverConnection:
    """A driver connection, and the driver's errors as this module has them: a conflict as
    SQLAlchemy's IntegrityError, anything else as :class:`DatabaseUnavailable` (a dead
    connection is not returned to the pool).

    On SQLite each thread keeps one, taken from the pool once and detached from it: a
    checkout and check-in through the pool cost more Python than a SQLite statement, and a
    file's connections are cheap. On PostgreSQL the pool lends one per use. (A class, not a
    generator-made context manager, which costs twice what its methods do.)"""

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


class _Member:
    """One request's statements in the loop's group commit (:meth:`Database.transaction`): a
    write in a SAVEPOINT, undone alone if it fails; what it says after its commit waits for the
    group's. (A class, not a generator-made context manager: the hot paths open one a request.)"""

    __slots__ = ("_db", "_group", "_scope", "_write", "_driver", "_cursor", "_transaction", "_token")

    def __init__(self, database: Database, group: _GroupCommit, scope: LoopScope, write: bool) -> None:
        self._db, self._group, self._scope, self._write = database, group, scope, write

    def __enter__(self) -> Transaction:
        driver = self._driver = _DriverConnection(self._db)
        cursor = self._cursor = driver.__enter__().cursor()
        transaction = self._transaction = Transaction(self._db, cursor, self._write)
        self._token = _current.set(transaction)
        if self._write:
            try:
                cursor.execute("SAVEPOINT request")
            except BaseException as error:  # noqa: BLE001 - _failed raises it, or what it means
                self._failed(error)
        return transaction

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: Any) -> bool:
        if self._write:
            cursor = self._cursor
            try:
                if error is not None:
                    cursor.execute("ROLLBACK TO request")  # this request's writes undone, the group's kept
                cursor.execute("RELEASE request")
            except BaseException as failure:  # noqa: BLE001
                self._failed(failure)
        if error is not None:
            self._failed(error)
        _current.reset(self._token)
        self._driver.__exit__(None, None, None)
        self._group.after += self._transaction.after
        if self._write:
            self._scope.optimistic = False  # written: from here on, a rerun would write twice
        return False

    def _failed(self, error: BaseException) -> NoReturn:
        if self._write and isinstance(error, sqlite3.Error):
            # The connection failed mid-group: nobody's work can be vouched for, none commits.
            # (A conflict is this request's own, raised as SQLAlchemy's IntegrityError, no sqlite3.Error.)
            self._group.broken = self._group.broken or error
        _current.reset(self._token)
        self._driver.__exit__(type(error), error, error.__traceback__)  # raises what a driver's error means
        raise error


class _Joined:
    """A transaction opened inside another: the outer one, which commits or rolls back."""

    __slots__ = ("transaction",)

    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    def __enter__(self) -> Transaction:
        return self.transaction

    def __exit__(self, *exc: object) -> None:
        return None


class _Prepared:
    """A statement's SQL in the driver's paramstyle, the values of the parameters it carries
    itself (a literal such as the 1 of ``failed_logins + 1``), the type conversions of its
    parameters and columns where the driver's own values differ from SQLAlchemy's (on SQLite a
    Boolean is 0 or 1, a DateTime a string), and for one that returns rows a row type whose
    fields are its columns' names (as SQLAlchemy's rows have them)."""

    __slots__ = ("sql", "own", "row", "binds", "results")

    def __init__(self, statement: Executable, dialect, keys: tuple[str, ...]) -> None:  # noqa: ANN001
        column_keys = list(keys) if keys else None
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        expanding = any(bind.expanding for bind in compiled.binds.values())
        if expanding:
            # ``column.in_([...])`` of a statement built with its values: the list rendered as
            # one parameter each (such a statement is compiled for the one call that built it).
            compiled = statement.compile(dialect=dialect, column_keys=column_keys,
                                         compile_kwargs={"render_postcompile": True})
        self.sql = str(compiled)
        binds = {}
        own = {}
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            # sqlite3 stores a bool and an int or float as SQLAlchemy's own processors would
            # (1 or 0; a REAL column's affinity makes an int a float): converting those would
            # copy the parameters of nearly every write for nothing.
            if process is not None and not (dialect.name == "sqlite" and isinstance(bind.type, (Boolean, Float))):
                binds[name] = process
            if not bind.required and name not in keys and not bind.expanding:
                own[name] = bind.effective_value
        if expanding:
            required = {name for bind, name in compiled.bind_names.items() if bind.required or name in keys}
            own = {name: value for name, value in compiled.construct_params(_check=False).items()
                   if name not in required}
        self.binds = binds
        self.own = {name: binds[name](value) if name in binds else value for name, value in own.items()}
        columns = getattr(statement, "exported_columns", ())
        names = [getattr(column, "name", None) or f"_{index}" for index, column in enumerate(columns)]
        self.row = namedtuple("Row", names, rename=True) if names else None
        # psycopg answers Python's own types (bool, float, Decimal, datetime, dicts for JSON);
        # sqlite3 answers what it stores, which SQLAlchemy's processors turn into them.
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns] \
            if dialect.name == "sqlite" else []
        # Only the columns that need one (an account's two booleans of its twenty-odd).
        self.results = [(index, process) for index, process in enumerate(processors) if process is not None] or None

    def params(self, given: Mapping[str, Any]) -> Mapping[str, Any]:
        # Only the parameters with a conversion (on SQLite, a boolean among a row's values)
        # are touched, not every value given.
        binds = self.binds
        if binds:
            converted = None
            for name, process in binds.items():
                if name in given:
                    if converted is None:
                        converted = dict(given)
                    converted[name] = process(given[name])
            if converted is not None:
                given = converted
        return {**self.own, **given} if self.own else given

    def make_row(self, values: tuple[Any, ...]) -> Any:
        if self.results is not None:
            converted = list(values)
            for index, process in self.results:
                converted[index] = process(converted[index])
            values = tuple(converted)
        return values if self.row is None else self.row._make(values)  # a text() statement's: a tuple


class Transaction:
    """Statements of one :meth:`Database.transaction`: SQLAlchemy Core statements, each
    compiled once for this database and run on the driver's cursor. ``params`` name the
    statement's bound parameters, or an INSERT's columns; a statement built with literal values
    (``clients.c.client_id == client_id``) needs none.

    SQLAlchemy's own execution (execution context, events, result set-up) costs several times
    what SQLite spends running one of the hot paths' statements (README, Performance): this is
    the same SQL, pool and errors without that Python."""

    __slots__ = ("_db", "_cursor", "write", "thread", "after", "_conflict")

    def __init__(self, database: Database, cursor: Any, write: bool) -> None:
        self._db, self._cursor, self.write, self.thread = database, cursor, write, threading.get_ident()
        self.after: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._conflict = database.engine.dialect.loaded_dbapi.IntegrityError

    def _run(self, prepared: _Prepared, params: Mapping[str, Any]) -> None:
        # A conflict is SQLAlchemy's IntegrityError here, at the statement, whether this
        # transaction stands alone or was joined: a store that expects one (an id taken, a
        # foreign key gone) catches the same exception either way.
        try:
            self._cursor.execute(prepared.sql, prepared.params(params))
        except self._conflict as error:
            raise IntegrityError(prepared.sql, None, error) from error

    def execute(self, statement: Executable, params: Mapping[str, Any] = {}) -> int:  # noqa: B006 - never mutated
        """Run it; the number of rows it changed."""
        prepared = self._db.prepared(statement, tuple(params))
        self._run(prepared, params)
        return self._cursor.rowcount

    def execute_many(self, statement: Executable, rows: list[Mapping[str, Any]]) -> None:
        """Run it once per row (an INSERT of many rows), in one call of the driver."""
        if not rows:
            return
        prepared = self._db.prepared(statement, tuple(rows[0]))
        try:
            self._cursor.executemany(prepared.sql, [prepared.params(row) for row in rows])
        except self._conflict as error:
            raise IntegrityError(prepared.sql, None, error) from error

    def first(self, statement: Executable, params: Mapping[str, Any] = {}) -> Any:  # noqa: B006
        """Its first row (fields named as the statement's columns), or None."""
        prepared = self._db.prepared(statement, tuple(params))
        self._run(prepared, params)
        row = self._cursor.fetchone()
        return None if row is None else prepared.make_row(row)

    def all(self, statement: Executable, params: Mapping[str, Any] = {}) -> list[Any]:  # noqa: B006
        """Every row."""
        prepared = self._db.prepared(statement, tuple(params))
        self._run(prepared, params)
        return [prepared.make_row(row) for row in self._cursor.fetchall()]

    def scalar(self, statement: Executable, params: Mapping[str, Any] = {}) -> Any:  # noqa: B006
        """The first column of its first row, or None."""
        row = self.first(statement, params)
        return None if row is None else row[0]

    def after_commit(self, callback: Callable[..., None], *args: Any) -> None:
        """Call ``callback(*args)`` once this transaction (and any it joined) has committed;
        never if it rolls back."""
        self.after.append((callback, args))


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
