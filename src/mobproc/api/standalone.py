"""``mobproc serve --api-only``: the MOBPROC v1 API alone, a resource server for the tokens of
another mobproc (``MOBPROC_ISSUER``), which :class:`~mobproc.TokenChecker` checks: JWTs
locally against its JWKS, opaque tokens by introspection as ``MOBPROC_INTROSPECTION_CLIENT_ID``.
Its own database holds only the tenants' data and orders."""

from __future__ import annotations

import gc

from starlette.applications import Starlette
from starlette.middleware import Middleware

from ..config import Settings
from ..resource import TokenChecker
from ..server.access_log import AccessLog
from ..server.app import page_headers
from ..server.logs import lean_records
from ..server.observing import AnswerEdge
from ..services import api_storage
from .app import create_api, mount
from .door import RemoteVerifier


def create_api_server(settings: Settings) -> Starlette:
    lean_records()
    secret = settings.introspection_client_secret
    checker = TokenChecker(
        settings.issuer_url,
        audience=settings.access_token_audience,
        client_id=settings.introspection_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        cache_seconds=settings.api_token_cache_seconds,
    )
    database, store = api_storage(settings)
    api = create_api(RemoteVerifier(checker), store, database, settings, verify_in_process=False)
    edge = {"headers": page_headers(), "observers": [AccessLog(grant_types=())] if settings.access_log else []}
    app = Starlette(routes=[mount(api)], middleware=[Middleware(AnswerEdge, **edge)])
    app.state.database = database
    return app


def serve_api(settings: Settings) -> Starlette:
    """The application as each ``mobproc serve --api-only`` process runs it (uvicorn's factory);
    its start-up objects frozen out of the collector's sight, as ``serve_app`` does."""
    app = create_api_server(settings)
    gc.collect()
    gc.freeze()
    return app
