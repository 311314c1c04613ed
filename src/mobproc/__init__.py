"""mobproc: a self-hostable OAuth 2.0 token service for the MOBPROC v1 API.

The public API is what this module exports: the client side (:mod:`mobproc.sdk`: token
sessions, ``TokenClient``, auth for httpx and requests, the API's ``Client``, typed errors),
for an integrator who needs a token or calls the API, and ``TokenChecker``, for a resource
server that receives one; and :mod:`mobproc.models`, the API's shapes. None needs the server:
``pip install mobproc`` installs them alone (``mobproc[client]`` adds pydantic, for ``Client``
and the models), ``pip install 'mobproc[server]'`` the server. ``Client``, ``TokenChecker`` and
the server's ``Settings`` and ``Environment`` are imported when first asked for.
Every other module is internal and may move (the README's Architecture section is the map).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .sdk import (
    PRODUCTION,
    PRODUCTION_API,
    QA,
    QA_API,
    ApiError,
    ApiUnreachable,
    AsyncTokenClient,
    AsyncTokenSession,
    BadRequest,
    BearerAuth,
    Context,
    EndpointUnreachable,
    FileTokenStore,
    Forbidden,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidResponse,
    InvalidScope,
    MemoryTokenStore,
    MobprocError,
    NotFound,
    OrderRejected,
    Problem,
    Retry,
    ServerError,
    ServiceUnavailable,
    SlowDown,
    TemporarilyUnavailable,
    Token,
    TokenClient,
    TokenError,
    TokenSession,
    TokenStore,
    TokenStoreLocked,
    Unauthorized,
    UnauthorizedClient,
    UnexpectedAnswer,
    UnsupportedGrantType,
    api_url,
    token_url,
    username,
)
from .sdk import __all__ as _sdk_names

if TYPE_CHECKING:
    from .config import Environment, Settings  # noqa: F401 - the lazy names, for type checkers
    from .resource import RejectedToken, TokenChecker, ValidatedToken
    from .sdk import AsyncClient, Client, RequestsBearerAuth

# Loaded when first used: `import mobproc` for the SDK needs httpx alone (TokenChecker needs
# joserfc too; Client and AsyncClient pydantic; Settings and Environment, the server).
_LAZY = {
    "Environment": "config", "Settings": "config", "RequestsBearerAuth": "sdk", "Client": "sdk",
    "AsyncClient": "sdk", "RejectedToken": "resource", "TokenChecker": "resource", "ValidatedToken": "resource",
}
# Not Settings or Environment: a star import must work without the server installed.
__all__ = [
    "PRODUCTION", "PRODUCTION_API", "QA", "QA_API", "ApiError", "ApiUnreachable", "AsyncTokenClient",
    "AsyncTokenSession", "BadRequest", "BearerAuth", "Context", "EndpointUnreachable", "FileTokenStore", "Forbidden",
    "InvalidClient", "InvalidGrant", "InvalidRequest", "InvalidResponse", "InvalidScope", "MemoryTokenStore",
    "MobprocError", "NotFound", "OrderRejected", "Problem", "RejectedToken", "Retry", "ServerError",
    "ServiceUnavailable", "SlowDown", "TemporarilyUnavailable", "Token", "TokenChecker", "TokenClient", "TokenError",
    "TokenSession", "TokenStore", "TokenStoreLocked", "Unauthorized", "UnauthorizedClient", "UnexpectedAnswer",
    "UnsupportedGrantType", "ValidatedToken", "api_url", "token_url", "username",
]
if "RequestsBearerAuth" in _sdk_names:  # requests is installed
    __all__ += ["RequestsBearerAuth"]
if "Client" in _sdk_names:  # pydantic is installed
    __all__ += ["AsyncClient", "Client"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
