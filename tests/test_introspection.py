"""RFC 7662: POST /as/introspect.oauth2, for access and refresh tokens, opaque and JWT."""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import pytest

from conftest import (
    EVERY_GRANT,
    INTROSPECT_PATH,
    LiveServer,
    client_credentials_grant,
    introspect,
    password_grant,
    refresh_grant,
    revoke,
    validate_bearer,
)

INACTIVE = {"active": False}


@pytest.fixture(params=["opaque", "jwt"])
def deployment(request: pytest.FixtureRequest, server: LiveServer, jwt_server: LiveServer):  # noqa: ANN201
    """The same contract for both token formats."""
    live = server if request.param == "opaque" else jwt_server
    client = live.add_client(grants=EVERY_GRANT)
    resource = live.add_client(grants=("access_token_validation",))
    user = live.add_user(tenant="ACME", domain="acme.example")
    with live.client() as http:
        yield live, http, client, resource, user


def test_an_active_access_token_says_who_and_what(deployment) -> None:  # noqa: ANN001
    live, http, client, resource, user = deployment
    issued_from = math.floor(time.time())  # iat is whole seconds, rounded down
    token = password_grant(http, client, user).json()["access_token"]
    response = introspect(http, resource, token)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store" and response.headers["content-type"] == "application/json"
    answer = response.json()
    now = time.time()
    assert answer["active"] is True
    assert answer["scope"] == "MOBPROC" and answer["client_id"] == client[0]
    assert answer["username"] == user[0] and answer["sub"] == user[0]
    assert answer["token_type"] == "Bearer" and answer["iss"] == live.url
    assert issued_from <= answer["iat"] <= now and answer["exp"] - answer["iat"] == 7200
    assert answer["platform"] == "command" and answer["tenant"] == "ACME" and answer["multitenant"] is False


def test_an_active_refresh_token_is_reported_as_a_refresh_token_to_its_own_client(deployment) -> None:  # noqa: ANN001
    _, http, client, _, user = deployment
    refresh_token = password_grant(http, client, user).json()["refresh_token"]
    answer = introspect(http, client, refresh_token, token_type_hint="refresh_token").json()
    assert answer["active"] is True and answer["token_type"] == "refresh_token"
    assert answer["username"] == user[0] and answer["client_id"] == client[0]


def test_a_refresh_token_is_inactive_to_any_other_caller(deployment) -> None:  # noqa: ANN001
    """Issue 19, item 16: a resource server whose validator checks only ``active``, ``exp`` and
    the scope (Authlib's stock IntrospectTokenValidator) must never be handed an active refresh
    token, whatever the hint."""
    _, http, client, resource, user = deployment
    refresh_token = password_grant(http, client, user).json()["refresh_token"]
    for hint in ("refresh_token", "access_token", None):
        extra = {"token_type_hint": hint} if hint else {}
        assert introspect(http, resource, refresh_token, **extra).json() == INACTIVE


def test_a_wrong_hint_does_not_hide_the_token(deployment) -> None:  # noqa: ANN001
    _, http, client, resource, user = deployment
    tokens = password_grant(http, client, user).json()
    assert introspect(http, resource, tokens["access_token"], token_type_hint="refresh_token").json()["active"]
    assert introspect(http, client, tokens["refresh_token"], token_type_hint="access_token").json()["active"]
    assert introspect(http, resource, tokens["access_token"], token_type_hint="nonsense").json()["active"]


@pytest.mark.parametrize("token", ["unknown", "A" * 28, "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 9000])
def test_an_unknown_token_is_exactly_inactive(deployment, token: str) -> None:  # noqa: ANN001
    _, http, _, resource, _ = deployment
    response = introspect(http, resource, token)
    assert response.status_code == 200 and response.json() == INACTIVE


def test_a_revoked_token_is_inactive(deployment) -> None:  # noqa: ANN001
    _, http, client, resource, user = deployment
    token = password_grant(http, client, user).json()["access_token"]
    assert revoke(http, client, token).status_code == 200
    assert introspect(http, resource, token).json() == INACTIVE


def test_a_revoked_grant_turns_every_token_inactive_on_both_endpoints(deployment) -> None:  # noqa: ANN001
    _, http, client, resource, user = deployment
    first = password_grant(http, client, user).json()
    second = refresh_grant(http, client, first["refresh_token"]).json()
    assert validate_bearer(http, resource, second["access_token"]).status_code == 200
    # The consumed refresh token, presented again: reuse, and the whole grant is revoked.
    assert refresh_grant(http, client, first["refresh_token"]).json()["error"] == "invalid_grant"
    for token in (first["access_token"], second["access_token"], first["refresh_token"], second["refresh_token"]):
        assert introspect(http, resource, token).json() == INACTIVE
    assert validate_bearer(http, resource, second["access_token"]).json()["error"] == "invalid_grant"


def test_a_consumed_refresh_token_is_inactive(deployment) -> None:  # noqa: ANN001
    _, http, client, resource, user = deployment
    first = password_grant(http, client, user).json()
    refresh_grant(http, client, first["refresh_token"])
    assert introspect(http, resource, first["refresh_token"]).json() == INACTIVE


def test_a_disabled_clients_tokens_are_inactive_while_it_is_disabled(deployment) -> None:  # noqa: ANN001
    live, http, client, resource, user = deployment
    token = password_grant(http, client, user).json()["access_token"]
    live.services.clients.set_enabled(client[0], False)
    assert introspect(http, resource, token).json() == INACTIVE
    live.services.clients.set_enabled(client[0], True)
    assert introspect(http, resource, token).json()["active"] is True


def test_an_expired_token_is_inactive(make_server) -> None:  # noqa: ANN001
    for token_format in ("opaque", "jwt"):
        with make_server(access_token_lifetime=3, access_token_format=token_format) as live, live.client() as http:
            client = live.add_client(grants=EVERY_GRANT)
            client_credentials_grant(http, client)  # a new process's first request can take seconds on a busy host
            token = client_credentials_grant(http, client).json()["access_token"]
            claims = introspect(http, client, token).json()
            assert claims["active"] is True
            time.sleep(max(0.0, claims["exp"] - time.time()) + 1.1)
            assert introspect(http, client, token).json() == INACTIVE


def test_another_environments_token_is_inactive(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    database = tmp_path / "shared.db"
    for token_format in ("opaque", "jwt"):
        with make_server(database, access_token_format=token_format) as dev, dev.client() as http:
            client = dev.add_client(grants=EVERY_GRANT)
            tokens = password_grant(http, client, dev.add_user()).json()
        with make_server(database, environment="qa", issuer="https://oauthqa.example.com",
                         access_token_format=token_format) as qa, qa.client() as http:
            resource = qa.add_client(grants=("access_token_validation",))
            assert introspect(http, resource, tokens["access_token"]).json() == INACTIVE
            assert introspect(http, resource, tokens["refresh_token"]).json() == INACTIVE


def test_the_caller_must_be_allowed_access_token_validation(deployment) -> None:  # noqa: ANN001
    live, http, _, _, user = deployment
    client = live.add_client(grants=("password",))
    token = password_grant(http, client, user).json()["access_token"]
    response = introspect(http, client, token)
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_the_caller_must_authenticate(deployment) -> None:  # noqa: ANN001
    _, http, client, resource, user = deployment
    token = password_grant(http, client, user).json()["access_token"]
    assert http.post(INTROSPECT_PATH, data={"token": token}).status_code == 401
    wrong = introspect(http, (resource[0], "wrong-secret-wrong-secret-wrong-1"), token)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    # Client credentials as parameters work as well as Basic.
    form = {"token": token, "client_id": resource[0], "client_secret": resource[1]}
    assert http.post(INTROSPECT_PATH, data=form).json()["active"] is True


def test_a_missing_token_is_invalid_request_and_get_is_405(deployment) -> None:  # noqa: ANN001
    _, http, _, resource, _ = deployment
    response = http.post(INTROSPECT_PATH, data={}, auth=resource)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert http.get(INTROSPECT_PATH).status_code == 405


def test_a_resource_server_registered_by_the_cli_may_introspect(server: LiveServer, http: httpx.Client) -> None:
    import re
    from conftest import mobproc, remember

    url = server.settings.database_url
    added = mobproc("client", "add", "api-gateway", "--grant", "access_token_validation", "--database", url)
    assert added.returncode == 0, added.stderr
    secret = re.search(r"client_secret: (\S+)", added.stdout).group(1)
    remember(secret)
    client = server.add_client(grants=("client_credentials",))
    token = client_credentials_grant(http, client).json()["access_token"]
    assert introspect(http, ("api-gateway", secret), token).json()["active"] is True
