"""When to ask for a token, which grant to use, when to retry and what to store: written once,
without I/O, as a generator that yields what it needs done (send this request, sleep this
long) and receives the outcome. :class:`TokenSession` drives it with httpx.Client and
``time.sleep`` (:func:`drive`), :class:`AsyncTokenSession` with httpx.AsyncClient and
``asyncio.sleep`` (:func:`drive_async`), as httpx drives one ``Auth.auth_flow`` both ways. The
API client's calls (:mod:`._api`) are flows of the same kind, driven by the same two.

The rules, each for a reason:

- A refresh token is presented at most once. Refresh tokens rotate, and the server takes a
  second use of one for theft and revokes the whole grant (RFC 9700 §4.14.2). So the store
  forgets it before it is sent, and a refresh whose answer was lost is not tried again with
  it: the session logs in anew with the password grant (or client credentials), which is
  always safe to repeat. Only a refresh that provably never reached the server (the
  connection was refused) or that the server answered with ``temporarily_unavailable`` or
  ``slow_down`` (it did nothing) is sent again with the same token.
- A refresh refused with ``invalid_grant`` (expired, revoked, password changed) is followed
  by one password grant.
- Password and client-credentials requests are retried after transport failures, 5xx, 429
  and 503, with backoff and full jitter or the server's ``Retry-After``, until the deadline.
  Any other refusal (``invalid_client``, ``invalid_grant``, ``invalid_scope``, …) is raised
  at once: asking again would not change the answer, and would spend the account's budget
  of failed logins.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

import httpx

from ._client import _TokenEndpoint, unreachable
from ._errors import (
    InvalidGrant,
    InvalidResponse,
    SlowDown,
    TemporarilyUnavailable,
    TokenError,
    TokenStoreLocked,
)
from ._retry import MIN_TIMEOUT, Retry
from ._store import TokenStore
from ._token import Token

log = logging.getLogger("mobproc.sdk")

STORE_POLL = 0.02  # seconds between tries of a store lock another process holds


@dataclass(frozen=True)
class Send:
    request: httpx.Request


@dataclass(frozen=True)
class Sleep:
    seconds: float


Action = Send | Sleep
# What the driver answers a Send with; a Sleep gets None.
Outcome = httpx.Response | httpx.TransportError | None
Flight = Generator[Action, Outcome, Token]
T = TypeVar("T")


def drive(steps: Generator[Action, Outcome, T], send: Callable[[httpx.Request], httpx.Response]) -> T:
    """Carries out a flow's steps with ``send`` and ``time.sleep``; returns what the flow returns."""
    outcome: Outcome = None
    try:
        while True:
            action = steps.send(outcome)
            if isinstance(action, Sleep):
                time.sleep(action.seconds)
                outcome = None
                continue
            try:
                outcome = send(action.request)
            except httpx.TransportError as error:
                outcome = error
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        steps.close()


async def drive_async(steps: Generator[Action, Outcome, T],
                      send: Callable[[httpx.Request], Awaitable[httpx.Response]]) -> T:
    """:func:`drive` with an awaited ``send`` and ``asyncio.sleep``."""
    outcome: Outcome = None
    try:
        while True:
            action = steps.send(outcome)
            if isinstance(action, Sleep):
                await asyncio.sleep(action.seconds)
                outcome = None
                continue
            try:
                outcome = await send(action.request)
            except httpx.TransportError as error:
                outcome = error
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        steps.close()


@dataclass(frozen=True)
class Plan:
    """What one session asks for. ``password`` is None for client credentials."""

    endpoint: _TokenEndpoint
    username: str | None
    password: str | None
    scope: str | None
    margin: float
    retry: Retry
    store: TokenStore
    key: str

    def __repr__(self) -> str:
        return f"Plan({self.endpoint!r}, username={self.username!r}, scope={self.scope!r})"


def refresh_margin(token: Token, wanted: float) -> float:
    """Refresh ``wanted`` seconds before expiry, or halfway through a lifetime shorter than twice
    that: a 60 s margin on a 30 s token would refresh it at every call."""
    return min(wanted, token.expires_in / 2)


def fresh(token: Token | None, wanted_margin: float, rejected: str | None = None) -> bool:
    """Good for a while yet, and not the one a resource server just refused."""
    return (token is not None and token.access_token != rejected
            and time.time() < token.expires_at - refresh_margin(token, wanted_margin))


def flight(plan: Plan, rejected: str | None) -> Flight:
    """One trip for a token: under the store's lock, the stored token if another session got a
    good one meanwhile, else a refresh or a login; the new token is stored before the lock goes."""
    deadline = time.monotonic() + plan.retry.deadline
    while not plan.store.acquire(plan.key):
        if time.monotonic() + STORE_POLL >= deadline:
            raise TokenStoreLocked(None, description=f"{plan.store!r} stayed locked past the deadline")
        yield Sleep(STORE_POLL)
    try:
        stored = plan.store.load(plan.key)
        if fresh(stored, plan.margin, rejected):
            assert stored is not None
            log.debug("token of client %s: the stored one, got by another session", plan.endpoint.client_id)
            return stored
        token = None
        if stored is not None and stored.refresh_token:
            # Forgotten before it is presented: whatever happens next, nobody presents it twice.
            plan.store.save(plan.key, stored.without_refresh_token())
            token = yield from _refresh(plan, stored, deadline)
        if token is None:
            token = yield from _login(plan, deadline)
        plan.store.save(plan.key, token)
        return token
    finally:
        plan.store.release(plan.key)


def _refresh(plan: Plan, stored: Token, deadline: float) -> Generator[Action, Outcome, Token | None]:
    """RFC 6749 §6. ``None`` when the refresh token is spent and a login must follow."""
    client_id = plan.endpoint.client_id
    attempt = 0
    while True:
        sent_at = time.time()
        # No scope: the refresh keeps the login's (RFC 6749 §6), whatever the server granted.
        outcome = yield Send(plan.endpoint.token_request(
            "refresh_token", refresh_token=stored.refresh_token, timeout=_timeout(plan, deadline)))
        error: TokenError
        if isinstance(outcome, httpx.TransportError):
            if not isinstance(outcome, httpx.ConnectError | httpx.ConnectTimeout):
                log.warning("refresh of client %s: no answer (%s); its refresh token may be used up, so it is not "
                            "sent again (reuse revokes the grant): password grant instead", client_id,
                            type(outcome).__name__)
                return None
            error = unreachable(outcome)  # never sent: the same refresh token may go again
        else:
            assert outcome is not None
            try:
                token = plan.endpoint.read_token(outcome, sent_at, stored.scope)
            except InvalidGrant as refused:
                log.info("refresh of client %s refused (%s): password grant instead", client_id, refused.description)
                return None
            except (SlowDown, TemporarilyUnavailable) as busy:
                error = busy  # the server says it did nothing with the refresh token
            except InvalidResponse as strange:
                # A gateway's 502/504 page: the server may have used the refresh token.
                log.warning("refresh of client %s: not the token endpoint's answer (%s): password grant instead",
                            client_id, strange)
                return None
            else:
                log.info("token of client %s refreshed, expires in %d s", client_id, token.expires_in)
                return token
        yield Sleep(plan.retry.wait(attempt, error, deadline))
        attempt += 1


def _login(plan: Plan, deadline: float) -> Flight:
    """RFC 6749 §4.3 (with a username) or §4.4: safe to repeat, so retried until the deadline."""
    grant = "password" if plan.username is not None else "client_credentials"
    attempt = 0
    while True:
        sent_at = time.time()
        request = plan.endpoint.token_request(grant, username=plan.username, password=plan.password,
                                              scope=plan.scope, timeout=_timeout(plan, deadline))
        outcome = yield Send(request)
        error: TokenError
        if isinstance(outcome, httpx.TransportError):
            error = unreachable(outcome)
        else:
            assert outcome is not None
            try:
                token = plan.endpoint.read_token(outcome, sent_at, plan.scope)
            except (SlowDown, TemporarilyUnavailable) as busy:
                error = busy
            except InvalidResponse as strange:
                if strange.status_code is None or strange.status_code < 500:
                    raise
                error = strange
            else:
                log.info("token of client %s by the %s grant, expires in %d s", plan.endpoint.client_id, grant,
                         token.expires_in)
                return token
        yield Sleep(plan.retry.wait(attempt, error, deadline))
        attempt += 1


def _timeout(plan: Plan, deadline: float) -> float:
    return max(MIN_TIMEOUT, min(plan.endpoint.timeout, deadline - time.monotonic()))
