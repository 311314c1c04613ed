"""RFC 7662: OAuth 2.0 token introspection, for resource servers holding opaque tokens.

The caller is a client allowed ``access_token_validation`` (PingFederate's right to check
tokens). It may introspect any token of this environment, access or refresh, opaque or JWT.
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

from ..domain import secrets
from ..domain.clients import ClientStore
from ..domain.tokens import Authorization, TokenLookup, identity_claims
from .client_auth import authenticate_client
from .errors import UnauthorizedClientError
from .grants.storage import AccessTokenStorage, RefreshTokenRecord
from .request import TokenRequest

INTROSPECTION_GRANT = "access_token_validation"
ACCESS_TOKEN_TYPE = "Bearer"
REFRESH_TOKEN_TYPE = "refresh_token"


class IntrospectionStorage(AccessTokenStorage, Protocol):
    def find_refresh_token(self, lookup: bytes) -> RefreshTokenRecord | None: ...


class IntrospectionEndpoint:
    def __init__(
        self,
        clients: ClientStore,
        storage: IntrospectionStorage,
        access_tokens: TokenLookup,
        *,
        issuer: str,
        audience: str,
    ) -> None:
        self._clients = clients
        self._storage = storage
        self._access_tokens = access_tokens
        self.issuer = issuer
        self.audience = audience

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
            found = search(token, now)
            if found is not None:
                return found
        return {"active": False}

    def _access_token(self, token: str, now: float) -> dict[str, Any] | None:
        lookup = self._access_tokens.lookup_key(token)
        record = self._storage.find_access_token(lookup) if lookup is not None else None
        if record is None:
            return None
        if not record.is_active(now):
            return {"active": False}
        answer = self._describe(record.authorization, ACCESS_TOKEN_TYPE, record.issued_at, record.expires_at)
        return {**answer, "aud": self.audience}

    def _refresh_token(self, token: str, now: float) -> dict[str, Any] | None:
        record = self._storage.find_refresh_token(secrets.digest(token))
        if record is None:
            return None
        if not record.is_active(now):
            return {"active": False}
        # token_type tells a resource server that this is no access token, whatever it holds.
        return self._describe(record.authorization, REFRESH_TOKEN_TYPE, record.issued_at, record.expires_at)

    def _describe(self, authorization: Authorization, token_type: str, issued_at: float, expires_at: float) -> dict[str, Any]:
        """RFC 7662 §2.2's members, and the account's attributes (CONTRACT §2)."""
        answer: dict[str, Any] = {
            "active": True,
            "scope": " ".join(authorization.scope),
            "client_id": authorization.client.client_id,
            "token_type": token_type,
            "exp": math.floor(expires_at),
            "iat": math.floor(issued_at),
            "sub": authorization.subject,
            "iss": self.issuer,
        }
        if authorization.identity is not None:
            answer["username"] = authorization.identity.subject
        return {**answer, **identity_claims(authorization)}
