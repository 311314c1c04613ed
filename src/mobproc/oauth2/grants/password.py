"""RFC 6749 §4.3: the resource owner password credentials grant (the seed's grant)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...domain.clients import Client
from ...domain.identities import IdentitySource, Username
from ...domain.passwords import PasswordHasher
from ...domain.tokens import Authorization, TokenFactory
from ..errors import InvalidGrantError
from ..request import TokenRequest
from ..scope import requested_scope
from .base import bearer_response
from .storage import GrantOwnerGone, GrantStorage

INVALID_CREDENTIALS = "Invalid resource owner credentials"


@dataclass(frozen=True, slots=True)
class _Checked:
    authorization: Authorization
    requested: str | None


class ResourceOwnerPasswordGrant:
    grant_type = "password"
    client_grant = "password"

    def __init__(
        self,
        sources: Mapping[str, IdentitySource],
        hasher: PasswordHasher,
        storage: GrantStorage,
        tokens: TokenFactory,
    ) -> None:
        self._sources = sources
        self._hasher = hasher
        self._storage = storage
        self._tokens = tokens

    def check(self, request: TokenRequest, client: Client) -> _Checked:
        """RFC 6749 §4.3.2: ``username`` and ``password`` REQUIRED, ``scope`` OPTIONAL;
        "the authorization server MUST ... validate the resource owner password credentials"."""
        username, password = request.require("username"), request.require("password")
        scope = requested_scope(request.get("scope"), client)
        try:
            parsed = Username.parse(username)
            source = self._sources[parsed.source_system]
        except (ValueError, KeyError):
            # An unknown source system costs a password check too: no answer or timing
            # may tell which usernames could exist.
            self._hasher.verify(None, password)
            raise InvalidGrantError(INVALID_CREDENTIALS) from None
        identity = source.authenticate(parsed.name, password)
        if identity is None:
            raise InvalidGrantError(INVALID_CREDENTIALS)
        return _Checked(Authorization(client, scope, self.grant_type, identity), request.get("scope"))

    def respond(self, checked: _Checked) -> dict[str, Any]:
        """RFC 6749 §4.3.3: an access token and, for a client allowed to refresh, a refresh token."""
        now = time.time()
        grant_expires_at = now + self._tokens.grant_lifetime
        access = self._tokens.access_token(checked.authorization, now)
        refresh = None
        if "refresh_token" in checked.authorization.client.grant_types:
            refresh = self._tokens.refresh_token(now, grant_expires_at)
        try:
            self._storage.create_grant(checked.authorization, access, refresh, grant_expires_at)
        except GrantOwnerGone:
            raise InvalidGrantError("The client or account no longer exists") from None
        return bearer_response(access, refresh, checked.authorization.scope, checked.requested)
