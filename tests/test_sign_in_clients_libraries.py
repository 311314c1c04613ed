"""Off-the-shelf clients run the authorization-code flow with PKCE unchanged (issue 20, "Real
clients"): Authlib's OAuth2Session, requests-oauthlib's OAuth2Session, and an OpenID Connect
relying party (requests-oauth2client) that discovers mobproc, signs in, and validates the ID
token and the userinfo answer. The browser step is the login form, read and posted
(tests/sign_in.py)."""

from __future__ import annotations

import secrets

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from requests_oauthlib import OAuth2Session as OAuthlibSession

from conftest import LiveServer, remember
from sign_in import REDIRECT_URI, Browser, add_web_client

pytestmark = pytest.mark.database_agnostic  # the client side: the same on either database


@pytest.fixture(scope="module")
def parties(server: LiveServer):  # noqa: ANN201
    return add_web_client(server, scopes=("openid", "MOBPROC"), redirect_uris=(REDIRECT_URI,)), server.add_user()


def browser_step(server: LiveServer, url: str, user: tuple[str, str]) -> str:
    """What a person does: open the URL, sign in; where the browser is sent back."""
    with Browser(server) as browser:
        page = browser.http.get(url)
        assert page.status_code == 200, page.text
        answer = browser.login(page, user)
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]


def test_authlibs_oauth2session(server: LiveServer, parties) -> None:  # noqa: ANN001
    (client_id, _), user = parties
    session = AuthlibSession(client_id, scope="MOBPROC", redirect_uri=REDIRECT_URI, code_challenge_method="S256",
                             token_endpoint_auth_method="none")
    verifier = secrets.token_urlsafe(48)
    url, state = session.create_authorization_url(server.url + "/as/authorization.oauth2", code_verifier=verifier)
    callback = browser_step(server, url, user)
    token = session.fetch_token(server.url + "/as/token.oauth2", authorization_response=callback,
                                code_verifier=verifier, state=state)
    remember(token["access_token"], token["refresh_token"])
    assert token["token_type"] == "Bearer" and token["scope"] == "MOBPROC"
    refreshed = session.refresh_token(server.url + "/as/token.oauth2", refresh_token=token["refresh_token"])
    remember(refreshed["access_token"], refreshed["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]


def test_requests_oauthlibs_oauth2session(server: LiveServer, parties, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    # oauthlib refuses plain http unless told it is a local test.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    (client_id, _), user = parties
    session = OAuthlibSession(client_id, scope=["MOBPROC"], redirect_uri=REDIRECT_URI, pkce="S256")
    url, _ = session.authorization_url(server.url + "/as/authorization.oauth2")
    callback = browser_step(server, url, user)
    token = session.fetch_token(server.url + "/as/token.oauth2", authorization_response=callback,
                                include_client_id=True)
    remember(token["access_token"], token["refresh_token"])
    assert token["token_type"] == "Bearer" and token["expires_in"] == 7199


def test_an_openid_connect_relying_party_discovers_signs_in_and_validates(server: LiveServer, parties) -> None:  # noqa: ANN001
    from requests_oauth2client import OAuth2Client

    (client_id, _), user = parties
    # testing=True: the library otherwise insists on https, which a test server on loopback is not.
    client = OAuth2Client.from_discovery_endpoint(
        server.url + "/.well-known/openid-configuration", issuer=server.url, client_id=client_id,
        redirect_uri=REDIRECT_URI, session=requests.Session(), testing=True,
    )
    request = client.authorization_request(scope="openid MOBPROC")
    assert request.nonce and request.code_challenge_method == "S256"
    callback = browser_step(server, str(request.uri), user)
    response = request.validate_callback(callback)  # state, and iss (RFC 9207) as discovered
    # validate=True: the ID token's signature (from the discovered JWKS), iss, aud, exp, nonce.
    token = client.authorization_code(response, validate=True)
    remember(str(token.access_token), str(token.refresh_token), str(token.id_token))
    assert token.id_token.subject == user[0] and token.id_token.nonce == request.nonce
    info = client.userinfo(token)
    assert info["sub"] == user[0] and info["platform"] == "command" and info["tenant"] == "XYZ"
