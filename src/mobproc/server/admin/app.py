"""The admin API as a FastAPI application: mounted at ``/admin/v1`` beside the token endpoint by
default, or on a listener of its own (MOBPROC_ADMIN_PORT), or nowhere (MOBPROC_ADMIN_ENABLED=false)
(:mod:`mobproc.server.app` decides)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...config import Settings
from ...domain.registries import AlreadyExists, InvalidChange, NotFound, Stale
from ...domain.signing_keys import SigningKeyUnavailable
from ...services import Services
from ...storage.database import DatabaseUnavailable
from . import audit, resources
from .context import principal
from .door import AdminParts, Principal
from .errors import PROBLEM, PROBLEM_SCHEMA, AdminError, log, problem_body
from .models import Me

PATH = "/admin/v1"
DESCRIPTION = """The operator's side of mobproc: clients, accounts and their grants, roles, signing keys and the
audit trail, with the same rules as the `mobproc` command (every change through the same registries, audited
with its actor and source address).

Every call carries `Authorization: Bearer <token>`: an access token of this mobproc with one of the scopes
`mobproc:admin` (everything), `mobproc:operator` (read; unlock, disable, enable, revoke, rotate) or
`mobproc:auditor` (read only), held by an account granted that role (`mobproc user grant-role U admin`) or
a client registered with it (automation, client credentials).

Errors are RFC 9457 problem details (`application/problem+json`), with `errors[].field` naming each field a
request got wrong. Clients and accounts carry an `ETag`; a change sent with `If-Match` is made only on that
version, else `412`."""


class AdminEdge:
    """Every call once: ``Cache-Control: no-store`` on its answer (secrets are answered here),
    and any unexpected failure answered as a 500 problem (its trace in the log under the same
    id), never as a stack trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def answer(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", ()))
                if not any(name == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, answer)
        except Exception as error:  # noqa: BLE001 - the one place an unexpected failure is answered
            if started:
                raise
            failure = AdminError(500, "internal", "The call failed on the server; report the id")
            log.error("unexpected %s on %s", type(error).__name__, scope.get("path"), exc_info=error)
            await problem(failure)(scope, receive, answer)


def problem(error: AdminError) -> JSONResponse:
    """The problem's answer (:func:`.errors.problem_body`), never kept by a cache."""
    return JSONResponse(problem_body(error), error.status, {**error.headers, "Cache-Control": "no-store"},
                        media_type=PROBLEM)


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location[1:]] if location and location[0] in ("body", "query", "path", "header") \
        else [str(p) for p in location]
    return ".".join(parts) or "body"


async def _admin_error(request: Request, error: Exception) -> Any:
    assert isinstance(error, AdminError)
    return problem(error)


async def _invalid_request(request: Request, error: Exception) -> Any:
    """A request that does not fit its model: 400, naming each field (up to ten)."""
    assert isinstance(error, RequestValidationError)
    fields = [("body", f"{e['msg']} at character {e['loc'][-1]}") if e["type"] == "json_invalid"
              else (_field(tuple(e["loc"])), e["msg"]) for e in error.errors()[:10]]
    detail = "; ".join(f"{name}: {message}" for name, message in fields)
    return problem(AdminError(400, "invalid-field", detail, fields=fields))


async def _registry_error(request: Request, error: Exception) -> Any:
    """A registry's refusal, as the command line gives it in one line."""
    if isinstance(error, InvalidChange):
        return problem(AdminError(400, "invalid-field", f"{error.field}: {error}", fields=[(error.field, str(error))]))
    if isinstance(error, NotFound):
        return problem(AdminError(404, "not-found", str(error)))
    if isinstance(error, AlreadyExists):
        return problem(AdminError(409, "exists", str(error)))
    if isinstance(error, SigningKeyUnavailable):
        return problem(AdminError(409, "signing-key-unavailable", str(error)))
    return problem(AdminError(412, "precondition-failed", str(error)))


async def _http_error(request: Request, error: Exception) -> Any:
    assert isinstance(error, HTTPException)
    kind = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "bad-request")
    detail = {404: f"No resource at {request.url.path}", 405: f"{request.method} is not allowed here"}.get(
        error.status_code, str(error.detail))
    return problem(AdminError(error.status_code, kind, detail, error.headers))


def _unavailable(retry_after: int):  # noqa: ANN202
    async def handler(request: Request, error: Exception) -> Any:
        return problem(AdminError(503, "unavailable", "The database cannot answer now; retry later",
                                  {"Retry-After": str(retry_after)}))

    return handler


# Every operation may answer these, in the problem shape.
_PROBLEMS = {
    "400": "A parameter or field broke a rule (errors[].field names it)",
    "401": "No access token, or one that is invalid, expired or revoked",
    "403": "The token's role may not do this",
    "404": "No such resource",
    "409": "It exists already",
    "412": "If-Match names a version that is not the current one",
    "503": "The database cannot answer now (Retry-After)",
}


def describe(app: FastAPI) -> dict[str, Any]:
    """FastAPI's description, as this API answers: a bad request is a 400 problem (FastAPI's 422
    never happens), every operation takes the bearer token."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                             servers=[{"url": PATH}])
        problem_response = {"content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for operations in schema["paths"].values():
            for operation in operations.values():
                operation["responses"].pop("422", None)
                for status, description in _PROBLEMS.items():
                    operation["responses"].setdefault(status, {"description": description, **problem_response})
                operation["security"] = [{"bearer": []}]
        components = schema.setdefault("components", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.get("schemas", {}).pop(unused, None)
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components["securitySchemes"] = {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "An access token of this mobproc with scope mobproc:admin, mobproc:operator or mobproc:auditor"}}
        app.openapi_schema = schema
    return app.openapi_schema


def mount(admin: FastAPI) -> Mount:
    """The admin API at ``/admin/v1``, taking every path under it (a path with an encoded line
    break too: Starlette's pattern stops at one otherwise)."""
    mounted = Mount(PATH, admin)
    mounted.path_regex = re.compile(mounted.path_regex.pattern, re.DOTALL)
    return mounted


def create_admin(services: Services, settings: Settings, *, address_of) -> FastAPI:  # noqa: ANN001
    """The admin API over ``services``; ``address_of(scope)``: a request's source address (the
    server's, which believes X-Forwarded-For only from MOBPROC_TRUSTED_PROXIES)."""
    registry_errors = dict.fromkeys((InvalidChange, NotFound, AlreadyExists, Stale, SigningKeyUnavailable),
                                    _registry_error)
    app = FastAPI(
        title="mobproc admin", version="v1", description=DESCRIPTION,
        openapi_url="/openapi.json", docs_url=None, redoc_url=None,
        exception_handlers={
            AdminError: _admin_error, RequestValidationError: _invalid_request, HTTPException: _http_error,
            DatabaseUnavailable: _unavailable(settings.retry_after_seconds), **registry_errors,
        },
    )
    app.state.parts = AdminParts(services, address_of)
    app.state.environment = settings.environment.value

    @app.get("/me", response_model=Me, tags=["session"], summary="Who the token speaks for, and in which role")
    def me(request: Request) -> dict:
        caller: Principal = principal(request)
        return {"subject": caller.subject, "client_id": caller.client_id, "role": caller.role.value,
                "actor": caller.actor.name, "environment": settings.environment.value}

    app.include_router(resources.router)
    app.include_router(audit.router)
    app.add_middleware(AdminEdge)
    app.openapi = lambda: describe(app)  # type: ignore[method-assign]
    return app
