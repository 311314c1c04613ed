"""Issue: 60 s of mixed traffic at saturation on two worker processes, and a kill -9 in the
middle of it. No answer ≥ 500, no connection error, and no token a client was given is lost."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import EVERY_GRANT, TOKEN_PATH, ServerProcess

from .conftest import SERVER_ENV, figure, kill_process_tree
from .traffic import Traffic, check_tokens

LOAD_SECONDS = int(os.environ.get("RELIABILITY_LOAD_SECONDS", 60))  # the figure; less only by hand
USERS = 20


def provision(server: ServerProcess) -> tuple[tuple[str, str], tuple[str, str], list[tuple[str, str]]]:
    # access_token_validation: the client introspects its own refresh tokens, active to it alone.
    client = server.add_client(grants=("password", "refresh_token", "access_token_validation"))
    introspector = server.add_client(grants=EVERY_GRANT)
    return client, introspector, [server.add_user() for _ in range(USERS)]


def test_sixty_seconds_of_mixed_traffic_at_saturation_lose_nothing(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, "--workers", "2", env=SERVER_ENV) as server:
        client, introspector, users = provision(server)
        traffic = Traffic(server.url, client, introspector, users)
        started = time.monotonic()
        tally = traffic.run(LOAD_SECONDS)
        elapsed = time.monotonic() - started
        expected = list(traffic.expectations())
        outcome = check_tokens(server.url, introspector, expected, owner=client)

    figure("load", "seconds of traffic (2 workers, 16 connections)", f"{elapsed:.1f}")
    figure("load", "requests answered", tally.requests)
    figure("load", "requests per second", f"{tally.requests / elapsed:.0f}")
    figure("load", "answers ≥ 500", tally.server_errors)
    figure("load", "connection errors", tally.connection_errors)
    figure("load", "tokens checked afterwards", len(expected))
    figure("load", "  of which active as they must be", outcome["active"])
    figure("load", "  of which revoked as they must be", outcome["revoked"])
    figure("load", "  lost (live but inactive)", outcome["lost"])
    assert tally.server_errors == 0 and tally.connection_errors == 0, tally.unexpected[:10]
    assert not tally.unexpected, tally.unexpected[:10]
    assert outcome["lost"] == 0 and outcome["resurrected"] == 0, outcome
    assert outcome["active"] + outcome["revoked"] == len(expected), outcome


@pytest.mark.sqlite_only
def test_kill_9_in_the_middle_of_the_load_loses_no_answered_token(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, "--workers", "2", env=SERVER_ENV) as server:
        client, introspector, users = provision(server)
        traffic = Traffic(server.url, client, introspector, users)
        # Kill at a moment nobody chose, between 5 and 10 s into 20 s of traffic.
        delay = random.uniform(5, 10)

        def crash() -> None:
            time.sleep(delay)
            traffic.crashed.set()
            figure("crash", "processes killed with SIGKILL", kill_process_tree(server.process.pid))

        killer = threading.Thread(target=crash)
        killer.start()
        tally = traffic.run(20)
        killer.join()
        server.process.wait(timeout=10)
        database = server.database_url.removeprefix("sqlite:///")
        server.services.database.dispose()

    integrity = sqlite3.connect(database).execute("PRAGMA integrity_check").fetchall()
    with ServerProcess(tmp_path, "--workers", "2", env=SERVER_ENV) as restarted:
        # ServerProcess returns as soon as the port answers: the next request must succeed.
        started = time.monotonic()
        first = httpx.post(restarted.url + TOKEN_PATH, data={"grant_type": "password", "username": users[0][0],
                                                             "password": users[0][1]}, auth=client, timeout=30)
        first_answer = time.monotonic() - started
        expected = list(traffic.expectations())
        outcome = check_tokens(restarted.url, introspector, expected, owner=client)

    figure("crash", "seconds of traffic before the kill", f"{delay:.1f}")
    figure("crash", "answers received before the kill", tally.requests)
    figure("crash", "answers ≥ 500 before the kill", tally.server_errors)
    figure("crash", "PRAGMA integrity_check", integrity[0][0])
    figure("crash", "first request after restart", f"{first.status_code} in {first_answer * 1000:.0f} ms")
    figure("crash", "tokens checked after restart", len(expected))
    figure("crash", "  active / revoked as they must be", f"{outcome['active']:,} / {outcome['revoked']:,}")
    figure("crash", "  in flight at the kill (either state)", outcome["either"])
    figure("crash", "  lost (answered 200, now inactive)", outcome["lost"])
    assert tally.server_errors == 0, tally.unexpected[:10]
    assert integrity == [("ok",)]
    assert first.status_code == 200, first.text
    assert outcome["lost"] == 0 and outcome["resurrected"] == 0, outcome
    assert outcome["active"] + outcome["revoked"] + outcome["either"] == len(expected), outcome
