"""RFC 6749 §4.3: the resource owner password credentials grant (the seed's grant)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ...domain import audit
from ...domain.audit import AuditEvent
from ...domain.authentication import Attempt, Authenticator, Login, LoginRefused
from ...domain.clients import Client
from ...domain.passwords import HashingAdmission
from ...domain.secrets import short_id
from ...domain.throttling import Throttled
from ...domain.tokens import Authorization, GrantOwnerGone, TokenFactory
from ..errors import InvalidGrantError, SlowDownError
from ..request import TokenRequest
from ..scope import requested_scope
from .base import bearer_response
from .storage import GrantStorage

INVALID_CREDENTIALS = "Invalid resource owner credentials"


@dataclass(frozen=True, slots=True)
class CheckedPasswordRequest:
    login: Login
    client: Client
    scope: tuple[str, ...]
    requested: str | None
    source_address: str = ""


class ResourceOwnerPasswordGrant:
    grant_type = "password"
    client_grant = "password"
    runs_on_event_loop = False  # argon2id takes milliseconds: on a thread, which releases the GIL while it hashes

    def __init__(self, authenticator: Authenticator, storage: GrantStorage, tokens: TokenFactory) -> None:
        self._authenticator = authenticator
        self._storage = storage
        self._tokens = tokens

    def admission(self, request: TokenRequest) -> HashingAdmission:
        """The slots this request's password check takes, before it is handed to a thread."""
        return self._authenticator.admission_for(request.get("username") or "")

    def check(self, request: TokenRequest, client: Client) -> CheckedPasswordRequest:
        """RFC 6749 §4.3.2: ``username`` and ``password`` REQUIRED, ``scope`` OPTIONAL;
        "the authorization server MUST ... validate the resource owner password credentials"
        and "MUST protect the endpoint against brute force attacks" (the Authenticator's
        defences)."""
        username, password = request.require("username"), request.require("password")
        scope = requested_scope(request.get("scope"), client)
        try:
            login = self._authenticator.authenticate(
                username, password, Attempt(client, request.source_address, self.grant_type)
            )
        except LoginRefused:
            raise InvalidGrantError(INVALID_CREDENTIALS) from None
        except Throttled as throttled:
            raise SlowDownError(throttled.retry_after) from None
        return CheckedPasswordRequest(login, client, scope, request.get("scope"), request.source_address)

    def respond(self, checked: CheckedPasswordRequest) -> dict[str, Any]:
        """RFC 6749 §4.3.3: an access token and, for a client allowed to refresh, a refresh
        token; made in the transaction that confirms the login, so only for the password checked."""
        now = time.time()
        client = checked.client
        grant_expires_at = now + self._tokens.grant_lifetime
        refresh = self._tokens.refresh_token(now, grant_expires_at) if "refresh_token" in client.grant_types else None
        authorization = Authorization(client, checked.scope, self.grant_type, checked.login.identity)
        access = self._tokens.access_token(authorization, now)  # a JWT's key is read (or made) outside the transaction
        # The audit record is stored with the grant, in its transaction (which fills in grant_id).
        issued = AuditEvent(
            audit.TOKEN_ISSUED,
            client_id=client.client_id,
            subject=authorization.subject,
            source_address=checked.source_address or None,
            grant_type=self.grant_type,
            token=short_id(access.value),
            refresh_token=short_id(refresh.value) if refresh else None,
        )
        try:
            checked.login.confirm(
                lambda identity: self._storage.create_grant(authorization, access, refresh, grant_expires_at, issued)
            )
        except LoginRefused:
            raise InvalidGrantError(INVALID_CREDENTIALS) from None
        except GrantOwnerGone:
            raise InvalidGrantError("The client or account no longer exists") from None
        return bearer_response(access, refresh, checked.scope, checked.requested)
