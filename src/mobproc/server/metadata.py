"""Public documents over GET: the RFC 8414 metadata and the JWK Set (RFC 7517 §5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..oauth2.errors import MethodNotAllowedError
from ..oauth2.rfc8414 import authorization_server_metadata, openid_provider_metadata
from ..services import Services
from .responses import error_response, public_json_response

METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
OPENID_CONFIGURATION_PATH = METADATA_PATHS[1]
JWKS_PATH = "/pf/JWKS"  # PingFederate's path

# The metadata changes only with the configuration. The JWKS's max-age is the signing keys'
# to say (SigningKeys.jwks_max_age): short enough that a cache has a staged key before it signs.
METADATA_MAX_AGE = 300


def document_route(produce: Callable[[], dict[str, Any]], *, max_age: int, retry_after: int):  # noqa: ANN201
    async def document(request: Request) -> Response:
        try:
            if request.method not in ("GET", "HEAD"):
                raise MethodNotAllowedError("GET, HEAD")
            return public_json_response(await run_in_threadpool(produce), max_age)
        except Exception as error:  # noqa: BLE001 - every failure becomes JSON, never a trace
            return error_response(error, retry_after)

    return document


def openid_configuration(services: Services) -> dict[str, Any]:
    """The same document at OpenID Connect Discovery's path, where a relying party starts: the
    ID tokens' first key is made now, before it reads the JWKS (IdTokens.publish_first_key)."""
    services.id_tokens.publish_first_key()
    return server_metadata(services)


def server_metadata(services: Services) -> dict[str, Any]:
    """RFC 8414 §2, with this deployment's URLs; the scopes are those its clients may ask for."""
    from . import introspection_endpoint, revocation_endpoint, token_endpoint

    from ..web import authorization
    from . import userinfo_endpoint

    issuer = services.settings.issuer_url
    return authorization_server_metadata(
        issuer=issuer,
        authorization_endpoint=issuer + authorization.PATH,
        token_endpoint=issuer + token_endpoint.PATH,
        introspection_endpoint=issuer + introspection_endpoint.PATH,
        revocation_endpoint=issuer + revocation_endpoint.PATH,
        jwks_uri=issuer + JWKS_PATH,
        grant_types=services.token_endpoint.grant_types,
        scopes=(scope for client in services.clients.list_clients() for scope in client.scopes),
    ) | openid_provider_metadata(userinfo_endpoint=issuer + userinfo_endpoint.PATH,
                                 end_session_endpoint=issuer + authorization.LOGOUT_PATH,
                                 id_token_algorithms=services.id_tokens.algorithms)
