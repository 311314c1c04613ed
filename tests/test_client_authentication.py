"""Client authentication: the challenge of every 401 (RFC 7235 §3.1)."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import httpx
import pytest

from conftest import INTROSPECT_PATH, REVOKE_PATH, TOKEN_PATH, LiveServer

CHALLENGE = 'Basic realm="mobproc"'


def rfc_basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1 to the letter: each part form-encoded, then base64."""
    return "Basic " + base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()


# --- RFC 7235 §3.1: "The server generating a 401 response MUST send a WWW-Authenticate header
# field containing at least one challenge applicable to the target resource."

REQUESTS = {
    TOKEN_PATH: {"grant_type": "client_credentials"},
    INTROSPECT_PATH: {"token": "Q" * 28},
    REVOKE_PATH: {"token": "Q" * 28},
}


def credentials(how: str, client: tuple[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    client_id, secret = client
    return {
        "wrong secret in the form": ({"client_id": client_id, "client_secret": secret + "x"}, {}),
        "unknown client in the form": ({"client_id": "nobody-" + client_id, "client_secret": secret}, {}),
        "no secret at all": ({"client_id": client_id}, {}),
        "no credentials at all": ({}, {}),
        "wrong secret over Basic": ({}, {"Authorization": rfc_basic(client_id, secret + "x")}),
        "a broken Basic header": ({}, {"Authorization": "Basic !!!"}),
    }[how]


@pytest.mark.parametrize("how", ["wrong secret in the form", "unknown client in the form", "no secret at all",
                                 "no credentials at all", "wrong secret over Basic", "a broken Basic header"])
@pytest.mark.parametrize("path", REQUESTS)
def test_every_401_carries_a_challenge(server: LiveServer, http: httpx.Client, path: str, how: str) -> None:
    client = server.add_client(grants=("client_credentials", "access_token_validation"))
    form, headers = credentials(how, client)
    response = http.post(path, data={**REQUESTS[path], **form}, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers.get("www-authenticate") == CHALLENGE
