"""RFC 8414: OAuth 2.0 authorization server metadata."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# RFC 6749 §2.3.1: HTTP Basic, or the id and secret as parameters; nothing else is accepted.
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


# RFC 6749 §2.1: a public client names itself and proves nothing (PKCE protects its code).
TOKEN_AUTH_METHODS = [*CLIENT_AUTH_METHODS, "none"]


def authorization_server_metadata(
    *,
    issuer: str,
    authorization_endpoint: str,
    token_endpoint: str,
    introspection_endpoint: str,
    revocation_endpoint: str,
    jwks_uri: str,
    grant_types: Iterable[str],
    scopes: Iterable[str],
) -> dict[str, Any]:
    """RFC 8414 §2. ``issuer`` is exactly the ``iss`` of every token (§3.3: a client MUST
    check that they are identical), and of every authorization response (RFC 9207 §3)."""
    return {
        "issuer": issuer,
        "authorization_endpoint": authorization_endpoint,
        "token_endpoint": token_endpoint,
        "introspection_endpoint": introspection_endpoint,
        "revocation_endpoint": revocation_endpoint,
        "jwks_uri": jwks_uri,
        # The implicit grant has no grant_type at the token endpoint, but is one (RFC 8414 §2).
        "grant_types_supported": [*grant_types, "implicit"],
        "response_types_supported": ["code", "token"],
        "response_modes_supported": ["query", "fragment"],
        "code_challenge_methods_supported": ["S256"],  # RFC 9700 §2.1.1: plain is not offered
        "authorization_response_iss_parameter_supported": True,  # RFC 9207 §3
        "scopes_supported": sorted({*scopes, "openid"}),
        "token_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
    }


def openid_provider_metadata(*, userinfo_endpoint: str, end_session_endpoint: str,
                             id_token_algorithms: list[str]) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 §3: the members an OpenID provider adds (mobproc answers at
    /.well-known/openid-configuration, as PingFederate does); RP-Initiated Logout 1.0 §2.1."""
    return {
        "userinfo_endpoint": userinfo_endpoint,
        "end_session_endpoint": end_session_endpoint,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": id_token_algorithms,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp",
                             "preferred_username", "platform", "tenant", "multitenant", "domain"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }
