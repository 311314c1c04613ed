"""Resource owners: accounts of a source system, and the protocol that authenticates them.

A username is ``<source_system>://<name>`` for an account of another system
(``command://alice``, ``rivermine://alice``) and a bare ``alice`` for the platform's own
(CONTRACT §2). Each source system is its own identity store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .passwords import HashingAdmission, PasswordHasher

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
# so that the answer tells no one which accounts exist or are locked. (The lockout's own
# reasons, ``locked`` and ``busy``, are in mobproc.domain.lockout.)
UNKNOWN_ACCOUNT = "unknown_account"
WRONG_PASSWORD = "wrong_password"
CREDENTIAL_CHANGED = "credential_changed"  # the password was set anew (or the account removed) during the check


class AuthenticationFailed(Exception):
    """The credentials were refused; ``reason`` is for the audit trail. ``exists``: the
    source said the account exists (a wrong password does; an unknown name does not)."""

    def __init__(self, reason: str, *, exists: bool | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exists = reason == WRONG_PASSWORD if exists is None else exists


class SourceUnavailable(Exception):
    """The identity source could not check the password (a directory down, slow past its
    timeout, or refusing the service bind): served as 503, never as a wrong password, since
    the password was not checked. ``kind`` says why, for the metrics (``unreachable``,
    ``timeout``, ``service_bind``, ``busy``, ``error``); ``retry_after``, when the source knows
    when it will try again, in seconds."""

    def __init__(self, message: str, *, source_system: str = "", kind: str = "error",
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.source_system = source_system
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Verified:
    """A password that checked out against one source. ``evidence`` is the source's own (what
    :meth:`IdentitySource.confirm` needs to tell that it still holds)."""

    identity: Identity
    evidence: Any = None


class IdentitySource(Protocol):
    """One source system's identity store: the built-in table, or a directory. It checks a
    password and nothing else: lockout, failure budgets, admission control and the audit
    trail are the :class:`~mobproc.domain.authentication.Authenticator`'s, the same for every
    source."""

    source_system: str
    #: The slots a check takes (taken on the event loop before the thread hop): None for
    #: argon2id's, which the built-in table shares; a directory has its own, so that a slow one
    #: stalls neither the built-in accounts nor another directory.
    admission: HashingAdmission | None
    #: Whether a refresh asks :meth:`still_holds` (else it replays the grant's attributes).
    recheck_on_refresh: bool

    def canonical_name(self, name: str) -> str:
        """The one form of every spelling the source takes for the same account: attempts are
        counted (lockout) under it, and it is the token's subject."""
        ...

    def verify(self, name: str, password: str) -> Verified:
        """The identity whose password this is, or :class:`AuthenticationFailed`
        (``UNKNOWN_ACCOUNT``, ``WRONG_PASSWORD``, the source's own reasons), or
        :class:`SourceUnavailable`. A name that matches no account must cost the time a wrong
        password costs."""
        ...

    def dummy_check(self, password: str) -> None:
        """Cost what a check costs and check nothing: for attempts refused before the check (a
        locked subject), whose time must not tell them apart."""
        ...

    def confirm(self, verified: Verified, now: float) -> bool:
        """In the transaction that acts on the login (creates its grant): whether the credential
        checked is still the account's. False when its password was set anew, or the account
        removed, since the check: then the login must make nothing."""
        ...

    def still_holds(self, identity: Identity) -> bool:
        """Whether the account a grant was made for still exists and may log in (asked on
        refresh when :attr:`recheck_on_refresh`); :class:`SourceUnavailable` if it cannot say."""
        ...


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    source_system: str
    name: str
    password_hash: str
    tenant: str | None
    multitenant: bool
    domain: str | None
    credential_version: int = 0
    last_login_at: float | None = None
    version: int = 0  # moved by every change through the registry (the admin API's ETag)

    @property
    def username(self) -> Username:
        return Username(self.source_system, self.name)

    def identity(self) -> Identity:
        return Identity(str(self.username), self.source_system, self.name, self.tenant, self.multitenant, self.domain,
                        self.id)


class AccountExists(Exception):
    """An account of this name is in the source system already."""


class AccountStore(Protocol):
    def find_account(self, source_system: str, name: str) -> Account | None: ...

    def record_login(self, account_id: int, credential_version: int, now: float,
                     rehash: tuple[str, str] | None = None) -> bool:
        """The account's last login, and (``rehash``: old and new hash) its hash renewed with
        the current argon2 parameters unless another login renewed it first, only if its
        credential is still at ``credential_version``. False when it is not (or the account is
        gone): only the version decides, never the renewal."""
        ...


@dataclass(frozen=True, slots=True)
class _AccountEvidence:
    account_id: int
    credential_version: int
    rehash: tuple[str, str] | None


class BuiltinIdentitySource:
    """The built-in identity source: accounts in mobproc's own database, argon2id passwords.
    Removing an account ends its grants at once (their rows go with it), so a refresh needs
    no recheck."""

    admission = None
    recheck_on_refresh = False

    def __init__(self, source_system: str, accounts: AccountStore, hasher: PasswordHasher) -> None:
        self.source_system = source_system
        self._accounts = accounts
        self._hasher = hasher

    def canonical_name(self, name: str) -> str:
        return name

    def dummy_check(self, password: str) -> None:
        self._hasher.verify(None, password)

    def still_holds(self, identity: Identity) -> bool:
        return True

    def verify(self, name: str, password: str) -> Verified:
        account = self._accounts.find_account(self.source_system, name)
        if account is None:
            # An unknown account is checked against the dummy hash: same answer, same time.
            self._hasher.verify(None, password)
            raise AuthenticationFailed(UNKNOWN_ACCOUNT)
        if not self._hasher.verify(account.password_hash, password):
            raise AuthenticationFailed(WRONG_PASSWORD)
        rehash = None
        if self._hasher.needs_rehash(account.password_hash):
            rehash = (account.password_hash, self._hasher.hash(password))
        return Verified(account.identity(), _AccountEvidence(account.id, account.credential_version, rehash))

    def confirm(self, verified: Verified, now: float) -> bool:
        checked: _AccountEvidence = verified.evidence
        return self._accounts.record_login(checked.account_id, checked.credential_version, now, checked.rehash)
