"""Mixed OAuth traffic at saturation, and the bookkeeping that checks every token afterwards.

Each worker thread has its own keep-alive connection and its own grants, so no locks are
needed: a grant is the tokens of one login, as the client saw them.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from conftest import INTROSPECT_PATH, REVOKE_PATH, TOKEN_PATH, record_tokens

# The mix: what share of the requests each operation is.
MIX = {"password": 25, "refresh": 30, "introspect": 30, "revoke": 15}


@dataclass
class Grant:
    access: list[str]
    refresh: str
    revoked: bool = False  # the client saw the 200 of revoking the refresh token (RFC 7009 §2.1)
    revoked_access: set[str] = field(default_factory=set)
    # An operation whose answer never came (the server was killed): (operation, token).
    pending: tuple[str, str] | None = None


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    connection_errors: int = 0
    unexpected: list[str] = field(default_factory=list)  # a live token refused during the load, etc.

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.statuses.update(other.statuses)
        self.connection_errors += other.connection_errors
        self.unexpected.extend(other.unexpected)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def http_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=120, event_hooks={"response": [record_tokens]})


class Traffic:
    """``workers`` threads sending the mix as fast as the server answers (a closed loop)."""

    def __init__(self, url: str, client: tuple[str, str], introspector: tuple[str, str],
                 users: list[tuple[str, str]], workers: int = 16) -> None:
        self.url, self.client, self.introspector, self.users = url, client, introspector, users
        self.workers = workers
        self.grants: list[list[Grant]] = [[] for _ in range(workers)]
        self.tallies = [Tally() for _ in range(workers)]
        self.stop = threading.Event()
        self.crashed = threading.Event()  # set by a crash test: connection errors are expected

    def run(self, seconds: float) -> Tally:
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=self._work, args=(i, deadline)) for i in range(self.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = Tally()
        for tally in self.tallies:
            total.add(tally)
        return total

    def _work(self, slot: int, deadline: float) -> None:
        rng = random.Random(slot)
        grants, tally = self.grants[slot], self.tallies[slot]
        operations, weights = zip(*MIX.items())
        with http_client(self.url) as http:
            while time.monotonic() < deadline and not self.stop.is_set():
                live = [g for g in grants if not g.revoked and g.pending is None]
                operation = rng.choices(operations, weights)[0] if live else "password"
                grant = rng.choice(live) if live else None
                try:
                    self._one(http, rng, operation, grant, grants, tally)
                except httpx.TransportError as error:
                    if self.crashed.is_set():
                        return  # the answer never came: the grant keeps its ``pending``
                    tally.connection_errors += 1
                    tally.unexpected.append(f"{operation}: {type(error).__name__}")
                    if grant is not None:
                        grant.pending = None

    def _one(self, http: httpx.Client, rng: random.Random, operation: str, grant: Grant | None,
             grants: list[Grant], tally: Tally) -> None:
        client = self.client
        if operation == "password":
            user = rng.choice(self.users)
            response = http.post(TOKEN_PATH, data={"grant_type": "password", "username": user[0],
                                                   "password": user[1], "scope": "MOBPROC"}, auth=client)
        elif operation == "refresh":
            grant.pending = ("refresh", grant.refresh)
            response = http.post(TOKEN_PATH, data={"grant_type": "refresh_token",
                                                   "refresh_token": grant.refresh}, auth=client)
        elif operation == "introspect":
            token = rng.choice([t for t in grant.access if t not in grant.revoked_access] or [grant.refresh])
            # A refresh token is active only to the client it was issued to (issue 19, item 16).
            response = http.post(INTROSPECT_PATH, data={"token": token},
                                 auth=self.client if token == grant.refresh else self.introspector)
        else:
            whole = rng.random() < 0.5
            candidates = [t for t in grant.access if t not in grant.revoked_access]
            token = grant.refresh if whole or not candidates else rng.choice(candidates)
            grant.pending = ("revoke", token)
            response = http.post(REVOKE_PATH, data={"token": token}, auth=client)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        if response.status_code != 200:
            tally.unexpected.append(f"{operation}: {response.status_code} {response.text[:120]}")
            if grant is not None:
                grant.pending = None
            return
        body = response.json()
        if operation == "password":
            grants.append(Grant([body["access_token"]], body["refresh_token"]))
        elif operation == "refresh":
            grant.access.append(body["access_token"])
            grant.refresh = body["refresh_token"]
        elif operation == "introspect" and body.get("active") is not True:
            tally.unexpected.append("introspect: a live token was inactive during the load")
        elif operation == "revoke":
            if token == grant.refresh:
                grant.revoked = True
            else:
                grant.revoked_access.add(token)
        if grant is not None:
            grant.pending = None

    def expectations(self) -> Iterable[tuple[str, bool | None]]:
        """Every token a client received, with the state it must have now: True (active),
        False (revoked), None (an answer that never came leaves it either way)."""
        for grants in self.grants:
            for grant in grants:
                pending_op, pending_token = grant.pending or (None, None)
                if pending_op == "revoke" and pending_token == grant.refresh:
                    yield from ((token, None) for token in [*grant.access, grant.refresh])
                    continue
                for token in grant.access:
                    if grant.revoked or token in grant.revoked_access:
                        yield token, False
                    else:
                        yield token, None if token == pending_token else True
                yield grant.refresh, (False if grant.revoked else None if pending_op == "refresh" else True)


def check_tokens(url: str, introspector: tuple[str, str], expected: list[tuple[str, bool | None]],
                 threads: int = 8, *, owner: tuple[str, str] | None = None) -> Counter:
    """Introspect every token; count ``active``, ``revoked`` (inactive as it must be),
    ``either`` (in flight at a crash), ``lost`` (a live token inactive) and ``resurrected``.
    A token inactive to ``introspector`` is asked of ``owner`` too, the client the tokens were
    issued to: a refresh token is active to it alone (issue 19, item 16)."""

    def check(chunk: list[tuple[str, bool | None]]) -> Counter:
        outcome: Counter = Counter()
        with http_client(url) as http:
            for token, want in chunk:
                response = http.post(INTROSPECT_PATH, data={"token": token}, auth=introspector)
                if response.status_code == 200 and not response.json()["active"] and owner is not None:
                    response = http.post(INTROSPECT_PATH, data={"token": token}, auth=owner)
                if response.status_code != 200:
                    outcome[f"status {response.status_code}"] += 1
                    continue
                active = response.json()["active"]
                if want is None:
                    outcome["either"] += 1
                elif active == want:
                    outcome["active" if active else "revoked"] += 1
                else:
                    outcome["lost" if want else "resurrected"] += 1
        return outcome

    chunks = [expected[i::threads] for i in range(threads)]
    total: Counter = Counter()
    with ThreadPoolExecutor(threads) as pool:
        for outcome in pool.map(check, chunks):
            total.update(outcome)
    return total
