"""What the grants (and introspection, revocation) store: small interfaces. The SQL behind
them is in mobproc.storage; the records they answer are in mobproc.domain.tokens."""

from __future__ import annotations

from typing import Protocol

from ...domain.audit import AuditEvent
from ...domain.tokens import (
    AccessTokenRecord,
    Authorization,
    IssuedToken,
    RefreshTokenRecord,
)


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


class AccessTokenStorage(Protocol):
    def find_access_token(self, lookup: bytes) -> AccessTokenRecord | None:
        """The access token stored under ``lookup``, in this environment, with its grant."""
        ...

    def revoke_access_token(self, token_id: int) -> None:
        """Revoke this one access token (a JWT stays revoked by its jti until it expires)."""
        ...
