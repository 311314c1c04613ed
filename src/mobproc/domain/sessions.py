"""Browser sessions, and the login transactions that protect the sign-in forms.

After a person signs in on the login page, a server-side session remembers it, so that the
next authorization request from the same browser needs no password (issue 20). The cookie
holds only a random id (about 250 bits); the row is found by its digest, so a copy of the
database signs no one in. A session ends when unused for the idle timeout, at its absolute
lifetime whatever happens, on logout, and when its account is removed, given a new password
or locked.

A *login transaction* is what a form page is bound to: a random id in a cookie of its own,
and a CSRF token that is an HMAC of it under a key of the deployment (OWASP's "signed double
submit cookie"). A form posted without the token of this browser's transaction (from another
site, or another browser's page) is refused before anything in it is read.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from . import secrets as _secrets
from .identities import Identity

SESSION_ID_LENGTH = 43  # of [A-Za-z0-9]: 256 bits
TRANSACTION_ID_LENGTH = 32


@dataclass(frozen=True, slots=True)
class BrowserSession:
    """A signed-in browser: who, since when (OpenID Connect's ``auth_time``), until when."""

    session_id: int
    identity: Identity
    auth_time: float
    idle_expires_at: float
    expires_at: float

    def is_active(self, now: float) -> bool:
        return now < self.idle_expires_at and now < self.expires_at

    def older_than(self, max_age: float, now: float) -> bool:
        """OpenID Connect Core §3.1.2.1 ``max_age``: the sign-in is older than asked for."""
        return now - self.auth_time > max_age


class SessionStorage(Protocol):
    def create_session(self, lookup: bytes, identity: Identity, auth_time: float, idle_expires_at: float,
                       expires_at: float) -> int:
        """Store a session (joining the caller's transaction: the login's)."""
        ...

    def find_session(self, lookup: bytes, now: float) -> BrowserSession | None:
        """The live session stored under ``lookup`` (not ended, not expired)."""
        ...

    def touch_session(self, session_id: int, idle_expires_at: float) -> None:
        """Move the idle deadline forward (never past the absolute one)."""
        ...

    def end_session(self, lookup: bytes, now: float) -> bool: ...

    def end_sessions_of(self, subject: str, now: float) -> int:
        """End every live session of ``subject``; how many."""
        ...


class BrowserSessions:
    """Start, find and end browser sessions; the cookie's value is made and read here only."""

    def __init__(self, store: SessionStorage, *, idle_timeout: float, lifetime: float) -> None:
        self._store = store
        self.idle_timeout = idle_timeout
        self.lifetime = lifetime

    def start(self, identity: Identity, now: float) -> tuple[str, BrowserSession]:
        """A new session for ``identity``, signed in at ``now``: the cookie's value (shown once)
        and the session. Call it in the transaction that confirms the login."""
        value = _secrets.random_token(SESSION_ID_LENGTH)
        idle, absolute = min(now + self.idle_timeout, now + self.lifetime), now + self.lifetime
        session_id = self._store.create_session(_secrets.digest(value), identity, now, idle, absolute)
        return value, BrowserSession(session_id, identity, now, idle, absolute)

    def find(self, cookie: str | None, now: float) -> BrowserSession | None:
        """The live session this cookie names, its idle deadline moved forward; None for no
        cookie, a malformed one, or one that names no live session."""
        if not cookie or len(cookie) != SESSION_ID_LENGTH or not (cookie.isascii() and cookie.isalnum()):
            return None
        session = self._store.find_session(_secrets.digest(cookie), now)
        if session is None or not session.is_active(now):
            return None
        # Written at most once a minute: a page view should not be a write.
        idle = min(now + self.idle_timeout, session.expires_at)
        if idle - session.idle_expires_at > 60:
            self._store.touch_session(session.session_id, idle)
        return session

    def end(self, cookie: str | None, now: float) -> bool:
        if not cookie or len(cookie) != SESSION_ID_LENGTH or not (cookie.isascii() and cookie.isalnum()):
            return False
        return self._store.end_session(_secrets.digest(cookie), now)

    def end_all(self, subject: str, now: float) -> int:
        """End every session of ``subject`` (its password set anew, it was locked or removed)."""
        return self._store.end_sessions_of(subject, now)


class LoginTransactions:
    """The CSRF tokens of the sign-in forms, each bound to one browser's login transaction."""

    def __init__(self, secret: Callable[[], bytes]) -> None:
        self._secret = secret
        self._key: bytes | None = None
        self._lock = threading.Lock()

    @staticmethod
    def new_id() -> str:
        return _secrets.random_token(TRANSACTION_ID_LENGTH)

    @staticmethod
    def valid_id(value: str | None) -> bool:
        return bool(value) and len(value or "") == TRANSACTION_ID_LENGTH and (value or "").isascii() \
            and (value or "").isalnum()

    def _mac_key(self) -> bytes:
        if self._key is None:
            with self._lock:
                self._key = self._key or hmac.new(self._secret(), b"mobproc csrf", hashlib.sha256).digest()
        return self._key

    def csrf_token(self, transaction_id: str, form: str) -> str:
        """The token of ``form`` ("login", "consent", "logout") in this transaction."""
        return hmac.new(self._mac_key(), f"{form}:{transaction_id}".encode(), hashlib.sha256).hexdigest()

    def check(self, transaction_id: str | None, form: str, token: str | None) -> bool:
        """Whether ``token`` is this transaction's token for ``form``, in constant time."""
        if not self.valid_id(transaction_id) or not token or len(token) != 64:
            return False
        return hmac.compare_digest(self.csrf_token(transaction_id or "", form), token)
