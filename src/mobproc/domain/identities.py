"""Resource owners: accounts of a source system, and the protocol that authenticates them.

A username is ``<source_system>://<name>`` for an account of another system
(``command://alice``, ``rivermine://alice``) and a bare ``alice`` for the platform's own
(CONTRACT §2). Each source system is its own identity store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from .passwords import PasswordHasher

PLATFORM = "platform"
MAX_NAME_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Username:
    source_system: str
    name: str

    @classmethod
    def parse(cls, username: str) -> Username:
        """Split ``command://alice`` into its source system and name; a bare name is the platform's.

        >>> Username.parse("rivermine://alice")
        Username(source_system='rivermine', name='alice')
        """
        system, sep, name = username.partition("://")
        if not sep:
            system, name = PLATFORM, username
        if not system or not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
            raise ValueError(f"not a username: {username!r}")
        return cls(system.lower(), name)

    def __str__(self) -> str:
        """The token's subject: the full form, or the bare name for a platform account."""
        return self.name if self.source_system == PLATFORM else f"{self.source_system}://{self.name}"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a token speaks for, with what the MOBPROC API needs to authorize it."""

    subject: str
    source_system: str
    name: str
    tenant: str | None = None
    multitenant: bool = False
    domain: str | None = None
    account_id: int | None = None


# Why a login failed. For the audit trail only: the client gets one invalid_grant for all,
# so that the answer tells no one which accounts exist or are locked.
UNKNOWN_ACCOUNT = "unknown_account"
WRONG_PASSWORD = "wrong_password"
LOCKED = "locked"
BUSY = "busy"  # as many checks of the account in flight as failures allowed, for too long


class AuthenticationFailed(Exception):
    """The credentials were refused; ``reason`` and ``locked_until`` are for the audit trail."""

    def __init__(self, reason: str, *, locked_until: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.locked_until = locked_until  # set when this failure locked the account


class IdentitySource(Protocol):
    """One source system's identity store (the built-in table, or LDAP later)."""

    def authenticate(self, name: str, password: str) -> Identity:
        """The identity, or :class:`AuthenticationFailed`."""
        ...


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """RFC 6749 §4.3.2: the password grant "MUST protect the endpoint against brute force
    attacks (e.g., using rate-limitation or generating alerts)".

    After ``threshold`` consecutive failures an account is locked for ``first`` seconds, and
    each further streak doubles it up to ``longest``; a success resets both. A threshold of 0
    turns lockout off.

    >>> [LockoutPolicy(5, 60, 900).duration(n) for n in range(6)]
    [60, 120, 240, 480, 900, 900]
    """

    threshold: int = 5
    first: int = 60
    longest: int = 900
    busy_wait: float = 0.5  # how long an attempt waits while the limit is all checks in flight

    def duration(self, lockouts: int) -> int:
        return min(self.first * 2 ** min(lockouts, 32), self.longest)


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    source_system: str
    name: str
    password_hash: str
    tenant: str | None
    multitenant: bool
    domain: str | None
    failed_logins: int = 0
    lockouts: int = 0
    locked_until: float | None = None

    def identity(self) -> Identity:
        subject = str(Username(self.source_system, self.name))
        return Identity(subject, self.source_system, self.name, self.tenant, self.multitenant, self.domain, self.id)


class AccountStore(Protocol):
    def find_account(self, source_system: str, name: str) -> Account | None: ...
    def replace_password_hash(self, account_id: int, old_hash: str, new_hash: str) -> None: ...

    def claim_attempt(self, source_system: str, name: str, limit: int, now: float) -> tuple[Account | None, bool]:
        """Count one attempt against the account, in one conditional update, only while its
        streak is under ``limit`` and it is not locked. Answer the account (None if there is
        none) with its counters after the claim, and whether the attempt was claimed; one
        transaction either way, so that a refusal costs what a claim costs."""
        ...

    def release_attempt(self, account_id: int) -> None:
        """Give back a claimed attempt whose password was never checked."""
        ...

    def lock_account(self, account_id: int, limit: int, until: float) -> bool:
        """Lock the account until ``until`` if its streak still stands at ``limit`` or more (a
        concurrent success resets the streak, and then no lock)."""
        ...

    def record_success(self, account_id: int) -> None:
        """A right password: the failure streak and the lockout escalation start over."""
        ...


class StoredIdentitySource:
    """The built-in identity source: accounts in mobproc's own database, argon2id passwords,
    and lockout kept on the account row, so that every process and machine shares it."""

    def __init__(
        self,
        source_system: str,
        accounts: AccountStore,
        hasher: PasswordHasher,
        lockout: LockoutPolicy = LockoutPolicy(),
    ) -> None:
        self.source_system = source_system
        self._accounts = accounts
        self._hasher = hasher
        self._lockout = lockout

    def authenticate(self, name: str, password: str) -> Identity:
        limit, now = self._lockout.threshold, time.time()
        if limit:
            account = self._claim(name, limit, now)
            if isinstance(account, str):
                # A locked account costs a password check too: a fast answer would tell that
                # the account is locked, and so that it exists. Even the right password is
                # refused, and not counted.
                self._hasher.verify(None, password)
                raise AuthenticationFailed(account)
        else:
            account = self._accounts.find_account(self.source_system, name)
            if account is None:
                # An unknown account is checked against the dummy hash: same answer, same time.
                self._hasher.verify(None, password)
                raise AuthenticationFailed(UNKNOWN_ACCOUNT)
        try:
            correct = self._hasher.verify(account.password_hash, password)
        except BaseException:
            if limit:
                self._accounts.release_attempt(account.id)  # never checked: it does not count
            raise
        if not correct:
            locked_until = None
            if limit and account.failed_logins >= limit:
                until = now + self._lockout.duration(account.lockouts)
                if self._accounts.lock_account(account.id, limit, until):
                    locked_until = until
            raise AuthenticationFailed(WRONG_PASSWORD, locked_until=locked_until)
        if limit:
            self._accounts.record_success(account.id)
        if self._hasher.needs_rehash(account.password_hash):
            self._accounts.replace_password_hash(account.id, account.password_hash, self._hasher.hash(password))
        return account.identity()

    def _claim(self, name: str, limit: int, now: float) -> Account | str:
        """The account with an attempt claimed, or why not (``UNKNOWN_ACCOUNT``, ``LOCKED``, ``BUSY``).

        The attempt is claimed before the password is checked, by the database: of 200
        parallel guesses on any number of processes at most ``limit`` are ever checked. That
        caps one account's checks in flight at ``limit`` too, so an attempt that finds every
        slot taken by checks still running (not by failures) waits briefly for one to end: a
        fleet logging in to one service account at once is not refused for it, unless the
        checks in flight outlast ``busy_wait`` (then it is refused like a locked attempt).
        """
        deadline = time.monotonic() + self._lockout.busy_wait
        account, claimed = self._accounts.claim_attempt(self.source_system, name, limit, now)
        while not claimed:
            if account is None:
                return UNKNOWN_ACCOUNT
            if (account.locked_until or 0) > time.time():
                return LOCKED
            if time.monotonic() >= deadline:
                return BUSY
            if account.failed_logins >= limit:
                time.sleep(0.01)  # polling by reading: a waiting attempt takes no write lock
                account = self._accounts.find_account(self.source_system, name)
                continue
            account, claimed = self._accounts.claim_attempt(self.source_system, name, limit, time.time())
        assert account is not None
        return account
