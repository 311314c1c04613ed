"""What every grant is: a check of the token request, then the response it fills in."""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

from ...domain.clients import Client
from ...domain.tokens import IssuedToken
from ..request import TokenRequest
from ..scope import format_scope


class Grant(Protocol):
    #: the ``grant_type`` parameter this grant answers
    grant_type: str
    #: the grant type a client must be allowed to use it
    client_grant: str
    #: Opt in to running on the event loop (:meth:`mobproc.storage.database.Database.run`):
    #: for a grant of a few hundred microseconds of lookups and writes, on SQLite. Such a grant
    #: may be run again from the start until its first write: before it, it may only read, and
    #: everything it says (audit events, metrics) goes through the transaction's
    #: ``after_commit``. A grant that hashes a password or calls the network leaves it False.
    runs_on_event_loop: bool

    def check(self, request: TokenRequest, client: Client) -> Any:
        """Validate the request; raise an :class:`~mobproc.oauth2.errors.OAuth2Error` or answer what
        :meth:`respond` needs."""
        ...

    def respond(self, checked: Any) -> dict[str, Any]:
        """Issue what was granted; answer the response's fields."""
        ...


def bearer_response(
    access: IssuedToken,
    refresh: IssuedToken | None,
    granted: tuple[str, ...],
    requested: str | None,
) -> dict[str, Any]:
    """RFC 6749 §5.1. ``expires_in`` is the whole seconds left, rounded down (a fresh
    7,200 s token says 7199, as in the seed); ``scope`` is added only when the granted
    scope differs from the requested one."""
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": max(0, math.floor(access.expires_at - time.time())),
        "access_token": access.value,
    }
    if refresh is not None:
        body["refresh_token"] = refresh.value
    if tuple(dict.fromkeys(requested.split(" ")) if requested else ()) != granted:
        body["scope"] = format_scope(granted)
    return body
