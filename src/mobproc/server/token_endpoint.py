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
from ..storage.database import Database, WriteWouldWait
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


def form_route(
    handle: FormHandler,
    *,
    max_body_bytes: int,
    retry_after: int,
    trusted_proxies: Sequence[Network] = (),
    record: OutcomeRecorder | None = None,
    database: Database | None = None,
    on_thread: Callable[[TokenRequest], bool] | None = None,
):  # noqa: ANN201
    """A POST endpoint of the OAuth family (token, introspection, revocation): parameters from
    the query string and the form body, client credentials, a JSON answer; every failure JSON.
    ``record`` hears each request's outcome: ``issued`` or the RFC error code. ``database``
    and ``on_thread`` say where ``handle`` runs (:class:`HandlerPlacement`)."""
    placement = HandlerPlacement(database, on_thread)

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
            response = json_response(await placement.run(handle, token_request))
            outcome = "issued"
        except Exception as error:  # noqa: BLE001 - every failure becomes JSON, never a trace
            response = error_response(error, retry_after)
            outcome = getattr(error, "error", "server_error")
        if record is not None:
            record(token_request, outcome)
        return response

    return endpoint


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

    return form_route(
        endpoint.handle,
        max_body_bytes=max_body_bytes,
        retry_after=retry_after,
        trusted_proxies=trusted_proxies,
        record=record,
        database=database,
        on_thread=endpoint.hashes_passwords,
    )
