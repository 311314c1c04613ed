"""RFC 6749 §4.1 with PKCE (RFC 7636): the authorization endpoint, its login page and the
authorization code grant at the token endpoint, over HTTP against a real server (the pages'
forms read and posted as a browser would: tests/sign_in.py)."""

from __future__ import annotations

import httpx
import pytest

from conftest import LiveServer, introspect
from sign_in import (
    REDIRECT_URI,
    Browser,
    add_web_client,
    code_flow_params,
    pkce_pair,
    query_of,
    redeem,
)


@pytest.fixture(scope="module")
def parties(server: LiveServer):  # noqa: ANN201
    return add_web_client(server), server.add_user()


def sign_in_for_code(server: LiveServer, client: tuple[str, str | None], user: tuple[str, str], **extra: str):  # noqa: ANN201
    verifier, challenge = pkce_pair()
    with Browser(server) as browser:
        params = code_flow_params(client[0], challenge, **extra)
        page = browser.authorize(**params)
        assert page.status_code == 200 and "Sign in" in page.text
        answer = browser.login(page, user)
        assert answer.status_code == 303, answer.text
        return query_of(answer.headers["location"]), verifier, params


def test_a_person_signs_in_and_the_client_gets_tokens_that_refresh(server: LiveServer, http: httpx.Client,
                                                                     parties) -> None:  # noqa: ANN001
    client, user = parties
    answer, verifier, params = sign_in_for_code(server, client, user)
    assert answer["state"] == params["state"] and answer["iss"] == server.settings.issuer_url
    assert len(answer["code"]) >= 32
    token = redeem(http, client, answer["code"], verifier)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7199 and body["scope"] == "MOBPROC"
    assert token.headers["cache-control"] == "no-store"
    # A public client refreshes with its client_id alone (token_endpoint_auth_method "none").
    refreshed = http.post("/as/token.oauth2", data={"grant_type": "refresh_token", "client_id": client[0],
                                                    "refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    # The same kind of grant as a password's: introspection tells the account's attributes.
    validator = server.add_client(grants=("access_token_validation",))
    seen = introspect(http, validator, refreshed.json()["access_token"]).json()
    assert seen["active"] is True and seen["sub"] == user[0] and seen["tenant"] == "XYZ"


def test_the_second_authorization_from_the_same_browser_needs_no_password(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    verifier, challenge = pkce_pair()
    with Browser(server) as browser:
        first = browser.login(browser.authorize(**code_flow_params(client[0], challenge)), user)
        assert first.status_code == 303
        again = browser.authorize(**code_flow_params(client[0], challenge))
        assert again.status_code == 302 and "code" in query_of(again.headers["location"])


def test_a_wrong_password_shows_the_one_message_and_the_form_again(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, (username, password) = parties
    with Browser(server) as browser:
        page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1]))
        pages = [browser.login(page, (username, password + "x")), browser.login(page, ("command://nobody", password)),
                 browser.login(page, ("nosuch://" + username, password))]
    for answer in pages:
        assert answer.status_code == 200 and 'role="alert"' in answer.text
        assert "The username or password is incorrect" in answer.text
        assert password not in answer.text
    assert len({answer.text.split('role="alert"')[1][:200] for answer in pages}) == 1


def test_the_code_is_used_once_and_its_replay_revokes_the_grant(server: LiveServer, http: httpx.Client,
                                                                 parties) -> None:  # noqa: ANN001
    client, user = parties
    answer, verifier, _ = sign_in_for_code(server, client, user)
    first = redeem(http, client, answer["code"], verifier)
    assert first.status_code == 200
    again = redeem(http, client, answer["code"], verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    validator = server.add_client(grants=("access_token_validation",))
    assert introspect(http, validator, first.json()["access_token"]).json() == {"active": False}
    refreshed = http.post("/as/token.oauth2", data={"grant_type": "refresh_token", "client_id": client[0],
                                                    "refresh_token": first.json()["refresh_token"]})
    assert refreshed.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("verifier", ["wrong", "missing", "plain"])
def test_a_wrong_missing_or_plain_verifier_is_refused(server: LiveServer, http: httpx.Client, parties,
                                                      verifier: str) -> None:  # noqa: ANN001
    client, user = parties
    answer, right, params = sign_in_for_code(server, client, user)
    presented = {"wrong": pkce_pair()[0], "missing": None, "plain": params["code_challenge"]}[verifier]
    refused = redeem(http, client, answer["code"], presented)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    # Refused, not spent: the right verifier still redeems it (the code was not replayed).
    assert redeem(http, client, answer["code"], right).status_code == 200


def test_a_code_is_refused_to_another_client_and_with_another_redirect_uri(server: LiveServer, http: httpx.Client,
                                                                           parties) -> None:  # noqa: ANN001
    client, user = parties
    answer, verifier, _ = sign_in_for_code(server, client, user)
    other = add_web_client(server)
    assert redeem(http, other, answer["code"], verifier).json()["error"] == "invalid_grant"
    assert redeem(http, client, answer["code"], verifier,
                  redirect_uri="http://127.0.0.1:8000/other").json()["error"] == "invalid_grant"
    assert redeem(http, client, answer["code"], verifier).status_code == 200


def test_plain_pkce_and_a_missing_challenge_are_refused_at_the_authorization_endpoint(server: LiveServer,
                                                                                      parties) -> None:  # noqa: ANN001
    client, _ = parties
    with Browser(server) as browser:
        for extra in ({"code_challenge_method": "plain"}, {"code_challenge": None, "code_challenge_method": None}):
            params = {**code_flow_params(client[0], pkce_pair()[1]), **extra}
            answer = browser.authorize(**params)
            assert answer.status_code == 302, answer.text
            assert answer.headers["location"].startswith(REDIRECT_URI + "?")
            told = query_of(answer.headers["location"])
            assert told["error"] == "invalid_request" and told["state"] == params["state"]
            assert told["iss"] == server.settings.issuer_url


def test_a_confidential_client_registered_with_pkce_optional_may_leave_it_out(server: LiveServer,
                                                                             http: httpx.Client) -> None:
    client = add_web_client(server, public=False, pkce_required=False)
    user = server.add_user()
    with Browser(server) as browser:
        answer = browser.login(browser.authorize(**code_flow_params(client[0], None)), user)
    code = query_of(answer.headers["location"])["code"]
    assert redeem(http, client, code, pkce_pair()[0]).json()["error"] == "invalid_grant"  # no PKCE downgrade
    assert redeem(http, client, code, None).status_code == 200


def test_a_public_client_cannot_use_a_secret_and_a_confidential_one_must(server: LiveServer, http: httpx.Client) -> None:
    confidential = add_web_client(server, public=False)
    user = server.add_user()
    answer, verifier, _ = sign_in_for_code(server, confidential, user)
    refused = redeem(http, (confidential[0], None), answer["code"], verifier)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert redeem(http, confidential, answer["code"], verifier).status_code == 200


def test_a_public_client_revokes_its_own_tokens_with_its_client_id(server: LiveServer, http: httpx.Client,
                                                                   parties) -> None:  # noqa: ANN001
    """RFC 7009 §5: a public client revokes without a secret (a single-page app's logout);
    another public client cannot revoke its tokens."""
    client, user = parties
    answer, verifier, _ = sign_in_for_code(server, client, user)
    tokens = redeem(http, client, answer["code"], verifier).json()
    other = add_web_client(server)
    revoke = lambda client_id: http.post("/as/revoke_token.oauth2",  # noqa: E731
                                         data={"token": tokens["refresh_token"], "client_id": client_id})
    assert revoke(other[0]).status_code == 200
    validator = server.add_client(grants=("access_token_validation",))
    assert introspect(http, validator, tokens["access_token"]).json()["active"] is True
    assert revoke(client[0]).status_code == 200
    assert introspect(http, validator, tokens["access_token"]).json() == {"active": False}


def test_two_redemptions_of_one_code_at_once_get_one_grant_and_it_is_revoked(server: LiveServer, parties) -> None:  # noqa: ANN001
    """The conditional update decides: of two requests racing with one code exactly one gets
    tokens, and the other is a replay, which revokes them (RFC 6749 §4.1.2)."""
    from conftest import all_at_once

    client, user = parties
    answer, verifier, _ = sign_in_for_code(server, client, user)
    with server.client() as http:
        answers = all_at_once(2, lambda n: redeem(http, client, answer["code"], verifier))
        assert sorted(answer.status_code for answer in answers) == [200, 400]
        won = next(answer for answer in answers if answer.status_code == 200).json()
        validator = server.add_client(grants=("access_token_validation",))
        assert introspect(http, validator, won["access_token"]).json() == {"active": False}
