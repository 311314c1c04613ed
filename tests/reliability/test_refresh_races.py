"""Issue: 10,000 trials of one refresh token used 8 times at once, on two worker processes:
never two winners (RFC 9700 §4.14.2: a refresh token is used once), never a 5xx."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from conftest import TOKEN_PATH, ServerProcess

from .conftest import SERVER_ENV, figure
from .traffic import http_client

TRIALS = int(os.environ.get("RELIABILITY_RACE_TRIALS", 10_000))
AT_ONCE = 8
# Trials run in a few independent lanes, so that the server is not idle while one lane's
# eight answers come back; within a trial the eight uses of one token start together.
LANES = int(os.environ.get("RELIABILITY_RACE_LANES", 3))


def run_lane(url: str, client: tuple[str, str], user: tuple[str, str], trials: int) -> Counter:
    outcome: Counter = Counter()
    connections = [http_client(url) for _ in range(AT_ONCE)]
    start = threading.Barrier(AT_ONCE)

    def use(slot: int, refresh_token: str) -> int:
        start.wait(timeout=60)
        try:
            response = connections[slot].post(
                TOKEN_PATH, data={"grant_type": "refresh_token", "refresh_token": refresh_token}, auth=client)
        except httpx.TransportError:
            return -1
        return response.status_code

    with ThreadPoolExecutor(AT_ONCE) as pool:
        for _ in range(trials):
            login = connections[0].post(TOKEN_PATH, data={"grant_type": "password", "username": user[0],
                                                          "password": user[1]}, auth=client)
            if login.status_code != 200:
                outcome[f"login {login.status_code} {login.text[:80]}"] += 1
                continue
            refresh_token = login.json()["refresh_token"]
            statuses = list(pool.map(use, range(AT_ONCE), [refresh_token] * AT_ONCE))
            winners = statuses.count(200)
            outcome["trials"] += 1
            outcome["requests"] += AT_ONCE + 1
            outcome["one winner" if winners == 1 else "no winner" if winners == 0 else "two or more winners"] += 1
            outcome["5xx"] += sum(status >= 500 for status in statuses)
            outcome["connection errors"] += statuses.count(-1)
            outcome["losers told invalid_grant"] += statuses.count(400)
    for connection in connections:
        connection.close()
    return outcome


def test_ten_thousand_races_for_one_refresh_token_have_one_winner_each(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, "--workers", "2", env=SERVER_ENV) as server:
        client, user = server.add_client(), server.add_user()
        started = time.monotonic()
        with ThreadPoolExecutor(LANES) as lanes:
            shares = [TRIALS // LANES + (lane < TRIALS % LANES) for lane in range(LANES)]
            results = list(lanes.map(run_lane, [server.url] * LANES, [client] * LANES, [user] * LANES, shares))
        elapsed = time.monotonic() - started
    outcome = sum(results, Counter())

    figure("races", f"trials ({AT_ONCE} uses of one refresh token at once, 2 workers)", outcome["trials"])
    figure("races", "seconds", f"{elapsed:.1f}")
    figure("races", "trials with exactly one winner", outcome["one winner"])
    figure("races", "trials with two or more winners", outcome["two or more winners"])
    figure("races", "trials with no winner", outcome["no winner"])
    figure("races", "5xx", outcome["5xx"])
    figure("races", "connection errors", outcome["connection errors"])
    assert outcome["trials"] == TRIALS, outcome
    assert outcome["two or more winners"] == 0, outcome
    assert outcome["5xx"] == 0 and outcome["connection errors"] == 0, outcome
    assert outcome["one winner"] == TRIALS, outcome
    assert outcome["losers told invalid_grant"] == TRIALS * (AT_ONCE - 1), outcome
