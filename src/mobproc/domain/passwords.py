"""Password hashing: argon2id through argon2-cffi, and per-process admission control for it."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import statistics
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
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
    beyond capacity is refused within the wait (a 503 the client may retry) instead of
    queueing until every request is slow. It is per process by nature: it shares out this
    process's cores and threads.

    A slot is taken on the event loop, before the request is handed to a thread
    (:meth:`slot` is asynchronous): a request refused, or still waiting, holds no thread and
    no database connection, so its 503 comes within the wait however many arrive; and the
    slot covers the whole password check, its database writes (failure budget, lockout
    claim) as well as the hash.

    With ``spare_core``, one slot fewer (never none) is open while requests that hash nothing
    are being answered (:meth:`answered`, told of every answer, within the last
    :data:`SPARE_CORE_HOLD` seconds): a slot a core would leave the event loop, which answers
    them, no core of its own, and it would wait for one behind the hashes (README, Admission
    control). A process that only checks passwords hashes on every core.

    >>> import asyncio
    >>> admission = HashingAdmission(concurrency=1, queue=0, wait=0)
    >>> async def twice():
    ...     async with admission.slot():
    ...         async with admission.slot():
    ...             pass
    >>> asyncio.run(twice())
    Traceback (most recent call last):
    mobproc.domain.passwords.HashingCapacityExceeded
    """

    def __init__(self, concurrency: int, queue: int, wait: float, *, spare_core: bool = False) -> None:
        self._concurrency = concurrency
        self._taken = 0
        self._waiters: deque[asyncio.Future[None]] = deque()  # in arrival order, each resolved when admitted
        self._queue = queue
        self._wait = wait
        self._spare_core = spare_core and concurrency > 1
        self._others_until = -math.inf  # while requests that hash nothing are answered (time.monotonic())

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """First come, first served: a slot that frees up is handed to the longest waiter, and
        no newcomer overtakes those waiting (README, Admission control: why)."""
        if self._spare_core:
            _ASKED_FOR_A_HASH.set(True)
            self._admit()  # the slot a core spared, once nothing else is answered, goes to a waiter first
        if not self._waiters and self._taken < self.open_slots:
            self._taken += 1
        elif self._wait <= 0:
            raise HashingCapacityExceeded()
        elif len(self._waiters) >= self._queue:
            # Refused, and answered once a waiter's wait would be half over or more, not sooner: a
            # client that retries at once (a flood on kept-alive connections) then sends at most
            # one request per connection per half wait, instead of as many as the loop can
            # refuse, and the loop stays free for the refreshes and introspections that hash
            # nothing. At a random point of the wait's second half: requests that arrived
            # together would otherwise be refused together, come back together, and take the
            # loop in one piece every wait. The wait holds a timer, no thread, no slot and no
            # place in the queue.
            await asyncio.sleep(self._wait * (1 - _POINTS.random() / 2))
            raise HashingCapacityExceeded()
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(asyncio.shield(waiter), self._wait)
            except (TimeoutError, asyncio.CancelledError) as error:
                if not waiter.done():  # not handed the slot as the wait ended
                    self._waiters.remove(waiter)
                    waiter.cancel()
                    if isinstance(error, asyncio.CancelledError):
                        raise
                    raise HashingCapacityExceeded() from None
                if isinstance(error, asyncio.CancelledError):
                    self._release()  # handed, then cancelled: pass it on
                    raise
        try:
            yield
        finally:
            self._release()

    def answered(self) -> None:
        """Told of each HTTP answer, in the task that answered: one whose request asked for no
        slot hashed nothing, and keeps a core spared for the next :data:`SPARE_CORE_HOLD`
        seconds."""
        if self._spare_core and not _ASKED_FOR_A_HASH.get():
            self._others_until = time.monotonic() + SPARE_CORE_HOLD

    @property
    def open_slots(self) -> int:
        """How many password checks may run at once now."""
        if self._spare_core and time.monotonic() < self._others_until:
            return self._concurrency - 1
        return self._concurrency

    def _release(self) -> None:
        self._taken -= 1
        self._admit()

    def _admit(self) -> None:
        """Hands the open slots to the longest waiters (each stays taken on its behalf)."""
        while self._waiters and self._taken < self.open_slots:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._taken += 1

    @classmethod
    def from_settings(cls, settings: Settings) -> HashingAdmission:
        return cls(settings.hashing_concurrency, settings.hashing_queue, settings.hashing_wait_ms / 1000,
                   spare_core=settings.hashing_spare_core)


# Where in the wait's second half a refusal comes: no secret, but the package draws nothing from
# the `random` module (tests/test_secret_hygiene.py), so that no secret ever does by mistake.
_POINTS = secrets.SystemRandom()
# How long after the last answer to a request that hashed nothing a core stays spared for such
# requests: long enough to span a client's pause between two of them, short enough that a
# process left to password checks alone soon hashes on every core again.
SPARE_CORE_HOLD = 1.0
# Set in a request's task (its context) when it asks for a slot of an admission sparing a core.
_ASKED_FOR_A_HASH: ContextVar[bool] = ContextVar("mobproc_asked_for_a_hash", default=False)


HASHING_NICENESS = 10


def _yield_to_requests() -> None:
    """A hashing thread gives way to the event loop when both want a core: with as many hashes
    at once as cores, the loop (which answers refreshes, introspections, refusals) would
    otherwise get a third of one. Linux weighs a thread at niceness 10 about a tenth of one at
    0, and a hash loses nothing while the loop is idle. (Elsewhere the call is refused: no harm.)"""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)
    except (AttributeError, OSError):
        pass


class PasswordHasher:
    """argon2id with the configured cost, plus a dummy hash for unknown accounts.

    An unknown account is checked against :attr:`dummy_hash` so that it costs the same time
    as a wrong password on a known one: the answer time must not tell which accounts exist.
    For the same reason a failed check of a hash made with other (earlier, cheaper) argon2
    parameters takes as long as one with the current parameters: after any change of
    ``MOBPROC_ARGON2_*`` every account that has not logged in since keeps its old hash, and
    answering its wrong passwords faster would set it apart from names that do not exist.
    Such a check is held until the median time of this process's recent checks with the
    current parameters has passed.

    With ``threads``, every hash and verification runs on one of that many threads of its own
    (the caller waits, without the GIL). argon2 allocates its memory (19 MiB) on each call,
    and glibc keeps a heap per thread: on the same few threads each call reuses memory the
    last one left in the processor's caches, where the request threads that take turns would
    each bring their own (README, Performance).
    """

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int, threads: int | None = None) -> None:
        self._argon2 = _Argon2(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="mobproc-argon2",
                                           initializer=_yield_to_requests) if threads else None
        # The durations of recent checks with the current parameters, the first being the
        # dummy hash's own making (a hash costs what a verification costs).
        self._recent: deque[float] = deque(maxlen=64)
        started = time.perf_counter()
        self.dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))
        self._recent.append(time.perf_counter() - started)

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
        current = stored_hash is None or not self.needs_rehash(stored_hash)
        outcome, seconds = self._run(self._timed_verify, stored_hash or self.dummy_hash, password)
        if current:
            self._recent.append(seconds)
        elif not outcome:
            time.sleep(max(0.0, statistics.median(self._recent) - seconds))
        return outcome and stored_hash is not None

    def _timed_verify(self, stored_hash: str, password: str) -> tuple[bool, float]:
        started = time.perf_counter()
        try:
            outcome = self._argon2.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            outcome = False
        return outcome, time.perf_counter() - started

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters: it is replaced on the next login."""
        try:
            return self._argon2.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
