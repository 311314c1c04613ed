"""How token writes meet SQLite: handlers on the event loop that step aside when the write lock
is taken, and checkpoints that no request pays for (mobproc.storage.database)."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import introspect, password_grant, refresh_grant, write_lock_held

pytestmark = pytest.mark.sqlite_only


def test_a_write_that_finds_the_lock_taken_waits_off_the_event_loop(make_server) -> None:  # noqa: ANN001
    """A refresh runs on the event loop until its write finds the lock held by another
    process; then it is run again on a thread, where it waits. Meanwhile the loop answers."""
    with make_server(sqlite_busy_timeout_ms=20_000, argon2_memory_kib=64, argon2_time_cost=1) as server, \
            server.client() as http, ThreadPoolExecutor(1) as pool:
        client, user = server.add_client(), server.add_user()
        caller = server.add_client(grants=("access_token_validation",))
        issued = password_grant(http, client, user).json()
        with write_lock_held(server):
            refreshing = pool.submit(refresh_grant, http, client, issued["refresh_token"])
            time.sleep(0.5)  # the refresh reaches the lock
            looked_up = introspect(http, caller, issued["access_token"])
            # Answered while the refresh still waits for the lock: the wait is not on the loop.
            assert looked_up.status_code == 200 and looked_up.json()["active"] is True
            assert not refreshing.done()
        refreshed = refreshing.result(timeout=30)
    assert refreshed.status_code == 200, refreshed.text
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
