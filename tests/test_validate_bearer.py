"""PingFederate's validation grant at the token endpoint: the check the MOBPROC documentation shows."""

from __future__ import annotations

import pytest

from conftest import TOKEN_PATH, VALIDATE_BEARER, LiveServer, client_credentials_grant, password_grant, validate_bearer


@pytest.fixture(params=["opaque", "jwt"])
def deployment(request: pytest.FixtureRequest, server: LiveServer, jwt_server: LiveServer):  # noqa: ANN201
    live = server if request.param == "opaque" else jwt_server
    client = live.add_client(grants=("password", "client_credentials"), scopes=("MOBPROC", "REPORTS"))
    resource = live.add_client(grants=("access_token_validation",))
    with live.client() as http:
        yield live, http, client, resource


def test_a_valid_token_answers_pingfederates_validated_token(deployment) -> None:  # noqa: ANN001
    live, http, client, resource = deployment
    user = live.add_user("rivermine", tenant="ACME", domain="acme.example")
    token = password_grant(http, client, user, scope="MOBPROC REPORTS").json()["access_token"]
    response = validate_bearer(http, resource, token)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body == {
        "token_type": "urn:pingidentity.com:oauth2:validated_token",
        "expires_in": body["expires_in"],
        "client_id": client[0],
        "scope": "MOBPROC REPORTS",
        "access_token": {
            "platform": "rivermine",
            "tenant": "ACME",
            "multitenant": "false",
            "domain": "acme.example",
            "identityProvider": "rivermine",
            "identifier": user[0].removeprefix("rivermine://"),
        },
    }
    assert 7190 < body["expires_in"] <= 7199


def test_multitenant_is_the_string_true_and_a_platform_user_is_bare(deployment) -> None:  # noqa: ANN001
    live, http, client, resource = deployment
    user = live.add_user("platform", tenant=None, multitenant=True)
    token = password_grant(http, client, user).json()["access_token"]
    attributes = validate_bearer(http, resource, token).json()["access_token"]
    assert attributes["multitenant"] == "true"
    assert attributes["platform"] == attributes["identityProvider"] == "platform"
    assert attributes["identifier"] == user[0] and "://" not in user[0]


def test_a_client_credentials_token_has_no_account(deployment) -> None:  # noqa: ANN001
    _, http, client, resource = deployment
    token = client_credentials_grant(http, client, scope="MOBPROC").json()["access_token"]
    body = validate_bearer(http, resource, token).json()
    assert body["client_id"] == client[0] and body["access_token"] == {}


@pytest.mark.parametrize("token", ["unknown", "A" * 28, "a.b.c"])
def test_an_invalid_token_is_invalid_grant(deployment, token: str) -> None:  # noqa: ANN001
    _, http, _, resource = deployment
    response = validate_bearer(http, resource, token)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_refresh_token_is_not_an_access_token(deployment) -> None:  # noqa: ANN001
    live, http, _, resource = deployment
    client = live.add_client()
    refresh_token = password_grant(http, client, live.add_user()).json()["refresh_token"]
    assert validate_bearer(http, resource, refresh_token).json()["error"] == "invalid_grant"


def test_the_caller_must_be_allowed_access_token_validation(deployment) -> None:  # noqa: ANN001
    _, http, client, _ = deployment
    token = client_credentials_grant(http, client).json()["access_token"]
    response = validate_bearer(http, client, token)
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_a_missing_token_is_invalid_request(deployment) -> None:  # noqa: ANN001
    _, http, _, resource = deployment
    response = http.post(TOKEN_PATH, data={"grant_type": VALIDATE_BEARER}, auth=resource)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
