"""Password hashing: argon2id through argon2-cffi, and per-process admission control for it."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError

from ..config import Settings


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
        self._slots = threading.BoundedSemaphore(concurrency)
        self._waiting = 0
        self._queue = queue
        self._wait = wait
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            with self._lock:
                if self._waiting >= self._queue:
                    raise HashingCapacityExceeded()
                self._waiting += 1
            try:
                admitted = self._wait > 0 and self._slots.acquire(timeout=self._wait)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not admitted:
                raise HashingCapacityExceeded()
        try:
            yield
        finally:
            self._slots.release()


    @classmethod
    def from_settings(cls, settings: Settings) -> HashingAdmission:
        return cls(settings.hashing_concurrency, settings.hashing_queue, settings.hashing_wait_ms / 1000)


class PasswordHasher:
    """argon2id with the configured cost, plus a dummy hash for unknown accounts.

    An unknown account is checked against :attr:`dummy_hash` so that it costs the same time
    as a wrong password on a known one: the answer time must not tell which accounts exist.
    """

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._argon2 = _Argon2(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        self.dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        return cls(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._argon2.verify(stored_hash or self.dummy_hash, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters: it is replaced on the next login."""
        try:
            return self._argon2.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
