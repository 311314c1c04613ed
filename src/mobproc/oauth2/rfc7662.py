"""RFC 7662: OAuth 2.0 token introspection, for resource servers holding opaque tokens.

The caller is a client allowed ``access_token_validation`` (PingFederate's right to check
tokens). It may introspect any token of this environment, access or refresh, opaque or JWT.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from ..domain import secrets
from ..domain.clients import Client, ClientStore
from ..domain.tokens import RefreshTokenRecord
from ..domain.verifier import AccessTokenVerifier, describe
from .client_auth import authenticate_client
from .errors import UnauthorizedClientError
from .request import TokenRequest

INTROSPECTION_GRANT = "access_token_validation"
REFRESH_TOKEN_TYPE = "refresh_token"
INACTIVE = {"active": False}


class RefreshTokenFinder(Protocol):
    def find_refresh_token(self, lookup: bytes) -> RefreshTokenRecord | None: ...


class IntrospectionEndpoint:
    def __init__(self, clients: ClientStore, verifier: AccessTokenVerifier, refresh_tokens: RefreshTokenFinder) -> None:
        self._clients = clients
        self._verifier = verifier
        self._refresh_tokens = refresh_tokens

    def handle(self, request: TokenRequest) -> dict[str, Any]:
        """RFC 7662 §2.1: ``token`` REQUIRED, ``token_type_hint`` OPTIONAL; "the authorization
        server MUST first verify the identity of the protected resource" (here, by client
        authentication, parameters or Basic).

        §2.2: "If the introspection call is properly authorized but the token is not active,
        does not exist on this server, or the protected resource is not allowed to introspect
        this particular token, then the authorization server MUST return an introspection
        response with the "active" field set to false" and, "to prevent disclosure", nothing else.
        """
        client = authenticate_client(request, self._clients)
        if INTROSPECTION_GRANT not in client.grant_types:
            raise UnauthorizedClientError("The client is not authorized to introspect tokens")
        token = request.require("token")
        # §2.1: a hint only orders the search; "If the server is unable to locate the token
        # using the given hint, it MUST extend its search across all of its supported token types."
        searches = [self._access_token, self._refresh_token]
        if request.get("token_type_hint") == "refresh_token":
            searches.reverse()
        now = time.time()
        for search in searches:
            found = search(token, client, now)
            if found is not None:
                return found
        return INACTIVE

    def _access_token(self, token: str, caller: Client, now: float) -> dict[str, Any] | None:
        record = self._verifier.find(token)
        if record is None:
            return None
        return self._verifier.claims(record) if record.is_active(now) else INACTIVE

    def _refresh_token(self, token: str, caller: Client, now: float) -> dict[str, Any] | None:
        """A refresh token is for its client alone (RFC 6749 §1.5: it is "never sent to resource
        servers"): to any other caller it is not active, so that a resource server whose
        validator checks only ``active``, ``exp`` and the scope (Authlib's stock one does) can
        never take one for an access token."""
        record = self._refresh_tokens.find_refresh_token(secrets.digest(token))
        if record is None:
            return None
        if record.authorization.client.pk != caller.pk or not record.is_active(now):
            return INACTIVE
        authorization = record.authorization
        return describe(authorization, REFRESH_TOKEN_TYPE, record.issued_at, record.expires_at, self._verifier.issuer)
