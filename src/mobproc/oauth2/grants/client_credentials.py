"""RFC 6749 §4.4: the client credentials grant, a client acting for itself."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ...domain import audit
from ...domain.audit import AuditEvent
from ...domain.clients import Client
from ...domain.secrets import short_id
from ...domain.tokens import Authorization, TokenFactory
from ..request import TokenRequest
from ..scope import requested_scope
from .base import bearer_response
from .storage import GrantStorage


@dataclass(frozen=True, slots=True)
class CheckedClientCredentialsRequest:
    authorization: Authorization
    requested: str | None


class ClientCredentialsGrant:
    grant_type = "client_credentials"
    client_grant = "client_credentials"
    runs_on_event_loop = True

    def __init__(self, storage: GrantStorage, tokens: TokenFactory) -> None:
        self._storage = storage
        self._tokens = tokens

    def check(self, request: TokenRequest, client: Client) -> CheckedClientCredentialsRequest:
        """RFC 6749 §4.4.2: ``scope`` OPTIONAL; "The client MUST authenticate with the
        authorization server" (done before any grant runs). The token's subject is the client."""
        scope = requested_scope(request.get("scope"), client)
        return CheckedClientCredentialsRequest(Authorization(client, scope, self.grant_type), request.get("scope"))

    def respond(self, checked: CheckedClientCredentialsRequest) -> dict[str, Any]:
        """RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included" (PingFederate treats these
        grants as transient): the grant lives exactly as long as its one access token."""
        now = time.time()
        authorization = checked.authorization
        access = self._tokens.access_token(authorization, now)
        issued = AuditEvent(
            audit.TOKEN_ISSUED,
            client_id=authorization.client.client_id,
            subject=authorization.subject,
            grant_type=self.grant_type,
            token=short_id(access.value),
        )
        self._storage.create_grant(authorization, access, None, access.expires_at, issued)
        return bearer_response(access, None, checked.authorization.scope, checked.requested)
