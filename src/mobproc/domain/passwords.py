"""Password hashing: argon2id through argon2-cffi, and per-process admission control for it."""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError

from ..config import Settings

T = TypeVar("T")


class HashingCapacityExceeded(Exception):
    """No argon2id slot became free within the wait: served as 503 with Retry-After."""


class HashingAdmission:
    """At most ``concurrency`` password checks at once in this process, at most ``queue``
    waiting, none waiting longer than ``wait`` seconds.

    argon2id at OWASP's cost takes tens of milliseconds of a core and releases the GIL, so
    without a bound a burst of password grants takes every core and every worker thread,
    and refreshes and introspection, which hash nothing, starve behind it. With it, work
    beyond capacity is refused at once (a fast 503 the client may retry) instead of queueing
    until every request is slow. It is per process by nature: it shares out this process's
    cores and threads.

    The slot covers a whole password check, its database writes (failure budget, lockout
    claim) as well as the hash: a refused request then has spent nothing and waited for
    nothing, and no more password checks than slots contend for the database's write lock.

    >>> admission = HashingAdmission(concurrency=1, queue=0, wait=0)
    >>> with admission.slot():
    ...     with admission.slot():
    ...         pass
    Traceback (most recent call last):
    mobproc.domain.passwords.HashingCapacityExceeded
    """

    def __init__(self, concurrency: int, queue: int, wait: float) -> None:
        self._free = concurrency
        self._waiters: deque[threading.Lock] = deque()  # in arrival order, each held until admitted
        self._queue = queue
        self._wait = wait
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """First come, first served: a slot that frees up is handed to the longest waiter, and
        no newcomer overtakes those waiting. A semaphore lets one, and the waiter it overtook
        queues again at the back: 32 connections of password grants saw their latency's
        standard deviation at 229-291 ms with one, 95-115 ms with this (wrk, 10 s each)."""
        waiter = None
        with self._lock:
            if self._free:
                self._free -= 1
            elif len(self._waiters) >= self._queue:
                raise HashingCapacityExceeded()
            else:
                waiter = threading.Lock()
                waiter.acquire()
                self._waiters.append(waiter)
        if waiter is not None and not (self._wait > 0 and waiter.acquire(timeout=self._wait)):
            with self._lock:
                handed = waiter not in self._waiters  # the slot came just as the wait ended
                if not handed:
                    self._waiters.remove(waiter)
            if not handed:
                raise HashingCapacityExceeded()
        try:
            yield
        finally:
            with self._lock:
                if self._waiters:
                    self._waiters.popleft().release()  # handed over: it stays taken
                else:
                    self._free += 1

    @classmethod
    def from_settings(cls, settings: Settings) -> HashingAdmission:
        return cls(settings.hashing_concurrency, settings.hashing_queue, settings.hashing_wait_ms / 1000)


class PasswordHasher:
    """argon2id with the configured cost, plus a dummy hash for unknown accounts.

    An unknown account is checked against :attr:`dummy_hash` so that it costs the same time
    as a wrong password on a known one: the answer time must not tell which accounts exist.

    With ``threads``, every hash and verification runs on one of that many threads of its own
    (the caller waits, without the GIL). argon2 allocates its memory (19 MiB) on each call,
    and glibc keeps a heap per thread: on the same few threads each call reuses memory the
    last one left in the processor's caches, where the request threads that take turns would
    each bring their own. A bare loop on one core, verifying on 32 threads in turn: 43.6
    verifications/s; handing each to one such thread: 49.1 to 50.2, as the loop on one thread
    (49.8 to 50.3).
    """

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int, threads: int | None = None) -> None:
        self._argon2 = _Argon2(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="mobproc-argon2") if threads else None
        self.dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        # As many threads as password checks may run at once (HashingAdmission's slots).
        return cls(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism,
                   threads=settings.hashing_concurrency)

    def _run(self, function: Callable[..., T], *args: str) -> T:
        return function(*args) if self._threads is None else self._threads.submit(function, *args).result()

    def hash(self, password: str) -> str:
        return self._run(self._argon2.hash, password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._run(self._argon2.verify, stored_hash or self.dummy_hash, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters: it is replaced on the next login."""
        try:
            return self._argon2.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
