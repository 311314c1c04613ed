"""``Authorization: Bearer`` for HTTP libraries, from a session (RFC 6750 §2.1).

One flow for every library: set the header from the session's token; if the resource server
answers ``401`` with ``error="invalid_token"`` (RFC 6750 §3.1: expired, revoked, malformed),
ask the session for a token other than the one refused and send the request once more. Any
other answer, and the second answer, go to the caller as they are.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Generator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

import httpx

from ._client import TokenClient
from ._session import AsyncTokenSession, TokenSession
from ._token import Token

_INVALID_TOKEN = re.compile(r'^\s*Bearer\b.*\berror\s*=\s*"?invalid_token\b', re.IGNORECASE | re.DOTALL)


class _Request(Protocol):
    @property
    def headers(self) -> MutableMapping[str, str]: ...


class _Response(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


R = TypeVar("R", bound=_Request)


@dataclass(frozen=True)
class NeedToken:
    """The flow asks its driver for the session's token, other than ``rejected``."""

    rejected: str | None = None


def refused_token(response: _Response) -> bool:
    """RFC 6750 §3.1: ``401`` with ``WWW-Authenticate: Bearer error="invalid_token"``."""
    return response.status_code == 401 and bool(_INVALID_TOKEN.match(response.headers.get("www-authenticate", "")))


def bearer_flow(request: R) -> Generator[NeedToken | R, Token | _Response, None]:
    """Yields :class:`NeedToken` (send back a :class:`Token`) or the request to send (send back
    its response)."""
    token = yield NeedToken()
    assert isinstance(token, Token)
    request.headers["Authorization"] = f"Bearer {token.access_token}"
    response = yield request
    assert not isinstance(response, Token)
    if refused_token(response):
        token = yield NeedToken(rejected=token.access_token)
        assert isinstance(token, Token)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        yield request


def advance(steps: Generator[NeedToken | R, Token | _Response, None], answer: _Response | None,
            session: TokenSession) -> R | None:
    """Drive ``steps`` with a sync session past its token needs to the next request to send
    (``answer`` is the last one's response), or ``None`` when it is done."""
    try:
        step = next(steps) if answer is None else steps.send(answer)
        while isinstance(step, NeedToken):
            step = steps.send(session.token(rejected=step.rejected))
    except StopIteration:
        return None
    return step


class BearerAuth(httpx.Auth):
    """httpx authentication from a session: ``httpx.Client(auth=BearerAuth(session))`` with a
    :class:`TokenSession`, ``httpx.AsyncClient(auth=BearerAuth(async_session))`` with an
    :class:`AsyncTokenSession`.

    >>> session = TokenSession("qa", client_id, secret, username="command://alice", password=pw)  # doctest: +SKIP
    >>> api = httpx.Client(base_url=api_url, auth=BearerAuth(session))              # doctest: +SKIP
    >>> api.get("/mobproc/v1/ping").raise_for_status()                               # doctest: +SKIP

    The request is sent again after a refused token, so its body must be re-readable (bytes,
    form, JSON; not a one-shot stream). ``BearerAuth(client, username, password)`` with a
    :class:`TokenClient`, the older form, makes a :class:`TokenSession` of it.
    """

    def __init__(
        self, session: TokenSession | AsyncTokenSession | TokenClient, username: str | None = None,
        password: str | None = None, scope: str | None = "MOBPROC",
    ) -> None:
        if isinstance(session, TokenClient):
            client = session
            session = TokenSession(client.url, client.client_id, client._secret, username=username, password=password,
                                   scope=scope, http=client.http, timeout=client.timeout)
        self.session = session

    def __repr__(self) -> str:
        return f"BearerAuth({self.session!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not isinstance(self.session, TokenSession):
            raise TypeError("BearerAuth of an AsyncTokenSession is for httpx.AsyncClient; use a TokenSession")
        steps = bearer_flow(request)
        step = advance(steps, None, self.session)
        while step is not None:
            response = yield step
            step = advance(steps, response, self.session)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not isinstance(self.session, AsyncTokenSession):
            raise TypeError("BearerAuth of a TokenSession is for httpx.Client; use an AsyncTokenSession")
        steps = bearer_flow(request)
        answer: Token | _Response | None = None
        while True:
            try:
                step = next(steps) if answer is None else steps.send(answer)
            except StopIteration:
                return
            if isinstance(step, NeedToken):
                answer = await self.session.token(rejected=step.rejected)
            else:
                answer = yield step
