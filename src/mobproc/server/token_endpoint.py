"""The HTTP edge of the token endpoint: ``POST /as/token.oauth2`` (PingFederate's path)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..oauth2.endpoint import TokenEndpoint
from ..oauth2.errors import InvalidRequestError, MethodNotAllowedError, RequestTooLargeError
from ..oauth2.request import TokenRequest
from .metrics import TOKEN_REQUESTS
from .responses import error_response, json_response


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused past ``limit`` bytes before it is all read (a declared length first)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise RequestTooLargeError() if declared.isdigit() else InvalidRequestError("Bad Content-Length")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise RequestTooLargeError()
    except ClientDisconnect:
        raise InvalidRequestError("The request body was not received") from None
    return bytes(body)


def token_route(endpoint: TokenEndpoint, *, max_body_bytes: int, retry_after: int):  # noqa: ANN201
    known_grants = frozenset(endpoint.grant_types)

    async def token(request: Request) -> Response:
        grant_type = "none"
        try:
            if request.method != "POST":
                raise MethodNotAllowedError()
            body = await read_body(request, max_body_bytes)
            token_request = TokenRequest.from_http(
                request.scope.get("query_string", b"").decode("latin-1"),
                body,
                request.headers.get("content-type"),
                request.headers.get("authorization"),
                request.client.host if request.client else "",
            )
            # A label holds only registered grant types: client input must not mint series.
            grant_type = token_request.get("grant_type") or "none"
            grant_type = grant_type if grant_type in known_grants else "other"
            # The grant hashes passwords and talks to the database: off the event loop.
            response = json_response(await run_in_threadpool(endpoint.handle, token_request))
            TOKEN_REQUESTS.labels(grant_type, "issued").inc()
            return response
        except Exception as error:  # noqa: BLE001 - every failure becomes JSON, never a trace
            response = error_response(error, retry_after)
            TOKEN_REQUESTS.labels(grant_type, getattr(error, "error", "server_error")).inc()
            return response

    return token
