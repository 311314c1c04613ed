"""The client side: get MOBPROC access tokens from mobproc or from the hosted endpoints.

>>> client = TokenClient(QA, "376af94124f4400e9227c89937c12354", secret)   # doctest: +SKIP
>>> token = client.password("command://myusername", password, scope="MOBPROC")  # doctest: +SKIP
>>> httpx.get(api_url, auth=BearerAuth(client, "command://myusername", password))  # doctest: +SKIP

Unlike the hosted system's own example, credentials travel in the form body (RFC 6749
§2.3.1, §4.3.2), never in the URL, where proxies and access logs would keep them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import httpx

PRODUCTION = "https://oauth.tangoe.com/as/token.oauth2"
QA = "https://oauthqa.tangoe.com/as/token.oauth2"
TOKEN_PATH = "/as/token.oauth2"
ENDPOINTS = {"production": PRODUCTION, "qa": QA}


def token_url(where: str) -> str:
    """``production``, ``qa``, a token endpoint URL, or a base URL such as ``http://127.0.0.1:9031``."""
    if where in ENDPOINTS:
        return ENDPOINTS[where]
    return where if where.rstrip("/").endswith(TOKEN_PATH) else where.rstrip("/") + TOKEN_PATH


class TokenError(Exception):
    """The authorization server refused: ``error`` is the RFC 6749 §5.2 code."""

    def __init__(self, status_code: int, error: str, description: str = "") -> None:
        super().__init__(f"{status_code} {error}: {description}" if description else f"{status_code} {error}")
        self.status_code, self.error, self.description = status_code, error, description


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    received_at: float = field(default_factory=time.time)

    @property
    def expires_at(self) -> float:
        return self.received_at + self.expires_in

    def as_dict(self) -> dict[str, Any]:
        body = {"token_type": self.token_type, "expires_in": self.expires_in, "access_token": self.access_token}
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        if self.scope:
            body["scope"] = self.scope
        return body


class TokenClient:
    """One client application (id + secret) at one token endpoint."""

    def __init__(
        self, url: str, client_id: str, client_secret: str, *, http: httpx.Client | None = None, timeout: float = 10
    ) -> None:
        self.url = token_url(url)
        self.client_id = client_id
        self._secret = client_secret
        self._http = http or httpx.Client(timeout=timeout)

    def password(self, username: str, password: str, scope: str | None = "MOBPROC") -> Token:
        """RFC 6749 §4.3: the seed's grant."""
        return self._request(grant_type="password", username=username, password=password, scope=scope)

    def refresh(self, refresh_token: str, scope: str | None = None) -> Token:
        """RFC 6749 §6: the refresh token rotates, so keep the new one the answer carries."""
        return self._request(grant_type="refresh_token", refresh_token=refresh_token, scope=scope)

    def client_credentials(self, scope: str | None = None) -> Token:
        return self._request(grant_type="client_credentials", scope=scope)

    def _request(self, **params: str | None) -> Token:
        form = {name: value for name, value in params.items() if value is not None}
        form.update(client_id=self.client_id, client_secret=self._secret)
        response = self._http.post(self.url, data=form, headers={"Accept": "application/json"})
        try:
            body = response.json()
        except ValueError:
            raise TokenError(response.status_code, "invalid_response", "the answer is not JSON") from None
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error", "invalid_response") if isinstance(body, dict) else "invalid_response"
            raise TokenError(response.status_code, error, body.get("error_description", "") if isinstance(body, dict) else "")
        return Token(
            access_token=body["access_token"],
            token_type=body.get("token_type", "Bearer"),
            expires_in=int(body.get("expires_in", 0)),
            refresh_token=body.get("refresh_token"),
            scope=body.get("scope"),
        )


class BearerAuth(httpx.Auth):
    """httpx authentication for a MOBPROC API: logs in with the password grant, refreshes
    before the token expires (or after a 401), and logs in again when the refresh fails."""

    def __init__(self, client: TokenClient, username: str, password: str, scope: str = "MOBPROC", leeway: float = 30):
        self._client, self._username, self._password, self._scope = client, username, password, scope
        self._leeway = leeway
        self._token: Token | None = None
        self._lock = threading.Lock()

    def _current(self, *, stale: Token | None = None) -> Token:
        with self._lock:
            token = self._token
            if token is None or token is stale or time.time() >= token.expires_at - self._leeway:
                token = None
                if self._token is not None and self._token.refresh_token:
                    try:
                        token = self._client.refresh(self._token.refresh_token)
                    except TokenError:
                        token = None
                self._token = token or self._client.password(self._username, self._password, self._scope)
            return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._current()
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self._current(stale=token).access_token}"
            yield request
