"""Lockout: slowing the guessing of one account's password, kept by subject.

RFC 6749 §4.3.2: a server offering the password grant "MUST protect the endpoint against
brute force attacks (e.g., using rate-limitation or generating alerts)". After ``threshold``
consecutive failures a subject is locked for ``first`` seconds, and each further streak
doubles it up to ``longest``; a success ends the streak. Whatever successes come between,
no subject gets more than ``failures_per_hour`` failed checks in an hour (ASVS 4.0.3 §2.2.1
allows at most 100): a service account that logs in all day must not let an attacker who
interleaves with it guess on for ever.

The state is a row per *subject*, not per account, whatever the identity source: a
directory account has no row of mobproc's own, and a name that matches no account is
counted and locked exactly like one that does, so lockout itself tells no one which names
exist. The row's key is a keyed digest of the name (:class:`~.pseudonyms.Pseudonyms`), since
what is typed as a name may be a password.

An attempt is *claimed* (counted) before its password is checked, by one conditional update
in the database: of 200 parallel guesses on any number of processes at most ``threshold``
are ever checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

HOUR = 3600.0

# Why a claim was refused (the audit trail's reason).
LOCKED = "locked"
BUSY = "busy"  # as many checks of the subject in flight as failures allowed, for too long


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """A threshold of 0 turns the consecutive-failure lockout off, a ``failures_per_hour`` of
    0 the hourly cap; both 0, no attempt is counted at all.

    >>> [LockoutPolicy(5, 60, 900).duration(n) for n in range(6)]
    [60, 120, 240, 480, 900, 900]
    """

    threshold: int = 5
    first: int = 60
    longest: int = 900
    failures_per_hour: int = 20
    busy_wait: float = 0.5  # how long an attempt waits while the streak is all checks in flight

    def duration(self, lockouts: int) -> int:
        return min(self.first * 2 ** min(lockouts, 32), self.longest)

    @property
    def enabled(self) -> bool:
        return bool(self.threshold or self.failures_per_hour)

    @property
    def streak_limit(self) -> int:
        """Claims allowed in a row: the threshold, or (with only the hourly cap) no limit."""
        return self.threshold or 1 << 30


@dataclass(frozen=True, slots=True)
class AttemptState:
    """A subject's row: the current streak (claims not yet ended by a success, in flight or
    failed), the lockouts so far (the escalation), and the failures of the current hour."""

    streak: int
    lockouts: int
    locked_until: float | None
    window_start: float
    window_failures: int
    known: bool = False  # a source has said the subject exists (a wrong password or a success)

    def locked_at(self, now: float) -> bool:
        return self.locked_until is not None and self.locked_until > now


class LoginAttempts(Protocol):
    """The rows, shared by every process and machine (the SQL is in :mod:`mobproc.storage.attempts`)."""

    def claim(self, key: bytes, limit: int, now: float) -> tuple[bool, AttemptState | None]:
        """Count one attempt, only while the streak is under ``limit`` and the subject is not
        locked, in one conditional update (a key never seen gets its row). Whether it was
        claimed, and the row (None if there is none)."""
        ...

    def peek(self, key: bytes) -> AttemptState | None: ...

    def release(self, key: bytes) -> None:
        """Give back a claim whose password was never checked."""
        ...

    def count_failure(self, key: bytes, now: float, window: float, *, known: bool) -> AttemptState:
        """A checked claim failed: it stays in the streak, and counts in the hour's failures
        (an hour older than ``window`` starts anew); ``known`` when the source said the subject
        exists. The row after the update."""
        ...

    def lock(self, key: bytes, until: float, *, streak_at_least: int | None) -> bool:
        """Lock until ``until`` (never shortening a longer lock). With ``streak_at_least``, only
        if the streak still stands there, and the streak then ends and the escalation grows
        (a concurrent success ended the streak: then no lock)."""
        ...

    def succeeded(self, key: bytes, now: float) -> bool:
        """A right password: the streak and the escalation end, unless the subject was locked
        meanwhile (False: the success does not count)."""
        ...

    def unlock(self, key: bytes) -> bool:
        """End a lockout and the streak (``mobproc user unlock``); the hour's count stays."""
        ...


class Lockout:
    def __init__(self, attempts: LoginAttempts, policy: LockoutPolicy) -> None:
        self._attempts = attempts
        self.policy = policy

    def try_claim(self, key: bytes, now: float) -> tuple[str | None, bool]:
        """One claim: None when claimed (or lockout is off), else ``LOCKED`` or ``BUSY``; and
        whether a source has said the subject exists."""
        if not self.policy.enabled:
            return None, False
        claimed, state = self._attempts.claim(key, self.policy.streak_limit, now)
        known = state is not None and state.known
        if claimed:
            return None, known
        return (LOCKED if state is not None and state.locked_at(now) else BUSY), known

    def wait_for_claim(self, key: bytes) -> str | None:
        """After a ``BUSY``: every slot of the streak is a check still running (not a failure),
        so a fleet logging in to one service account at once is not refused for it. Poll by
        reading (no write lock taken) and claim when a slot frees, for at most ``busy_wait``."""
        deadline = time.monotonic() + self.policy.busy_wait
        limit = self.policy.streak_limit
        while time.monotonic() < deadline:
            time.sleep(0.01)
            state = self._attempts.peek(key)
            now = time.time()
            if state is not None and state.locked_at(now):
                return LOCKED
            if state is None or state.streak < limit:
                claimed, state = self._attempts.claim(key, limit, now)
                if claimed:
                    return None
                if state is not None and state.locked_at(now):
                    return LOCKED
        return BUSY

    def release(self, key: bytes) -> None:
        if self.policy.enabled:
            self._attempts.release(key)

    def failed(self, key: bytes, now: float, *, known: bool) -> float | None:
        """A checked password was wrong (``known``: the subject exists): until when this
        failure locked the subject, if it did."""
        policy = self.policy
        if not policy.enabled:
            return None
        state = self._attempts.count_failure(key, now, HOUR, known=known)
        locked_until = None
        if policy.threshold and state.streak >= policy.threshold:
            until = now + policy.duration(state.lockouts)
            if self._attempts.lock(key, until, streak_at_least=policy.threshold):
                locked_until = until
        if policy.failures_per_hour and state.window_failures >= policy.failures_per_hour:
            until = state.window_start + HOUR
            if self._attempts.lock(key, until, streak_at_least=None):
                locked_until = max(until, locked_until or until)
        return locked_until

    def succeeded(self, key: bytes, now: float) -> bool:
        return not self.policy.enabled or self._attempts.succeeded(key, now)
