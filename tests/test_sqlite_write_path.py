"""How token writes meet SQLite: handlers on the event loop that step aside when the write lock
is taken, write in group commits, and checkpoints that no request pays for
(mobproc.storage.database)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError

from conftest import introspect, password_grant, refresh_grant, write_lock_held
from mobproc.storage.database import Database, DatabaseUnavailable

pytestmark = pytest.mark.sqlite_only


def _waits_off_the_event_loop(make_server, send) -> tuple:  # noqa: ANN001
    """``send(http, client, user, issued)`` started while another process holds the write lock:
    the loop answers an introspection while it waits, and it ends once the lock is free. Its
    answer, with the login issued before."""
    with make_server(sqlite_busy_timeout_ms=20_000, argon2_memory_kib=64, argon2_time_cost=1) as server, \
            server.client() as http, ThreadPoolExecutor(1) as pool:
        client, user = server.add_client(), server.add_user()
        caller = server.add_client(grants=("access_token_validation",))
        issued = password_grant(http, client, user).json()
        with write_lock_held(server):
            sending = pool.submit(send, http, client, user, issued)
            time.sleep(0.5)  # it reaches the lock
            looked_up = introspect(http, caller, issued["access_token"])
            # Answered while the request still waits for the lock: the wait is not on the loop.
            assert looked_up.status_code == 200 and looked_up.json()["active"] is True
            assert not sending.done()
        answer = sending.result(timeout=30)
        assert answer.status_code == 200, answer.text
        active = introspect(http, caller, answer.json()["access_token"]).json()["active"]
    return answer, issued, active


def test_a_write_that_finds_the_lock_taken_waits_off_the_event_loop(make_server) -> None:  # noqa: ANN001
    """A refresh runs on the event loop until its write finds the lock held by another
    process; then it is run again on a thread, where it waits. Meanwhile the loop answers."""
    refreshed, issued, _ = _waits_off_the_event_loop(
        make_server, lambda http, client, user, issued: refresh_grant(http, client, issued["refresh_token"]))
    assert refreshed.json()["refresh_token"] != issued["refresh_token"]


def test_a_write_rerun_on_a_thread_is_written_once(make_server) -> None:  # noqa: ANN001
    """The first try wrote nothing: after the rerun there is one rotation, one audit row."""
    with make_server(sqlite_busy_timeout_ms=20_000, argon2_memory_kib=64, argon2_time_cost=1) as server, \
            server.client() as http, ThreadPoolExecutor(1) as pool:
        client, user = server.add_client(), server.add_user()
        issued = password_grant(http, client, user).json()
        with write_lock_held(server):
            refreshing = pool.submit(refresh_grant, http, client, issued["refresh_token"])
            time.sleep(0.3)
        assert refreshing.result(timeout=30).status_code == 200
        events = [event.event for event in server.services.audit.events(subject=user[0])]
    assert events.count("token_refreshed") == 1


def test_a_password_grant_writes_in_the_event_loop_s_group_commit(make_server, monkeypatch) -> None:  # noqa: ANN001
    """Issue 19, item 5: the password check runs on a thread (the hash), but its writes (the
    budgets and the lockout claim, then the grant) are handed to the event loop: a thread
    holding the write lock while the loop takes the GIL from it kept the refreshes on the
    loop waiting, and ran them again on threads (1.7 % of the refreshes during a flood)."""
    with make_server(argon2_memory_kib=64, argon2_time_cost=1) as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        assert password_grant(http, client, user).status_code == 200  # the deployment's secrets made, once
        database = server.services.database
        writers: list[str] = []
        opened = database.transaction

        def transaction(*, write: bool, join: bool = True):  # noqa: ANN202
            if write:
                writers.append(threading.current_thread().name)
            return opened(write=write, join=join)

        monkeypatch.setattr(database, "transaction", transaction)
        assert password_grant(http, client, user, password="wrong").status_code == 400
        assert password_grant(http, client, user).status_code == 200
    # The claim and the failure, then the claim and the grant: each on the loop's thread.
    assert len(writers) >= 4 and set(writers) == {server._thread.name}, writers


def test_a_password_grant_that_finds_the_lock_taken_waits_off_the_event_loop(make_server) -> None:  # noqa: ANN001
    """Its writes step aside to its thread when the lock is taken (another process): the loop
    answers meanwhile, and the grant is made once the lock is free."""
    _, _, active = _waits_off_the_event_loop(
        make_server, lambda http, client, user, issued: password_grant(http, client, user))
    assert active is True


def test_checkpoints_copy_the_log_into_the_database_file_in_the_background(make_server) -> None:  # noqa: ANN001
    """The server's checkpoint thread moves committed writes from the write-ahead log into
    the database file, long before the 64 MiB at which a commit would do it itself."""
    with make_server(argon2_memory_kib=64, argon2_time_cost=1) as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        for _ in range(5):
            assert password_grant(http, client, user).status_code == 200
        path = server.services.database.url.database
        deadline = time.monotonic() + 10
        while True:
            # immutable=1 reads the database file alone, ignoring the log.
            reader = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
            try:
                grants = reader.execute("SELECT count(*) FROM grants").fetchone()[0]
            except sqlite3.OperationalError:  # not even the schema there yet
                grants = 0
            finally:
                reader.close()
            if grants == 5 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert grants == 5


def test_the_savepoints_of_a_group_journal_in_memory(make_server) -> None:  # noqa: ANN001
    """Every connection the server opens keeps SQLite's statement journals (what a request's
    SAVEPOINT is rolled back from) in memory, not in a temporary file written page by page."""
    with make_server() as server:
        raw = server.services.database.engine.raw_connection()
        try:
            assert raw.dbapi_connection.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
        finally:
            raw.close()


# Group commit: the requests the event loop handles in one turn write in one transaction.

_notes = Table("notes", MetaData(), Column("id", Integer, primary_key=True), Column("text", String, unique=True))
_ADD = insert(_notes)
_FIND = select(_notes.c.text).where(_notes.c.text == bindparam("b_text"))


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'group.db'}")
    _notes.metadata.create_all(db.engine)
    yield db
    db.dispose()


def _committed(db: Database) -> list[str]:
    """What another connection sees: only committed rows."""
    reader = sqlite3.connect(db.url.database)
    try:
        return [text for (text,) in reader.execute("SELECT text FROM notes ORDER BY text")]
    finally:
        reader.close()


def _request(db: Database, text: str, seen: dict[str, list[str]] | None = None):  # noqa: ANN202
    """A request handler as Database.run runs one that opted in: on the loop, answering once durable."""

    async def handle() -> None:
        with db.on_event_loop() as scope:
            with db.transaction(write=True) as transaction:
                transaction.execute(_ADD, {"text": text})
            if seen is not None:
                seen[text] = _committed(db)
                db.after_commit(lambda: seen.setdefault("logged " + text, _committed(db)))
        await scope.durable()

    return handle()


def test_requests_in_one_turn_of_the_loop_commit_together(database: Database) -> None:
    seen: dict[str, list[str]] = {}

    async def main() -> None:
        await asyncio.gather(*(_request(database, name, seen) for name in ("a", "b", "c")))
        assert _committed(database) == ["a", "b", "c"]  # durable before anyone answers

    asyncio.run(main())
    # Nothing was committed while the three ran: they shared one transaction...
    assert seen["a"] == seen["b"] == seen["c"] == []
    # ... and what is said after the commit (an audit line) is said once it is true.
    assert seen["logged a"] == seen["logged c"] == ["a", "b", "c"]


def test_a_failing_request_takes_back_only_its_own_writes(database: Database) -> None:
    async def failing() -> None:
        with database.on_event_loop() as scope:
            with pytest.raises(IntegrityError), database.transaction(write=True) as transaction:
                transaction.execute(_ADD, {"text": "mine"})
                transaction.execute(_ADD, {"text": "a"})  # taken by the first request: unique
        await scope.durable()

    async def main() -> None:
        await asyncio.gather(_request(database, "a"), failing(), _request(database, "b"))

    asyncio.run(main())
    assert _committed(database) == ["a", "b"]


def test_a_commit_that_fails_fails_every_request_in_it_and_says_nothing(database: Database) -> None:
    said: list[str] = []

    async def request(text: str) -> None:
        with database.on_event_loop() as scope:
            with database.transaction(write=True) as transaction:
                transaction.execute(_ADD, {"text": text})
            database.after_commit(said.append, text)
            if text == "b":  # the connection fails in the middle of the group
                database._own.group.broken = sqlite3.OperationalError("disk I/O error")
        await scope.durable()

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(request("a"), request("b"), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert all(isinstance(outcome, DatabaseUnavailable) for outcome in outcomes), outcomes
    assert _committed(database) == [] and said == []
    # The lock and the connection are free again: the next request writes as usual.
    asyncio.run(_request(database, "c"))
    assert _committed(database) == ["c"]


def test_a_statement_that_breaks_the_connection_fails_the_whole_group(database: Database) -> None:
    """A driver error that is not a conflict (here a statement SQLite cannot run) leaves the
    group's connection in doubt: no request of the group commits, each hears 503's cause."""

    async def breaking() -> None:
        with database.on_event_loop() as scope:
            with database.transaction(write=True) as transaction:
                transaction.execute(_ADD, {"text": "mine"})
                transaction.execute(text("INSERT INTO no_such_table VALUES (1)"))
        await scope.durable()

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(_request(database, "a"), breaking(), _request(database, "b"),
                                    return_exceptions=True)

    outcomes = asyncio.run(main())
    assert all(isinstance(outcome, DatabaseUnavailable) for outcome in outcomes), outcomes
    assert _committed(database) == []
    asyncio.run(_request(database, "c"))
    assert _committed(database) == ["c"]


def test_code_outside_a_request_commits_the_open_group_before_it_runs(database: Database) -> None:
    async def main() -> None:
        with database.on_event_loop() as scope:
            with database.transaction(write=True) as transaction:
                transaction.execute(_ADD, {"text": "a"})
        assert _committed(database) == []
        with database.transaction(write=True) as transaction:  # outside the request: it needs the lock
            transaction.execute(_ADD, {"text": "b"})
        assert _committed(database) == ["a", "b"]
        await scope.durable()

    asyncio.run(main())


def test_a_lookup_sees_the_open_group_and_answers_only_after_its_commit(database: Database) -> None:
    """``Database.first``, the one-statement read of the hot paths, keeps transaction()'s rules."""

    async def main() -> None:
        with database.on_event_loop() as writer:
            with database.transaction(write=True) as transaction:
                transaction.execute(_ADD, {"text": "a"})
        with database.on_event_loop() as reader:
            assert database.first(_FIND, {"b_text": "a"}).text == "a"  # the group's row, not yet committed
        assert _committed(database) == [] and reader.group is writer.group is not None
        await reader.durable()  # what it read is committed before it may answer
        assert _committed(database) == ["a"]

        with database.on_event_loop():
            with database.transaction(write=True) as transaction:
                transaction.execute(_ADD, {"text": "b"})
        assert database.first(_FIND, {"b_text": "b"}).text == "b"  # outside a request: commits first
        assert _committed(database) == ["a", "b"]
        assert database.first(_FIND, {"b_text": "c"}) is None

    asyncio.run(main())
