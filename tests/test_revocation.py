"""RFC 7009: POST /as/revoke_token.oauth2, by the client the token was issued to."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import (
    EVERY_GRANT,
    REVOKE_PATH,
    LiveServer,
    client_credentials_grant,
    introspect,
    password_grant,
    refresh_grant,
    revoke,
    validate_bearer,
    write_lock_held,
)

INACTIVE = {"active": False}


@pytest.fixture(params=["opaque", "jwt"])
def deployment(request: pytest.FixtureRequest, server: LiveServer, jwt_server: LiveServer):  # noqa: ANN201
    live = server if request.param == "opaque" else jwt_server
    client = live.add_client(grants=EVERY_GRANT)
    user = live.add_user()
    with live.client() as http:
        yield live, http, client, user


def test_revoking_a_refresh_token_revokes_its_whole_grant(deployment) -> None:  # noqa: ANN001
    _, http, client, user = deployment
    first = password_grant(http, client, user).json()
    second = refresh_grant(http, client, first["refresh_token"]).json()
    response = revoke(http, client, second["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    for token in (first["access_token"], second["access_token"], second["refresh_token"]):
        assert introspect(http, client, token).json() == INACTIVE
    assert refresh_grant(http, client, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert validate_bearer(http, client, second["access_token"]).json()["error"] == "invalid_grant"


def test_revoking_an_access_token_revokes_that_token_only(deployment) -> None:  # noqa: ANN001
    _, http, client, user = deployment
    tokens = password_grant(http, client, user).json()
    assert revoke(http, client, tokens["access_token"], token_type_hint="access_token").status_code == 200
    assert introspect(http, client, tokens["access_token"]).json() == INACTIVE
    assert validate_bearer(http, client, tokens["access_token"]).json()["error"] == "invalid_grant"
    # The grant lives on: its refresh token still works, and the new access token is active.
    renewed = refresh_grant(http, client, tokens["refresh_token"])
    assert renewed.status_code == 200
    assert introspect(http, client, renewed.json()["access_token"]).json()["active"] is True


def test_a_wrong_hint_still_revokes(deployment) -> None:  # noqa: ANN001
    _, http, client, user = deployment
    tokens = password_grant(http, client, user).json()
    assert revoke(http, client, tokens["access_token"], token_type_hint="refresh_token").status_code == 200
    assert introspect(http, client, tokens["access_token"]).json() == INACTIVE


@pytest.mark.parametrize("token", ["unknown", "Z" * 42, "a.b.c"])
def test_an_unknown_token_answers_200_and_changes_nothing(deployment, token: str) -> None:  # noqa: ANN001
    _, http, client, user = deployment
    tokens = password_grant(http, client, user).json()
    response = revoke(http, client, token)
    assert response.status_code == 200 and response.json() == {}
    assert introspect(http, client, tokens["access_token"]).json()["active"] is True


def test_another_clients_token_answers_200_and_stays_valid(deployment) -> None:  # noqa: ANN001
    live, http, client, user = deployment
    other = live.add_client(grants=EVERY_GRANT)
    tokens = password_grant(http, client, user).json()
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert revoke(http, other, token).status_code == 200
    assert introspect(http, client, tokens["access_token"]).json()["active"] is True
    assert refresh_grant(http, client, tokens["refresh_token"]).status_code == 200


def test_a_client_credentials_token_can_be_revoked(deployment) -> None:  # noqa: ANN001
    _, http, client, _ = deployment
    token = client_credentials_grant(http, client).json()["access_token"]
    assert revoke(http, client, token).status_code == 200
    assert introspect(http, client, token).json() == INACTIVE


def test_the_client_must_authenticate(deployment) -> None:  # noqa: ANN001
    _, http, client, user = deployment
    token = password_grant(http, client, user).json()["access_token"]
    assert http.post(REVOKE_PATH, data={"token": token}).json()["error"] == "invalid_client"
    wrong = revoke(http, (client[0], "not-the-secret-not-the-secret-12"), token)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert introspect(http, client, token).json()["active"] is True
    form = {"token": token, "client_id": client[0], "client_secret": client[1]}
    assert http.post(REVOKE_PATH, data=form).status_code == 200
    assert introspect(http, client, token).json() == INACTIVE


def test_a_missing_token_is_invalid_request(deployment) -> None:  # noqa: ANN001
    _, http, client, _ = deployment
    response = http.post(REVOKE_PATH, data={}, auth=client)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_a_failed_write_answers_503_never_200(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    with make_server(sqlite_busy_timeout_ms=200) as live, live.client() as http:
        client = live.add_client(grants=EVERY_GRANT)
        tokens = password_grant(http, client, live.add_user()).json()
        with write_lock_held(live):
            refused = [revoke(http, client, tokens["access_token"]), revoke(http, client, tokens["refresh_token"])]
        for response in refused:
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "temporarily_unavailable" and response.headers["retry-after"]
        # Nothing was revoked, and a retry succeeds.
        assert introspect(http, client, tokens["access_token"]).json()["active"] is True
        assert revoke(http, client, tokens["refresh_token"]).status_code == 200
        assert introspect(http, client, tokens["access_token"]).json() == INACTIVE
