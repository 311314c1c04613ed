"""The ASGI application: the token endpoints, documents and operational routes over the services."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Mapping
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..api import docs as api_docs
from ..api.app import PATH as API_PATH
from ..api.app import ApiEdge, create_api, mount
from ..api.ping import PATH as PING_PATH
from ..api.ping import DirectPing
from ..config import Settings, load_settings
from ..services import Services
from ..storage.housekeeping import Housekeeper
from ..web import authorization as web_authorization
from ..web import console as web_console
from ..web import pages as web_pages
from . import (
    admin,
    introspection_endpoint,
    metadata,
    openapi,
    operations,
    revocation_endpoint,
    token_endpoint,
    userinfo_endpoint,
)
from .access_log import AccessLog
from .forwarded import source_address
from .headers import SecurityHeaders
from .logs import lean_records
from .metrics import RequestMetrics
from .observing import AnswerEdge, HashingLoad
from .responses import error_response, json_response
from .token_endpoint import FormEndpoint, token_route

log = logging.getLogger("mobproc.server")
# Endpoints answer every method themselves, so that a wrong one gets the RFC's JSON error.
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ServerApp(Starlette):
    """The ASGI application. The OAuth form endpoints (``direct``, each already behind its
    :class:`AnswerEdge`) are reached before any of Starlette's own layers: its error
    middleware, exception layer and route table. They answer every failure themselves
    (:class:`FormEndpoint`), so those layers have nothing to do for them, and each wraps
    ``send`` or the call again (README, Performance). Every other path, and any request under a
    root path, goes through Starlette as usual.

    A request that arrived on a listener of its own (``by_port``) is answered by that
    listener's application alone: on the operations listener, metrics and the detailed
    readiness, which are for operators, not for whoever can reach the token endpoint (issue 19,
    item 1); on the admin listener, the admin API."""

    def __init__(self, *, direct: Mapping[str, ASGIApp], direct_get: Mapping[str, ASGIApp] | None = None,
                 by_port: Mapping[int, ASGIApp] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.direct = direct
        self.direct_get = direct_get or {}  # paths answered directly when read (GET, HEAD)
        self.by_port = {port: app for port, app in (by_port or {}).items() if port}
        # Starlette answers a path that differs by a trailing slash with a redirect built from
        # the Host header, query string included: the seed's credentials, sent on to whatever
        # host the request named. No endpoint here redirects; such a path is a 404.
        self.router.redirect_slashes = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.by_port and scope["type"] == "http":
            listener = self.by_port.get((scope.get("server") or (None, 0))[1])
            if listener is not None:
                await listener(scope, receive, send)
                return
        endpoint = None
        if scope["type"] == "http" and not scope.get("root_path"):
            endpoint = self.direct.get(scope["path"])
            if endpoint is None and scope["method"] in ("GET", "HEAD"):
                endpoint = self.direct_get.get(scope["path"])
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


def _always(request: object) -> bool:
    # Introspection and revocation look a token up and write at most one row (and its audit
    # row): they opt in to the event loop (Database.run), and say nothing before they commit.
    return True


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> ServerApp:
    """The application over ``services`` (built from ``settings``, read from ``MOBPROC_*`` when
    none are given)."""
    settings = settings or load_settings()
    settings.require_issuer()
    lean_records()
    services = services or Services.build(settings)
    limits = {"max_body_bytes": settings.max_body_bytes, "retry_after": settings.retry_after_seconds}
    retry_after = settings.retry_after_seconds
    document = metadata.document_route(partial(metadata.server_metadata, services), max_age=metadata.METADATA_MAX_AGE, retry_after=retry_after)
    form_endpoints = {
        token_endpoint.PATH: token_route(
            services.token_endpoint, **limits, trusted_proxies=settings.trusted_proxies, database=services.database
        ),
        introspection_endpoint.PATH: FormEndpoint(
            services.introspection.handle, **limits, database=services.database, on_event_loop=_always
        ),
        revocation_endpoint.PATH: FormEndpoint(
            services.revocation.handle, **limits, database=services.database, on_event_loop=_always
        ),
    }
    sign_in_pages = web_authorization.AuthorizationPages(services, max_body_bytes=settings.max_body_bytes,
                                                         retry_after=retry_after)
    routes = [
        *(Route(path, endpoint, methods=ALL_METHODS) for path, endpoint in form_endpoints.items()),
        Route(
            metadata.JWKS_PATH,
            metadata.document_route(services.jwks, max_age=services.keys.jwks_max_age, retry_after=retry_after),
            methods=ALL_METHODS,
        ),
        Route(metadata.METADATA_PATHS[0], document, methods=ALL_METHODS),
        Route(metadata.OPENID_CONFIGURATION_PATH, metadata.document_route(
            partial(metadata.openid_configuration, services), max_age=metadata.METADATA_MAX_AGE,
            retry_after=retry_after), methods=ALL_METHODS),
        Route("/healthz", operations.healthz),
        # What load balancers ask; its reasons (and the metrics) are on the operations listener.
        Route("/readyz", operations.readyz_route(services.database, retry_after, detailed=False)),
        Route(openapi.PATH, metadata.document_route(openapi.document, max_age=metadata.METADATA_MAX_AGE,
                                                     retry_after=retry_after), methods=ALL_METHODS),
        # Interactive sign-in (issue 20): the authorization endpoint and its pages.
        Route(web_authorization.PATH, sign_in_pages.authorize, methods=ALL_METHODS),
        Route(web_authorization.LOGOUT_PATH, sign_in_pages.logout, methods=ALL_METHODS),
        Route(userinfo_endpoint.PATH, userinfo_endpoint.userinfo_route(services, retry_after=retry_after),
              methods=ALL_METHODS),
        Route(web_pages.ASSETS_PATH + "/mobproc.css", web_pages.stylesheet, methods=ALL_METHODS),
        # The MOBPROC v1 API, its tokens checked in process by the services' own verifier.
        mount(api := create_api(services.verifier, services.procurement, services.database, settings,
                                verify_in_process=True)),
    ]
    by_port: dict[int, ASGIApp] = {}
    if settings.admin_enabled:
        trusted = settings.trusted_proxies

        def address_of(scope: Scope) -> str:
            forwarded = [value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"]
            return source_address((scope.get("client") or ("", 0))[0], forwarded, trusted)

        admin_mount = admin.mount(admin.create_admin(services, settings, address_of=address_of))
        # The console: the admin API's pages, for people (mobproc.web.console).
        console_mount = Mount(web_console.PATH, routes=web_console.console_routes(services, settings,
                                                                                 address_of=address_of))
        if settings.admin_listener is None:
            routes += [admin_mount, console_mount]
    observers = [RequestMetrics(known_paths=frozenset(route.path for route in routes)), HashingLoad(services.hashing)]
    if settings.access_log:
        observers.insert(0, AccessLog(grant_types=services.token_endpoint.grant_types))
    headers = page_headers()
    edge = {"headers": headers, "observers": observers}
    handlers = {HTTPException: _http_error, Exception: _unexpected_error}
    operator_routes = [
        Route("/healthz", operations.healthz),
        Route("/readyz", operations.readyz_route(services.database, retry_after, detailed=True,
                                                 sources=services.identity_sources)),
        Route("/metrics", operations.metrics_endpoint),
    ]
    if settings.operations_port == settings.port:  # chosen: one listener for all
        routes = [route for route in routes if route.path != "/readyz"] + operator_routes[1:]
    else:
        by_port[settings.operations_port] = AnswerEdge(Starlette(routes=operator_routes, exception_handlers=handlers),
                                                       headers=headers)
    if settings.admin_enabled and settings.admin_listener is not None:
        by_port[settings.admin_listener[1]] = AnswerEdge(
            Starlette(routes=[admin_mount, console_mount], exception_handlers=handlers), **edge)
    app = ServerApp(
        direct={path: AnswerEdge(endpoint, **edge) for path, endpoint in form_endpoints.items()},
        direct_get={API_PATH + PING_PATH: AnswerEdge(ApiEdge(DirectPing(api.state.parts)), **edge)},
        by_port=by_port,
        routes=routes,
        middleware=[Middleware(AnswerEdge, **edge)],
        exception_handlers=handlers,
        lifespan=_housekeeping(services) if settings.cleanup_interval_seconds else None,
    )
    app.state.services = services
    return app


def serve_app(settings: Settings) -> ServerApp:
    """The application as each ``mobproc serve`` process runs it (uvicorn's factory).

    Once it is built, what start-up made (modules, SQLAlchemy's metadata and compiled
    statements, about 110,000 objects, all alive until the process ends) is frozen out of the
    cyclic garbage collector's sight, as the gc module's documentation describes for a
    long-lived process. Otherwise each full collection walks all of them with the event
    loop stopped, and under write load those pauses were the whole of the refresh grant's p99
    (README, Operations). Garbage is collected first, so none is kept for good.
    """
    app = create_app(settings)
    gc.collect()
    gc.freeze()
    return app


def page_headers():  # noqa: ANN201
    """Every answer's headers; the API's docs page (Swagger UI's script and style, of this
    origin only) has a policy of its own, and the sign-in pages say theirs
    (:mod:`mobproc.web.pages`)."""
    return SecurityHeaders.for_pages({API_PATH + api_docs.PREFIX: api_docs.PAGE_POLICY,
                                      web_authorization.PATH: "", web_authorization.LOGOUT_PATH: "",
                                      web_console.PATH + "/": "",
                                      web_pages.ASSETS_PATH + "/": web_pages.page_policy()})


def listeners(settings: Settings) -> list[socket.socket]:
    """The sockets beside the token endpoint's: the operations listener, unless it shares the
    token endpoint's port or is off (port 0); the admin listener, when it has one."""
    wanted = []
    if settings.operations_port and settings.operations_port != settings.port:
        wanted.append((settings.operations_host, settings.operations_port, "MOBPROC_OPERATIONS_PORT", "operations"))
    if settings.admin_listener is not None:
        wanted.append((*settings.admin_listener, "MOBPROC_ADMIN_PORT", "admin"))
    sockets: list[socket.socket] = []
    for host, port, setting, name in wanted:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            sock.close()
            for bound in sockets:
                bound.close()
            raise OSError(f"the {name} listener {host}:{port}: {error.strerror} ({setting})") from None
        sock.set_inheritable(True)  # for the worker processes
        sockets.append(sock)
    return sockets
