"""The HTTP edge of the token endpoint: ``POST /as/token.oauth2`` (PingFederate's path), and
of every endpoint shaped like it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..oauth2.endpoint import TokenEndpoint
from ..oauth2.errors import InvalidRequestError, MethodNotAllowedError, RequestTooLargeError
from ..oauth2.request import TokenRequest
from .forwarded import Network, source_address
from .metrics import TOKEN_REQUESTS, labelled
from .responses import error_response, json_response

PATH = "/as/token.oauth2"


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


FormHandler = Callable[[TokenRequest], dict[str, Any]]
OutcomeRecorder = Callable[[TokenRequest | None, str], None]


def form_route(
    handle: FormHandler,
    *,
    max_body_bytes: int,
    retry_after: int,
    trusted_proxies: Sequence[Network] = (),
    record: OutcomeRecorder | None = None,
):  # noqa: ANN201
    """A POST endpoint of the OAuth family (token, introspection, revocation): parameters from
    the query string and the form body, client credentials, a JSON answer; every failure JSON.
    ``record`` hears each request's outcome: ``issued`` or the RFC error code."""

    async def endpoint(request: Request) -> Response:
        token_request = None
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
            # The handlers hash passwords and talk to the database: off the event loop. argon2-cffi
            # releases the GIL, and the hasher's admission control bounds how many threads hash.
            response = json_response(await run_in_threadpool(handle, token_request))
            outcome = "issued"
        except Exception as error:  # noqa: BLE001 - every failure becomes JSON, never a trace
            response = error_response(error, retry_after)
            outcome = getattr(error, "error", "server_error")
        if record is not None:
            record(token_request, outcome)
        return response

    return endpoint


def token_route(
    endpoint: TokenEndpoint, *, max_body_bytes: int, retry_after: int, trusted_proxies: Sequence[Network] = ()
):  # noqa: ANN201
    known_grants = frozenset(endpoint.grant_types)

    def record(request: TokenRequest | None, outcome: str) -> None:
        # A label holds only registered grant types: client input must not mint series.
        grant_type = (request.get("grant_type") if request else None) or "none"
        labelled(TOKEN_REQUESTS, grant_type if grant_type in known_grants else "other", outcome).inc()

    return form_route(
        endpoint.handle,
        max_body_bytes=max_body_bytes,
        retry_after=retry_after,
        trusted_proxies=trusted_proxies,
        record=record,
    )
