"""RFC 6749 §3.2: the token endpoint, independent of HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..domain.clients import ClientStore
from ..domain.passwords import HashingAdmission
from .client_auth import authenticate_client
from .errors import (
    InvalidRequestError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from .grants import Grant
from .request import TokenRequest

# What must not travel in a URL, where browsers' histories, proxies and access logs keep it.
CREDENTIAL_PARAMETERS = ("client_secret", "password", "refresh_token", "token", "access_token")


class TokenEndpoint:
    def __init__(self, clients: ClientStore, grants: Iterable[Grant], *, query_credentials: str = "accept") -> None:
        self._clients = clients
        self._grants = {grant.grant_type: grant for grant in grants}
        self._reject_query_credentials = query_credentials == "reject"

    @property
    def grant_types(self) -> list[str]:
        return list(self._grants)

    def admission(self, request: TokenRequest) -> HashingAdmission | None:
        """The slots answering ``request`` takes before it is handed to a thread: a grant that
        checks a password says which (``admission(request)``); the others take none."""
        grant = self._grants.get(request.get("grant_type") or "")
        admission = getattr(grant, "admission", None)
        return admission(request) if admission is not None else None

    def runs_on_event_loop(self, request: TokenRequest) -> bool:
        """Whether the grant that answers ``request`` opted in to the event loop
        (:attr:`Grant.runs_on_event_loop`); a request no grant answers is refused at once."""
        grant = self._grants.get(request.get("grant_type") or "")
        return grant is None or grant.runs_on_event_loop

    def handle(self, request: TokenRequest) -> dict[str, Any]:
        if self._reject_query_credentials:
            self._refuse_credentials_in_the_query(request)
        grant_type = request.get("grant_type")
        if grant_type is None:
            raise InvalidRequestError("grant_type is required")  # PingFederate's wording
        grant = self._grants.get(grant_type)
        if grant is None:
            raise UnsupportedGrantTypeError("Unsupported grant type")
        client = authenticate_client(request, self._clients, public=True)
        if grant.client_grant not in client.grant_types:
            raise UnauthorizedClientError()
        return grant.respond(grant.check(request, client))

    @staticmethod
    def _refuse_credentials_in_the_query(request: TokenRequest) -> None:
        """RFC 6749 §2.3.1: client credentials "MUST NOT be included in the request URI"; the
        seed puts them there anyway, so refusing is a setting (MOBPROC_QUERY_CREDENTIALS)."""
        named = [name for name in CREDENTIAL_PARAMETERS if name in request.query_names]
        if named:
            raise InvalidRequestError(
                f"{', '.join(named)} must not be sent in the URL: send credentials in the "
                "application/x-www-form-urlencoded request body, or the client's in an HTTP Basic Authorization header"
            )
