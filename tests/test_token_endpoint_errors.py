"""CONTRACT §1: every row of the error table, with its status, code and headers."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import quote

import httpx
import pytest

from conftest import TOKEN_PATH, LiveServer, password_grant, refresh_grant


def assert_error(response: httpx.Response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["error"] == error
    assert body.get("error_description")
    return body


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{quote(client_id)}:{quote(secret)}".encode()).decode()


@pytest.fixture(scope="module")
def parties(server: LiveServer):  # noqa: ANN201
    return server.add_client(), server.add_user()


# --- invalid_request ---------------------------------------------------------------------


def test_missing_grant_type_is_invalid_request(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, _ = parties
    body = assert_error(http.post(TOKEN_PATH, data={"client_id": client[0], "client_secret": client[1]}), 400,
                        "invalid_request")
    assert body["error_description"] == "grant_type is required"


def test_missing_refresh_token_is_invalid_request(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, _ = parties
    form = {"grant_type": "refresh_token", "client_id": client[0], "client_secret": client[1]}
    assert_error(http.post(TOKEN_PATH, data=form), 400, "invalid_request")


def test_a_parameter_repeated_with_another_value_is_invalid_request(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    response = http.post(f"{TOKEN_PATH}?password=other", data={
        "grant_type": "password", "client_id": client[0], "client_secret": client[1], "username": user[0],
        "password": user[1]})
    body = assert_error(response, 400, "invalid_request")
    assert "password" in body["error_description"]


def test_an_identical_repeat_and_an_empty_value_are_harmless(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    query = f"grant_type=password&scope=MOBPROC&username={quote(user[0])}&extra="
    form = {"grant_type": "password", "client_id": client[0], "client_secret": client[1], "username": user[0],
            "password": user[1], "scope": "", "unknown": "ignored"}
    response = http.post(f"{TOKEN_PATH}?{query}", data=form)
    assert response.status_code == 200, response.text


def test_parameters_split_across_query_and_body_are_merged(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    query = f"grant_type=password&client_id={client[0]}&client_secret={client[1]}"
    response = http.post(f"{TOKEN_PATH}?{query}", data={"username": user[0], "password": user[1]})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_a_method_other_than_post_is_405_invalid_request(http: httpx.Client, method: str) -> None:
    response = http.request(method, TOKEN_PATH)
    assert_error(response, 405, "invalid_request")
    assert response.headers["allow"] == "POST"


def test_a_body_that_is_not_a_form_is_invalid_request(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, _ = parties
    response = http.post(TOKEN_PATH, json={"grant_type": "password", "client_id": client[0]})
    assert_error(response, 400, "invalid_request")


def test_invalid_utf8_is_invalid_request(http: httpx.Client) -> None:
    assert_error(http.post(f"{TOKEN_PATH}?grant_type=%ff%fe"), 400, "invalid_request")


def test_both_client_authentication_methods_at_once_is_invalid_request(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    form = {"grant_type": "password", "client_secret": client[1], "username": user[0], "password": user[1]}
    response = http.post(TOKEN_PATH, data=form, headers={"Authorization": basic(*client)})
    assert_error(response, 400, "invalid_request")


def test_a_body_over_64_kib_is_413_json(http: httpx.Client) -> None:
    response = http.post(TOKEN_PATH, content=b"a=" + b"x" * 70_000,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(response, 413, "invalid_request")


def test_a_streamed_body_over_64_kib_without_length_is_413(http: httpx.Client) -> None:
    def chunks():  # noqa: ANN202
        for _ in range(20):
            yield b"x" * 8192

    response = http.post(TOKEN_PATH, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(response, 413, "invalid_request")


# --- invalid_client ----------------------------------------------------------------------


def test_unknown_client_is_401_invalid_client(http: httpx.Client, parties) -> None:  # noqa: ANN001
    _, user = parties
    body = assert_error(password_grant(http, ("nobody", "x" * 32), user), 401, "invalid_client")
    assert body["error_description"] == "Invalid client or client credentials"


def test_wrong_secret_in_the_form_is_401_invalid_client_with_a_basic_challenge(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    response = password_grant(http, (client[0], "wrong"), user)
    assert_error(response, 401, "invalid_client")
    # RFC 7235 §3.1: a 401 MUST carry a challenge, whichever way the client authenticated.
    assert response.headers["www-authenticate"] == 'Basic realm="mobproc"'


def test_missing_client_credentials_is_invalid_client(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    form = {"grant_type": "password", "client_id": client[0], "username": user[0], "password": user[1]}
    assert_error(http.post(TOKEN_PATH, data=form), 401, "invalid_client")


def test_wrong_secret_over_basic_gets_a_basic_challenge(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    form = {"grant_type": "password", "username": user[0], "password": user[1]}
    response = http.post(TOKEN_PATH, data=form, headers={"Authorization": basic(client[0], "wrong")})
    assert_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("header", ["Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic"])
def test_a_broken_basic_header_is_invalid_client(http: httpx.Client, parties, header: str) -> None:  # noqa: ANN001
    _, user = parties
    form = {"grant_type": "password", "username": user[0], "password": user[1]}
    response = http.post(TOKEN_PATH, data=form, headers={"Authorization": header})
    assert_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


def test_basic_authentication_works_and_is_url_decoded(server: LiveServer, http: httpx.Client) -> None:
    client_id, secret = "client with:odd/chars+" + server.add_client()[0], "s3cr:t/+%" + "x" * 32
    server.services.clients.add_client(client_id, secret, ["password"], ["MOBPROC"])
    user = server.add_user()
    form = {"grant_type": "password", "username": user[0], "password": user[1], "client_id": client_id}
    response = http.post(TOKEN_PATH, data=form, headers={"Authorization": basic(client_id, secret)})
    assert response.status_code == 200, response.text


def test_a_disabled_client_is_invalid_client(server: LiveServer, http: httpx.Client, parties) -> None:  # noqa: ANN001
    _, user = parties
    client = server.add_client()
    server.services.clients.set_enabled(client[0], False)
    assert_error(password_grant(http, client, user), 401, "invalid_client")


# --- invalid_grant -----------------------------------------------------------------------


def test_unknown_expired_and_other_clients_refresh_tokens_are_invalid_grant(server: LiveServer, http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    other = server.add_client()
    refresh_token = password_grant(http, client, user).json()["refresh_token"]
    body = assert_error(refresh_grant(http, client, "x" * 42), 400, "invalid_grant")
    assert body["error_description"] == "unknown, invalid, or expired refresh token"
    assert_error(refresh_grant(http, other, refresh_token), 400, "invalid_grant")
    # The other client's attempt did not harm the rightful holder's grant.
    assert refresh_grant(http, client, refresh_token).status_code == 200


# --- unauthorized_client, unsupported_grant_type, invalid_scope ---------------------------


def test_a_grant_the_client_is_not_allowed_is_unauthorized_client(server: LiveServer, http: httpx.Client, parties) -> None:  # noqa: ANN001
    _, user = parties
    client = server.add_client(grants=("refresh_token",))
    assert_error(password_grant(http, client, user), 400, "unauthorized_client")


def test_an_unknown_grant_type_is_unsupported_grant_type(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    assert_error(password_grant(http, client, user, grant_type="urn:ietf:params:oauth:grant-type:device_code"), 400,
                 "unsupported_grant_type")


def test_a_scope_the_client_is_not_allowed_is_invalid_scope(http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    body = assert_error(password_grant(http, client, user, scope="MOBPROC ADMIN"), 400, "invalid_scope")
    assert body["error_description"] == "The requested scope(s) must be blank or a subset of the provided scopes."


def test_no_scope_means_the_clients_default_scopes(server: LiveServer, http: httpx.Client, parties) -> None:  # noqa: ANN001
    _, user = parties
    client = server.add_client(scopes=("MOBPROC", "OTHER"), default_scopes=("MOBPROC",))
    response = password_grant(http, client, user, scope=None)
    assert response.status_code == 200
    assert response.json()["scope"] == "MOBPROC"  # RFC 6749 §5.1: differs from the (empty) request
    assert "scope" not in password_grant(http, client, user, scope="MOBPROC").json()


def test_unknown_paths_answer_json(http: httpx.Client) -> None:
    response = http.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_token_endpoint_answers_under_a_root_path_too(server: LiveServer, parties) -> None:  # noqa: ANN001
    """Mounted under a prefix (ASGI root_path), requests reach the form endpoints through the
    router rather than the direct table in front of it: both must hold them."""
    client, user = parties

    async def post(path: str, **params: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=server.app, root_path="/auth")
        async with httpx.AsyncClient(transport=transport, base_url="http://mobproc") as http:
            return await http.post(path, data=params)

    answer = asyncio.run(post(f"/auth{TOKEN_PATH}", grant_type="password", client_id=client[0], client_secret=client[1],
                              username=user[0], password=user[1], scope="MOBPROC"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"
    assert_error(asyncio.run(post(f"/auth{TOKEN_PATH}")), 400, "invalid_request")
