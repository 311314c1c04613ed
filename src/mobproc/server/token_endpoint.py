"""The HTTP edge of the token endpoint: ``POST /as/token.oauth2`` (PingFederate's path)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..oauth2.endpoint import TokenEndpoint
from ..oauth2.errors import InvalidRequestError, MethodNotAllowedError, RequestTooLargeError
from ..oauth2.request import TokenRequest
from .forwarded import Network, source_address
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


def token_route(
    endpoint: TokenEndpoint, *, max_body_bytes: int, retry_after: int, trusted_proxies: Sequence[Network] = ()
):  # noqa: ANN201
    async def token(request: Request) -> Response:
        try:
            if request.method != "POST":
                raise MethodNotAllowedError()
            body = await read_body(request, max_body_bytes)
            token_request = TokenRequest.from_http(
                request.scope.get("query_string", b"").decode("latin-1"),
                body,
                request.headers.get("content-type"),
                request.headers.get("authorization"),
                source_address(
                    request.client.host if request.client else "",
                    request.headers.getlist("x-forwarded-for"),
                    trusted_proxies,
                ),
            )
            # The grant hashes passwords and talks to the database: off the event loop. argon2-cffi
            # releases the GIL, and the hasher's admission control bounds how many threads hash.
            return json_response(await run_in_threadpool(endpoint.handle, token_request))
        except Exception as error:  # noqa: BLE001 - every failure becomes JSON, never a trace
            return error_response(error, retry_after)

    return token
