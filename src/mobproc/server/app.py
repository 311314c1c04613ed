"""The ASGI application: wiring of configuration, storage, identity sources and grants."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings, load_settings
from ..domain.identities import IdentitySource, LockoutPolicy, StoredIdentitySource
from ..domain.passwords import HashingAdmission, PasswordHasher
from ..domain.throttling import GuessingThrottle
from ..domain.tokens import OpaqueTokenStrategy, TokenFactory
from ..oauth2.endpoint import TokenEndpoint
from ..oauth2.grants import RefreshTokenGrant, ResourceOwnerPasswordGrant
from ..storage.accounts import SqlAccountStore
from ..storage.audit import SqlAuditLog
from ..storage.clients import SqlClientStore
from ..storage.database import Database
from ..storage.throttle import SqlFailureBudget, forget_after
from ..storage.tokens import SqlTokenStore
from .access_log import AccessLog
from .responses import error_response, json_response
from .token_endpoint import token_route

log = logging.getLogger("mobproc.server")


@dataclass
class Services:
    """Everything a request needs, built once per process from the settings."""

    settings: Settings
    database: Database
    clients: SqlClientStore
    accounts: SqlAccountStore
    tokens: SqlTokenStore
    hasher: PasswordHasher
    token_endpoint: TokenEndpoint
    audit: SqlAuditLog

    @classmethod
    def build(cls, settings: Settings) -> Services:
        database = Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        environment = settings.environment.value
        clients = SqlClientStore(database, environment)
        accounts = SqlAccountStore(database, environment)
        tokens = SqlTokenStore(database, environment)
        hasher = PasswordHasher.from_settings(settings)
        audit = SqlAuditLog(database, environment)
        lockout = LockoutPolicy(settings.lockout_threshold, settings.lockout_seconds, settings.lockout_max_seconds)
        sources: dict[str, IdentitySource] = {
            name: StoredIdentitySource(name, accounts, hasher, lockout) for name in settings.source_systems
        }
        budgets = [(settings.client_failure_burst, settings.client_failures_per_minute),
                   (settings.address_failure_burst, settings.address_failures_per_minute)]
        throttle = GuessingThrottle(
            SqlFailureBudget(database, environment, forget_after=forget_after(*budgets)),
            client_burst=settings.client_failure_burst,
            client_per_minute=settings.client_failures_per_minute,
            address_burst=settings.address_failure_burst,
            address_per_minute=settings.address_failures_per_minute,
        )
        factory = TokenFactory(
            OpaqueTokenStrategy(settings.access_token_length),
            access_lifetime=settings.access_token_lifetime,
            refresh_length=settings.refresh_token_length,
            refresh_idle_timeout=settings.refresh_token_idle_timeout,
            grant_lifetime=settings.refresh_token_lifetime,
        )
        # The grant registry: a new grant is one module and one line here.
        grants = [
            ResourceOwnerPasswordGrant(
                sources, hasher, tokens, factory,
                audit=audit, throttle=throttle, admission=HashingAdmission.from_settings(settings),
            ),
            RefreshTokenGrant(tokens, factory, audit=audit, grace_seconds=settings.refresh_grace_seconds),
        ]
        endpoint = TokenEndpoint(clients, grants, query_credentials=settings.query_credentials)
        return cls(settings, database, clients, accounts, tokens, hasher, endpoint, audit)


class SecurityHeaders:
    """Headers on every answer, errors included. Every answer is JSON for programs: none is to
    be sniffed as HTML (nosniff), run as a page or framed (the CSP), or leak its URL, which
    may hold the seed's query-string credentials, as a Referer. Over TLS, HSTS keeps the
    client from ever falling back to plain HTTP. (Cache-Control: no-store is set with every
    JSON body, in responses.py.)"""

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
        (b"referrer-policy", b"no-referrer"),
    )
    HSTS = (b"strict-transport-security", b"max-age=31536000")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extra = [*self.HEADERS, self.HSTS] if scope.get("scheme") == "https" else list(self.HEADERS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return json_response({"error": "not_found" if error.status_code == 404 else "invalid_request",
                          "error_description": error.detail}, error.status_code, error.headers)


async def _unexpected_error(request: Request, error: Exception) -> Response:
    return error_response(error)


def create_app(settings: Settings | None = None) -> Starlette:
    """The application; with no settings they are read from ``MOBPROC_*`` (uvicorn workers)."""
    settings = settings or load_settings()
    services = Services.build(settings)
    token = token_route(
        services.token_endpoint,
        max_body_bytes=settings.max_body_bytes,
        retry_after=settings.retry_after_seconds,
        trusted_proxies=settings.trusted_proxies,
    )
    middleware = [Middleware(SecurityHeaders)]
    if settings.access_log:
        middleware.insert(0, Middleware(AccessLog))
    app = Starlette(
        routes=[Route("/as/token.oauth2", token, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])],
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
        lifespan=None,
    )
    app.state.services = services
    return app
