"""mobproc: a self-hostable OAuth 2.0 token service for the MOBPROC v1 API.

The public API is what this module exports: the client side (:mod:`mobproc.sdk`: token
sessions, ``TokenClient``, auth for httpx and requests, typed errors), for an integrator who
needs a token, and ``TokenChecker``, for a resource server that receives one. Neither needs
the server: ``pip install mobproc`` installs them alone, ``pip install 'mobproc[server]'`` the
server. ``TokenChecker`` and the server's ``Settings`` and ``Environment`` are imported when
first asked for.
Every other module is internal and may move (the README's Architecture section is the map).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .sdk import __all__ as _sdk_names
from .sdk import (
    PRODUCTION,
    QA,
    AsyncTokenClient,
    AsyncTokenSession,
    BearerAuth,
    EndpointUnreachable,
    FileTokenStore,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidResponse,
    InvalidScope,
    MemoryTokenStore,
    Retry,
    SlowDown,
    TemporarilyUnavailable,
    Token,
    TokenClient,
    TokenError,
    TokenSession,
    TokenStore,
    TokenStoreLocked,
    UnauthorizedClient,
    UnsupportedGrantType,
    token_url,
    username,
)

if TYPE_CHECKING:
    from .config import Environment, Settings  # noqa: F401 - the lazy names, for type checkers
    from .resource import RejectedToken, TokenChecker, ValidatedToken
    from .sdk import RequestsBearerAuth

# Loaded when first used: `import mobproc` for the SDK needs httpx alone (TokenChecker needs
# joserfc too; Settings and Environment, the server).
_LAZY = {
    "Environment": "config", "Settings": "config", "RequestsBearerAuth": "sdk",
    "RejectedToken": "resource", "TokenChecker": "resource", "ValidatedToken": "resource",
}
# Not Settings or Environment: a star import must work without the server installed.
__all__ = [
    "PRODUCTION", "QA", "AsyncTokenClient", "AsyncTokenSession", "BearerAuth", "EndpointUnreachable",
    "FileTokenStore", "InvalidClient", "InvalidGrant", "InvalidRequest", "InvalidResponse", "InvalidScope",
    "MemoryTokenStore", "RejectedToken", "Retry", "SlowDown",
    "TemporarilyUnavailable", "Token", "TokenChecker", "TokenClient", "TokenError", "TokenSession", "TokenStore",
    "TokenStoreLocked", "UnauthorizedClient", "UnsupportedGrantType", "ValidatedToken", "token_url", "username",
]
if "RequestsBearerAuth" in _sdk_names:  # requests is installed
    __all__ += ["RequestsBearerAuth"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
