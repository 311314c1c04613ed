"""RFC 6749 §6: refreshing an access token, with rotation and reuse detection (RFC 9700 §4.14)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...domain import audit, secrets
from ...domain.audit import AuditEvent, AuditLog, LoggedAuditLog
from ...domain.clients import Client
from ...domain.identities import Identity
from ...domain.tokens import TokenFactory
from ..errors import InvalidGrantError
from ..request import TokenRequest
from ..scope import narrowed_scope
from .base import bearer_response
from .storage import RefreshTokenRecord, RefreshTokenStorage

INVALID_REFRESH_TOKEN = "unknown, invalid, or expired refresh token"  # PingFederate's wording


@dataclass(frozen=True, slots=True)
class CheckedRefreshRequest:
    record: RefreshTokenRecord
    client: Client  # the authenticated client: the token's own
    scope: tuple[str, ...]
    requested: str | None
    presented: str = ""  # short_id of the refresh token presented, for the audit trail
    source_address: str = ""
    grace: bool = False


class RefreshTokenGrant:
    """Rotation with an optional grace period.

    With ``grace_seconds`` > 0, the immediate predecessor of the live refresh token presented
    again within that many seconds of its first use is taken for a retry (a response lost on
    the way, two threads of one client racing), not for theft. The answer is a fresh pair
    that *replaces* the live token: the live one dies, the new one takes its generation. So
    a grant never has two live refresh tokens, the window does not move with each retry, and
    whichever holder did not get the last pair presents a dead sibling next time, which
    revokes the grant as before. Older generations, or the predecessor after the window,
    revoke it at once. The price is RFC 9700 §4.14.2's detection delayed by up to the window.

    A refresh replays the identity's attributes stored with the grant, as PingFederate does.
    With ``recheck`` (an identity source's ``recheck_on_refresh``), it first asks whether the
    account still holds: one that was deleted or disabled ends the grant, and a source that
    cannot say answers 503 with the refresh token still unused.
    """

    grant_type = "refresh_token"
    client_grant = "refresh_token"
    runs_on_event_loop = True

    def __init__(
        self,
        storage: RefreshTokenStorage,
        tokens: TokenFactory,
        *,
        audit: AuditLog | None = None,
        grace_seconds: float = 0,
        recheck: Callable[[Identity], bool] | None = None,
    ) -> None:
        self._storage = storage
        self._tokens = tokens
        self._audit = audit or LoggedAuditLog()
        self._grace = grace_seconds
        self._recheck = recheck
        if recheck is not None:
            # A recheck asks a directory over the network: not on the event loop.
            self.runs_on_event_loop = False

    def check(self, request: TokenRequest, client: Client) -> CheckedRefreshRequest:
        """RFC 6749 §6: "validate the refresh token" and "ensure that the refresh token was
        issued to the authenticated client"."""
        presented = request.require("refresh_token")
        record = self._storage.find_refresh_token(secrets.digest(presented))
        # Another client's token is simply unknown to this one: revoking on its word would
        # let any client end any grant whose refresh token it saw.
        if record is None or record.authorization.client.pk != client.pk or record.grant_revoked:
            raise InvalidGrantError(INVALID_REFRESH_TOKEN)
        now = time.time()
        grace = record.consumed and self._within_grace(record, now)
        if record.consumed and not grace:
            # RFC 9700 §4.14.2: a rotated-out refresh token presented again means that two
            # parties hold it, and the server cannot tell the thief from the victim; so the
            # whole grant goes.
            self._revoke_for_reuse(record, secrets.short_id(presented), request.source_address)
        if now >= record.idle_expires_at or now >= record.grant_expires_at:
            raise InvalidGrantError(INVALID_REFRESH_TOKEN)
        identity = record.authorization.identity
        if self._recheck is not None and identity is not None and not self._recheck(identity):
            self._end_grant(record, request.source_address)
        scope = narrowed_scope(request.get("scope"), record.authorization.scope, client)
        # An omitted scope "is treated as equal to the scope originally granted", so the
        # answer needs no scope parameter then (RFC 6749 §5.1).
        requested = request.get("scope") or " ".join(record.authorization.scope)
        return CheckedRefreshRequest(record, client, scope, requested, secrets.short_id(presented),
                                     request.source_address, grace)

    def respond(self, checked: CheckedRefreshRequest) -> dict[str, Any]:
        """RFC 6749 §6: a new access token and (RFC 9700 §4.14.2, rotation) a new refresh token."""
        record, now = checked.record, time.time()
        # Issued for the client the endpoint authenticated (its registration as it is now: its
        # access token lifetime, say), which check() found to be the token's own.
        authorization = record.authorization.issued_to(checked.client, checked.scope)
        access = self._tokens.access_token(authorization, now)
        refresh = self._tokens.refresh_token(now, record.grant_expires_at)

        def event(name: str) -> AuditEvent:
            # Stored with the rotation, in its transaction: no tokens without their record.
            return AuditEvent(
                name,
                client_id=authorization.client.client_id,
                subject=authorization.subject,
                source_address=checked.source_address or None,
                grant_type=self.grant_type,
                grant_id=record.grant_id,
                token=secrets.short_id(access.value),
                refresh_token=secrets.short_id(refresh.value),
                detail=f"presented {checked.presented} (generation {record.generation})",
            )

        if checked.grace:
            rotated = self._storage.replace_successor(record, checked.scope, access, refresh,
                                                      event(audit.REFRESH_GRACE))
        else:
            rotated = self._storage.rotate_refresh_token(record, checked.scope, access, refresh,
                                                         event(audit.TOKEN_REFRESHED))
            if not rotated and self._grace:
                # Lost the race to a concurrent use of the same token, a moment ago: with a
                # grace period, that is the retry it exists for.
                rotated = self._storage.replace_successor(record, checked.scope, access, refresh,
                                                          event(audit.REFRESH_GRACE))
        if not rotated:
            # The successor was used in turn (so this token is older than its predecessor), or
            # a concurrent use won without grace: reuse either way.
            self._revoke_for_reuse(record, checked.presented, checked.source_address)
        return bearer_response(access, refresh, checked.scope, checked.requested)

    def _within_grace(self, record: RefreshTokenRecord, now: float) -> bool:
        return self._grace > 0 and record.consumed_at is not None and now - record.consumed_at <= self._grace

    def _end_grant(self, record: RefreshTokenRecord, address: str) -> None:
        """The account is gone (or disabled) from its source: the grant ends with it."""
        if self._storage.revoke_grant(record.grant_id):
            self._audit.record(AuditEvent(
                audit.GRANT_REVOKED, reason=audit.ACCOUNT_GONE, client_id=record.authorization.client.client_id,
                subject=record.authorization.subject, source_address=address or None, grant_type=self.grant_type,
                grant_id=record.grant_id, detail="recheck_on_refresh",
            ))
        raise InvalidGrantError(INVALID_REFRESH_TOKEN)

    def _revoke_for_reuse(self, record: RefreshTokenRecord, presented: str, address: str) -> None:
        revoked = self._storage.revoke_grant(record.grant_id)
        common = {
            "client_id": record.authorization.client.client_id,
            "subject": record.authorization.subject,
            "source_address": address or None,
            "grant_type": self.grant_type,
            "grant_id": record.grant_id,
        }
        self._audit.record(AuditEvent(
            audit.REFRESH_REUSE, token=presented, detail=f"generation {record.generation}", **common
        ))
        if revoked:  # once, however many concurrent uses found the reuse
            self._audit.record(AuditEvent(audit.GRANT_REVOKED, reason=audit.REFRESH_REUSE, **common))
        raise InvalidGrantError(INVALID_REFRESH_TOKEN)
