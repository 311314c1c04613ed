"""Client applications (RFC 6749 §2): who may ask for tokens, with which grants and scopes."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from . import secrets as _secrets

# The grant types a client can be allowed. The validation grant is PingFederate's name for
# a resource server's right to check tokens; the MOBPROC documentation uses it.
GRANT_TYPES = (
    "password",
    "refresh_token",
    "client_credentials",
    "access_token_validation",
    "authorization_code",
    "implicit",  # RFC 6749 §4.2: only for a client registered for it (README: why it is discouraged)
)
# What a public client (no secret, RFC 6749 §2.1) may be allowed: the grants a person signs in
# with, through the browser, and refreshing what they gave.
PUBLIC_GRANT_TYPES = ("authorization_code", "refresh_token", "implicit")
SECRET_LENGTH = 32  # 32 of [A-Za-z0-9] is 190 bits, the seed's secret's length
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True, slots=True)
class Client:
    """``pk`` is the row's key (``grants.client_pk`` points at it); ``client_id`` is the
    OAuth client identifier (RFC 6749 §2.2) the client authenticates with."""

    pk: int
    client_id: str
    secret_digest: bytes
    grant_types: frozenset[str]
    scopes: frozenset[str]
    default_scopes: tuple[str, ...]
    enabled: bool = True
    # Interactive sign-in (issue 20): the redirect URIs it registered; a public client holds no
    # secret (its secret_digest is of a secret no one was told); pkce_required unless a
    # confidential client was registered with --pkce optional; a trusted (first-party) client
    # is not asked for consent; access_token_lifetime overrides the deployment's (shorter).
    redirect_uris: tuple[str, ...] = ()
    public: bool = False
    pkce_required: bool = True
    trusted: bool = False
    access_token_lifetime: float | None = None
    id_token_alg: str | None = None
    version: int = 0  # moved by every change (the admin API's ETag)

    def check_secret(self, secret: str) -> bool:
        # A client secret is machine-made and high-entropy, so a SHA-256 digest compared in
        # constant time is enough: authentication costs microseconds, not a password hash.
        return _secrets.matches(secret, self.secret_digest)


@dataclass(frozen=True, slots=True)
class ClientRef:
    """The client a stored token was issued to, as the token's lookup finds it: which one, and
    whether it may use its tokens now. Its registration (grants, scopes, lifetimes) is not read
    with every token: whatever issues anew issues for the authenticated :class:`Client`."""

    pk: int
    client_id: str
    enabled: bool


class ClientExists(Exception):
    """A client of this id is registered already (the store's unique constraint said so)."""


class ClientStore(Protocol):
    def find_client(self, client_id: str) -> Client | None: ...


def generate_secret() -> str:
    return _secrets.random_token(SECRET_LENGTH)


def check_imported_secret(secret: str) -> None:
    """Refuse an imported secret too short to resist guessing."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"a client secret must be at least {MIN_SECRET_LENGTH} characters (got {len(secret)})")
    if not secret.isprintable() or secret.strip() != secret:
        raise ValueError("a client secret must be printable, without surrounding white space")


class CachedClientStore:
    """A bounded, short-lived cache in front of a client store.

    Each process looks a client up on every token request; the cache saves that query. A
    client removed, disabled or given a new secret by another process keeps working here
    for at most ``ttl`` seconds, which is the bound the README states.
    """

    def __init__(self, store: ClientStore, *, ttl: float, max_size: int = 1024) -> None:
        self._store, self._ttl, self._max_size = store, ttl, max_size
        self._entries: OrderedDict[str, tuple[float, Client | None]] = OrderedDict()
        self._lock = threading.Lock()

    def find_client(self, client_id: str) -> Client | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(client_id)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(client_id)
                return entry[1]
        client = self._store.find_client(client_id)
        # Unknown ids are not cached: a flood of random ids must not evict real clients.
        if client is not None:
            with self._lock:
                self._entries[client_id] = (now + self._ttl, client)
                self._entries.move_to_end(client_id)
                while len(self._entries) > self._max_size:
                    self._entries.popitem(last=False)
        return client
