"""The HTTP edge of RFC 7009 revocation: ``POST /as/revoke_token.oauth2`` (PingFederate's path)."""

from __future__ import annotations

from ..oauth2.rfc7009 import RevocationEndpoint
from ..storage.database import Database
from .token_endpoint import HandlerPlacement, form_route

PATH = "/as/revoke_token.oauth2"


def revocation_route(
    endpoint: RevocationEndpoint,
    *,
    max_body_bytes: int,
    retry_after: int,
    database: Database | None = None,
):  # noqa: ANN201
    return form_route(
        endpoint.handle,
        max_body_bytes=max_body_bytes,
        retry_after=retry_after,
        placement=HandlerPlacement(database),
    )
