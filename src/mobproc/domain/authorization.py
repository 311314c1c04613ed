"""What a person's sign-in grants a client through the browser: authorization codes (RFC 6749
§4.1, with PKCE, RFC 7636) and consents.

A code is 43 characters of [A-Za-z0-9] (256 bits; RFC 6749 §10.10 asks that guessing one be
infeasible, and issue 20 at least 160 bits), lives a minute (PingFederate's default), is stored
by its digest only and used once. It carries what its grant is made of: the account, the
scope, the redirect URI it was issued for, the PKCE challenge, OpenID Connect's nonce and
auth_time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from . import secrets as _secrets
from .clients import Client
from .identities import Identity

CODE_LENGTH = 43
# RFC 7636 §4.1: code_verifier = 43*128unreserved; §4.2: the S256 challenge is its
# BASE64URL(SHA256) without padding, 43 characters.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: ``BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))``.

    >>> s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")  # RFC 7636 Appendix B
    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
    """
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def valid_challenge(challenge: str) -> bool:
    return bool(_CHALLENGE.fullmatch(challenge))


def verifier_matches(verifier: str | None, challenge: str) -> bool:
    """RFC 7636 §4.6, S256 only (``plain`` is refused at the authorization endpoint)."""
    if verifier is None or not _VERIFIER.fullmatch(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)


@dataclass(frozen=True, slots=True)
class CodeGrant:
    """What a code was issued for: the request it answers and who signed in."""

    client: Client
    identity: Identity
    scope: tuple[str, ...]
    redirect_uri: str  # as the authorization request gave it ("" when it gave none)
    code_challenge: str | None
    nonce: str | None
    auth_time: float


@dataclass(frozen=True, slots=True)
class AuthorizationCodeRecord:
    lookup: bytes
    code_id: int
    client_pk: int
    grant: CodeGrant
    expires_at: float
    used: bool
    grant_id: int | None  # the grant it became, once used


class AuthorizationCodeStorage(Protocol):
    def create_code(self, lookup: bytes, grant: CodeGrant, created_at: float, expires_at: float) -> None: ...

    def find_code(self, lookup: bytes) -> AuthorizationCodeRecord | None:
        """The code stored under ``lookup`` in this environment, used or not."""
        ...

    def consume_code(self, code_id: int, now: float) -> bool:
        """Mark it used, if it was not and has not expired; True for the one caller that did.
        Joins the caller's transaction (the one that makes its grant)."""
        ...

    def set_code_grant(self, code_id: int, grant_id: int) -> None: ...


class Transactions(Protocol):
    def transaction(self, *, write: bool) -> AbstractContextManager[object]: ...


class AuthorizationCodes:
    def __init__(self, store: AuthorizationCodeStorage, transactions: Transactions, *, lifetime: float) -> None:
        self._store = store
        self._transactions = transactions
        self.lifetime = lifetime

    def transaction(self) -> AbstractContextManager[object]:
        """The write transaction in which a code is used up and its grant made, both or neither."""
        return self._transactions.transaction(write=True)

    def issue(self, grant: CodeGrant, now: float) -> str:
        """A new code for ``grant``: its value, shown once (only its digest is stored)."""
        value = _secrets.random_token(CODE_LENGTH)
        self._store.create_code(_secrets.digest(value), grant, now, now + self.lifetime)
        return value

    def find(self, code: str) -> AuthorizationCodeRecord | None:
        if not (0 < len(code) <= 256 and code.isascii() and code.isalnum()):
            return None
        return self._store.find_code(_secrets.digest(code))

    def reread(self, record: AuthorizationCodeRecord) -> AuthorizationCodeRecord | None:
        return self._store.find_code(record.lookup)

    def consume(self, record: AuthorizationCodeRecord, now: float) -> bool:
        return self._store.consume_code(record.code_id, now)

    def attach_grant(self, record: AuthorizationCodeRecord, grant_id: int) -> None:
        self._store.set_code_grant(record.code_id, grant_id)


# --- consent ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Consent:
    client_id: str
    scope: tuple[str, ...]
    granted_at: float


class ConsentStorage(Protocol):
    def find_consent(self, subject: str, client_pk: int) -> tuple[str, ...] | None: ...

    def save_consent(self, subject: str, account_id: int | None, client_pk: int, scope: tuple[str, ...],
                     now: float) -> None:
        """Remember ``scope`` (the union with what was given before) for the account and client."""
        ...

    def list_consents(self, subject: str) -> list[Consent]: ...

    def remove_consent(self, subject: str, client_id: str | None) -> int:
        """Withdraw the consent given to ``client_id`` (None: every client); how many."""
        ...


class Consents:
    """What an account allowed which client: asked once per client and scope set; a client
    registered as first-party (trusted) is never asked."""

    def __init__(self, store: ConsentStorage) -> None:
        self._store = store

    def needed(self, client: Client, identity: Identity, scope: tuple[str, ...]) -> bool:
        if client.trusted:
            return False
        given = self._store.find_consent(identity.subject, client.pk)
        return given is None or not set(scope) <= set(given)

    def give(self, client: Client, identity: Identity, scope: tuple[str, ...], now: float) -> None:
        self._store.save_consent(identity.subject, identity.account_id, client.pk, scope, now)

    def list(self, subject: str) -> list[Consent]:
        return self._store.list_consents(subject)

    def withdraw(self, subject: str, client_id: str | None = None) -> int:
        return self._store.remove_consent(subject, client_id)
