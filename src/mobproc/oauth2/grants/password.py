"""RFC 6749 §4.3: the resource owner password credentials grant (the seed's grant)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...domain import audit
from ...domain.audit import AuditEvent, AuditLog, LoggedAuditLog, unknown_username
from ...domain.clients import Client
from ...domain.identities import (
    UNKNOWN_ACCOUNT,
    AuthenticationFailed,
    Identity,
    IdentitySource,
    Username,
)
from ...domain.passwords import HashingAdmission, PasswordHasher
from ...domain.secrets import short_id
from ...domain.throttling import NO_THROTTLE, GuessingThrottle, Throttled
from ...domain.tokens import Authorization, GrantOwnerGone, TokenFactory
from ..errors import InvalidGrantError, SlowDownError
from ..request import TokenRequest
from ..scope import requested_scope
from .base import bearer_response
from .storage import GrantStorage

INVALID_CREDENTIALS = "Invalid resource owner credentials"


@dataclass(frozen=True, slots=True)
class _Checked:
    authorization: Authorization
    requested: str | None
    source_address: str = ""


class ResourceOwnerPasswordGrant:
    grant_type = "password"
    client_grant = "password"
    hashes_passwords = True  # argon2id, ~25 ms: its requests run on a thread

    def __init__(
        self,
        sources: Mapping[str, IdentitySource],
        hasher: PasswordHasher,
        storage: GrantStorage,
        tokens: TokenFactory,
        *,
        audit: AuditLog | None = None,
        throttle: GuessingThrottle | None = None,
        admission: HashingAdmission | None = None,
    ) -> None:
        self._sources = sources
        self._hasher = hasher
        self._storage = storage
        self._tokens = tokens
        self._audit = audit or LoggedAuditLog()
        self._throttle = throttle or NO_THROTTLE
        self._admission = admission or HashingAdmission(1 << 16, 0, 0)

    def check(self, request: TokenRequest, client: Client) -> _Checked:
        """RFC 6749 §4.3.2: ``username`` and ``password`` REQUIRED, ``scope`` OPTIONAL;
        "the authorization server MUST ... validate the resource owner password credentials"
        and "MUST protect the endpoint against brute force attacks"."""
        username, password = request.require("username"), request.require("password")
        scope = requested_scope(request.get("scope"), client)
        address = request.source_address
        # Admission first: beyond this process's capacity the answer is a fast 503 that has
        # spent nothing (HashingCapacityExceeded, mapped in mobproc.server.responses).
        with self._admission.slot():
            identity = self._authenticate(username, password, client, address)
        return _Checked(Authorization(client, scope, self.grant_type, identity), request.get("scope"), address)

    def _authenticate(self, username: str, password: str, client: Client, address: str) -> Identity:
        try:
            parsed: Username | None = Username.parse(username)
            source = self._sources.get(parsed.source_system)
        except ValueError:
            parsed, source = None, None
        event = {"client_id": client.client_id, "source_address": address or None, "grant_type": self.grant_type}
        # Spraying one password over many accounts is slowed before any password is checked:
        # a spent budget costs a database row, not an argon2id hash.
        now = time.time()
        buckets = self._throttle.buckets(client.pk, address)
        try:
            self._throttle.take(buckets, now)
        except Throttled as throttled:
            self._audit.record(AuditEvent(
                audit.LOGIN_THROTTLED, subject=unknown_username(username), reason=throttled.bucket.kind, **event
            ))
            raise SlowDownError(throttled.retry_after) from None
        try:
            if source is None or parsed is None:
                # An unknown source system costs a password check too: no answer or timing
                # may tell which usernames could exist.
                self._hasher.verify(None, password)
                raise AuthenticationFailed(UNKNOWN_ACCOUNT)
            identity = source.authenticate(parsed.name, password)
        except AuthenticationFailed as failure:
            # The reason goes to the audit trail only; the client learns nothing but invalid_grant.
            subject = unknown_username(username) if failure.reason == UNKNOWN_ACCOUNT else str(parsed)
            self._audit.record(AuditEvent(audit.LOGIN_FAILED, subject=subject, reason=failure.reason, **event))
            if failure.locked_until is not None:
                seconds = round(failure.locked_until - now)
                self._audit.record(AuditEvent(audit.ACCOUNT_LOCKED, subject=subject, detail=f"{seconds} s", **event))
            raise InvalidGrantError(INVALID_CREDENTIALS) from None
        self._throttle.give_back(buckets, now)  # only failures spend the budget
        return identity

    def respond(self, checked: _Checked) -> dict[str, Any]:
        """RFC 6749 §4.3.3: an access token and, for a client allowed to refresh, a refresh token."""
        now = time.time()
        authorization = checked.authorization
        grant_expires_at = now + self._tokens.grant_lifetime
        access = self._tokens.access_token(authorization, now)
        refresh = None
        if "refresh_token" in authorization.client.grant_types:
            refresh = self._tokens.refresh_token(now, grant_expires_at)
        # The audit record is stored with the grant, in its transaction (which fills in grant_id).
        issued = AuditEvent(
            audit.TOKEN_ISSUED,
            client_id=authorization.client.client_id,
            subject=authorization.subject,
            source_address=checked.source_address or None,
            grant_type=self.grant_type,
            token=short_id(access.value),
            refresh_token=short_id(refresh.value) if refresh else None,
        )
        try:
            self._storage.create_grant(authorization, access, refresh, grant_expires_at, issued)
        except GrantOwnerGone:
            raise InvalidGrantError("The client or account no longer exists") from None
        return bearer_response(access, refresh, authorization.scope, checked.requested)
