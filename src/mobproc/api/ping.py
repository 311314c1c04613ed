"""``GET /mobproc/v1/ping`` without FastAPI's routing and dependency solving.

A resource server's cheapest call, and the one clients use to check their set-up: the token
service's app hands it here directly (as it does its OAuth form endpoints), where FastAPI's
layers, its dependency solving and its answer's validation cost several times the door itself
(README, Performance). The door, the answer and the errors are the FastAPI route's own
(:func:`~.context.door`, :func:`~.context.echo`, :func:`~.errors.error_body`); that route
stays, to describe the call in the OpenAPI document and to answer every other method.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from ..storage.database import DatabaseUnavailable
from .context import ApiParts, door, echo
from .door import resolve_actor
from .errors import ApiError, error_body

PATH = "/ping"
ECHO_TEXT_LENGTH = 1000


class DirectPing:
    def __init__(self, api: ApiParts) -> None:
        self._api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            echo_text = _echo_text(scope.get("query_string", b""))
            call = await door(self._api, Headers(scope=scope))
            if call.context_employee is not None or call.context_company_employee is not None:
                await anyio.to_thread.run_sync(resolve_actor, self._api.store, call)  # the context must hold
            response = JSONResponse(echo(self._api, echo_text))
        except ApiError as error:
            response = JSONResponse(error_body(error), error.status, error.headers)
        except DatabaseUnavailable:
            failure = ApiError(503, "unavailable", "The database cannot answer now; retry later",
                               {"Retry-After": str(self._api.retry_after)})
            response = JSONResponse(error_body(failure), 503, failure.headers)
        await response(scope, receive, send)


def _echo_text(query: bytes) -> str:
    """The ``echoText`` parameter, checked as the route's Query(max_length=…) checks it."""
    try:
        value = dict(parse_qsl(query.decode("utf-8", "strict"), keep_blank_values=True)).get("echoText", "")
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid-field", "The query string is not valid UTF-8") from None
    if len(value) > ECHO_TEXT_LENGTH:
        raise ApiError(400, "invalid-field", f"echoText: String should have at most {ECHO_TEXT_LENGTH} characters")
    return value
