"""What an integrator relies on beyond the token flow: the hosted URLs built right (never called
here), usernames checked, typed errors, no secret in any repr() or str(), the file store's
mode, and an SDK that imports with httpx alone."""

from __future__ import annotations

import asyncio
import copy
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

import mobproc
from conftest import LiveServer, remember
from mobproc import (
    PRODUCTION,
    QA,
    AsyncClient,
    AsyncTokenClient,
    AsyncTokenSession,
    BearerAuth,
    Client,
    EndpointUnreachable,
    FileTokenStore,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    MemoryTokenStore,
    NotFound,
    RequestsBearerAuth,
    Retry,
    SlowDown,
    TemporarilyUnavailable,
    Token,
    TokenClient,
    TokenError,
    TokenSession,
    UnauthorizedClient,
    token_url,
    username,
)

pytestmark = pytest.mark.database_agnostic

SECRET, PASSWORD = "client-secret-0123456789abcdef0123", "correct horse battery staple"
ACCESS, REFRESH = "AccessToken0123456789abcdef", "RefreshToken0123456789abcdef0123456789abcd"


def test_the_hosted_endpoints_are_built_right() -> None:
    assert PRODUCTION == "https://oauth.tangoe.com/as/token.oauth2"
    assert QA == "https://oauthqa.tangoe.com/as/token.oauth2"
    assert token_url("production") == PRODUCTION and token_url("QA") == QA
    assert token_url("http://127.0.0.1:9031") == "http://127.0.0.1:9031/as/token.oauth2"
    assert token_url("https://as.example.com/as/token.oauth2") == "https://as.example.com/as/token.oauth2"
    assert TokenClient("production", "id", SECRET).introspection_url == "https://oauth.tangoe.com/as/introspect.oauth2"
    for bad in ("staging", "ftp://host/x", "https://user:pw@host", "https://host/?client_secret=x", ""):
        with pytest.raises(ValueError):
            token_url(bad)


def test_a_session_sends_the_hosted_endpoint_a_form_body_and_nothing_in_the_url() -> None:
    sent: list[httpx.Request] = []

    def hosted(request: httpx.Request) -> httpx.Response:  # stands in for the network: nothing is called
        sent.append(request)
        return httpx.Response(200, json={"token_type": "Bearer", "expires_in": 7199, "access_token": ACCESS,
                                         "refresh_token": REFRESH})

    with TokenSession("qa", "376af94124f4400e9227c89937c12354", SECRET, username=username("command", "myusername"),
                      password=PASSWORD, http=httpx.Client(transport=httpx.MockTransport(hosted))) as session:
        assert session.access_token() == ACCESS
        assert session.token().scope == "MOBPROC"  # RFC 6749 §5.1: no scope in the answer is the one asked for
    (request,) = sent
    assert str(request.url) == QA and request.method == "POST" and not request.url.query
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["password"], "username": ["command://myusername"], "password": [PASSWORD],
        "scope": ["MOBPROC"], "client_id": ["376af94124f4400e9227c89937c12354"], "client_secret": [SECRET]}


def test_usernames_are_built_and_checked() -> None:
    assert username("command", "alice") == "command://alice"
    assert username("Rivermine", "bob") == "rivermine://bob"
    assert username("alice") == username("platform", "alice") == "alice"
    for source, name in (("", "alice"), ("com mand", "alice"), ("command", ""), ("command", "a\nb"),
                         ("command", "x" * 256), ("command", "a://b")):
        with pytest.raises(ValueError) as refused:
            username(source, name)
        assert name not in str(refused.value) or not name  # a name may be a password typed in the wrong box
    with pytest.raises(ValueError, match="password"):
        TokenSession("qa", "id", SECRET, username="command://alice")
    with pytest.raises(ValueError, match="username"):
        TokenSession("qa", "id", SECRET, password=PASSWORD)


def test_errors_are_typed_by_rfc_6749_code(server: LiveServer) -> None:
    client = server.add_client()
    user = server.add_user()
    with TokenClient(server.url, *client) as tokens:
        with pytest.raises(InvalidGrant) as wrong:
            tokens.password(user[0], "wrong")
        with pytest.raises(InvalidScope):
            tokens.password(*user, scope="ADMIN")
        with pytest.raises(UnauthorizedClient):
            tokens.client_credentials()
        with pytest.raises(InvalidClient) as stranger:
            TokenClient(server.url, client[0], "wrong-secret-" + "x" * 20).password(*user)
    for refused, status, code in ((wrong.value, 400, "invalid_grant"), (stranger.value, 401, "invalid_client")):
        assert isinstance(refused, TokenError) and refused.status_code == status and refused.error == code
        assert refused.description and str(refused).startswith(f"{status} {code}: ")
    unreachable = TokenClient(f"http://127.0.0.1:{_closed_port()}", *client)
    with pytest.raises(EndpointUnreachable) as down:
        unreachable.password(*user)
    assert down.value.status_code is None and down.value.error == "unreachable"
    assert isinstance(down.value.__cause__, httpx.ConnectError)


def test_an_error_survives_copy_and_pickle_with_its_fields() -> None:
    for error in (SlowDown(429, description="Too many failed login attempts", retry_after=3),
                  TemporarilyUnavailable(503, retry_after=1), TokenError(400, "invalid_dpop_proof", "new code")):
        for again in (copy.copy(error), pickle.loads(pickle.dumps(error))):
            assert type(again) is type(error) and str(again) == str(error)
            assert (again.status_code, again.error, again.description, again.retry_after) == \
                   (error.status_code, error.error, error.description, error.retry_after)


def test_the_async_client_asks_as_the_sync_one_does(server: LiveServer) -> None:
    client, user = server.add_client(), server.add_user()

    async def main() -> Token:
        async with AsyncTokenClient(server.url, *client) as tokens:
            first = await tokens.password(*user)
            return await tokens.refresh(first.refresh_token or "")

    token = asyncio.run(main())
    remember(token.access_token, token.refresh_token)
    assert token.expires_in == 7199 and token.refresh_token


def test_no_repr_or_str_shows_a_secret(tmp_path: Path) -> None:
    token = Token(ACCESS, "Bearer", 7199, REFRESH, "MOBPROC")
    sync = TokenSession("qa", "id", SECRET, username="command://alice", password=PASSWORD)
    loose = AsyncTokenSession("qa", "id", SECRET, username="command://alice", password=PASSWORD)
    sync._token = loose._token = token
    store = FileTokenStore(tmp_path / "tokens.json")
    api = Client("qa", "id", SECRET, username="command://alice", password=PASSWORD, tenant="XYZ")
    loose_api = AsyncClient("qa", "id", SECRET, username="command://alice", password=PASSWORD, tenant="XYZ")
    api.session._token = loose_api.session._token = token
    things: list[object] = [
        token, sync, loose, sync.client, loose.client, sync._plan, BearerAuth(sync), BearerAuth(loose),
        RequestsBearerAuth(sync), store, MemoryTokenStore(), Retry(),
        TokenClient("qa", "id", SECRET), AsyncTokenClient("qa", "id", SECRET),
        InvalidGrant(400, description="unknown, invalid, or expired refresh token"), EndpointUnreachable(None),
        api, api.with_context(employee_id="40002"), loose_api, api.session, api.api, api.context,
        NotFound(404, "404-order-not-found", "No order '9' here", id="k3f9q2xv7m"),
    ]
    for thing in things:
        for text in (repr(thing), str(thing)):
            assert not any(secret in text for secret in (SECRET, PASSWORD, ACCESS, REFRESH)), text
    asyncio.run(loose.aclose())
    asyncio.run(loose_api.aclose())
    sync.close()
    api.close()


def test_the_file_store_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    token = Token(ACCESS, "Bearer", 7199, REFRESH, received_at=1_800_000_000.5)
    assert store.acquire("k")
    assert not FileTokenStore(path).acquire("k")  # another holder (another open file) must wait
    store.save("k", token)
    store.release("k")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    other = FileTokenStore(path)
    assert other.acquire("k") and other.load("k") == token
    other.release("k")
    assert other.acquire("another session") and other.load("another session") is None
    other.release("another session")
    path.write_text("{not json")
    assert store.acquire("k") and store.load("k") is None  # a torn file is an empty store
    store.release("k")
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        store.acquire("k")


def test_the_sdk_imports_with_httpx_alone() -> None:
    """The server is to become an optional extra: the SDK must not need its dependencies."""
    blocked = ["starlette", "sqlalchemy", "pydantic_settings", "pydantic", "argon2", "uvicorn", "alembic",
               "joserfc", "requests", "typer"]
    script = f"""
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # importing it now raises ImportError
import mobproc, mobproc.sdk
session = mobproc.TokenSession("qa", "id", "secret", username=mobproc.username("command", "alice"), password="pw")
loaded = sorted(m for m in sys.modules if m.startswith("mobproc."))
assert all(m.startswith("mobproc.sdk") or m == "mobproc.headers" for m in loaded), loaded
for name in ("RequestsBearerAuth", "Client"):
    try:
        getattr(mobproc, name)
    except ImportError as error:
        print(error)
try:
    raise mobproc.NotFound(404, "404-order-not-found", "No order '9' here", id="k3f9q2xv7m")
except mobproc.MobprocError as error:  # the API's errors need no pydantic
    print(error)
"""
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "pip install requests" in ran.stdout and "pip install 'mobproc[client]'" in ran.stdout
    assert "404 404-order-not-found: No order '9' here (id k3f9q2xv7m)" in ran.stdout


def test_the_public_names_are_exported_in_one_place() -> None:
    assert set(mobproc.sdk.__all__) <= set(mobproc.__all__)
    for name in mobproc.__all__:
        assert getattr(mobproc, name) is not None
    assert (Path(mobproc.__file__).parent / "py.typed").exists()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_docstring_examples_hold() -> None:
    """The examples that need no server run (the rest are marked +SKIP)."""
    import doctest
    import importlib
    import pkgutil

    tried = 0
    for module in pkgutil.iter_modules(mobproc.sdk.__path__):
        result = doctest.testmod(importlib.import_module(f"mobproc.sdk.{module.name}"))
        assert result.failed == 0, module.name
        tried += result.attempted
    assert tried >= 10


def test_the_public_names_type_check_in_a_users_code(tmp_path: Path) -> None:
    """py.typed is a promise to users: their ``mypy --strict`` sees every public name as
    exported (an ``__all__`` mypy cannot read hides them all) and the API's answers typed."""
    use = tmp_path / "use.py"
    use.write_text(f"from mobproc import {', '.join(sorted(mobproc.__all__))}\n"
                   "from mobproc.models import OrderRequest\n\n\n"
                   "def actor(api: Client, order: OrderRequest) -> str:\n"
                   "    return api.submit(order).accountHolder.firstName + api.me().actor.id\n")
    ran = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), str(use)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout
