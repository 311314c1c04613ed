"""RFC 6749 §3.2: the token endpoint, independent of HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..domain.clients import ClientStore
from .client_auth import authenticate_client
from .errors import InvalidRequestError, UnauthorizedClientError, UnsupportedGrantTypeError
from .grants import Grant
from .request import TokenRequest


class TokenEndpoint:
    def __init__(self, clients: ClientStore, grants: Iterable[Grant]) -> None:
        self._clients = clients
        self._grants = {grant.grant_type: grant for grant in grants}

    @property
    def grant_types(self) -> list[str]:
        return list(self._grants)

    def handle(self, request: TokenRequest) -> dict[str, Any]:
        grant_type = request.get("grant_type")
        if grant_type is None:
            raise InvalidRequestError("grant_type is required")  # PingFederate's wording
        grant = self._grants.get(grant_type)
        if grant is None:
            raise UnsupportedGrantTypeError("Unsupported grant type")
        client = authenticate_client(request, self._clients)
        if grant.client_grant not in client.grant_types:
            raise UnauthorizedClientError()
        return grant.respond(grant.check(request, client))
