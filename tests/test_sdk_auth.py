"""BearerAuth (httpx, sync and async) and RequestsBearerAuth against a small resource server that
checks every token by mobproc's introspection (TokenChecker, nothing kept) and answers RFC
6750's 401 invalid_token for one that is not active: a token revoked between two calls, then a
whole grant revoked, are both survived with one more request each."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import requests

from conftest import EVERY_GRANT, LiveServer, remember, revoke
from mobproc import AsyncTokenSession, BearerAuth, RequestsBearerAuth, TokenChecker, TokenClient, TokenSession
from mobproc.resource import RejectedToken

pytestmark = pytest.mark.database_agnostic


class ResourceServer:
    """``GET /whoami``: ``{"sub": …}`` for an active token, 401 invalid_token otherwise."""

    def __init__(self, checker: TokenChecker) -> None:
        self.answers: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                scheme, _, token = self.headers.get("Authorization", "").partition(" ")
                checked = checker.check(token) if scheme == "Bearer" else RejectedToken("malformed", "no token")
                if isinstance(checked, RejectedToken):
                    status, body = 401, {"error": "invalid_token"}
                    challenge = f'Bearer error="invalid_token", error_description="{checked.reason}"'
                else:
                    status, body, challenge = 200, {"sub": checked.subject}, None
                outer.answers.append(status)
                data = json.dumps(body).encode()
                self.send_response(status)
                if challenge:
                    self.send_header("WWW-Authenticate", challenge)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass  # the tokens are in the headers, not the request line; nothing to log

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def resource(server: LiveServer) -> Iterator[ResourceServer]:
    validator = server.add_client(grants=EVERY_GRANT)
    checker = TokenChecker(server.url, client_id=validator[0], client_secret=validator[1], cache_seconds=0)
    api = ResourceServer(checker)
    yield api
    api.close()


def survives_revocations(server: LiveServer, resource: ResourceServer, call: Callable[[], httpx.Response | requests.Response],
                         session: TokenSession | AsyncTokenSession, client: tuple[str, str]) -> None:
    """``call()`` makes one authenticated GET /whoami; ``session`` is the session behind it."""
    def current() -> str:
        token = session._token  # what the auth sent last
        assert token is not None
        remember(token.access_token, token.refresh_token)
        return token.access_token

    assert call().status_code == 200
    first = current()
    with server.client() as http:
        # An access token revoked alone (RFC 7009): the refresh token still works.
        assert revoke(http, client, first).status_code == 200
        answered = call()
        assert answered.status_code == 200 and answered.json()["sub"] == session.username
        second = current()
        assert second != first
        # The whole grant revoked, by its refresh token: the refresh is refused, a login follows.
        assert session._token is not None and session._token.refresh_token
        assert revoke(http, client, session._token.refresh_token).status_code == 200
        assert call().status_code == 200
        assert current() not in (first, second)
    assert resource.answers == [200, 401, 200, 401, 200]
    assert call().status_code == 200 and resource.answers[-1] == 200  # the fresh token, no refusal


def test_httpx_sync_auth_survives_revoked_tokens(server: LiveServer, resource: ResourceServer) -> None:
    client, (username, password) = server.add_client(), server.add_user()
    with TokenSession(server.url, *client, username=username, password=password) as session, \
            httpx.Client(base_url=resource.url, auth=BearerAuth(session)) as api:
        survives_revocations(server, resource, lambda: api.get("/whoami"), session, client)


def test_httpx_async_auth_survives_revoked_tokens(server: LiveServer, resource: ResourceServer) -> None:
    client, (username, password) = server.add_client(), server.add_user()
    with asyncio.Runner() as loop:
        session = AsyncTokenSession(server.url, *client, username=username, password=password)
        api = httpx.AsyncClient(base_url=resource.url, auth=BearerAuth(session))
        try:
            survives_revocations(server, resource, lambda: loop.run(api.get("/whoami")), session, client)
        finally:
            loop.run(api.aclose())
            loop.run(session.aclose())


def test_requests_auth_survives_revoked_tokens(server: LiveServer, resource: ResourceServer) -> None:
    client, (username, password) = server.add_client(), server.add_user()
    with TokenSession(server.url, *client, username=username, password=password) as session, \
            requests.Session() as api:
        api.auth = RequestsBearerAuth(session)
        survives_revocations(server, resource, lambda: api.get(resource.url + "/whoami", timeout=10), session, client)
        # The retried answer keeps the refused one in its history, as requests' own auth does.
        with server.client() as http:
            assert session._token is not None
            revoke(http, client, session._token.access_token)
        answered = api.get(resource.url + "/whoami", timeout=10)
        assert answered.status_code == 200 and [r.status_code for r in answered.history] == [401]
        remember(session.access_token())


def test_a_401_without_invalid_token_is_not_retried(server: LiveServer) -> None:
    calls = []

    def app(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["authorization"])
        return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="api"'})

    client, (username, password) = server.add_client(), server.add_user()
    with TokenSession(server.url, *client, username=username, password=password) as session, \
            httpx.Client(transport=httpx.MockTransport(app), auth=BearerAuth(session)) as api:
        assert api.get("http://api.invalid/x").status_code == 401
        remember(session.access_token(), session.token().refresh_token)
    assert len(calls) == 1


def test_the_older_form_with_a_token_client_still_works(server: LiveServer, resource: ResourceServer) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    auth = BearerAuth(TokenClient(server.url, client_id, secret), username, password)
    with httpx.Client(base_url=resource.url, auth=auth) as api:
        assert api.get("/whoami").json() == {"sub": username}
    assert isinstance(auth.session, TokenSession)
    remember(auth.session.access_token(), auth.session.token().refresh_token)


def test_a_session_of_the_wrong_kind_is_a_clear_error(server: LiveServer) -> None:
    client = server.add_client()
    with pytest.raises(TypeError, match="AsyncTokenSession"):
        asyncio.run(httpx.AsyncClient(auth=BearerAuth(TokenSession(server.url, *client))).get(server.url))
    with pytest.raises(TypeError, match="httpx.AsyncClient"):
        httpx.Client(auth=BearerAuth(AsyncTokenSession(server.url, *client))).get(server.url)
    with pytest.raises(TypeError, match="TokenSession"):
        RequestsBearerAuth(AsyncTokenSession(server.url, *client))  # type: ignore[arg-type]
