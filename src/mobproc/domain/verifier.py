"""Finding a presented access token and deciding whether it is active: the one place that
does it, for every surface that receives a bearer token.

Introspection (RFC 7662), PingFederate's ``validate_bearer``, revocation (RFC 7009) and a
resource server in the same process (the MOBPROC v1 API) all ask the same question. An opaque
token is found by its digest, a JWT by the digest of its ``jti`` once its signature checked
out (:class:`~mobproc.domain.tokens.TokenFormats`); either way the row says whether it is
revoked, expired or its client disabled, so a revocation is seen at once.

:class:`mobproc.TokenChecker` is the remote twin, for a resource server in another process:
it answers with the same :class:`~mobproc.resource.ValidatedToken` and
:class:`~mobproc.resource.RejectedToken`.
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

from .._jose import MALFORMED, MAX_TOKEN_LENGTH
from ..resource import EXPIRED, INACTIVE, RejectedToken, ValidatedToken
from .tokens import AccessTokenRecord, StoredAuthorization, TokenLookup, identity_claims

ACCESS_TOKEN_TYPE = "Bearer"


class AccessTokenFinder(Protocol):
    def find_access_token(self, lookup: bytes) -> AccessTokenRecord | None: ...


class AccessTokenVerifier:
    """``verify(token)`` for a resource server; ``find(token)`` for the endpoints that answer
    about a token in their own shape."""

    def __init__(self, formats: TokenLookup, storage: AccessTokenFinder, *, issuer: str, audience: str) -> None:
        self._formats = formats
        self._storage = storage
        self.issuer = issuer
        self.audience = audience

    def find(self, token: str) -> AccessTokenRecord | None:
        """The access token's record in this environment, active or not; None when it is not
        one of ours (unknown, malformed, a JWT of another issuer or key)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        lookup = self._formats.lookup_key(token)
        return self._storage.find_access_token(lookup) if lookup is not None else None

    def active(self, token: str, now: float | None = None) -> AccessTokenRecord | None:
        """The record of an access token that is active now: not revoked (nor its grant), not
        expired, its client enabled."""
        record = self.find(token)
        return record if record is not None and record.is_active(time.time() if now is None else now) else None

    def verify(self, token: str) -> ValidatedToken | RejectedToken:
        """RFC 6750 §3.1's question, answered in process: who the token speaks for, or why it is
        ``invalid_token``. Scope, tenant and audience rules are the resource server's."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return RejectedToken(MALFORMED, "The token is empty or too long")
        record = self.find(token)
        now = time.time()
        if record is None:
            return RejectedToken(INACTIVE, "The token is not active")
        if not record.is_active(now):
            if now >= record.expires_at:
                return RejectedToken(EXPIRED, "The token has expired")
            return RejectedToken(INACTIVE, "The token is not active")
        authorization = record.authorization
        identity = authorization.identity
        return ValidatedToken(
            subject=authorization.subject,
            client_id=authorization.client.client_id,
            scope=authorization.scope,
            issuer=self.issuer,
            expires_at=record.expires_at,
            platform=identity.source_system if identity else None,
            identifier=identity.name if identity else None,
            tenant=identity.tenant if identity else None,
            multitenant=identity.multitenant if identity else False,
            domain=identity.domain if identity else None,
            claims=self.claims(record),
        )

    def claims(self, record: AccessTokenRecord) -> dict[str, Any]:
        """RFC 7662 §2.2's members for an active access token, with the account's attributes
        (CONTRACT §2) and this deployment's issuer and audience."""
        return {
            **describe(record.authorization, ACCESS_TOKEN_TYPE, record.issued_at, record.expires_at, self.issuer),
            "aud": self.audience,
        }


def describe(authorization: StoredAuthorization, token_type: str, issued_at: float, expires_at: float, issuer: str) -> dict[str, Any]:
    """RFC 7662 §2.2's members of an active token of either kind, and the account's attributes."""
    answer: dict[str, Any] = {
        "active": True,
        "scope": " ".join(authorization.scope),
        "client_id": authorization.client.client_id,
        "token_type": token_type,
        "exp": math.floor(expires_at),
        "iat": math.floor(issued_at),
        "sub": authorization.subject,
        "iss": issuer,
    }
    if authorization.identity is not None:
        answer["username"] = authorization.identity.subject
    return {**answer, **identity_claims(authorization)}
