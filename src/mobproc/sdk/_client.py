"""One request, one answer: the token endpoint's grants (RFC 6749 §4.3, §4.4, §6) and
introspection (RFC 7662), with no state and no retries. The sessions build on it.

Credentials travel in the form body (RFC 6749 §2.3.1, §4.3.2), never in the URL, where
proxies and access logs would keep them (the seed puts them in the query string).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import httpx

from ._endpoints import introspection_url, token_url
from ._errors import EndpointUnreachable, InvalidResponse, TokenError, error_for
from ._token import Token

DEFAULT_TIMEOUT = 10.0


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), or ``None``."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def unreachable(error: httpx.TransportError) -> EndpointUnreachable:
    return EndpointUnreachable(None, description=f"{type(error).__name__}: {error}"[:200])


@contextmanager
def _reaching() -> Iterator[None]:
    """A transport failure as the SDK's own error (the httpx one is its ``__cause__``)."""
    try:
        yield
    except httpx.TransportError as error:
        raise unreachable(error) from error


class _TokenEndpoint:
    """Builds the requests and reads the answers; sending them is the subclass's (sync or async)."""

    def __init__(self, endpoint: str, client_id: str, client_secret: str, timeout: float | None) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.url = token_url(endpoint)
        self.introspection_url = introspection_url(self.url)
        self.client_id = client_id
        self._secret = client_secret
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, client_id={self.client_id!r})"

    def token_request(self, grant_type: str, *, timeout: float | None = None, **params: str | None) -> httpx.Request:
        """The POST of one grant; ``None`` parameters are left out."""
        return self._post(self.url, {"grant_type": grant_type, **params}, timeout)

    def introspection_request(self, token: str, *, timeout: float | None = None) -> httpx.Request:
        """RFC 7662 §2.1; the caller must be allowed ``access_token_validation``."""
        return self._post(self.introspection_url, {"token": token}, timeout)

    def _post(self, url: str, params: Mapping[str, str | None], timeout: float | None) -> httpx.Request:
        form = {name: value for name, value in params.items() if value is not None}
        form.update(client_id=self.client_id, client_secret=self._secret)
        return httpx.Request(
            "POST", url, data=form, headers={"Accept": "application/json"},
            extensions={"timeout": httpx.Timeout(self.timeout if timeout is None else timeout).as_dict()},
        )

    @staticmethod
    def read_token(response: httpx.Response, sent_at: float, requested_scope: str | None = None) -> Token:
        """RFC 6749 §5.1 into a :class:`Token`, or §5.2 into the :class:`TokenError` it names.
        "scope: OPTIONAL, if identical to the scope requested by the client": without one,
        the token's scope is ``requested_scope``."""
        body = _json(response)
        if response.status_code != 200 or "access_token" not in body:
            raise _refusal(response, body)
        try:
            return Token(
                access_token=str(body["access_token"]),
                token_type=str(body.get("token_type", "Bearer")),
                expires_in=int(body.get("expires_in", 0)),
                refresh_token=body.get("refresh_token") or None,
                scope=body.get("scope") or requested_scope,
                received_at=sent_at,
            )
        except (TypeError, ValueError):
            raise InvalidResponse(response.status_code, description="expires_in is not a number") from None

    @staticmethod
    def read_introspection(response: httpx.Response) -> dict[str, Any]:
        """RFC 7662 §2.2: ``{"active": false}`` for any token that does not work."""
        body = _json(response)
        if response.status_code != 200 or not isinstance(body.get("active"), bool):
            raise _refusal(response, body)
        return body


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InvalidResponse(response.status_code, description=f"not a token endpoint's JSON answer "
                              f"({response.headers.get('content-type', 'no content type')})", retry_after=retry_after(response))
    return body


def _refusal(response: httpx.Response, body: dict[str, Any]) -> TokenError:
    error, description = body.get("error"), body.get("error_description")
    return error_for(
        response.status_code,
        error if isinstance(error, str) and error else "invalid_response",
        description if isinstance(description, str) else "",
        retry_after=retry_after(response),
    )


class TokenClient(_TokenEndpoint):
    """One client application (id + secret) at one token endpoint: each call is one request.

    For tokens kept fresh across calls use :class:`TokenSession`; this is the layer under it.

    >>> client = TokenClient("qa", "376af94124f4400e9227c89937c12354", secret)        # doctest: +SKIP
    >>> token = client.password("command://myusername", password)                    # doctest: +SKIP
    >>> token = client.refresh(token.refresh_token)   # keep the new one: they rotate  # doctest: +SKIP
    """

    def __init__(
        self, endpoint: str, client_id: str, client_secret: str, *, http: httpx.Client | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(endpoint, client_id, client_secret, timeout)
        self._own_http = http is None
        self.http = http or httpx.Client()

    def password(self, username: str, password: str, scope: str | None = "MOBPROC") -> Token:
        """RFC 6749 §4.3: the seed's grant."""
        return self._token(self.token_request("password", username=username, password=password, scope=scope), scope)

    def refresh(self, refresh_token: str, scope: str | None = None) -> Token:
        """RFC 6749 §6: the refresh token rotates, so keep the new one the answer carries."""
        return self._token(self.token_request("refresh_token", refresh_token=refresh_token, scope=scope), scope)

    def client_credentials(self, scope: str | None = None) -> Token:
        """RFC 6749 §4.4: a token for the client itself; no refresh token."""
        return self._token(self.token_request("client_credentials", scope=scope), scope)

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662: ``{"active": true, "sub": …, "exp": …}`` or ``{"active": false}``."""
        with _reaching():
            return self.read_introspection(self.send(self.introspection_request(token)))

    def send(self, request: httpx.Request) -> httpx.Response:
        return self.http.send(request)

    def _token(self, request: httpx.Request, scope: str | None) -> Token:
        sent_at = time.time()
        with _reaching():
            return self.read_token(self.send(request), sent_at, scope)

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> TokenClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class AsyncTokenClient(_TokenEndpoint):
    """:class:`TokenClient` for asyncio: the same calls, awaited.

    >>> async with AsyncTokenClient("qa", client_id, secret) as client:              # doctest: +SKIP
    ...     token = await client.password("command://myusername", password)
    """

    def __init__(
        self, endpoint: str, client_id: str, client_secret: str, *, http: httpx.AsyncClient | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(endpoint, client_id, client_secret, timeout)
        self._own_http = http is None
        self.http = http or httpx.AsyncClient()

    async def password(self, username: str, password: str, scope: str | None = "MOBPROC") -> Token:
        """RFC 6749 §4.3: the seed's grant."""
        return await self._token(self.token_request("password", username=username, password=password, scope=scope), scope)

    async def refresh(self, refresh_token: str, scope: str | None = None) -> Token:
        """RFC 6749 §6: the refresh token rotates, so keep the new one the answer carries."""
        return await self._token(self.token_request("refresh_token", refresh_token=refresh_token, scope=scope), scope)

    async def client_credentials(self, scope: str | None = None) -> Token:
        """RFC 6749 §4.4: a token for the client itself; no refresh token."""
        return await self._token(self.token_request("client_credentials", scope=scope), scope)

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662: ``{"active": true, "sub": …, "exp": …}`` or ``{"active": false}``."""
        with _reaching():
            return self.read_introspection(await self.send(self.introspection_request(token)))

    async def send(self, request: httpx.Request) -> httpx.Response:
        return await self.http.send(request)

    async def _token(self, request: httpx.Request, scope: str | None) -> Token:
        sent_at = time.time()
        with _reaching():
            return self.read_token(await self.send(request), sent_at, scope)

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncTokenClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
