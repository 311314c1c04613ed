"""What the grants (and introspection, revocation) store: small interfaces. The SQL behind
them is in mobproc.storage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ...domain.audit import AuditEvent
from ...domain.tokens import Authorization, IssuedToken


class GrantOwnerGone(Exception):
    """The client or account was removed (by another process) while this request ran."""


class GrantStorage(Protocol):
    def create_grant(
        self,
        authorization: Authorization,
        access: IssuedToken,
        refresh: IssuedToken | None,
        expires_at: float,
        event: AuditEvent | None = None,
    ) -> int:
        """Store a new grant with its first tokens, atomically; answer the grant's id.
        Raise :class:`GrantOwnerGone` when its client or account no longer exists.

        ``event`` (the audit record of the issue, given the new grant's id) is kept in the
        same transaction: tokens are never issued without their record, nor recorded unissued."""
        ...


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    token_id: int
    grant_id: int
    generation: int
    authorization: Authorization
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


class RefreshTokenStorage(Protocol):
    def find_refresh_token(self, lookup: bytes) -> RefreshTokenRecord | None:
        """The refresh token with this digest, in this environment, with its grant."""
        ...

    def rotate_refresh_token(
        self,
        record: RefreshTokenRecord,
        scope: tuple[str, ...],
        access: IssuedToken,
        refresh: IssuedToken,
        event: AuditEvent | None = None,
    ) -> bool:
        """Consume ``record`` and store its successors (and ``event`` in the audit trail) in one
        transaction, with a conditional update: of two concurrent rotations of one token
        exactly one answers True."""
        ...

    def replace_successor(
        self,
        record: RefreshTokenRecord,
        scope: tuple[str, ...],
        access: IssuedToken,
        refresh: IssuedToken,
        event: AuditEvent | None = None,
    ) -> bool:
        """The grace answer: consume the live refresh token that ``record`` was rotated into and
        store a replacement of the same generation (and ``event``), in one transaction. False when there is
        no such live token (it was used in turn, or the grant is revoked)."""
        ...

    def revoke_grant(self, grant_id: int) -> bool:
        """Revoke the grant and with it every access and refresh token descended from it;
        True when this call revoked it."""
        ...


@dataclass(frozen=True, slots=True)
class AccessTokenRecord:
    """An access token as stored, in any format; ``authorization.scope`` is this token's scope."""

    token_id: int
    grant_id: int
    authorization: Authorization
    issued_at: float
    expires_at: float
    revoked: bool  # the token itself, or its whole grant

    def is_active(self, now: float) -> bool:
        """Valid now. A disabled client's tokens are not: its grants are unusable meanwhile."""
        return not self.revoked and now < self.expires_at and self.authorization.client.enabled


class AccessTokenStorage(Protocol):
    def find_access_token(self, lookup: bytes) -> AccessTokenRecord | None:
        """The access token stored under ``lookup``, in this environment, with its grant."""
        ...

    def revoke_access_token(self, token_id: int) -> None:
        """Revoke this one access token (a JWT stays revoked by its jti until it expires)."""
        ...
