"""The console's sessions: the backend-for-frontend pattern (OAuth 2.0 for Browser-Based Apps,
§6.1). The browser holds one cookie (``HttpOnly``, ``Secure`` over HTTPS, ``SameSite=Lax``)
with 32 random bytes; the server holds the access token the console signed in with, sealed
(AES-256-GCM) under a key derived from those bytes (HKDF-SHA256), in a row found by their
digest. The token never reaches the browser, and a copy of the database opens none of the
sealed tokens: the key is only in the cookie.

The login in progress (its ``state``, PKCE verifier and ``nonce``, and the page to go back to)
is a second cookie, sealed under a key of the deployment's own (``deployment_secrets``), for
ten minutes.

A form's CSRF token is an HMAC of the session's cookie: nothing to store, and no page of
another origin can read or make it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LOGIN_SECONDS = 600


class SessionRows(Protocol):
    """Where the sessions are kept, by the digest of their cookie's bytes
    (:class:`mobproc.storage.console_sessions.SqlConsoleSessions`)."""

    def create(self, id_digest: bytes, subject: str, sealed: str, auth_time: float, now: float,
               expires_at: float) -> None: ...

    def find(self, id_digest: bytes, now: float) -> Any: ...  # a row: subject, sealed, auth_time, expires_at

    def replace(self, id_digest: bytes, sealed: str, auth_time: float, expires_at: float) -> None: ...

    def delete(self, id_digest: bytes) -> None: ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None


def _key(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mobproc console " + purpose).derive(secret)


def seal(secret: bytes, purpose: bytes, value: dict[str, Any]) -> str:
    nonce = secrets.token_bytes(12)
    return _b64(nonce + AESGCM(_key(secret, purpose)).encrypt(nonce, json.dumps(value).encode(), purpose))


def unseal(secret: bytes, purpose: bytes, sealed: str) -> dict[str, Any] | None:
    raw = _unb64(sealed)
    if raw is None or len(raw) < 13 + 16:
        return None
    try:
        return json.loads(AESGCM(_key(secret, purpose)).decrypt(raw[:12], raw[12:], purpose))
    except (InvalidTag, ValueError):
        return None


@dataclass(frozen=True)
class ConsoleSession:
    cookie: str = field(repr=False)
    subject: str
    access_token: str = field(repr=False)
    auth_time: float
    expires_at: float

    @property
    def csrf(self) -> str:
        return csrf_token(self.cookie)


def csrf_token(cookie: str) -> str:
    return _b64(hmac.new(cookie.encode(), b"mobproc console csrf", hashlib.sha256).digest())


class ConsoleSessions:
    def __init__(self, store: SessionRows, login_key: Callable[[], bytes]) -> None:
        self._store = store
        self._login_key = login_key  # the deployment's own, read on first use

    @staticmethod
    def _digest(raw: bytes) -> bytes:
        return hashlib.sha256(b"mobproc console session\0" + raw).digest()

    def open(self, subject: str, access_token: str, auth_time: float, expires_at: float) -> str:
        """A new session holding ``access_token``: the cookie's value."""
        raw = secrets.token_bytes(32)
        sealed = seal(raw, b"session", {"access_token": access_token})
        self._store.create(self._digest(raw), subject, sealed, auth_time, time.time(), expires_at)
        return _b64(raw)

    def find(self, cookie: str | None) -> ConsoleSession | None:
        raw = _unb64(cookie) if cookie and len(cookie) < 100 else None
        if raw is None or len(raw) != 32:
            return None
        row = self._store.find(self._digest(raw), time.time())
        opened = unseal(raw, b"session", row.sealed) if row is not None else None
        if opened is None:
            return None
        return ConsoleSession(cookie, row.subject, opened["access_token"], row.auth_time, row.expires_at)

    def renew(self, session: ConsoleSession, access_token: str, auth_time: float, expires_at: float) -> None:
        """Signed in again (re-authentication): the same cookie, the new token."""
        raw = _unb64(session.cookie)
        assert raw is not None
        self._store.replace(self._digest(raw), seal(raw, b"session", {"access_token": access_token}), auth_time,
                            expires_at)

    def close(self, cookie: str | None) -> None:
        raw = _unb64(cookie) if cookie and len(cookie) < 100 else None
        if raw is not None:
            self._store.delete(self._digest(raw))

    # --- the login in progress

    def start_login(self, return_to: str, prompt_login: bool = False) -> tuple[str, dict[str, str]]:
        """A login cookie's value, and what the authorization request carries of it."""
        login = {"state": _b64(secrets.token_bytes(16)), "verifier": _b64(secrets.token_bytes(48)),
                 "nonce": _b64(secrets.token_bytes(16)), "return_to": return_to, "at": time.time(),
                 "fresh": prompt_login}
        return seal(self._login_key(), b"login", login), login

    def login_of(self, cookie: str | None) -> dict[str, Any] | None:
        login = unseal(self._login_key(), b"login", cookie) if cookie and len(cookie) < 2000 else None
        if login is None or time.time() - login.get("at", 0) > LOGIN_SECONDS:
            return None
        return login


def challenge(verifier: str) -> str:
    """RFC 7636 §4.2: S256."""
    return _b64(hashlib.sha256(verifier.encode()).digest())
