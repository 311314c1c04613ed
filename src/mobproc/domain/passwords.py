"""Password hashing: argon2id through argon2-cffi, behind per-process admission control."""

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
    """At most ``concurrency`` hashes at once in this process, at most ``queue`` waiting,
    none waiting longer than ``wait`` seconds.

    argon2id at OWASP's cost takes tens of milliseconds of a core and releases the GIL, so
    without a bound a burst of password grants takes every core and every worker thread,
    and refreshes and introspection, which hash nothing, starve behind it. With it, work
    beyond capacity is refused at once (a fast 503 the client may retry) instead of queueing
    until every request is slow. It is per process by nature: it shares out this process's
    cores and threads.
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


UNBOUNDED = HashingAdmission(1 << 30, 0, 0)


class PasswordHasher:
    """argon2id with the configured cost, plus a dummy hash for unknown accounts.

    An unknown account is checked against :attr:`dummy_hash` so that it costs the same time
    as a wrong password on a known one: the answer time must not tell which accounts exist.
    """

    def __init__(
        self, memory_kib: int, time_cost: int, parallelism: int, *, admission: HashingAdmission = UNBOUNDED
    ) -> None:
        self._argon2 = _Argon2(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        self.dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))
        self.admission = admission

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        admission = HashingAdmission(
            settings.hashing_concurrency, settings.hashing_queue, settings.hashing_wait_ms / 1000
        )
        return cls(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism,
                   admission=admission)

    def hash(self, password: str) -> str:
        with self.admission.slot():
            return self._argon2.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Raises :class:`HashingCapacityExceeded` when no slot frees up in time."""
        with self.admission.slot():
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
