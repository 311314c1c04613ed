"""How long to wait before trying again, and for how long at most."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from ._errors import MobprocError

log = logging.getLogger("mobproc.sdk")
MIN_TIMEOUT = 0.1  # seconds: the shortest try worth making

# Jitter needs no secrecy, but the package draws nothing from the predictable `random` module
# (tests/test_secret_hygiene.py): one rule, no exceptions to audit.
_draw = secrets.SystemRandom()


@dataclass(frozen=True)
class Retry:
    """Exponential backoff with full jitter, bounded by a total ``deadline``.

    The n-th wait (from 0) is uniform in ``[0, min(cap, base * 2**n)]``: clients that failed
    together do not come back together (the "full jitter" of AWS's *Exponential Backoff and
    Jitter*). A ``Retry-After`` from the server (429, 503) replaces the computed wait. No wait
    starts that would end past the deadline: the last error is raised instead.

    >>> Retry(deadline=10).deadline
    10
    >>> 0 <= Retry(base=0.5, cap=4).backoff(3) <= 4
    True
    """

    deadline: float = 30.0
    """Seconds one token may take, retries and waits included, from the first request."""
    base: float = 0.25
    cap: float = 5.0

    def __post_init__(self) -> None:
        if self.deadline <= 0 or self.base < 0 or self.cap < 0:
            raise ValueError("Retry: deadline must be positive, base and cap not negative")

    def backoff(self, attempt: int) -> float:
        return _draw.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 32)))

    def wait(self, attempt: int, error: MobprocError, deadline: float) -> float:
        """The wait before try ``attempt + 1``, or ``error`` raised when no try fits before
        ``deadline`` (a ``time.monotonic()``): the server's ``Retry-After`` is kept to (a shorter
        wait would be refused again); a backoff is cut short to leave one last try."""
        left = deadline - time.monotonic() - MIN_TIMEOUT
        wait = error.retry_after if error.retry_after is not None else min(self.backoff(attempt), left)
        if wait > left or left <= 0:
            raise error
        log.info("request failed (%s); again in %.2f s", error, wait)
        return wait
