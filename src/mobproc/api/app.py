"""The MOBPROC v1 API as a FastAPI application, built from its dependencies: mounted at
``/mobproc/v1`` by the token service (:mod:`mobproc.server.app`), or served alone
(:mod:`.standalone`)."""

from __future__ import annotations

import os
import re
import socket
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..headers import (
    ACTIVITY_HEADER,
    CLIENT_HEADER,
    COMPANY_EMPLOYEE_HEADER,
    CORRELATION_HEADER,
    EMPLOYEE_HEADER,
    HIERARCHY_HEADER,
    TENANT_HEADER,
)
from ..procurement.records import ProcurementStore
from ..storage.database import Database, DatabaseUnavailable
from . import docs, orders, resources
from .context import ACTIVITY, CORRELATION, ApiParts, CallTags, tag
from .door import TokenVerifier
from .errors import ApiError, error_body, log, occurrence_id

PATH = "/mobproc/v1"
DESCRIPTION = """A self-contained sandbox of the Mobile Procurement (MOBPROC) v1 REST API, on the
tenant data loaded with `mobproc data load`. Every call carries `Authorization: Bearer <token>`
(scope MOBPROC), `X-TNGO-TENANT` and `client_id`."""


class ApiEdge:
    """Every call once: its troubleshooting tags set for its log lines and echoed on its answer,
    ``Cache-Control: no-store`` on its JSON (tenant data is private), and any unexpected
    failure answered as a 500 in the documented body (its trace in the log, under the same
    id), never as a stack trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tags = []
        for name, value in scope["headers"]:
            if name in (b"x-tngo-context-activityid", b"x-tngo-context-correlationid"):
                tags.append((name, tag(value.decode("latin-1"))))
        found = dict(tags)
        activity = ACTIVITY.set(found.get(b"x-tngo-context-activityid"))
        correlation = CORRELATION.set(found.get(b"x-tngo-context-correlationid"))
        echoed = [(name, value.encode()) for name, value in tags if value]
        started = False

        async def answer(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", ()))
                if not any(name == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers + echoed
            await send(message)

        try:
            await self.app(scope, receive, answer)
        except Exception as error:  # noqa: BLE001 - the one place an unexpected failure is answered
            if started:
                raise
            problem = occurrence_id()
            log.error("error %s 500-internal: %s", problem, type(error).__name__, exc_info=error)
            body = {"errorCode": "500-internal", "id": problem,
                    "message": f"The call failed on the server; report the id {problem}", "status": 500}
            await JSONResponse(body, 500)(scope, receive, answer)
        finally:
            ACTIVITY.reset(activity)
            CORRELATION.reset(correlation)


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location[1:]] if location and location[0] in ("body", "query", "path", "header") \
        else [str(part) for part in location]
    return ".".join(parts) or str(location[0] if location else "request")


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return JSONResponse(error_body(error), error.status, error.headers)


async def _invalid(request: Request, error: Exception) -> JSONResponse:
    """A request that does not fit its model: 400, naming each field (up to five)."""
    assert isinstance(error, RequestValidationError)
    problems = [f"{_field(tuple(e['loc']))}: {e['msg']}" for e in error.errors()[:5]]
    return JSONResponse(error_body(ApiError(400, "invalid-field", "; ".join(problems))), 400)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    kind = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "bad-request")
    message = {404: f"No resource at {request.url.path}", 405: f"{request.method} is not allowed here"}.get(
        error.status_code, str(error.detail))
    return JSONResponse(error_body(ApiError(error.status_code, kind, message)), error.status_code, error.headers)


def _unavailable(retry_after: int):  # noqa: ANN202
    async def handler(request: Request, error: Exception) -> JSONResponse:
        failure = ApiError(503, "unavailable", "The database cannot answer now; retry later",
                           {"Retry-After": str(retry_after)})
        return JSONResponse(error_body(failure), 503, failure.headers)

    return handler


# The documented headers, described on every operation (the door reads them itself).
HEADERS = (
    (TENANT_HEADER, True, "The tenant (customer) the call is for"),
    (CLIENT_HEADER, True, "The client application the token was issued to"),
    (EMPLOYEE_HEADER, False, "Act for this employee (the system's id); wins over the next"),
    (COMPANY_EMPLOYEE_HEADER, False, "Act for this employee (the customer's own id for them)"),
    (HIERARCHY_HEADER, False, "The organizational hierarchy (accepted; this sandbox has one)"),
    (ACTIVITY_HEADER, False, "A tag for related calls: on every log line of the call, echoed"),
    (CORRELATION_HEADER, False, "A tag for this call: on every log line of the call, echoed"),
)


def describe(app: FastAPI) -> dict[str, Any]:
    """FastAPI's description, as this API answers: every operation takes the bearer token and
    the documented headers, and a bad request is a 400 in the documented body (FastAPI's 422
    never happens)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                             servers=[{"url": PATH}])
        headers = [{"name": name, "in": "header", "required": required, "description": description,
                    "schema": {"type": "string", "maxLength": 255}} for name, required, description in HEADERS]
        for operations in schema["paths"].values():
            for operation in operations.values():
                operation["responses"].pop("422", None)
                operation["parameters"] = [*headers, *operation.get("parameters", [])]
                operation["security"] = [{"bearer": []}]
        components = schema.setdefault("components", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.get("schemas", {}).pop(unused, None)
        components["securitySchemes"] = {"bearer": {
            "type": "http", "scheme": "bearer", "description": "An access token of scope MOBPROC from /as/token.oauth2"}}
        app.openapi_schema = schema
    return app.openapi_schema


def mount(api: FastAPI) -> Mount:
    """The API at ``/mobproc/v1``, taking every path under it: Starlette's pattern for a mount
    stops at a line break (``.`` without DOTALL), and a path with an encoded one (``%0A``) would
    otherwise fall through to the token service's own 404, in the OAuth shape."""
    mounted = Mount(PATH, api)
    mounted.path_regex = re.compile(mounted.path_regex.pattern, re.DOTALL)
    return mounted


def create_api(verifier: TokenVerifier, store: ProcurementStore, database: Database, settings: Settings, *,
               verify_in_process: bool) -> FastAPI:
    """The API over ``store`` (its tenants' data and orders, in ``database``), its calls' tokens
    checked by ``verifier``. ``verify_in_process``: the verifier reads this process's database (the
    token service's own :class:`~mobproc.domain.verifier.AccessTokenVerifier`), and runs
    where the server runs its other lookups; otherwise it may wait on the network and runs on
    a worker thread."""
    if not any(isinstance(f, CallTags) for f in log.filters):
        log.addFilter(CallTags())
    app = FastAPI(
        title="MOBPROC v1 (mobproc sandbox)", version="v1", description=DESCRIPTION,
        openapi_url="/openapi.json", docs_url=None, redoc_url=None,
        exception_handlers={
            ApiError: _api_error, RequestValidationError: _invalid, HTTPException: _http_error,
            DatabaseUnavailable: _unavailable(settings.retry_after_seconds),
        },
    )
    app.state.parts = ApiParts(
        verifier=verifier,
        database=database,
        verify_on_event_loop=verify_in_process,
        store=store,
        retry_after=settings.retry_after_seconds,
        node=f"{socket.gethostname()}:{os.getpid()}",
    )
    app.include_router(resources.router)
    app.include_router(orders.router)
    app.include_router(docs.router)
    app.add_middleware(ApiEdge)
    app.openapi = lambda: describe(app)  # type: ignore[method-assign]
    return app


__all__ = ["ACTIVITY_HEADER", "CORRELATION_HEADER", "PATH", "create_api", "mount"]
