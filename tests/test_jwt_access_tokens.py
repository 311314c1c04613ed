"""RFC 9068 JWT access tokens, checked by an independent library (PyJWT) with /pf/JWKS."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import jwt
import pytest

from conftest import (
    EVERY_GRANT, JWKS_PATH, LiveServer, client_credentials_grant, dump_database, introspect, password_grant,
)


def verified(http: httpx.Client, token: str, issuer: str, algorithm: str = "ES256") -> dict:
    """What PyJWT makes of the token, with nothing but the published JWKS."""
    keys = jwt.PyJWKSet.from_dict(http.get(JWKS_PATH).json())
    header = jwt.get_unverified_header(token)
    key = next(k for k in keys.keys if k.key_id == header["kid"])
    return jwt.decode(token, key.key, algorithms=[algorithm], audience="MOBPROC", issuer=issuer,
                      options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]})


@pytest.fixture(scope="module")
def parties(jwt_server: LiveServer):  # noqa: ANN201
    client = jwt_server.add_client(grants=EVERY_GRANT, scopes=("MOBPROC", "REPORTS"))
    user = jwt_server.add_user(tenant="ACME", domain="acme.example", multitenant=True)
    return client, user


def test_a_jwt_access_token_verifies_with_pyjwt_and_the_published_jwks(jwt_server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    with jwt_server.client() as http:
        response = password_grant(http, client, user, scope="MOBPROC REPORTS")
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        header = jwt.get_unverified_header(token)
        assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
        claims = verified(http, token, jwt_server.url)
    assert claims["iss"] == jwt_server.url
    assert claims["sub"] == user[0] and claims["client_id"] == client[0]
    assert claims["aud"] == "MOBPROC"
    assert claims["scope"] == "MOBPROC REPORTS"
    assert claims["exp"] - claims["iat"] == 7200
    assert claims["platform"] == "command" and claims["tenant"] == "ACME" and claims["multitenant"] is True
    assert claims["domain"] == "acme.example"
    assert re.fullmatch(r"[A-Za-z0-9]{22}", claims["jti"])


def test_the_refresh_token_stays_opaque_and_refreshes_into_a_new_jwt(jwt_server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    with jwt_server.client() as http:
        first = password_grant(http, client, user).json()
        assert re.fullmatch(r"[A-Za-z0-9]{42}", first["refresh_token"])
        second = http.post("/as/token.oauth2", data={"grant_type": "refresh_token",
                                                     "refresh_token": first["refresh_token"]}, auth=client).json()
        claims = verified(http, second["access_token"], jwt_server.url)
        first_claims = verified(http, first["access_token"], jwt_server.url)
    assert claims["sub"] == user[0] and claims["tenant"] == "ACME"  # a refresh keeps the attributes
    assert claims["jti"] != first_claims["jti"]


def test_a_client_credentials_jwt_has_the_client_as_subject_and_no_account(jwt_server: LiveServer, parties) -> None:  # noqa: ANN001
    client, _ = parties
    with jwt_server.client() as http:
        token = client_credentials_grant(http, client, scope="MOBPROC").json()["access_token"]
        claims = verified(http, token, jwt_server.url)
    assert claims["sub"] == client[0] == claims["client_id"]
    assert not {"platform", "tenant", "multitenant"} & set(claims)


def test_rs256_is_selectable(make_server) -> None:  # noqa: ANN001
    with make_server(access_token_format="jwt", signing_algorithm="RS256") as server, server.client() as http:
        client = server.add_client(grants=("client_credentials",))
        token = client_credentials_grant(http, client).json()["access_token"]
        assert jwt.get_unverified_header(token)["alg"] == "RS256"
        assert verified(http, token, server.url, "RS256")["sub"] == client[0]
        assert http.get(JWKS_PATH).json()["keys"][0]["kty"] == "RSA"


def test_the_jwks_publishes_public_keys_only(jwt_server: LiveServer, parties) -> None:  # noqa: ANN001
    with jwt_server.client() as http:
        response = http.get(JWKS_PATH)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    for key in response.json()["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
        # The access tokens' ES256 keys, and the ID tokens' RS256 ring beside them.
        assert key["use"] == "sig" and key["alg"] == {"EC": "ES256", "RSA": "RS256"}[key["kty"]] and key["kid"]


def test_a_jwt_is_stored_only_by_a_digest_of_its_jti(jwt_server: LiveServer, parties, tmp_path: Path) -> None:  # noqa: ANN001
    client, user = parties
    with jwt_server.client() as http:
        token = password_grant(http, client, user).json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    dump = dump_database(jwt_server.settings.database_url)
    assert token not in dump and claims["jti"] not in dump


def test_the_bare_jti_is_not_a_token(jwt_server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    with jwt_server.client() as http:
        token = password_grant(http, client, user).json()["access_token"]
        jti = jwt.decode(token, options={"verify_signature": False})["jti"]
        assert introspect(http, client, token).json()["active"] is True
        # The jti is readable by anyone who holds the token, and may be logged: it opens nothing.
        assert introspect(http, client, jti).json() == {"active": False}
        assert introspect(http, client, "jwt:" + jti).json() == {"active": False}


def test_a_token_signed_by_an_unknown_key_is_not_ours(jwt_server: LiveServer, parties) -> None:  # noqa: ANN001
    from cryptography.hazmat.primitives.asymmetric import ec

    client, user = parties
    with jwt_server.client() as http:
        real = password_grant(http, client, user).json()["access_token"]
        header = jwt.get_unverified_header(real)
        claims = jwt.decode(real, options={"verify_signature": False})
        forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers=header)
        assert introspect(http, client, forged).json() == {"active": False}


def test_switching_the_format_keeps_the_earlier_tokens_valid(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    database = tmp_path / "switch.db"
    with make_server(database) as opaque, opaque.client() as http:
        client = opaque.add_client(grants=EVERY_GRANT)
        old = client_credentials_grant(http, client).json()["access_token"]
    with make_server(database, access_token_format="jwt") as server, server.client() as http:
        new = client_credentials_grant(http, client).json()["access_token"]
        assert new.count(".") == 2
        assert introspect(http, client, old).json()["active"] is True
        assert introspect(http, client, new).json()["active"] is True
