"""The ASGI application: the token endpoints, documents and operational routes over the services."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Settings, load_settings
from ..services import Services
from ..storage.housekeeping import Housekeeper
from . import introspection_endpoint, metadata, openapi, operations, revocation_endpoint, token_endpoint
from .access_log import AccessLog
from .headers import SecurityHeaders
from .logs import lean_records
from .metrics import RequestMetrics
from .observing import AnswerEdge
from .responses import error_response, json_response
from .token_endpoint import FormEndpoint, token_route

log = logging.getLogger("mobproc.server")
# Endpoints answer every method themselves, so that a wrong one gets the RFC's JSON error.
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class TokenService(Starlette):
    """The application. The OAuth form endpoints (``direct``, each already behind its
    :class:`AnswerEdge`) are reached before any of Starlette's own layers: its error
    middleware, exception layer and route table. They answer every failure themselves
    (:class:`FormEndpoint`), so those layers have nothing to do for them, and each wraps
    ``send`` or the call again: on an introspection they cost 5 % of the app's time, the
    error middleware as much again. Every other path, and any request under a root path,
    goes through Starlette as usual."""

    def __init__(self, *, direct: Mapping[str, ASGIApp], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.direct = direct
        # Starlette answers a path that differs by a trailing slash with a redirect built from
        # the Host header, query string included: the seed's credentials, sent on to whatever
        # host the request named. No endpoint here redirects; such a path is a 404.
        self.router.redirect_slashes = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.direct.get(scope["path"]) if scope["type"] == "http" and not scope.get("root_path") else None
        if endpoint is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        await endpoint(scope, receive, send)


def _housekeeping(services: Services):  # noqa: ANN202
    """Every process runs the timer; the database lease lets one of them work at a time."""
    housekeeper = Housekeeper(services.database, services.settings.cleanup_interval_seconds)

    async def loop() -> None:
        while True:
            # Jitter, so that processes started together do not all ask at the same instant.
            await asyncio.sleep(housekeeper.interval * (0.5 + secrets.randbelow(500) / 1000))
            await run_in_threadpool(housekeeper.run_once)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return json_response({"error": "not_found" if error.status_code == 404 else "invalid_request",
                          "error_description": error.detail}, error.status_code, error.headers)


async def _unexpected_error(request: Request, error: Exception) -> Response:
    return error_response(error)


def create_app(settings: Settings | None = None) -> TokenService:
    """The application; with no settings they are read from ``MOBPROC_*`` (uvicorn workers)."""
    settings = settings or load_settings()
    settings.require_issuer()
    lean_records()
    services = Services.build(settings)
    limits = {"max_body_bytes": settings.max_body_bytes, "retry_after": settings.retry_after_seconds}
    retry_after = settings.retry_after_seconds
    document = metadata.document_route(partial(metadata.server_metadata, services), max_age=metadata.METADATA_MAX_AGE, retry_after=retry_after)
    form_endpoints = {
        token_endpoint.PATH: token_route(
            services.token_endpoint, **limits, trusted_proxies=settings.trusted_proxies, database=services.database
        ),
        introspection_endpoint.PATH: FormEndpoint(services.introspection.handle, **limits, database=services.database),
        revocation_endpoint.PATH: FormEndpoint(services.revocation.handle, **limits, database=services.database),
    }
    routes = [
        *(Route(path, endpoint, methods=ALL_METHODS) for path, endpoint in form_endpoints.items()),
        Route(
            metadata.JWKS_PATH,
            metadata.document_route(services.keys.jwks, max_age=services.keys.jwks_max_age, retry_after=retry_after),
            methods=ALL_METHODS,
        ),
        *(Route(path, document, methods=ALL_METHODS) for path in metadata.METADATA_PATHS),
        Route("/healthz", operations.healthz),
        Route("/readyz", operations.readyz_route(services.database, retry_after)),
        Route("/metrics", operations.metrics_endpoint),
        Route(openapi.PATH, metadata.document_route(openapi.document, max_age=metadata.METADATA_MAX_AGE,
                                                     retry_after=retry_after), methods=ALL_METHODS),
    ]
    observers = [RequestMetrics(known_paths=frozenset(route.path for route in routes))]
    if settings.access_log:
        observers.insert(0, AccessLog(grant_types=services.token_endpoint.grant_types))
    edge = {"headers": SecurityHeaders.for_request, "observers": observers}
    app = TokenService(
        direct={path: AnswerEdge(endpoint, **edge) for path, endpoint in form_endpoints.items()},
        routes=routes,
        middleware=[Middleware(AnswerEdge, **edge)],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
        lifespan=_housekeeping(services) if settings.cleanup_interval_seconds else None,
    )
    app.state.services = services
    return app


def serve_app() -> TokenService:
    """The application as each ``mobproc serve`` process runs it (uvicorn's factory).

    Once it is built, what start-up made (modules, SQLAlchemy's metadata and compiled
    statements, about 110,000 objects, all alive until the process ends) is frozen out of the
    cyclic garbage collector's sight, as the gc module's documentation describes for a
    long-lived process. Otherwise each full collection walks all of them with the event
    loop stopped: under write load that was three collections of 50-80 ms every 5 seconds,
    the whole of the refresh grant's p99. Garbage is collected first, so none is kept for good.
    """
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
