"""Expired tokens and grants are deleted in small batches while the server answers (a million of
them: tests/reliability/test_housekeeping_scale.py)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable

from sqlalchemy import func, select, text

from conftest import LiveServer, mobproc, password_grant, refresh_grant
from mobproc.storage.schema import access_tokens, grants, refresh_tokens


def fill_expired_tokens(server: LiveServer, client_id: str, count: int) -> None:
    """``count`` expired access tokens under one expired grant, generated inside the database."""
    database = server.services.database
    with database.transaction(write=True) as transaction:
        client_pk = transaction.scalar(text("SELECT id FROM clients WHERE client_id = :c"), {"c": client_id})
        grant_id = transaction.scalar(
            grants.insert().values(environment="dev", client_pk=client_pk, grant_type="password", subject="bulk",
                                   scope="MOBPROC", multitenant=False, created_at=0, expires_at=1)
            .returning(grants.c.id)
        )
        if database.is_sqlite:
            rows = ("WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
                    "SELECT randomblob(32), 'dev', :grant, 'MOBPROC', 0, 1 FROM n")
        else:
            rows = ("SELECT decode(md5(i::text) || md5((-i)::text), 'hex'), 'dev', :grant, 'MOBPROC', 0, 1 "
                    "FROM generate_series(:first, :last) AS i")
        # In statements of 100,000 rows: each must finish within the server's statement_timeout.
        chunk = 100_000
        for first in range(1, count + 1, chunk):
            transaction.execute(
                text(f"INSERT INTO access_tokens (lookup, environment, grant_id, scope, issued_at, expires_at) {rows}"),
                {"first": first, "last": min(first + chunk - 1, count), "grant": grant_id},
            )


def count(server: LiveServer, table) -> int:  # noqa: ANN001
    with server.services.database.transaction(write=False) as transaction:
        return transaction.scalar(select(func.count()).select_from(table))


def cleanup_while_a_client_refreshes(server: LiveServer, tokens: int,
                                     cleanup: Callable[..., subprocess.CompletedProcess[str]]) -> str:
    """``tokens`` expired access tokens deleted by ``mobproc db cleanup`` (run by ``cleanup``,
    in this process or as the real program) while a client refreshes in a loop: the command
    says it deleted them all, the live grant's tokens stay, and every refresh is answered 200,
    more than ten of them while the cleanup ran. Answers a line of figures to print."""
    with server.client() as http:
        client, user = server.add_client(), server.add_user()
        fill_expired_tokens(server, client[0], tokens)
        live = password_grant(http, client, user).json()
        statuses: list[int] = []
        answered_at: list[float] = []
        latencies: list[float] = []
        done = threading.Event()

        def traffic() -> None:
            token = live
            while not done.is_set():
                started = time.perf_counter()
                response = refresh_grant(http, client, token["refresh_token"])
                answered_at.append(time.perf_counter())
                latencies.append(answered_at[-1] - started)
                statuses.append(response.status_code)
                if response.status_code == 200:
                    token = response.json()

        worker = threading.Thread(target=traffic)
        worker.start()
        try:
            began = time.perf_counter()
            result = cleanup("db", "cleanup", "--database", server.settings.database_url)
            ended = time.perf_counter()
        finally:
            done.set()
            worker.join()
    assert result.returncode == 0, result.stderr
    assert f"deleted {tokens} access tokens" in result.stdout
    assert count(server, access_tokens) >= 1  # the live token and its successors stay
    assert set(statuses) == {200}, set(statuses)
    during = [at for at in answered_at if began < at < ended]
    assert len(during) > 10, f"{len(during)} refreshes answered during a cleanup of {ended - began:.2f} s"
    return (f"{tokens:,} expired tokens deleted in {ended - began:.1f} s; {len(during):,} refreshes answered meanwhile,"
            f" slowest {max(latencies) * 1000:.0f} ms")


def test_expired_tokens_are_deleted_while_the_server_answers(make_server) -> None:  # noqa: ANN001
    """A tenth of the scale, the command run in this process; a million, by the real program:
    tests/reliability/test_housekeeping_scale.py."""
    with make_server(argon2_memory_kib=64, argon2_time_cost=1) as server:
        print("\n" + cleanup_while_a_client_refreshes(server, 100_000, mobproc))


def test_cleanup_keeps_what_is_live_and_consumed_refresh_tokens_until_they_expire(make_server) -> None:  # noqa: ANN001
    from mobproc.storage.housekeeping import cleanup

    with make_server(argon2_memory_kib=64, argon2_time_cost=1, access_token_lifetime=1) as server, \
            server.client() as http:
        client, user = server.add_client(), server.add_user()
        first = password_grant(http, client, user).json()
        second = refresh_grant(http, client, first["refresh_token"]).json()
        time.sleep(1.1)  # both access tokens expire; the refresh tokens do not
        cleaned = cleanup(server.services.database)
        assert cleaned.access_tokens >= 2 and cleaned.grants == 0
        assert count(server, refresh_tokens) >= 2
        # The consumed one is still recognised as reuse, which still revokes the grant.
        assert refresh_grant(http, client, first["refresh_token"]).json()["error"] == "invalid_grant"
        assert refresh_grant(http, client, second["refresh_token"]).json()["error"] == "invalid_grant"
        # Far in the future everything has expired: nothing is left.
        later = cleanup(server.services.database, now=time.time() + 400 * 86400)
        assert later.refresh_tokens >= 2 and later.grants >= 1


def test_cleanup_is_harmless_on_an_empty_database(make_server) -> None:  # noqa: ANN001
    """A database of its own: the shared server's holds what other tests left (an ended browser
    session goes whatever the time)."""
    from mobproc.storage.housekeeping import cleanup

    with make_server() as server:
        assert cleanup(server.services.database, now=0).total == 0


def test_the_server_cleans_up_on_a_timer(make_server) -> None:  # noqa: ANN001
    with make_server(argon2_memory_kib=64, argon2_time_cost=1, access_token_lifetime=1,
                     cleanup_interval_seconds=1) as server, server.client() as http:
        client, user = server.add_client(grants=("password",)), server.add_user()
        for _ in range(3):
            password_grant(http, client, user)
        deadline = time.monotonic() + 10
        while (count(server, access_tokens) or count(server, grants)) and time.monotonic() < deadline:
            time.sleep(0.2)  # (the grants go after the tokens, in the same run: wait for the run to end)
        assert count(server, access_tokens) == 0
        assert count(server, grants) == 0


def test_one_process_at_a_time_holds_the_housekeeping_lease(server: LiveServer) -> None:
    from mobproc.storage.housekeeping import take_lease

    database = server.services.database
    assert take_lease(database, "test-lease", "machine-a", 60) is False  # no such lease row
    with database.transaction(write=True) as transaction:
        transaction.execute(text("INSERT INTO leases (name, holder, expires_at) VALUES ('test-lease', '', 0)"))
    assert take_lease(database, "test-lease", "machine-a", 60)
    assert not take_lease(database, "test-lease", "machine-b", 60)
    assert take_lease(database, "test-lease", "machine-a", 60)  # renewing one's own lease
    assert take_lease(database, "test-lease", "machine-a", -1)  # and letting it lapse
    assert take_lease(database, "test-lease", "machine-b", 60)


def test_lockout_rows_that_say_nothing_any_more_are_deleted(server: LiveServer) -> None:
    """A lockout row is made for every name typed, known or not: the housekeeping deletes those
    with no streak, no lock in force and no failure this past hour, and keeps the others."""
    from mobproc.storage.housekeeping import cleanup

    now = time.time()
    rows = {"quiet": (0, None, now - 7200), "locked": (0, now + 600, now - 7200),
            "streak": (3, None, now - 7200), "recent": (0, None, now - 60)}
    with server.services.database.transaction(write=True) as transaction:
        for name, (streak, locked_until, window_start) in rows.items():
            transaction.execute(text(
                "INSERT INTO login_attempts (environment, subject_key, streak, lockouts, locked_until, window_start,"
                " window_failures, known, updated_at) VALUES ('dev', :key, :streak, 0, :until, :start, 1, false, 0)"
            ), {"key": f"housekeeping test {name}".encode().ljust(32, b"."), "streak": streak, "until": locked_until,
                "start": window_start})
    cleaned = cleanup(server.services.database, now=now)
    with server.services.database.transaction(write=False) as transaction:
        keys = [bytes(row[0]) for row in transaction.all(text("SELECT subject_key FROM login_attempts"))]
    left = {key.decode().split()[-1].rstrip(".") for key in keys if key.startswith(b"housekeeping test")}
    assert cleaned.login_attempts >= 1
    assert left == {"locked", "streak", "recent"}
