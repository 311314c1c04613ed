"""MOBPROC_QUERY_CREDENTIALS: the seed's query-string credentials, accepted or refused."""

from __future__ import annotations

import logging
import pytest
from pathlib import Path
from urllib.parse import urlencode

from conftest import TOKEN_PATH, password_grant

pytestmark = pytest.mark.database_agnostic


def test_reject_refuses_credentials_in_the_url_and_says_where_they_belong(make_server, server_log: Path) -> None:  # noqa: ANN001
    with make_server(query_credentials="reject") as server, server.client() as http:
        client, (username, password) = server.add_client(), server.add_user()
        seed_style = urlencode({"grant_type": "password", "client_id": client[0], "client_secret": client[1],
                                "scope": "MOBPROC", "username": username, "password": password})
        response = http.post(f"{TOKEN_PATH}?{seed_style}")
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "invalid_request"
        assert body["error_description"].startswith("client_secret, password must not be sent in the URL")
        assert "request body" in body["error_description"] and "Basic" in body["error_description"]
        # One secret in the URL is enough to refuse, even with the rest in the body.
        form = {"client_id": client[0], "client_secret": client[1], "username": username}
        assert http.post(f"{TOKEN_PATH}?grant_type=password&password=x", data=form).status_code == 400
        # Identifiers may stay in the URL; the secrets come in the body.
        query = urlencode({"grant_type": "password", "client_id": client[0], "username": username, "scope": "MOBPROC"})
        secrets_in_body = {"client_secret": client[1], "password": password}
        assert http.post(f"{TOKEN_PATH}?{query}", data=secrets_in_body).status_code == 200
        assert password_grant(http, client, (username, password)).status_code == 200
    for handler in logging.getLogger("mobproc").handlers:
        handler.flush()
    assert password not in server_log.read_text() and client[1] not in server_log.read_text()


def test_accept_is_the_default_and_serves_the_seeds_request(make_server) -> None:  # noqa: ANN001
    with make_server() as server, server.client() as http:
        assert server.settings.query_credentials == "accept"
        client, (username, password) = server.add_client(), server.add_user()
        seed_style = urlencode({"grant_type": "password", "client_id": client[0], "client_secret": client[1],
                                "scope": "MOBPROC", "username": username, "password": password})
        assert http.post(f"{TOKEN_PATH}?{seed_style}").status_code == 200
