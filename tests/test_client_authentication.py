"""Client authentication (RFC 6749 §2.3.1) as real clients send it, and the challenge of every
401 (RFC 7235 §3.1)."""

from __future__ import annotations

import base64
import os
import subprocess
from urllib.parse import quote_plus

import httpx
import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from requests_oauth2client import ClientSecretBasic, InvalidClient, OAuth2Client

from conftest import INTROSPECT_PATH, REVOKE_PATH, TOKEN_PATH, LiveServer, remember

CHALLENGE = 'Basic realm="mobproc"'


def base64_secret(must_hold: str) -> str:
    """What `openssl rand -base64 32` prints (44 characters of A-Z a-z 0-9 + / =), drawn until it
    holds ``must_hold``: the characters form-decoding changes."""
    while True:
        secret = base64.b64encode(os.urandom(32)).decode()
        if must_hold in secret:
            return secret


# Secrets as operators make them, each with characters that application/x-www-form-urlencoded
# decoding would change: '+' (a space once decoded), '%' followed by hex digits (another
# character once decoded), '%' without them, and a space.
SECRETS = {
    "openssl-base64": lambda: base64_secret("+"),
    "percent-escape": lambda: "pct%2Bnot-an-escape%41%zz" + base64_secret("/"),
    "space": lambda: "with a space+and a plus " + base64_secret("="),
}


def client_with(server: LiveServer, secret: str, client_id: str | None = None) -> tuple[str, str]:
    client_id = client_id or "svc-" + os.urandom(4).hex()
    server.services.clients.add_client(client_id, secret, ["client_credentials"], ["MOBPROC"])
    remember(secret)
    return client_id, secret


def rfc_basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1 to the letter: each part form-encoded, then base64."""
    return "Basic " + base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()


def with_curl(server: LiveServer, client_id: str, secret: str) -> int:
    # -u on the command line only in a test: the secret is the test's own, on loopback.
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", f"{client_id}:{secret}",
         "-d", "grant_type=client_credentials", server.url + TOKEN_PATH],
        capture_output=True, text=True, timeout=30, check=True,
    )
    return int(result.stdout)


def with_requests(server: LiveServer, client_id: str, secret: str) -> int:
    return requests.post(server.url + TOKEN_PATH, data={"grant_type": "client_credentials"},
                         auth=(client_id, secret), timeout=30).status_code


def with_httpx(server: LiveServer, client_id: str, secret: str) -> int:
    return httpx.post(server.url + TOKEN_PATH, data={"grant_type": "client_credentials"},
                      auth=(client_id, secret), timeout=30).status_code


def with_authlib(server: LiveServer, client_id: str, secret: str) -> int:
    with AuthlibSession(client_id, secret, token_endpoint_auth_method="client_secret_basic") as session:
        try:
            token = session.fetch_token(server.url + TOKEN_PATH, grant_type="client_credentials")
        except OAuthError as refused:
            assert refused.error == "invalid_client"
            return 401
    remember(token["access_token"])
    return 200


def with_requests_oauth2client(server: LiveServer, client_id: str, secret: str) -> int:
    # testing=True: the test server speaks plain HTTP on loopback, which it refuses otherwise.
    client = OAuth2Client(server.url + TOKEN_PATH, auth=ClientSecretBasic(client_id, secret), testing=True)
    try:
        token = client.client_credentials()
    except InvalidClient:
        return 401
    remember(str(token.access_token))
    return 200


CLIENTS = {
    "curl -u": with_curl,
    "requests": with_requests,
    "httpx": with_httpx,
    "authlib": with_authlib,
    "requests-oauth2client": with_requests_oauth2client,
}


@pytest.mark.parametrize("secret_kind", SECRETS)
@pytest.mark.parametrize("client_name", CLIENTS)
def test_basic_credentials_as_common_clients_send_them(server: LiveServer, client_name: str, secret_kind: str) -> None:
    """None of these clients form-encodes before base64, as §2.3.1 asks: what they send is
    accepted as sent when its decoded form does not match."""
    client_id, secret = client_with(server, SECRETS[secret_kind]())
    assert CLIENTS[client_name](server, client_id, secret) == 200


def test_a_client_id_with_a_plus_sent_as_is(server: LiveServer) -> None:
    client_id, secret = client_with(server, base64_secret("+"), client_id="svc+" + os.urandom(4).hex())
    assert with_curl(server, client_id, secret) == 200
    assert with_httpx(server, client_id, secret) == 200


@pytest.mark.parametrize("secret_kind", SECRETS)
def test_basic_credentials_form_encoded_as_the_rfc_says_still_work(server: LiveServer, http: httpx.Client,
                                                                     secret_kind: str) -> None:
    client_id, secret = client_with(server, SECRETS[secret_kind]())
    response = http.post(TOKEN_PATH, data={"grant_type": "client_credentials"},
                         headers={"Authorization": rfc_basic(client_id, secret)})
    assert response.status_code == 200, response.text
    remember(response.json()["access_token"])


def test_neither_reading_of_a_wrong_secret_passes(server: LiveServer, http: httpx.Client) -> None:
    client_id, secret = client_with(server, base64_secret("+"))
    near = secret.replace("+", " ", 1)  # what form-decoding would make of it: a different secret
    for attempt in (near, quote_plus(near), secret + "x", secret.replace("+", "%2B", 1)[:-1]):
        assert with_httpx(server, client_id, attempt) == 401
    # The secret with '+' escaped is the same secret, form-encoded: it passes.
    assert with_httpx(server, client_id, secret.replace("+", "%2B")) == 200


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
