"""RFC 6749 §6 and RFC 9700 §4.14: rotation, reuse detection, binding, scope, lifetimes."""

from __future__ import annotations

import time

import httpx
import pytest

from conftest import LiveServer, password_grant, refresh_grant
from mobproc.domain import secrets
from mobproc.domain.identities import Username


@pytest.fixture
def login(server: LiveServer, http: httpx.Client):  # noqa: ANN201
    client, user = server.add_client(scopes=("MOBPROC", "REPORTS")), server.add_user(tenant="ACME", domain="acme.example")
    token = password_grant(http, client, user, scope="MOBPROC REPORTS").json()
    return client, user, token


def test_a_refresh_returns_a_new_pair_and_consumes_the_old_refresh_token(http: httpx.Client, login) -> None:  # noqa: ANN001
    client, _, first = login
    second = refresh_grant(http, client, first["refresh_token"])
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7199
    assert body["access_token"] != first["access_token"]
    assert body["refresh_token"] != first["refresh_token"]
    assert "scope" not in body  # unchanged from the request (none asked: the original)
    assert refresh_grant(http, client, body["refresh_token"]).status_code == 200


def test_refresh_token_reuse_revokes_the_grant(http: httpx.Client, login) -> None:  # noqa: ANN001
    client, _, first = login
    second = refresh_grant(http, client, first["refresh_token"]).json()
    third = refresh_grant(http, client, second["refresh_token"]).json()
    # The first refresh token, presented again: theft is assumed, the whole grant ends.
    reused = refresh_grant(http, client, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert refresh_grant(http, client, third["refresh_token"]).json()["error"] == "invalid_grant"


def test_reuse_revokes_every_access_token_of_the_grant(server: LiveServer, http: httpx.Client, login) -> None:  # noqa: ANN001
    client, _, first = login
    second = refresh_grant(http, client, first["refresh_token"]).json()
    record = server.services.tokens.find_refresh_token(secrets.digest(second["refresh_token"]))
    assert not record.grant_revoked
    refresh_grant(http, client, first["refresh_token"])
    assert server.services.tokens.find_refresh_token(secrets.digest(second["refresh_token"])).grant_revoked


def test_a_refresh_may_narrow_the_scope_but_not_widen_it(http: httpx.Client, login) -> None:  # noqa: ANN001
    client, _, first = login
    narrowed = refresh_grant(http, client, first["refresh_token"], scope="REPORTS")
    assert narrowed.status_code == 200 and "scope" not in narrowed.json()
    # The next refresh without scope gets the original scope back (RFC 6749 §6).
    again = refresh_grant(http, client, narrowed.json()["refresh_token"])
    assert again.status_code == 200
    wider = refresh_grant(http, client, again.json()["refresh_token"], scope="MOBPROC ADMIN")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


def test_a_refresh_keeps_the_accounts_attributes(server: LiveServer, http: httpx.Client, login) -> None:  # noqa: ANN001
    client, user, first = login
    second = refresh_grant(http, client, first["refresh_token"]).json()
    identity = server.services.tokens.find_refresh_token(secrets.digest(second["refresh_token"])).authorization.identity
    assert (identity.subject, identity.tenant, identity.domain) == (user[0], "ACME", "acme.example")


def test_removing_the_account_ends_its_refresh_tokens(server: LiveServer, http: httpx.Client, login) -> None:  # noqa: ANN001
    client, user, first = login
    assert server.services.accounts.remove_account(Username.parse(user[0]))
    assert refresh_grant(http, client, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_new_password_ends_the_grants_made_with_the_old_one(server: LiveServer, http: httpx.Client, login) -> None:  # noqa: ANN001
    client, user, first = login
    server.services.accounts.set_password_hash(Username.parse(user[0]), server.services.hasher.hash("new-password-1"))
    assert refresh_grant(http, client, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_removing_the_client_ends_its_refresh_tokens(server: LiveServer, http: httpx.Client, login) -> None:  # noqa: ANN001
    client, _, first = login
    assert server.services.clients.remove_client(client[0])
    # invalid_grant while this process still has the client cached, invalid_client after.
    assert refresh_grant(http, client, first["refresh_token"]).json()["error"] in {"invalid_grant", "invalid_client"}
    assert server.services.tokens.find_refresh_token(secrets.digest(first["refresh_token"])) is None


def test_the_idle_timeout_ends_a_refresh_token(make_server) -> None:  # noqa: ANN001
    with make_server(refresh_token_idle_timeout=3) as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        password_grant(http, client, user)  # a new process's first request can take seconds on a busy host
        first = password_grant(http, client, user).json()
        second = refresh_grant(http, client, first["refresh_token"])
        assert second.status_code == 200  # used within the idle time
        time.sleep(3.2)
        assert refresh_grant(http, client, second.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_the_absolute_lifetime_ends_a_grant_even_when_refreshed_in_time(make_server) -> None:  # noqa: ANN001
    with make_server(refresh_token_idle_timeout=60, refresh_token_lifetime=2) as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        token = password_grant(http, client, user).json()
        deadline = time.time() + 2.3
        while time.time() < deadline:
            response = refresh_grant(http, client, token["refresh_token"])
            if response.status_code != 200:
                break
            token = response.json()
            time.sleep(0.3)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


