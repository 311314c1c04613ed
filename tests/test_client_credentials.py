"""RFC 6749 §4.4: a client gets an access token for itself, and no refresh token."""

from __future__ import annotations

import re

import httpx
import pytest

from conftest import LiveServer, client_credentials_grant, database_url, introspect, mobproc, remember
from mobproc import TokenClient


@pytest.fixture(scope="module")
def service(server: LiveServer) -> tuple[str, str]:
    return server.add_client(grants=("client_credentials",), scopes=("MOBPROC", "REPORTS"), default_scopes=("MOBPROC",))


@pytest.fixture(scope="module")
def resource_server(server: LiveServer) -> tuple[str, str]:
    return server.add_client(grants=("access_token_validation",))


def test_client_credentials_issues_an_access_token_and_no_refresh_token(http: httpx.Client, service) -> None:  # noqa: ANN001
    response = client_credentials_grant(http, service, scope="MOBPROC")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "access_token"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7199
    assert re.fullmatch(r"[A-Za-z0-9]{28}", body["access_token"])


def test_the_token_subject_is_the_client(http: httpx.Client, service, resource_server) -> None:  # noqa: ANN001
    token = client_credentials_grant(http, service, scope="MOBPROC").json()["access_token"]
    answer = introspect(http, resource_server, token).json()
    assert answer["active"] is True
    assert answer["sub"] == service[0] and answer["client_id"] == service[0]
    assert "username" not in answer and "tenant" not in answer and "platform" not in answer


def test_no_scope_means_the_default_scopes_and_says_so(http: httpx.Client, service) -> None:  # noqa: ANN001
    body = client_credentials_grant(http, service).json()
    assert body["scope"] == "MOBPROC"


def test_a_scope_the_client_is_not_allowed_is_invalid_scope(http: httpx.Client, service) -> None:  # noqa: ANN001
    response = client_credentials_grant(http, service, scope="MOBPROC ADMIN")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


def test_a_client_not_allowed_the_grant_is_unauthorized_client(server: LiveServer, http: httpx.Client) -> None:
    client = server.add_client(grants=("password",))
    response = client_credentials_grant(http, client)
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_a_wrong_secret_is_invalid_client(http: httpx.Client, service) -> None:  # noqa: ANN001
    response = client_credentials_grant(http, (service[0], "wrong" * 8))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_credentials_as_parameters_and_the_sdk_work_too(server: LiveServer, http: httpx.Client, service) -> None:  # noqa: ANN001
    form = {"grant_type": "client_credentials", "client_id": service[0], "client_secret": service[1]}
    assert http.post("/as/token.oauth2", data=form).status_code == 200
    token = TokenClient(server.url, *service).client_credentials(scope="REPORTS")
    remember(token.access_token)
    assert token.refresh_token is None and token.expires_in == 7199


def test_a_client_added_by_the_cli_gets_a_token_from_the_cli(make_server, tmp_path) -> None:  # noqa: ANN001
    url = database_url(tmp_path / "cc.db")
    added = mobproc("client", "add", "batch", "--grant", "client_credentials", "--scope", "MOBPROC", "--database", url)
    assert added.returncode == 0, added.stderr
    secret = re.search(r"client_secret: (\S+)", added.stdout).group(1)
    remember(secret)
    with make_server(tmp_path / "cc.db") as server:
        got = mobproc("token", "--endpoint", server.url, "--client-id", "batch", stdin=secret + "\n")
    assert got.returncode == 0, got.stderr
    assert '"expires_in": 7199' in got.stdout and "refresh_token" not in got.stdout
    remember(re.search(r'"access_token": "(\S+)"', got.stdout).group(1))
