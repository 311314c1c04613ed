"""The integrator's side: MOBPROC access tokens from mobproc or the hosted endpoints, kept
fresh for any number of threads, tasks or processes, and sent by httpx or requests.

>>> from mobproc import BearerAuth, TokenSession                                   # doctest: +SKIP
>>> session = TokenSession("qa", client_id, secret, username="command://alice", password=pw)  # doctest: +SKIP
>>> api = httpx.Client(base_url=api_url, auth=BearerAuth(session))                 # doctest: +SKIP

The public API is what this package exports (and :mod:`mobproc` re-exports); its modules are
private. It needs httpx alone; :class:`RequestsBearerAuth` needs requests too.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

from ._auth import BearerAuth
from ._client import AsyncTokenClient, TokenClient
from ._endpoints import PRODUCTION, QA, token_url, username
from ._errors import (
    EndpointUnreachable,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidResponse,
    InvalidScope,
    SlowDown,
    TemporarilyUnavailable,
    TokenError,
    TokenStoreLocked,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from ._retry import Retry
from ._session import AsyncTokenSession, TokenSession
from ._store import FileTokenStore, MemoryTokenStore, TokenStore
from ._token import Token

if TYPE_CHECKING:
    from ._requests import RequestsBearerAuth

__all__ = [
    "PRODUCTION", "QA", "AsyncTokenClient", "AsyncTokenSession", "BearerAuth", "EndpointUnreachable",
    "FileTokenStore", "InvalidClient", "InvalidGrant", "InvalidRequest", "InvalidResponse", "InvalidScope",
    "MemoryTokenStore", "Retry", "SlowDown", "TemporarilyUnavailable", "Token",
    "TokenClient", "TokenError", "TokenSession", "TokenStore", "TokenStoreLocked", "UnauthorizedClient",
    "UnsupportedGrantType", "token_url", "username",
]

# Listed only where requests is installed, so that `from mobproc.sdk import *` never fails.
if find_spec("requests") is not None:
    __all__ += ["RequestsBearerAuth"]


def __getattr__(name: str) -> object:
    # requests is optional: imported when its auth class is first asked for.
    if name == "RequestsBearerAuth":
        from ._requests import RequestsBearerAuth

        return RequestsBearerAuth
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
