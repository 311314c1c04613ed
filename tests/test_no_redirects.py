"""No endpoint redirects (but the console's pages, to its own sign-in), and no URL is built from the
Host header: the issuer is the only base.

A redirect of the token endpoint sends a client's credentials to wherever the Location points;
one built from the Host header points wherever the sender of the request chose."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from conftest import TOKEN_PATH, LiveServer

pytestmark = pytest.mark.database_agnostic

HOSTILE = "attacker.example"
SECRETS = {"client_id": "someone", "client_secret": "the-secret-in-the-url", "username": "command://alice",
           "password": "the-password-in-the-url", "grant_type": "password"}


def paths(server: LiveServer) -> list[str]:
    """Every route, as it is and with a slash added or taken away, and a double slash."""
    routes = [route.path for route in server.app.routes]
    return sorted({variant for path in routes
                   for variant in (path, path + "/", path.rstrip("/") or "/", "/" + path, path.upper())})


# The console is a page surface: a browser without a session is sent to the console's own
# sign-in, by a path of this server (never built from the Host header).
CONSOLE = "/admin/console/"


def never_points_elsewhere(response: httpx.Response) -> None:
    location = response.headers.get("location")
    if response.request.url.path.startswith(CONSOLE) and location is not None:
        assert response.status_code == 303 and location.startswith(CONSOLE + "login?"), (response.request.url,
                                                                                          location)
    else:
        assert not 300 <= response.status_code < 400, (response.request.url, response.status_code)
        assert location is None
    assert all(HOSTILE not in value for value in response.headers.values())
    assert HOSTILE.encode() not in response.content


def test_a_trailing_slash_on_the_token_endpoint_is_not_redirected_to_the_host_header(server: LiveServer) -> None:
    """The issue's finding: 307 to http://<Host header>/as/token.oauth2?<the credentials>, without no-store."""
    with server.client() as http:
        response = http.post(f"{TOKEN_PATH}/?{urlencode(SECRETS)}", headers={"Host": HOSTILE})
    never_points_elsewhere(response)
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD", "OPTIONS"])
def test_no_path_redirects_whatever_the_host_header_says(server: LiveServer, method: str) -> None:
    with server.client() as http:
        for path in paths(server):
            response = http.request(method, f"{path}?{urlencode(SECRETS)}", headers={"Host": HOSTILE})
            never_points_elsewhere(response)


def test_the_metadata_is_built_on_the_issuer_not_on_the_host_header(server: LiveServer) -> None:
    with server.client() as http:
        for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
            response = http.get(path, headers={"Host": HOSTILE, "X-Forwarded-Host": HOSTILE,
                                               "X-Forwarded-Proto": "https"})
            assert response.status_code == 200
            never_points_elsewhere(response)
            assert response.json()["token_endpoint"] == server.settings.issuer_url + TOKEN_PATH
