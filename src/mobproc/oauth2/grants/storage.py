"""What the grants store: two small interfaces. The SQL behind them is in mobproc.storage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ...domain.tokens import Authorization, IssuedToken


class GrantStorage(Protocol):
    def create_grant(
        self, authorization: Authorization, access: IssuedToken, refresh: IssuedToken | None, expires_at: float
    ) -> int:
        """Store a new grant with its first tokens, atomically; answer the grant's id."""
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
    consumed_at: float | None = None


class RefreshTokenStorage(Protocol):
    def find_refresh_token(self, lookup: bytes) -> RefreshTokenRecord | None:
        """The refresh token with this digest, in this environment, with its grant."""
        ...

    def rotate_refresh_token(
        self, record: RefreshTokenRecord, scope: tuple[str, ...], access: IssuedToken, refresh: IssuedToken
    ) -> bool:
        """Consume ``record`` and store its successors in one transaction, with a conditional
        update: of two concurrent rotations of one token exactly one answers True."""
        ...

    def replace_successor(
        self, record: RefreshTokenRecord, scope: tuple[str, ...], access: IssuedToken, refresh: IssuedToken
    ) -> bool:
        """The grace answer: consume the live refresh token that ``record`` was rotated into and
        store a replacement of the same generation, in one transaction. False when there is
        no such live token (it was used in turn, or the grant is revoked)."""
        ...

    def revoke_grant(self, grant_id: int) -> bool:
        """Revoke the grant and with it every access and refresh token descended from it;
        True when this call revoked it."""
        ...
