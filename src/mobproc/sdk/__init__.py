"""The integrator's side: MOBPROC access tokens from mobproc or the hosted endpoints, kept
fresh for any number of threads, tasks or processes, and sent by httpx or requests; and the
MOBPROC v1 API's client, typed.

>>> from mobproc import BearerAuth, TokenSession                                   # doctest: +SKIP
>>> session = TokenSession("qa", client_id, secret, username="command://alice", password=pw)  # doctest: +SKIP
>>> api = httpx.Client(base_url=api_url, auth=BearerAuth(session))                 # doctest: +SKIP
>>> client = Client("qa", client_id, secret, username=user, password=pw, tenant="XYZ")  # doctest: +SKIP

The public API is what this package exports (and :mod:`mobproc` re-exports); its modules are
private. It needs httpx alone; :class:`RequestsBearerAuth` needs requests too, and
:class:`Client` and :class:`AsyncClient` pydantic (``mobproc[client]``).
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

from ._api import Context
from ._api_errors import (
    ApiError,
    ApiUnreachable,
    BadRequest,
    Forbidden,
    NotFound,
    OrderRejected,
    Problem,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    UnexpectedAnswer,
)
from ._auth import BearerAuth
from ._client import AsyncTokenClient, TokenClient
from ._endpoints import (
    PRODUCTION,
    PRODUCTION_API,
    QA,
    QA_API,
    api_url,
    token_url,
    username,
)
from ._errors import (
    EndpointUnreachable,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidResponse,
    InvalidScope,
    MobprocError,
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
    from ._api_client import AsyncClient, Client
    from ._requests import RequestsBearerAuth

__all__ = [
    "PRODUCTION", "PRODUCTION_API", "QA", "QA_API", "ApiError", "ApiUnreachable", "AsyncTokenClient",
    "AsyncTokenSession", "BadRequest", "BearerAuth", "Context", "EndpointUnreachable", "FileTokenStore", "Forbidden",
    "InvalidClient", "InvalidGrant", "InvalidRequest", "InvalidResponse", "InvalidScope", "MemoryTokenStore",
    "MobprocError", "NotFound", "OrderRejected", "Problem", "Retry", "ServerError", "ServiceUnavailable", "SlowDown",
    "TemporarilyUnavailable", "Token", "TokenClient", "TokenError", "TokenSession", "TokenStore", "TokenStoreLocked",
    "Unauthorized", "UnauthorizedClient", "UnexpectedAnswer", "UnsupportedGrantType", "api_url", "token_url",
    "username",
]

# Imported when first asked for, and listed only where their library is installed, so that
# `import mobproc` needs httpx alone and `from mobproc.sdk import *` never fails.
_OPTIONAL = {"RequestsBearerAuth": "._requests", "Client": "._api_client", "AsyncClient": "._api_client"}
if find_spec("requests") is not None:
    __all__ += ["RequestsBearerAuth"]
if find_spec("pydantic") is not None:
    __all__ += ["AsyncClient", "Client"]


def __getattr__(name: str) -> object:
    if name in _OPTIONAL:
        import importlib

        return getattr(importlib.import_module(_OPTIONAL[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
