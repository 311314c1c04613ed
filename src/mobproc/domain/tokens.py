"""Tokens: what one login granted, and how a token looks.

*How* a token looks (an opaque random reference, or a signed JWT) is an
:class:`AccessTokenStrategy`, separate from *when* one is issued (the grants): a grant
never knows the token format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import secrets as _secrets
from .clients import Client, ClientRef
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
class StoredAuthorization:
    """An :class:`Authorization` as a stored token finds it again, its client by reference
    (:class:`~mobproc.domain.clients.ClientRef`): a token's lookup reads the grant, not the
    client's whole registration."""

    client: ClientRef
    scope: tuple[str, ...]
    grant_type: str
    identity: Identity | None = None

    @property
    def subject(self) -> str:
        return self.identity.subject if self.identity else self.client.client_id

    def issued_to(self, client: Client, scope: tuple[str, ...]) -> Authorization:
        """The authorization a refresh issues under: this one, for ``client`` (the authenticated
        one, which the caller has found to be this token's), and ``scope``."""
        if client.pk != self.client.pk:
            raise ValueError("a stored authorization is issued anew only to its own client")
        return Authorization(client, scope, self.grant_type, self.identity)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as it is handed out once: ``value`` is secret, ``lookup`` is what is stored."""

    value: str = field(repr=False)
    lookup: bytes
    issued_at: float
    expires_at: float


class TokenLookup(Protocol):
    def lookup_key(self, token: str) -> bytes | None:
        """What a presented token is stored by, or None when it cannot be one of ours."""
        ...


class AccessTokenStrategy(TokenLookup, Protocol):
    """How an access token looks, and how a presented one is found again."""

    def issue(self, authorization: Authorization, issued_at: float, expires_at: float) -> IssuedToken: ...


def identity_claims(authorization: Authorization | StoredAuthorization) -> dict[str, Any]:
    """What a token says about its account (CONTRACT §2), as JWT claims and introspection
    members: ``platform`` is the source system. A client acting for itself has none."""
    identity = authorization.identity
    return {} if identity is None else account_claims(identity)


def account_claims(identity: Identity) -> dict[str, Any]:
    """An account's attributes as claims: ``platform`` (its source system), ``multitenant``,
    ``tenant`` and ``domain`` where it has them."""
    claims: dict[str, Any] = {"platform": identity.source_system, "multitenant": identity.multitenant}
    if identity.tenant is not None:
        claims["tenant"] = identity.tenant
    if identity.domain is not None:
        claims["domain"] = identity.domain
    return claims


class OpaqueTokenStrategy:
    """Random reference tokens of [A-Za-z0-9], stored by digest (the default, PingFederate's)."""

    def __init__(self, length: int) -> None:
        self.length = length

    def issue(self, authorization: Authorization, issued_at: float, expires_at: float) -> IssuedToken:
        return random_issued_token(self.length, issued_at, expires_at)

    def lookup_key(self, token: str) -> bytes | None:
        # Only what this strategy can have made: any other string's digest could be another
        # format's lookup key (a JWT is stored by a digest of its jti, which its holder sees).
        if not (token.isascii() and token.isalnum()):
            return None
        return _secrets.digest(token)


class TokenFormats:
    """Finds a presented access token of any format: after MOBPROC_ACCESS_TOKEN_FORMAT changes,
    the tokens issued in the other format stay valid until they expire."""

    def __init__(self, strategies: Iterable[AccessTokenStrategy]) -> None:
        self._strategies = tuple(strategies)

    def lookup_key(self, token: str) -> bytes | None:
        for strategy in self._strategies:
            key = strategy.lookup_key(token)
            if key is not None:
                return key
        return None


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
        """A client registered with a lifetime of its own (shorter: an implicit client's) gets it."""
        lifetime, own = self.access_lifetime, authorization.client.access_token_lifetime
        return self.strategy.issue(authorization, now, now + (lifetime if own is None else min(own, lifetime)))

    def refresh_token(self, now: float, grant_expires_at: float) -> IssuedToken:
        """Refresh tokens are always opaque; none outlives its grant's absolute lifetime."""
        return random_issued_token(self.refresh_length, now, min(now + self.refresh_idle_timeout, grant_expires_at))


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    token_id: int
    grant_id: int
    generation: int
    authorization: StoredAuthorization
    idle_expires_at: float
    grant_expires_at: float
    consumed: bool
    grant_revoked: bool
    issued_at: float
    consumed_at: float | None = None

    @property
    def expires_at(self) -> float:
        return min(self.idle_expires_at, self.grant_expires_at)

    def is_active(self, now: float) -> bool:
        """Usable now: not yet used, its grant not revoked, not expired, its client enabled."""
        return (not self.consumed and not self.grant_revoked and now < self.expires_at
                and self.authorization.client.enabled)


@dataclass(frozen=True, slots=True)
class AccessTokenRecord:
    """An access token as stored, in any format; ``authorization.scope`` is this token's scope."""

    token_id: int
    grant_id: int
    authorization: StoredAuthorization
    issued_at: float
    expires_at: float
    revoked: bool  # the token itself, or its whole grant

    def is_active(self, now: float) -> bool:
        """Valid now. A disabled client's tokens are not: its grants are unusable meanwhile."""
        return not self.revoked and now < self.expires_at and self.authorization.client.enabled


class GrantOwnerGone(Exception):
    """The client or account was removed (by another process) while this request ran."""
