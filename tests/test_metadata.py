"""RFC 8414 metadata at both well-known paths, every URL in it answering; the issuer setting."""

from __future__ import annotations

import httpx
import jwt
import pytest

from conftest import LiveServer, client_credentials_grant, mobproc

pytestmark = pytest.mark.database_agnostic

PATHS = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


@pytest.mark.parametrize("path", PATHS)
def test_the_metadata_document_describes_this_server(server: LiveServer, http: httpx.Client, path: str) -> None:
    server.add_client(scopes=("MOBPROC", "REPORTS"))
    response = http.get(path)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["issuer"] == server.url
    assert document["token_endpoint"] == server.url + "/as/token.oauth2"
    assert document["introspection_endpoint"] == server.url + "/as/introspect.oauth2"
    assert document["revocation_endpoint"] == server.url + "/as/revoke_token.oauth2"
    assert document["jwks_uri"] == server.url + "/pf/JWKS"
    assert set(document["grant_types_supported"]) == {
        "password", "refresh_token", "client_credentials", "urn:pingidentity.com:oauth2:grant_type:validate_bearer",
        "authorization_code", "implicit"}
    assert {"MOBPROC", "REPORTS"} <= set(document["scopes_supported"])
    assert document["introspection_endpoint_auth_methods_supported"] == AUTH_METHODS
    # Interactive sign-in (issue 20): public clients authenticate with none; PKCE is S256 only.
    for endpoint in ("token", "revocation"):
        assert document[f"{endpoint}_endpoint_auth_methods_supported"] == [*AUTH_METHODS, "none"]
    assert document["authorization_endpoint"] == server.url + "/as/authorization.oauth2"
    assert set(document["response_types_supported"]) == {"code", "token"}
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["authorization_response_iss_parameter_supported"] is True


def test_both_paths_serve_the_same_document(http: httpx.Client) -> None:
    assert http.get(PATHS[0]).json() == http.get(PATHS[1]).json()


def test_every_url_of_the_metadata_answers(server: LiveServer, http: httpx.Client) -> None:
    document = http.get(PATHS[0]).json()
    with httpx.Client(timeout=30) as anywhere:
        assert anywhere.get(document["jwks_uri"]).json().keys() == {"keys"}
        for name in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
            # Without credentials each is there, and asks for them in its JSON error.
            response = anywhere.post(document[name], data={"grant_type": "client_credentials", "token": "x"})
            assert response.status_code in (400, 401), (name, response.status_code)
            assert response.json()["error"] in ("invalid_client", "invalid_request")


def test_the_issuer_is_mobproc_issuer_and_every_token_carries_it(make_server) -> None:  # noqa: ANN001
    issuer = "https://oauth.example.com"
    with make_server(issuer=issuer + "/", access_token_format="jwt") as live, live.client() as http:
        assert http.get(PATHS[0]).json()["issuer"] == issuer  # a trailing slash is not part of it
        assert http.get(PATHS[0]).json()["jwks_uri"] == issuer + "/pf/JWKS"
        token = client_credentials_grant(http, live.add_client(grants=("client_credentials",))).json()["access_token"]
        assert jwt.decode(token, options={"verify_signature": False})["iss"] == issuer


def test_a_public_document_is_not_post_and_may_be_cached(http: httpx.Client) -> None:
    response = http.post(PATHS[0])
    assert response.status_code == 405 and response.json()["error"] == "invalid_request"
    assert "no-store" not in http.get(PATHS[0]).headers["cache-control"]


@pytest.mark.parametrize("environment", ["qa", "production"])
def test_qa_and_production_refuse_to_start_without_an_issuer(environment: str) -> None:
    result = mobproc("serve", "--environment", environment, env={"MOBPROC_ISSUER": None})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mobproc: MOBPROC_ISSUER:"), result.stderr


def test_a_malformed_issuer_is_refused_with_one_line() -> None:
    result = mobproc("serve", env={"MOBPROC_ISSUER": "https://oauth.example.com/?x=1"})
    assert result.returncode == 2 and result.stderr.startswith("mobproc: MOBPROC_ISSUER:")
