"""Tokens: what one login granted, and how a token looks.

*How* a token looks (an opaque random reference, or a signed JWT) is an
:class:`AccessTokenStrategy`, separate from *when* one is issued (the grants): a grant
never knows the token format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from . import secrets as _secrets
from .clients import Client
from .identities import Identity


@dataclass(frozen=True, slots=True)
class Authorization:
    """What one login granted: the root of every token descended from it.

    ``identity`` is the resource owner; a client acting for itself (client credentials)
    has none, and its subject is its client id.
    """

    client: Client
    scope: tuple[str, ...]
    grant_type: str
    identity: Identity | None = None

    @property
    def subject(self) -> str:
        return self.identity.subject if self.identity else self.client.client_id


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as it is handed out once: ``value`` is secret, ``lookup`` is what is stored."""

    value: str = field(repr=False)
    lookup: bytes
    issued_at: float
    expires_at: float


class AccessTokenStrategy(Protocol):
    """How an access token looks, and how a presented one is found again."""

    def issue(self, authorization: Authorization, issued_at: float, expires_at: float) -> IssuedToken: ...
    def lookup_key(self, token: str) -> bytes | None: ...


class OpaqueTokenStrategy:
    """Random reference tokens of [A-Za-z0-9], stored by digest (the default, PingFederate's)."""

    def __init__(self, length: int) -> None:
        self.length = length

    def issue(self, authorization: Authorization, issued_at: float, expires_at: float) -> IssuedToken:
        return random_issued_token(self.length, issued_at, expires_at)

    def lookup_key(self, token: str) -> bytes | None:
        return _secrets.digest(token)


def random_issued_token(length: int, issued_at: float, expires_at: float) -> IssuedToken:
    value = _secrets.random_token(length)
    return IssuedToken(value, _secrets.digest(value), issued_at, expires_at)


class TokenFactory:
    """Makes the tokens of a grant with the configured lifetimes; the format is the strategy's."""

    def __init__(
        self,
        strategy: AccessTokenStrategy,
        *,
        access_lifetime: float,
        refresh_length: int,
        refresh_idle_timeout: float,
        grant_lifetime: float,
    ) -> None:
        self.strategy = strategy
        self.access_lifetime = access_lifetime
        self.refresh_length = refresh_length
        self.refresh_idle_timeout = refresh_idle_timeout
        self.grant_lifetime = grant_lifetime

    def access_token(self, authorization: Authorization, now: float) -> IssuedToken:
        return self.strategy.issue(authorization, now, now + self.access_lifetime)

    def refresh_token(self, now: float, grant_expires_at: float) -> IssuedToken:
        """Refresh tokens are always opaque; none outlives its grant's absolute lifetime."""
        return random_issued_token(self.refresh_length, now, min(now + self.refresh_idle_timeout, grant_expires_at))
