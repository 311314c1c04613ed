"""CONTRACT §7: off-the-shelf OAuth clients work unchanged."""

from __future__ import annotations

import pytest
from authlib.integrations.httpx_client import OAuth2Client as AuthlibHttpxClient
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import LegacyApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

import mobproc
from conftest import TOKEN_PATH, LiveServer, remember


def remember_token(token: dict) -> dict:
    remember(token.get("access_token"), token.get("refresh_token"))
    return token


def test_requests_oauthlib_legacy_application_client(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the test server speaks plain HTTP on loopback
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    session = OAuth2Session(client=LegacyApplicationClient(client_id=client_id), scope=["MOBPROC"])
    token = remember_token(session.fetch_token(
        token_url=server.url + TOKEN_PATH, username=username, password=password, client_id=client_id,
        client_secret=secret,
    ))
    assert token["token_type"] == "Bearer" and len(token["access_token"]) == 28
    refreshed = remember_token(session.refresh_token(
        server.url + TOKEN_PATH, refresh_token=token["refresh_token"], auth=HTTPBasicAuth(client_id, secret)
    ))
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_authlib_oauth2_session(server: LiveServer, auth_method: str) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    with AuthlibSession(client_id, secret, scope="MOBPROC", token_endpoint_auth_method=auth_method) as session:
        token = remember_token(session.fetch_token(server.url + TOKEN_PATH, username=username, password=password,
                                                   grant_type="password"))
        assert token["expires_in"] == 7199
        refreshed = remember_token(session.refresh_token(server.url + TOKEN_PATH, refresh_token=token["refresh_token"]))
    assert refreshed["refresh_token"] != token["refresh_token"]


def test_authlib_httpx_client(server: LiveServer) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    with AuthlibHttpxClient(client_id, secret, scope="MOBPROC") as client:
        token = remember_token(client.fetch_token(server.url + TOKEN_PATH, username=username, password=password,
                                                  grant_type="password"))
        refreshed = remember_token(client.refresh_token(server.url + TOKEN_PATH, refresh_token=token["refresh_token"]))
    assert refreshed["access_token"] != token["access_token"]


def test_mobprocs_own_sdk(server: LiveServer) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    client = mobproc.TokenClient(server.url, client_id, secret)
    token = client.password(username, password)
    remember(token.access_token, token.refresh_token)
    refreshed = client.refresh(token.refresh_token)
    remember(refreshed.access_token, refreshed.refresh_token)
    assert refreshed.expires_in == 7199
    with pytest.raises(mobproc.TokenError) as refused:
        client.refresh(token.refresh_token)
    assert refused.value.error == "invalid_grant"
