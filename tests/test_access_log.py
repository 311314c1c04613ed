"""The access log masks by parameter name: of every query value, only a known grant_type's is
printed, whatever the value looks like (CONTRACT §7)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from conftest import TOKEN_PATH, LiveServer
from mobproc.server.access_log import redacted_target

pytestmark = pytest.mark.database_agnostic

GRANT_TYPES = ("password", "refresh_token", "client_credentials",
               "urn:pingidentity.com:oauth2:grant_type:validate_bearer")
# Values that are also words of the protocol: a password may be any of them.
WORDS = (*GRANT_TYPES, "access_token", "true", "false", "Bearer", "MOBPROC", "grant_type")
NAMES = ("client_id", "client_secret", "username", "password", "refresh_token", "token", "access_token", "scope",
         "token_type_hint", "code", "limit", "offset", "confirm", "employee", "anything-else")


def logged_line(server_log: Path, marker: str) -> str:
    deadline = time.monotonic() + 5  # the line is written just after the answer is sent
    while time.monotonic() < deadline:
        for handler in logging.getLogger("mobproc").handlers:
            handler.flush()
        lines = [line for line in server_log.read_text().splitlines() if "mobproc.access" in line and marker in line]
        if lines:
            return lines[-1]
        time.sleep(0.05)
    raise AssertionError(f"no access-log line for {marker}")


@pytest.mark.parametrize("word", ["password", "true", "refresh_token"])
def test_a_password_that_is_a_word_of_the_protocol_is_masked(server: LiveServer, server_log: Path, word: str) -> None:
    """The issue's finding: a password `password` (or `true`, `refresh_token`) in the query string was printed."""
    client = server.add_client()
    username, _ = server.add_user()
    path = f"{TOKEN_PATH}?" + urlencode({"grant_type": "password", "client_id": client[0], "client_secret": client[1],
                                         "username": username, "password": word, "scope": "MOBPROC"})
    with server.client() as http:
        assert http.post(path).status_code == 400  # the wrong password: the answer does not matter
    line = logged_line(server_log, "client_id=***&client_secret=***&username=***&password=")
    assert "grant_type=password&" in line
    assert f"password={word}" not in line and "password=***" in line


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("word", WORDS)
def test_only_grant_types_value_is_ever_printed(name: str, word: str) -> None:
    target = redacted_target(TOKEN_PATH, urlencode({name: word}).encode(), GRANT_TYPES)
    assert target.endswith("=***"), target


@pytest.mark.parametrize("grant_type", GRANT_TYPES)
def test_a_known_grant_type_is_printed(grant_type: str) -> None:
    query = urlencode({"grant_type": grant_type, "password": grant_type}).encode()
    assert redacted_target(TOKEN_PATH, query, GRANT_TYPES) == f"{TOKEN_PATH}?grant_type={grant_type}&password=***"


@pytest.mark.parametrize("value", ["s3cr3t-pasted-in-the-wrong-field", "authorization_code", "PASSWORD", "password "])
def test_any_other_grant_type_is_masked(value: str) -> None:
    query = urlencode({"grant_type": value}).encode()
    assert redacted_target(TOKEN_PATH, query, GRANT_TYPES) == f"{TOKEN_PATH}?grant_type=***"


def test_the_server_prints_the_grant_types_it_serves(server: LiveServer, server_log: Path) -> None:
    with server.client() as http:
        http.post(f"{TOKEN_PATH}?grant_type=client_credentials&marker=1")
        http.post(f"{TOKEN_PATH}?grant_type=implicit&marker=2")
    assert "?grant_type=client_credentials&_=***" in logged_line(server_log, "grant_type=client_credentials&_")
    assert "?grant_type=***&_=***" in logged_line(server_log, "grant_type=***&_")
