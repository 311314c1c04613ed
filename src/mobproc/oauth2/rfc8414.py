"""RFC 8414: OAuth 2.0 authorization server metadata."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# RFC 6749 §2.3.1: HTTP Basic, or the id and secret as parameters; nothing else is accepted.
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def authorization_server_metadata(
    *,
    issuer: str,
    token_endpoint: str,
    introspection_endpoint: str,
    revocation_endpoint: str,
    jwks_uri: str,
    grant_types: Iterable[str],
    scopes: Iterable[str],
) -> dict[str, Any]:
    """RFC 8414 §2. ``issuer`` is exactly the ``iss`` of every token (§3.3: a client MUST
    check that they are identical). There is no authorization endpoint, so no response type
    (§2 asks for the member; it is empty)."""
    return {
        "issuer": issuer,
        "token_endpoint": token_endpoint,
        "introspection_endpoint": introspection_endpoint,
        "revocation_endpoint": revocation_endpoint,
        "jwks_uri": jwks_uri,
        "grant_types_supported": list(grant_types),
        "response_types_supported": [],
        "scopes_supported": sorted(set(scopes)),
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
    }
