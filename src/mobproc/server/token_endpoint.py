"""The HTTP edge of the token endpoint: ``POST /as/token.oauth2`` (PingFederate's path), and
of every endpoint shaped like it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from ..oauth2.endpoint import TokenEndpoint
from ..oauth2.errors import (
    InvalidRequestError,
    MethodNotAllowedError,
    RequestTooLargeError,
)
from ..oauth2.request import TokenRequest
from ..storage.database import Database, WriteWouldWait
from ..telemetry import TOKEN_REQUESTS, labelled
from .forwarded import Network, source_address
from .responses import error_response, json_response

PATH = "/as/token.oauth2"


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The body, refused past ``limit`` bytes before it is all read (a declared length first)."""
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise RequestTooLargeError() if declared.isdigit() else InvalidRequestError("Bad Content-Length")
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: the client is gone
            raise InvalidRequestError("The request body was not received")
        body += message.get("body", b"")
        if len(body) > limit:
            raise RequestTooLargeError()
        if not message.get("more_body", False):
            return body


FormHandler = Callable[[TokenRequest], dict[str, Any]]
OutcomeRecorder = Callable[[TokenRequest | None, str], None]


class HandlerPlacement:
    """Where a handler runs: on the event loop, or on a worker thread.

    A handler that hashes a password (25 ms of argon2id) runs on a thread: argon2-cffi
    releases the GIL, and the hasher's admission control bounds how many threads hash. The
    others spend 100-500 µs, and on one core handing that to a thread and back costs as much
    again (the GIL moves twice, threads contend for it): on SQLite they run on the event
    loop, optimistically (:meth:`Database.on_event_loop`), and are rerun on a thread in the
    rare case their first write would have to wait for the write lock (a cleanup batch,
    another process). Their writes join the loop's group commit, and each answer waits for
    it. On PostgreSQL every statement is a network round trip: all run on threads.
    """

    def __init__(self, database: Database | None, on_thread: Callable[[TokenRequest], bool] | None = None) -> None:
        self._database = database if database is not None and database.is_sqlite else None
        self._on_thread = on_thread or (lambda _: False)

    async def run(self, handle: FormHandler, request: TokenRequest) -> dict[str, Any]:
        if self._database is None or self._on_thread(request):
            return await run_in_threadpool(handle, request)
        try:
            with self._database.on_event_loop() as scope:
                try:
                    answer, failure = handle(request), None
                except WriteWouldWait:
                    raise
                except Exception as error:  # noqa: BLE001 - answered below, once its writes are durable
                    answer, failure = None, error
        except WriteWouldWait:
            return await run_in_threadpool(handle, request)
        # Its writes are in the loop's group commit: no answer, not even an error, before it commits.
        await scope.durable()
        if failure is not None:
            raise failure
        return answer


class FormEndpoint:
    """A POST endpoint of the OAuth family (token, introspection, revocation), as a plain ASGI
    app: parameters from the query string and the form body, client credentials, a JSON
    answer; every failure JSON. ``record`` hears each request's outcome: ``issued`` or the
    RFC error code. ``database`` and ``on_thread`` say where ``handle`` runs
    (:class:`HandlerPlacement`). (No Request object: the few headers it needs are read
    from the scope once.)"""

    def __init__(
        self,
        handle: FormHandler,
        *,
        max_body_bytes: int,
        retry_after: int,
        trusted_proxies: Sequence[Network] = (),
        record: OutcomeRecorder | None = None,
        database: Database | None = None,
        on_thread: Callable[[TokenRequest], bool] | None = None,
    ) -> None:
        self._handle, self._record = handle, record
        self._max_body_bytes, self._retry_after, self._trusted_proxies = max_body_bytes, retry_after, trusted_proxies
        self._placement = HandlerPlacement(database, on_thread)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token_request = None
        try:
            if scope["method"] != "POST":
                raise MethodNotAllowedError()
            headers: dict[bytes, str] = {}
            forwarded_for: list[str] = []
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    forwarded_for.append(value.decode("latin-1"))
                elif name in _READ_HEADERS:
                    headers.setdefault(name, value.decode("latin-1"))
            body = await read_body(receive, headers.get(b"content-length"), self._max_body_bytes)
            client = scope.get("client")
            token_request = TokenRequest.from_http(
                scope.get("query_string", b"").decode("latin-1"),
                body,
                headers.get(b"content-type"),
                headers.get(b"authorization"),
                source_address(client[0] if client else "", forwarded_for, self._trusted_proxies),
            )
            response = json_response(await self._placement.run(self._handle, token_request))
            outcome = "issued"
        except Exception as error:  # noqa: BLE001 - every failure becomes JSON, never a trace
            response = error_response(error, self._retry_after)
            outcome = getattr(error, "error", "server_error")
        if self._record is not None:
            self._record(token_request, outcome)
        await response(scope, receive, send)


_READ_HEADERS = frozenset({b"content-length", b"content-type", b"authorization"})


def token_route(
    endpoint: TokenEndpoint,
    *,
    max_body_bytes: int,
    retry_after: int,
    trusted_proxies: Sequence[Network] = (),
    database: Database | None = None,
):  # noqa: ANN201
    known_grants = frozenset(endpoint.grant_types)

    def record(request: TokenRequest | None, outcome: str) -> None:
        # A label holds only registered grant types: client input must not mint series.
        grant_type = (request.get("grant_type") if request else None) or "none"
        labelled(TOKEN_REQUESTS, grant_type if grant_type in known_grants else "other", outcome).inc()

    return FormEndpoint(
        endpoint.handle,
        max_body_bytes=max_body_bytes,
        retry_after=retry_after,
        trusted_proxies=trusted_proxies,
        record=record,
        database=database,
        on_thread=endpoint.hashes_passwords,
    )
