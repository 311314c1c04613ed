"""mobproc: a self-hostable OAuth 2.0 token service for the MOBPROC v1 API.

The public API is what this module exports; everything else may move. The client SDK
(:mod:`mobproc.sdk`) needs httpx alone: the server's names (``Settings``, ``TokenChecker``,
…) are imported when first used, so that ``import mobproc`` does not load the server's
dependencies.
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
    from .config import Environment, Settings
    from .resource import RejectedToken, TokenChecker, ValidatedToken
    from .sdk import RequestsBearerAuth

_LAZY = {
    "Environment": "config", "Settings": "config",
    "RejectedToken": "resource", "TokenChecker": "resource", "ValidatedToken": "resource",
    "RequestsBearerAuth": "sdk",
}
__all__ = [
    "PRODUCTION", "QA", "AsyncTokenClient", "AsyncTokenSession", "BearerAuth", "EndpointUnreachable", "Environment",
    "FileTokenStore", "InvalidClient", "InvalidGrant", "InvalidRequest", "InvalidResponse", "InvalidScope",
    "MemoryTokenStore", "RejectedToken", "Retry", "Settings", "SlowDown",
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
