"""The defences stay mobproc's for a directory's accounts (issue 23, item 3): lockout kept by
subject across worker processes, so that 200 parallel guesses put at most the threshold of
binds to the directory (counted in slapd's own log); and no timing oracle: a name the
directory does not know costs what a wrong password costs, and so does a locked subject."""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import (
    DIRECTORY_PEOPLE,
    ServerProcess,
    all_at_once,
    ldap_sources,
    lock_subject,
    mobproc,
    password_grant,
    unique,
)
from mobproc.domain import audit

ATTEMPTS = 200
NO_BUDGETS = {"MOBPROC_CLIENT_FAILURE_BURST": "0", "MOBPROC_ADDRESS_FAILURE_BURST": "0"}


def test_two_hundred_parallel_guesses_on_two_workers_bind_at_most_the_threshold(slapd, tmp_path: Path) -> None:  # noqa: ANN001
    # Every guess is admitted and waits its turn (none refused as overload): what limits the
    # binds is the lockout alone.
    sources = ldap_sources(slapd, tmp_path, pool_size=16, queue=1000, wait_ms=60000)
    env = {"MOBPROC_IDENTITY_SOURCES": str(sources), **NO_BUDGETS}
    victim = f"uid=victim,{DIRECTORY_PEOPLE}"
    before = slapd.binds(victim)
    with ServerProcess(tmp_path, "--workers", "2", env=env) as server, server.client() as http:
        client = server.add_client()
        with server.client(connections=200) as shared:
            answers = all_at_once(200, lambda n: password_grant(shared, client, ("command://victim", f"guess-{n}")))
        assert Counter(a.status_code for a in answers) == Counter({400: 200})
        assert len({a.text for a in answers}) == 1
        binds = slapd.binds(victim) - before
        # Refusals before the directory had said the entry exists name it by its digest only.
        named = {"command://victim", server.services.pseudonyms.unknown_username("command://victim")}
        counted = Counter(e.reason for e in server.services.audit.events(event=audit.LOGIN_FAILED)
                          if e.subject in named)
        print(f"\n200 parallel guesses at a directory account on 2 workers: {binds} binds reached slapd; "
              f"audit reasons {dict(counted)}")
        assert binds <= 5 and counted["wrong_password"] == binds
        assert counted["locked"] + counted["busy"] == 200 - binds
        # Locked by subject: the right password too, until an operator unlocks it.
        right = ("command://victim", slapd.passwords["victim"])
        assert password_grant(http, client, right).status_code == 400
        assert slapd.binds(victim) - before == binds  # not even tried
        unlocked = mobproc("user", "unlock", "command://Victim", "--database", server.database_url, env=env)
        assert unlocked.returncode == 0, unlocked.stderr
        assert password_grant(http, client, right).status_code == 200


@pytest.mark.timing
def test_unknown_name_wrong_password_and_locked_answer_in_the_same_time(slapd, tmp_path: Path) -> None:  # noqa: ANN001
    env = {
        "MOBPROC_IDENTITY_SOURCES": str(ldap_sources(slapd, tmp_path)),
        # The known entry must stay unlocked for 200 wrong passwords.
        "MOBPROC_LOCKOUT_THRESHOLD": "1000", "MOBPROC_LOCKOUT_FAILURES_PER_HOUR": "0",
        "MOBPROC_ACCESS_LOG": "false", **NO_BUDGETS,
    }
    with ServerProcess(tmp_path, env=env) as server, server.client() as http:
        client = server.add_client()
        lock_subject(server, "command://down", until=time.time() + 3600)
        # One unknown name, tried as often as the known one: each then updates its lockout row
        # (a first attempt of any name, known or not, inserts one; that is no oracle).
        nobody = f"command://{unique('nobody')}"
        kinds = {
            "unknown": lambda: (nobody, "a wrong password"),
            "wrong": lambda: ("command://timer", "a wrong password"),
            "locked": lambda: ("command://down", slapd.passwords["down"]),  # even its right password
        }
        for make in kinds.values():  # warm up every path
            for _ in range(3):
                password_grant(http, client, make())
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        order = list(kinds)
        shuffle = random.Random(23).shuffle
        for _ in range(ATTEMPTS):
            shuffle(order)  # interleaved, in a changing order: load on the machine hits all alike
            for kind in order:
                user = kinds[kind]()
                started = time.perf_counter()
                answer = password_grant(http, client, user)
                times[kind].append(time.perf_counter() - started)
                assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
        reasons = Counter(e.reason for e in server.services.audit.events(event=audit.LOGIN_FAILED))
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    print(f"\nmedians over {ATTEMPTS} attempts each against the directory: "
          + ", ".join(f"{kind} {value * 1000:.2f} ms" for kind, value in medians.items()))
    assert reasons["unknown_account"] >= ATTEMPTS and reasons["wrong_password"] >= ATTEMPTS
    assert abs(medians["unknown"] - medians["wrong"]) < 0.1 * medians["wrong"]
    assert abs(medians["locked"] - medians["wrong"]) < 0.1 * medians["wrong"]
