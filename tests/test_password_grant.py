"""RFC 6749 §4.3: the password grant, the seed's grant: what a success answers and how every
failure is refused (lockout, budgets and admission each have their own module; the grant
made only for the password checked is tests/test_credential_changes.py)."""

from __future__ import annotations


import httpx
import pytest

from conftest import LiveServer, password_grant
from test_token_endpoint_errors import assert_error


@pytest.fixture(scope="module")
def parties(server: LiveServer):  # noqa: ANN201
    return server.add_client(), server.add_user()


def test_a_right_password_gets_the_seeds_answer(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    response = password_grant(http, client, user)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "access_token", "refresh_token"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7199
    assert len(body["access_token"]) == 28 and len(body["refresh_token"]) == 42


def test_a_client_without_the_refresh_grant_gets_no_refresh_token(server: LiveServer, http: httpx.Client) -> None:
    client, user = server.add_client(grants=("password",)), server.add_user()
    assert "refresh_token" not in password_grant(http, client, user).json()


def test_expires_in_counts_down_the_access_token_lifetime(make_server) -> None:  # noqa: ANN001
    with make_server(access_token_lifetime=60) as server, server.client() as http:
        token = password_grant(http, server.add_client(), server.add_user()).json()
        assert token["expires_in"] == 59


@pytest.mark.parametrize("missing", ["username", "password"])
def test_missing_password_grant_parameter_is_invalid_request(http: httpx.Client, parties, missing: str) -> None:  # noqa: ANN001
    client, user = parties
    assert_error(password_grant(http, client, user, **{missing: None}), 400, "invalid_request")


def test_wrong_password_unknown_user_and_unknown_source_system_get_one_answer(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, (username, password) = parties
    name = username.split("://")[1]
    bodies = [
        assert_error(password_grant(http, client, (username, password + "x")), 400, "invalid_grant"),
        assert_error(password_grant(http, client, ("command://nobody-here", password)), 400, "invalid_grant"),
        assert_error(password_grant(http, client, (f"rivermine://{name}", password)), 400, "invalid_grant"),
        assert_error(password_grant(http, client, (f"nosuchsystem://{name}", password)), 400, "invalid_grant"),
        assert_error(password_grant(http, client, (name, password)), 400, "invalid_grant"),
    ]
    assert all(body == bodies[0] for body in bodies)
