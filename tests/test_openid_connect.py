"""OpenID Connect on the code flow (issue 20, items 7 and 8): the ID token (RS256 by default,
ES256 for a client registered for it), nonce, auth_time, at_hash; the userinfo endpoint at
PingFederate's /idp/userinfo.openid; both well-known documents valid by Authlib's validators."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from conftest import LiveServer
from mobproc.domain.id_tokens import at_hash
from sign_in import Browser, add_web_client, code_flow_params, pkce_pair, query_of, redeem

USERINFO = "/idp/userinfo.openid"


@pytest.fixture(scope="module")
def parties(server: LiveServer):  # noqa: ANN201
    return add_web_client(server, scopes=("openid", "MOBPROC")), server.add_user(tenant="ACME", domain="acme.example")


def signed_in_tokens(server: LiveServer, http: httpx.Client, client, user, **extra: str) -> tuple[dict, float]:  # noqa: ANN001
    verifier, challenge = pkce_pair()
    before = time.time()
    with Browser(server) as browser:
        page = browser.authorize(**code_flow_params(client[0], challenge, scope="openid MOBPROC", **extra))
        answer = browser.login(page, user)
    token = redeem(http, client, query_of(answer.headers["location"])["code"], verifier)
    assert token.status_code == 200, token.text
    return token.json(), before


def id_token_claims(http: httpx.Client, server: LiveServer, token: str, audience: str) -> dict:
    jwks = jwt.PyJWKSet.from_dict(http.get("/pf/JWKS").json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(key for key in jwks.keys if key.key_id == kid)
    return jwt.decode(token, key.key, algorithms=["RS256", "ES256"], audience=audience, issuer=server.url)


def test_the_openid_scope_gets_an_rs256_id_token_with_nonce_auth_time_and_at_hash(server: LiveServer,
                                                                                   http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    body, before = signed_in_tokens(server, http, client, user, nonce="n-0S6_WzA2Mj")
    assert jwt.get_unverified_header(body["id_token"])["alg"] == "RS256"
    claims = id_token_claims(http, server, body["id_token"], client[0])
    assert claims["sub"] == user[0] and claims["nonce"] == "n-0S6_WzA2Mj" and claims["azp"] == client[0]
    assert before - 1 <= claims["auth_time"] <= time.time()
    assert claims["at_hash"] == at_hash(body["access_token"])


def test_without_the_openid_scope_there_is_no_id_token(server: LiveServer, http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    verifier, challenge = pkce_pair()
    with Browser(server) as browser:
        answer = browser.login(browser.authorize(**code_flow_params(client[0], challenge)), user)
    assert "id_token" not in redeem(http, client, query_of(answer.headers["location"])["code"], verifier).json()


def test_a_client_registered_for_es256_gets_es256_id_tokens(server: LiveServer, http: httpx.Client) -> None:
    client = add_web_client(server, scopes=("openid",), id_token_alg="ES256")
    user = server.add_user()
    verifier, challenge = pkce_pair()
    with Browser(server) as browser:
        answer = browser.login(browser.authorize(**code_flow_params(client[0], challenge, scope="openid")), user)
    body = redeem(http, client, query_of(answer.headers["location"])["code"], verifier).json()
    assert jwt.get_unverified_header(body["id_token"])["alg"] == "ES256"
    assert id_token_claims(http, server, body["id_token"], client[0])["sub"] == user[0]


def test_userinfo_answers_the_accounts_claims_for_a_token_with_openid(server: LiveServer, http: httpx.Client,
                                                                     parties) -> None:  # noqa: ANN001
    client, user = parties
    body, _ = signed_in_tokens(server, http, client, user)
    answer = http.get(USERINFO, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert answer.json() == {"sub": user[0], "preferred_username": user[0], "platform": "command",
                             "multitenant": False, "tenant": "ACME", "domain": "acme.example"}
    posted = http.post(USERINFO, data={"access_token": body["access_token"]})
    assert posted.json()["sub"] == user[0]


def test_userinfo_refuses_as_rfc_6750_says(server: LiveServer, http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    missing = http.get(USERINFO)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    unknown = http.get(USERINFO, headers={"Authorization": "Bearer nosuchtoken"})
    assert unknown.status_code == 401 and 'error="invalid_token"' in unknown.headers["www-authenticate"]
    verifier, challenge = pkce_pair()
    with Browser(server) as browser:  # a token without openid
        answer = browser.login(browser.authorize(**code_flow_params(client[0], challenge)), user)
    token = redeem(http, client, query_of(answer.headers["location"])["code"], verifier).json()["access_token"]
    scoped = http.get(USERINFO, headers={"Authorization": f"Bearer {token}"})
    assert scoped.status_code == 403 and 'error="insufficient_scope"' in scoped.headers["www-authenticate"]


def test_both_well_known_documents_pass_authlibs_validators(make_server) -> None:  # noqa: ANN001
    # Authlib checks RFC 8414's https rule: the issuer is the public URL a deployment names.
    with make_server(issuer="https://sso.example.com") as live, live.client() as http:
        for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
            document = http.get(path).json()
            AuthorizationServerMetadata(document).validate()
            OpenIDProviderMetadata(document).validate()
            assert document["userinfo_endpoint"] == "https://sso.example.com/idp/userinfo.openid"
            assert document["id_token_signing_alg_values_supported"][0] == "RS256"
            assert "openid" in document["scopes_supported"]


def test_the_jwks_publishes_the_id_token_keys_and_an_id_token_is_no_access_token(server: LiveServer,
                                                                               http: httpx.Client, parties) -> None:  # noqa: ANN001
    client, user = parties
    body, _ = signed_in_tokens(server, http, client, user)
    kids = {key["kid"]: key["kty"] for key in http.get("/pf/JWKS").json()["keys"]}
    assert kids[jwt.get_unverified_header(body["id_token"])["kid"]] == "RSA"
    # typ JWT, not at+jwt: neither the userinfo endpoint nor the API takes it as a bearer token.
    assert http.get(USERINFO, headers={"Authorization": f"Bearer {body['id_token']}"}).status_code == 401


def test_the_id_token_ring_rotates_with_a_staged_key(make_server) -> None:  # noqa: ANN001
    """`mobproc keys rotate --ring id_token`: the next RSA key is published at once and signs after
    the publication delay, as the access tokens' keys do; `--now` signs with it at once."""
    import json as _json

    from conftest import mobproc

    with make_server() as server, server.client() as http:
        http.get("/.well-known/openid-configuration")  # the ring's first key
        url = server.settings.database_url
        [first] = _json.loads(mobproc("keys", "list", "--ring", "id_token", "--json", "--database", url).stdout)
        assert first["alg"] == "RS256" and first["state"] == "active"
        staged = mobproc("keys", "rotate", "--ring", "id_token", "--database", url)
        assert staged.returncode == 0 and "is staged" in staged.stdout, staged.stderr
        rows = _json.loads(mobproc("keys", "list", "--ring", "id_token", "--json", "--database", url).stdout)
        assert sorted(row["state"] for row in rows) == ["active", "staged"]
        published = {key["kid"] for key in http.get("/pf/JWKS").json()["keys"]}
        assert {row["kid"] for row in rows} <= published
        # The access tokens' ring is another: untouched.
        assert _json.loads(mobproc("keys", "list", "--json", "--database", url).stdout) == []
        assert mobproc("keys", "rotate", "--ring", "id_token", "--now", "--database", url).returncode == 0
        client, user = add_web_client(server, scopes=("openid",)), server.add_user()
        verifier, challenge = pkce_pair()
        with Browser(server) as browser:
            answer = browser.login(browser.authorize(**code_flow_params(client[0], challenge, scope="openid")), user)
        body = redeem(http, client, query_of(answer.headers["location"])["code"], verifier).json()
        newest = _json.loads(mobproc("keys", "list", "--ring", "id_token", "--json", "--database", url).stdout)
        active = [row["kid"] for row in newest if row["state"] == "active"]
        assert jwt.get_unverified_header(body["id_token"])["kid"] == active[0]
