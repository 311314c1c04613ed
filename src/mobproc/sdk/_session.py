"""Tokens kept fresh for any number of threads or tasks: :class:`TokenSession` and
:class:`AsyncTokenSession`, two thin drivers of one flow (:mod:`._flow`).

Single flight: a caller whose token is fresh takes no lock at all. Callers that need a new
token queue on one lock; the first makes the one request, and those that waited for it take
its token, or its error, without a request of their own. A token that is due for refresh but
not expired is handed out while another caller refreshes it: nobody waits for a token they
do not need yet.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import threading
import time
from types import TracebackType

import httpx

from ._client import AsyncTokenClient, TokenClient, _TokenEndpoint
from ._endpoints import username as checked_username
from ._errors import TokenError
from ._flow import Flight, Plan, drive, drive_async, flight, fresh, refresh_margin
from ._retry import Retry
from ._store import MemoryTokenStore, TokenStore
from ._token import Token

DEFAULT_MARGIN = 60.0
# A token this close to its end is not handed out even while another caller refreshes it.
IN_FLIGHT_SKEW = 2.0


class _Session:
    """What the sync and async sessions share: the plan, the token, the outcome of the last flight."""

    def __init__(
        self, endpoint: _TokenEndpoint, username: str | None, password: str | None, scope: str | None,
        margin: float, store: TokenStore | None, retry: Retry | None,
    ) -> None:
        if username is not None:
            username = checked_username(username)
            if not password:
                raise ValueError("a password is required with a username (or no username: client credentials)")
        elif password is not None:
            raise ValueError("a password without a username: pass username= too")
        if margin < 0:
            raise ValueError("margin must not be negative")
        key = hashlib.sha256("\n".join((endpoint.url, endpoint.client_id, username or "", scope or "")).encode())
        self._plan = Plan(endpoint, username, password, scope, margin, retry or Retry(),
                          store if store is not None else MemoryTokenStore(), key.hexdigest()[:32])
        self._token: Token | None = None
        self._flights = 0
        self._failure: TokenError | None = None

    def __repr__(self) -> str:
        plan = self._plan
        return (f"{type(self).__name__}({plan.endpoint.url!r}, client_id={plan.endpoint.client_id!r}, "
                f"username={plan.username!r}, scope={plan.scope!r}, store={plan.store!r})")

    @property
    def username(self) -> str | None:
        return self._plan.username

    def _ready(self, rejected: str | None, refreshing: bool) -> Token | None:
        """The token to use without taking the lock, if there is one."""
        token = self._token
        if fresh(token, self._plan.margin, rejected):
            return token
        if refreshing and token is not None and token.access_token != rejected:
            skew = min(IN_FLIGHT_SKEW, refresh_margin(token, self._plan.margin))
            if time.time() < token.expires_at - skew:
                return token  # due, not expired, and someone is on it
        return None

    def _after_waiting(self, seen: int, rejected: str | None) -> Token | None:
        """Under the lock: the token or error of a flight that ended while this caller waited."""
        if self._flights != seen and self._failure is not None:
            raise copy.copy(self._failure)
        return self._token if fresh(self._token, self._plan.margin, rejected) else None

    def _landed(self, token: Token) -> Token:
        self._token, self._failure = token, None
        self._flights += 1
        return token

    def _failed(self, error: TokenError) -> None:
        """Raised to the callers that waited for this flight too (:meth:`_after_waiting`)."""
        self._failure = error
        self._flights += 1


class TokenSession(_Session):
    """A token that is always fresh, for any number of threads.

    ``endpoint``: ``"production"``, ``"qa"``, a base URL (``http://127.0.0.1:9031``) or a
    token URL. With ``username`` and ``password`` the session logs in with the password grant
    (``username`` as :func:`mobproc.username` builds it); without, it uses client credentials.
    It refreshes ``margin`` seconds before expiry (halfway, for lifetimes under twice that),
    with the rotating refresh token. ``store`` shares the grant with other sessions
    (:class:`FileTokenStore`: other processes); ``retry`` bounds retries and waits.

    >>> session = TokenSession("qa", client_id, secret, username="command://alice", password=pw)  # doctest: +SKIP
    >>> session.access_token()                       # fetched, refreshed, retried as needed  # doctest: +SKIP
    'Ikq4WbMJoPgr0d0hoLJRgfIq9Ccx'
    >>> session.token().expires_at                                                  # doctest: +SKIP
    1796077754.9
    """

    def __init__(
        self, endpoint: str, client_id: str, client_secret: str, *, username: str | None = None,
        password: str | None = None, scope: str | None = "MOBPROC", margin: float = DEFAULT_MARGIN,
        store: TokenStore | None = None, retry: Retry | None = None, http: httpx.Client | None = None,
        timeout: float | None = None,
    ) -> None:
        self.client = TokenClient(endpoint, client_id, client_secret, http=http, timeout=timeout)
        super().__init__(self.client, username, password, scope, margin, store, retry)
        self._lock = threading.Lock()

    def token(self, *, rejected: str | None = None) -> Token:
        """The current token, got or refreshed first if it is due. ``rejected``: the access
        token a resource server just refused (401 ``invalid_token``); a new one is got unless
        another caller already replaced it. Raises a :class:`TokenError` subclass."""
        seen = self._flights
        token = self._ready(rejected, self._lock.locked())
        if token is None:
            with self._lock:
                token = self._after_waiting(seen, rejected) or self._drive(flight(self._plan, rejected))
        return token

    def access_token(self) -> str:
        """The current access token's string: ``Authorization: Bearer <this>``."""
        return self.token().access_token

    def _drive(self, steps: Flight) -> Token:
        try:
            return self._landed(drive(steps, self.client.send))
        except TokenError as error:
            self._failed(error)
            raise

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> TokenSession:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class AsyncTokenSession(_Session):
    """:class:`TokenSession` for asyncio, with the same arguments: ``await session.token()``,
    ``await session.access_token()``. Any number of tasks of one event loop may share it.

    >>> async with AsyncTokenSession("qa", client_id, secret, username=user, password=pw) as session:  # doctest: +SKIP
    ...     token = await session.access_token()
    """

    def __init__(
        self, endpoint: str, client_id: str, client_secret: str, *, username: str | None = None,
        password: str | None = None, scope: str | None = "MOBPROC", margin: float = DEFAULT_MARGIN,
        store: TokenStore | None = None, retry: Retry | None = None, http: httpx.AsyncClient | None = None,
        timeout: float | None = None,
    ) -> None:
        self.client = AsyncTokenClient(endpoint, client_id, client_secret, http=http, timeout=timeout)
        super().__init__(self.client, username, password, scope, margin, store, retry)
        self._lock = asyncio.Lock()

    async def token(self, *, rejected: str | None = None) -> Token:
        """As :meth:`TokenSession.token`, awaited."""
        seen = self._flights
        token = self._ready(rejected, self._lock.locked())
        if token is None:
            async with self._lock:
                token = self._after_waiting(seen, rejected) or await self._drive(flight(self._plan, rejected))
        return token

    async def access_token(self) -> str:
        return (await self.token()).access_token

    async def _drive(self, steps: Flight) -> Token:
        try:
            return self._landed(await drive_async(steps, self.client.send))
        except TokenError as error:
            self._failed(error)
            raise

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> AsyncTokenSession:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
