"""A password check with every defence around it: the one way to log in, for the password
grant, the login page and any identity source.

RFC 6749 §4.3.2: the server "MUST protect the endpoint against brute force attacks", and RFC
9700 §2.4 says why the password grant needs it most: the token endpoint becomes a place to
guess passwords at machine speed. In order, for one attempt:

1. admission control (:class:`~.passwords.HashingAdmission`, taken by the surface on the event
   loop before it hands the request to a thread, :meth:`Authenticator.admission_for`);
2. in one transaction, a token from each failure budget (the client's, the source
   address's and its wider IPv6 prefixes': spraying) and the claim of an attempt on the
   subject (lockout), both before any password is checked, so that parallel attempts can
   overdraw neither;
3. the identity source's check (an argon2id hash, or a directory bind), outside any
   transaction; a name that matches no account, a locked subject and an unknown source
   system cost a check too;
4. in one more transaction: on failure, the failure counted (and maybe a lockout) with its
   audit rows; on success (:meth:`Login.confirm`), the streak ended, the budgets given back,
   the credential confirmed unchanged, and whatever the surface does with the login (a grant
   and its tokens, a browser session) — so that nothing is made for a password that was
   replaced while it was being checked.

Two transactions and not one: the claim must be committed before the hash, or 200 parallel
guesses would each check a password before any of them counted (README, Performance).
Every refusal is one :class:`LoginRefused` (the reason is for the audit trail only), so that
no answer tells whether an account exists or is locked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, TypeVar

from . import audit
from .audit import AuditEvent, AuditLog
from .clients import Client
from .identities import (
    CREDENTIAL_CHANGED,
    UNKNOWN_ACCOUNT,
    AuthenticationFailed,
    Identity,
    IdentitySource,
    SourceUnavailable,
    Username,
    Verified,
)
from .lockout import BUSY, LOCKED, Lockout
from .pacing import Pace
from .passwords import HashingAdmission, PasswordHasher
from .pseudonyms import Pseudonyms
from .throttling import Bucket, GuessingThrottle, Throttled

T = TypeVar("T")


class LoginRefused(Exception):
    """Wrong name or password, unknown source system, locked or busy subject, or a credential
    replaced during the check: all one answer. ``reason`` is for the audit trail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SessionEnding(Protocol):
    def end_all(self, subject: str, now: float) -> int: ...


class Transactions(Protocol):
    """What the Authenticator needs of storage: a function run in a write transaction that
    the stores it calls join, answered once committed
    (:meth:`mobproc.storage.database.Database.write`, which decides where it runs: the check
    runs on a thread, and on SQLite its writes go to the event loop's group commit)."""

    def write(self, body: Callable[..., T], *args: Any) -> T: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """Who tries, from where, for what: the parts of an attempt the defences and the audit
    trail need besides the credentials."""

    client: Client
    source_address: str
    grant_type: str  # the audit trail's name for the way in: "password", "authorization_code", …


class Authenticator:
    def __init__(
        self,
        sources: Mapping[str, IdentitySource],
        *,
        transactions: Transactions,
        lockout: Lockout,
        throttle: GuessingThrottle,
        audit_log: AuditLog,
        pseudonyms: Pseudonyms,
        hasher: PasswordHasher,
        admission: HashingAdmission,
        sessions: SessionEnding | None = None,
    ) -> None:
        """``sessions``: the browser sessions a lockout ends (issue 20: a locked account is
        signed out everywhere, as a new password signs it out)."""
        self._sources = sources
        self._sessions = sessions
        self._transactions = transactions
        self._lockout = lockout
        self._throttle = throttle
        self._audit = audit_log
        self._pseudonyms = pseudonyms
        self._hasher = hasher
        self._admission = admission
        # A source with slots of its own waits on the network, not on this process's cores, and
        # what imitates its check is a wait: for it, every refusal that is not a wrong password
        # (a name it does not know, a refused claim, which writes nothing and counts no failure:
        # on PostgreSQL a commit without a flush) is answered no sooner than the median wrong
        # password, claim and database included. The built-in source's dummy hash costs what a
        # check costs, within the hash's own noise.
        self._paces = {name: Pace() for name, source in sources.items() if source.admission is not None}

    @property
    def source_systems(self) -> tuple[str, ...]:
        return tuple(self._sources)

    def admission_for(self, username: str) -> HashingAdmission:
        """The slots a check of ``username`` takes: its source's own, or argon2id's (the
        built-in sources', and those of names no source takes, which cost a dummy hash)."""
        source = self._source_of(username)
        return (source.admission if source is not None else None) or self._admission

    def _source_of(self, username: str) -> IdentitySource | None:
        try:
            return self._sources.get(Username.parse(username).source_system)
        except ValueError:
            return None

    @property
    def rechecks_on_refresh(self) -> bool:
        return any(source.recheck_on_refresh for source in self._sources.values())

    def still_holds(self, identity: Identity) -> bool:
        """On refresh: whether the account a grant was made for still holds, when its source
        is configured to recheck (else the grant's stored attributes are replayed, as
        PingFederate does). Raises :class:`~.identities.SourceUnavailable` (503)."""
        source = self._sources.get(identity.source_system)
        return source is None or not source.recheck_on_refresh or source.still_holds(identity)

    def authenticate(self, username: str, password: str, attempt: Attempt) -> Login:
        """Check ``password`` for ``username`` (``command://alice``, or a bare platform name).

        Raises :class:`LoginRefused` (its failure recorded), :class:`Throttled` (a budget is
        spent: 429), :class:`~.identities.SourceUnavailable` (503). Answers a :class:`Login`
        that nothing has been made of yet: act on it with :meth:`Login.confirm`.
        """
        now, started = time.time(), time.perf_counter()
        try:
            parsed: Username | None = Username.parse(username)
            source = self._sources.get(parsed.source_system)
        except ValueError:
            parsed, source = None, None
        if parsed is not None and source is not None:
            parsed = Username(parsed.source_system, source.canonical_name(parsed.name))
        # Until a source has said that the account exists, the audit trail names it by a keyed
        # digest only: what was typed as a name may be a password.
        pseudonym = self._pseudonyms.unknown_username(username)
        key = self._pseudonyms.attempts_key(str(parsed) if parsed is not None else username)
        event = {"client_id": attempt.client.client_id, "source_address": attempt.source_address or None,
                 "grant_type": attempt.grant_type}
        buckets = self._throttle.buckets(attempt.client.pk, attempt.source_address)
        try:
            refused, known = self._transactions.write(self._claim, buckets, key, now)
        except Throttled as throttled:
            self._transactions.write(self._audit.record, AuditEvent(
                audit.LOGIN_THROTTLED, subject=pseudonym, reason=throttled.bucket.kind, **event
            ))
            raise
        if refused == BUSY:
            refused = self._lockout.wait_for_claim(key)
        try:
            if refused is not None or source is None or parsed is None:
                # A locked subject, an unknown source system and an unreadable name cost a
                # password check too: no answer or timing may tell them apart. Even the right
                # password of a locked account is refused, and not counted.
                if source is not None:
                    source.dummy_check(password)
                else:
                    self._hasher.verify(None, password)
                raise AuthenticationFailed(refused or UNKNOWN_ACCOUNT)
            verified = source.verify(parsed.name, password)
        except AuthenticationFailed as failure:
            # The source may say the account exists (a wrong password); a refused claim, that
            # one did before.
            known = failure.exists or (refused is not None and known)
            pace = self._paces.get(parsed.source_system) if parsed is not None else None
            try:
                self._refuse(failure.reason, key, str(parsed) if known else pseudonym, event,
                             counted=refused is None, known=known, now=now)
            finally:
                if pace is not None and refused is None and failure.exists:
                    pace.record(time.perf_counter() - started)
                elif pace is not None:
                    pace.wait_since(started)
        except BaseException as error:
            if refused is None:
                self._lockout.release(key)  # never checked (the directory did not answer): it does not count
            if isinstance(error, SourceUnavailable):
                # The budgets count failed logins, and no password was checked: an outage must
                # not leave every client still retrying throttled once the source is back.
                self._throttle.give_back(buckets, time.time())
            raise
        return Login(self, verified, key, buckets, str(parsed), event)

    def _claim(self, buckets: list[Bucket], key: bytes, now: float) -> tuple[str | None, bool]:
        """A token from each budget and the claim of an attempt on the subject, in one
        transaction: the claim's outcome (None: claimed) and whether the subject is known."""
        self._throttle.take(buckets, now)
        return self._lockout.try_claim(key, now)

    def _refuse(self, reason: str, key: bytes, subject: str, event: dict[str, object], *, counted: bool,
                known: bool, now: float) -> NoReturn:
        """Count a failed check (a refused claim was never counted) and say why, in one
        transaction; then refuse."""
        self._transactions.write(self._count_failure, reason, key, subject, event, counted, known, now)
        raise LoginRefused(reason) from None

    def _count_failure(self, reason: str, key: bytes, subject: str, event: dict[str, object], counted: bool,
                       known: bool, now: float) -> None:
        locked_until = self._lockout.failed(key, now, known=known) if counted else None
        self._audit.record(AuditEvent(audit.LOGIN_FAILED, subject=subject, reason=reason, **event))
        if locked_until is not None:
            self._audit.record(AuditEvent(
                audit.ACCOUNT_LOCKED, subject=subject, detail=f"{round(locked_until - now)} s", **event
            ))
            if known and self._sessions is not None and self._sessions.end_all(subject, now):
                self._audit.record(AuditEvent(audit.SESSION_ENDED, subject=subject, reason=audit.ACCOUNT_LOCKED,
                                              **event))

    def _confirm(self, login: Login) -> str | None:
        """In the success transaction: the budgets are given back (only failures spend them)
        and the streak ends, if the subject was not locked meanwhile and the credential is
        still the one checked. Why not, else (and the transaction is rolled back).

        The rows are taken in the order of the attempt's first transaction (the budgets, then
        the subject's attempts, then the account): on PostgreSQL two logins of one subject
        through one client, one claiming while the other confirms, would otherwise each hold
        a row the other waits for."""
        now = time.time()
        self._throttle.give_back(login.buckets, now)
        if not self._lockout.succeeded(login.key, now):
            return LOCKED
        if not login.verified_by.confirm(login.verified, now):
            return CREDENTIAL_CHANGED
        return None

    def _withdraw(self, login: Login, reason: str) -> NoReturn:
        """The check passed but its credential did not hold until the grant: nothing is made,
        and the attempt is neither a failure nor a success."""
        self._transactions.write(self._release, login, reason)
        raise LoginRefused(reason)

    def _release(self, login: Login, reason: str) -> None:
        self._lockout.release(login.key)
        self._audit.record(AuditEvent(audit.LOGIN_FAILED, subject=login.subject, reason=reason, **login.event))


class Login:
    """A password that checked out, not yet acted on. :meth:`confirm` is the transaction in
    which the surface acts on it."""

    def __init__(self, authenticator: Authenticator, verified: Verified, key: bytes, buckets: list[Bucket],
                 subject: str, event: dict[str, object]) -> None:
        self._authenticator = authenticator
        self.verified = verified
        self.key = key
        self.buckets = buckets
        self.subject = subject
        self.event = event

    @property
    def identity(self) -> Identity:
        return self.verified.identity

    @property
    def verified_by(self) -> IdentitySource:
        return self._authenticator._sources[self.identity.source_system]  # noqa: SLF001 - its own login

    def confirm(self, act: Callable[[Identity], T]) -> T:
        """The write transaction that ends the attempt as a success, with what ``act(identity)``
        writes (a grant, a session) in it: ``act`` runs only if the credential checked is still
        the account's, and its writes commit only with that; its answer is answered. Raises
        :class:`LoginRefused` otherwise. (A function and not a ``with`` block: storage runs the
        transaction where the write lock is, :meth:`Transactions.write`.)"""
        authenticator = self._authenticator
        try:
            return authenticator._transactions.write(self._confirmed, act)  # noqa: SLF001
        except _Withdrawn as withdrawn:
            authenticator._withdraw(self, withdrawn.reason)  # noqa: SLF001

    def _confirmed(self, act: Callable[[Identity], T]) -> T:
        refused = self._authenticator._confirm(self)  # noqa: SLF001
        if refused is not None:
            raise _Withdrawn(refused)  # rolls back what the confirmation wrote
        return act(self.identity)


class _Withdrawn(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
