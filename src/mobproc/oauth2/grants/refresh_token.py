"""RFC 6749 §6: refreshing an access token, with rotation and reuse detection (RFC 9700 §4.14)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from ...domain import secrets
from ...domain.clients import Client
from ...domain.tokens import TokenFactory
from ..errors import InvalidGrantError
from ..request import TokenRequest
from ..scope import narrowed_scope
from .base import bearer_response
from .storage import RefreshTokenRecord, RefreshTokenStorage

INVALID_REFRESH_TOKEN = "unknown, invalid, or expired refresh token"  # PingFederate's wording


@dataclass(frozen=True, slots=True)
class _Checked:
    record: RefreshTokenRecord
    scope: tuple[str, ...]
    requested: str | None


class RefreshTokenGrant:
    grant_type = "refresh_token"
    client_grant = "refresh_token"

    def __init__(self, storage: RefreshTokenStorage, tokens: TokenFactory) -> None:
        self._storage = storage
        self._tokens = tokens

    def check(self, request: TokenRequest, client: Client) -> _Checked:
        """RFC 6749 §6: "validate the refresh token" and "ensure that the refresh token was
        issued to the authenticated client"."""
        record = self._storage.find_refresh_token(secrets.digest(request.require("refresh_token")))
        # Another client's token is simply unknown to this one: revoking on its word would
        # let any client end any grant whose refresh token it saw.
        if record is None or record.authorization.client.id != client.id or record.grant_revoked:
            raise InvalidGrantError(INVALID_REFRESH_TOKEN)
        if record.consumed:
            # RFC 9700 §4.14.2: a rotated-out refresh token presented again means that two
            # parties hold it, and the server cannot tell the thief from the victim; so the
            # whole grant goes.
            self._storage.revoke_grant(record.grant_id)
            raise InvalidGrantError(INVALID_REFRESH_TOKEN)
        now = time.time()
        if now >= record.idle_expires_at or now >= record.grant_expires_at:
            raise InvalidGrantError(INVALID_REFRESH_TOKEN)
        scope = narrowed_scope(request.get("scope"), record.authorization.scope, client)
        # An omitted scope "is treated as equal to the scope originally granted", so the
        # answer needs no scope parameter then (RFC 6749 §5.1).
        return _Checked(record, scope, request.get("scope") or " ".join(record.authorization.scope))

    def respond(self, checked: _Checked) -> dict[str, Any]:
        """RFC 6749 §6: a new access token and (RFC 9700 §4.14.2, rotation) a new refresh token."""
        record, now = checked.record, time.time()
        authorization = record.authorization
        access = self._tokens.access_token(replace(authorization, scope=checked.scope), now)
        refresh = self._tokens.refresh_token(now, record.grant_expires_at)
        if not self._storage.rotate_refresh_token(record, checked.scope, access, refresh):
            # Lost the race to a concurrent use of the same token: that is reuse too.
            self._storage.revoke_grant(record.grant_id)
            raise InvalidGrantError(INVALID_REFRESH_TOKEN)
        return bearer_response(access, refresh, checked.scope, checked.requested)
