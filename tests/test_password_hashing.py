"""Passwords: argon2id, rehashed when the parameters change; unknown accounts cost the same."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from conftest import LiveServer, password_grant, remember
from mobproc.domain.identities import Username
from mobproc.domain.passwords import PasswordHasher


def test_a_hash_made_with_old_parameters_is_replaced_at_the_next_login(server: LiveServer, http: httpx.Client) -> None:
    old = PasswordHasher(memory_kib=1024, time_cost=1, parallelism=1)
    username, password = Username("command", "legacy-hash-user"), "legacy password 1"
    remember(password)
    server.services.accounts.add_account(username, old.hash(password), tenant="XYZ")
    assert server.services.accounts.find_account("command", username.name).password_hash.startswith("$argon2id$v=19$m=1024,t=1")
    assert password_grant(http, server.add_client(), (str(username), password)).status_code == 200
    stored = server.services.accounts.find_account("command", username.name).password_hash
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert not server.services.hasher.needs_rehash(stored)


class CountingArgon2:
    def __init__(self, real) -> None:  # noqa: ANN001
        self.real, self.verified = real, []

    def verify(self, stored: str, password: str) -> bool:
        self.verified.append(stored)
        return self.real.verify(stored, password)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.real, name)


def test_an_unknown_account_is_checked_against_a_dummy_hash(server: LiveServer, monkeypatch) -> None:  # noqa: ANN001
    hasher = server.services.hasher
    counting = CountingArgon2(hasher._argon2)
    monkeypatch.setattr(hasher, "_argon2", counting)
    with server.client() as http:
        client = server.add_client()
        unknown = password_grant(http, client, ("command://no-such-account", "whatever"))
        unknown_system = password_grant(http, client, ("ldap://someone", "whatever"))
    assert unknown.json() == unknown_system.json() and unknown.json()["error"] == "invalid_grant"
    assert counting.verified == [hasher.dummy_hash, hasher.dummy_hash]


def test_the_served_hasher_runs_argon2_on_its_own_few_threads(make_server) -> None:  # noqa: ANN001
    """Each of many concurrent logins, run on whichever request thread, hashes on one of the
    hasher's threads: as many as password checks may run at once. The server waits as long as
    it takes for a slot: with the default 200 ms, a slow host's queue of 8 logins for 2 slots
    outlasts the wait and admission control answers 503 (test_hashing_admission.py)."""
    with make_server(hashing_wait_ms=60_000) as server:
        threads: set[str] = set()
        hasher = server.services.hasher
        real = hasher._argon2

        class Spy:
            def hash(self, password: str) -> str:
                threads.add(threading.current_thread().name)
                return real.hash(password)

            def verify(self, stored: str, password: str) -> bool:
                threads.add(threading.current_thread().name)
                return real.verify(stored, password)

            def __getattr__(self, name: str):  # noqa: ANN204 - check_needs_rehash
                return getattr(real, name)

        client, user = server.add_client(), server.add_user()
        hasher._argon2 = Spy()
        try:
            with ThreadPoolExecutor(8) as logins:
                def login(_: int) -> int:
                    with server.client() as fresh:
                        return password_grant(fresh, client, user).status_code
                assert set(logins.map(login, range(16))) == {200}
        finally:
            hasher._argon2 = real
        assert threads and all(name.startswith("mobproc-argon2") for name in threads), threads
        assert len(threads) <= server.services.settings.hashing_concurrency
