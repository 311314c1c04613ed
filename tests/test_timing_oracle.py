"""No timing oracle: an unknown account, a wrong password on a known one, a locked account and
an account whose hash was made with earlier, cheaper argon2id settings (issue 19, item 2)
take the same time (CONTRACT §1), within 10 % of one argon2id verification."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher as Argon2  # noqa: N814

from conftest import ServerProcess, lock_subject, password_grant, unique
from mobproc.config import load_settings
from mobproc.domain.identities import Username

pytestmark = pytest.mark.timing  # make test runs it alone, after the parallel runs

ATTEMPTS = 200


def test_unknown_wrong_and_locked_answer_in_the_same_time(tmp_path: Path) -> None:
    env = {
        # The known account must stay unlocked for 200 wrong passwords; the budgets stay out of the way.
        "MOBPROC_LOCKOUT_THRESHOLD": "1000", "MOBPROC_LOCKOUT_FAILURES_PER_HOUR": "0",
        "MOBPROC_CLIENT_FAILURE_BURST": "0", "MOBPROC_ADDRESS_FAILURE_BURST": "0", "MOBPROC_ACCESS_LOG": "false",
    }
    with ServerProcess(tmp_path, env=env) as server, server.client() as http:
        client, known, locked = server.add_client(), server.add_user(), server.add_user()
        lock_subject(server, locked[0], until=time.time() + 3600)
        # Hashed before MOBPROC_ARGON2_* was raised to today's cost, and not logged into since.
        old = Username("command", unique("old"))
        server.services.accounts.add_account(old, Argon2(memory_cost=4096, time_cost=1).hash("its password"))
        kinds = {
            "unknown": lambda: (f"command://{unique('nobody')}", "a wrong password"),
            "wrong": lambda: (known[0], "a wrong password"),
            "locked": lambda: (locked[0], locked[1]),  # even its right password
            "old_hash": lambda: (str(old), "a wrong password"),
        }
        for make in kinds.values():  # warm up every path
            password_grant(http, client, make())
        settings = load_settings()  # the server's cost: OWASP's m=19456 KiB, t=2, p=1
        argon2 = Argon2(memory_cost=settings.argon2_memory_kib, time_cost=settings.argon2_time_cost,
                        parallelism=settings.argon2_parallelism)
        stored = argon2.hash("reference")
        verifications: list[float] = []
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        order = list(kinds)
        shuffle = random.Random(4).shuffle
        for attempt in range(ATTEMPTS):
            if attempt % 5 == 0:  # the yardstick, measured under the same load as the rest
                started = time.perf_counter()
                argon2.verify(stored, "reference")
                verifications.append(time.perf_counter() - started)
            shuffle(order)  # interleaved, in a changing order: load on the machine hits all alike
            for kind in order:
                user = kinds[kind]()
                started = time.perf_counter()
                response = password_grant(http, client, user)
                times[kind].append(time.perf_counter() - started)
                assert response.status_code == 400 and response.json()["error"] == "invalid_grant"

    one = statistics.median(verifications)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    print("\nmedians over", ATTEMPTS, "attempts each:",
          ", ".join(f"{kind} {value * 1000:.2f} ms" for kind, value in medians.items()),
          f"; one argon2id verification {one * 1000:.2f} ms")
    assert abs(medians["unknown"] - medians["wrong"]) < 0.1 * one
    assert abs(medians["locked"] - medians["wrong"]) < 0.1 * one
    assert abs(medians["old_hash"] - medians["unknown"]) < 0.1 * one
