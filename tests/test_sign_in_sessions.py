"""The browser session, consent, prompt=login, max_age, logout and the implicit grant (issue
20, items 3, 4 and 6), over HTTP against a real server (tests/sign_in.py posts the forms)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from conftest import LiveServer, introspect, mobproc, password_grant
from mobproc.domain import audit
from sign_in import REDIRECT_URI, Browser, Form, add_web_client, code_flow_params, pkce_pair, query_of, redeem


@pytest.fixture(scope="module")
def parties(server: LiveServer):  # noqa: ANN201
    return add_web_client(server), server.add_user()


def signed_in(browser: Browser, client: tuple, user: tuple[str, str], **extra: str) -> httpx.Response:  # noqa: ANN001
    page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1], **extra))
    assert "Sign in" in page.text, page.text
    return browser.login(page, user)


def test_prompt_login_asks_for_the_password_again(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    with Browser(server) as browser:
        assert signed_in(browser, client, user).status_code == 303
        again = browser.authorize(**code_flow_params(client[0], pkce_pair()[1], prompt="login"))
        assert again.status_code == 200 and "Sign in" in again.text
        # The fresh sign-in serves the request that asked for it (no loop back to the page).
        answer = browser.login(again, user)
        assert answer.status_code == 303 and "code" in query_of(answer.headers["location"])


def test_max_age_asks_again_once_the_sign_in_is_older(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    with Browser(server) as browser:
        signed_in(browser, client, user)
        assert browser.authorize(**code_flow_params(client[0], pkce_pair()[1], max_age="600")).status_code == 302
        time.sleep(1.1)
        assert browser.authorize(**code_flow_params(client[0], pkce_pair()[1], max_age="0")).status_code == 200
        bad = browser.authorize(**code_flow_params(client[0], pkce_pair()[1], max_age="soon"))
        assert query_of(bad.headers["location"])["error"] == "invalid_request"


def test_prompt_none_without_a_session_is_login_required(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    with Browser(server) as browser:
        told = query_of(browser.authorize(**code_flow_params(client[0], pkce_pair()[1], prompt="none")).headers["location"])
        assert told["error"] == "login_required"
        signed_in(browser, client, user)
        again = browser.authorize(**code_flow_params(client[0], pkce_pair()[1], prompt="none"))
        assert "code" in query_of(again.headers["location"])


def test_logout_ends_the_session_and_needs_its_csrf_token(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    with Browser(server) as browser:
        signed_in(browser, client, user)
        page = browser.http.get("/as/logout")
        assert page.status_code == 200 and user[0] in page.text
        forged = browser.http.post("/as/logout", data={"csrf_token": "0" * 64})
        assert forged.status_code == 403
        assert browser.authorize(**code_flow_params(client[0], pkce_pair()[1])).status_code == 302  # still signed in
        done = browser.submit(page)
        assert done.status_code == 200 and "Signed out" in done.text
        assert "mobproc_session=" in done.headers["set-cookie"] and "Max-Age=0" in done.headers["set-cookie"]
        assert browser.authorize(**code_flow_params(client[0], pkce_pair()[1])).status_code == 200  # the login page
    events = server.services.audit.events(subject=user[0], event=audit.SESSION_ENDED)
    assert [event.reason for event in events][-1] == "logout"


def test_a_session_cookie_kept_after_logout_signs_no_one_in(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    with Browser(server) as browser:
        signed_in(browser, client, user)
        cookie = browser.http.cookies["mobproc_session"]
        browser.submit(browser.http.get("/as/logout"))
    with Browser(server) as thief:
        thief.http.cookies.set("mobproc_session", cookie)
        assert thief.authorize(**code_flow_params(client[0], pkce_pair()[1])).status_code == 200


@pytest.mark.parametrize("change", ["set-password", "remove", "lockout"])
def test_a_new_password_removal_or_lockout_ends_the_accounts_sessions(make_server, change: str) -> None:  # noqa: ANN001
    with make_server(client_failure_burst=0, address_failure_burst=0) as server:
        client, user = add_web_client(server), server.add_user()
        with Browser(server) as browser:
            signed_in(browser, client, user)
            assert browser.authorize(**code_flow_params(client[0], pkce_pair()[1])).status_code == 302
            if change == "set-password":
                server.services.account_registry.set_password(user[0], "a-new-password-1", actor="test")
            elif change == "remove":
                server.services.account_registry.remove(user[0], actor="test")
            else:
                with server.client() as http:
                    for _ in range(5):
                        password_grant(http, server.add_client(), (user[0], "wrong"))
            assert browser.authorize(**code_flow_params(client[0], pkce_pair()[1])).status_code == 200


def test_a_client_that_is_not_first_party_asks_for_consent_once(server: LiveServer, http: httpx.Client) -> None:
    client, user = add_web_client(server, trusted=False), server.add_user()
    verifier, challenge = pkce_pair()
    with Browser(server) as browser:
        consent = browser.login(browser.authorize(**code_flow_params(client[0], challenge)), user)
        assert consent.status_code == 200 and client[0] in consent.text and "MOBPROC" in consent.text
        allowed = browser.submit(consent, "allow")
        assert allowed.status_code == 303, allowed.text
        assert redeem(http, client, query_of(allowed.headers["location"])["code"], verifier).status_code == 200
        # Remembered for this client and scope set: no consent page the second time.
        again = browser.authorize(**code_flow_params(client[0], challenge))
        assert again.status_code == 302 and "code" in query_of(again.headers["location"])
    listed = server.services.account_registry.consents(user[0])
    assert [(c.client_id, c.scope) for c in listed] == [(client[0], ("MOBPROC",))]


def test_deny_is_access_denied_with_state(server: LiveServer) -> None:
    client, user = add_web_client(server, trusted=False), server.add_user()
    with Browser(server) as browser:
        params = code_flow_params(client[0], pkce_pair()[1])
        consent = browser.login(browser.authorize(**params), user)
        denied = browser.submit(consent, "deny")
    told = query_of(denied.headers["location"])
    assert told["error"] == "access_denied" and told["state"] == params["state"] and "code" not in told


def test_a_consent_form_posted_with_the_login_forms_token_is_refused(server: LiveServer) -> None:
    client, user = add_web_client(server, trusted=False), server.add_user()
    with Browser(server) as browser:
        page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1]))
        login_token = Form(page.text).fields["csrf_token"]
        consent = browser.login(page, user)
        forged = browser.submit(consent, "allow", csrf_token=login_token)
    assert forged.status_code == 403 and "location" not in forged.headers


def test_user_consents_and_revoke_consent_through_the_cli(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    with make_server() as server:
        client, user = add_web_client(server, trusted=False), server.add_user()
        with Browser(server) as browser:
            browser.submit(browser.login(browser.authorize(**code_flow_params(client[0], pkce_pair()[1])), user), "allow")
        database = server.settings.database_url
        shown = mobproc("user", "consents", user[0], "--json", "--database", database)
        assert shown.returncode == 0, shown.stderr
        assert [(row["client_id"], row["scopes"]) for row in json.loads(shown.stdout)] == [(client[0], ["MOBPROC"])]
        revoked = mobproc("user", "revoke-consent", user[0], "--client", client[0], "--database", database)
        assert revoked.returncode == 0 and "1 consent(s)" in revoked.stdout
        assert mobproc("user", "consents", user[0], "--database", database).stdout == ""
        assert mobproc("user", "revoke-consent", user[0], "--database", database).returncode == 1
        with Browser(server) as browser:  # asked again
            asked = browser.login(browser.authorize(**code_flow_params(client[0], pkce_pair()[1])), user)
            assert asked.status_code == 200 and "Allow" in asked.text


def test_the_implicit_grant_puts_a_short_lived_token_in_the_fragment(server: LiveServer, http: httpx.Client) -> None:
    client = add_web_client(server, grants=("implicit",), access_token_lifetime=300)
    user = server.add_user()
    with Browser(server) as browser:
        page = browser.authorize(response_type="token", client_id=client[0], redirect_uri=REDIRECT_URI,
                                 scope="MOBPROC", state="s1")
        answer = browser.login(page, user)
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "#") and "?" not in location
    told = query_of(location)
    assert told["token_type"] == "Bearer" and told["state"] == "s1" and told["iss"] == server.url
    assert 290 <= int(told["expires_in"]) < 300 and "refresh_token" not in told
    validator = server.add_client(grants=("access_token_validation",))
    seen = introspect(http, validator, told["access_token"]).json()
    assert seen["active"] is True and seen["sub"] == user[0]
    [issued] = [event for event in server.services.audit.events(subject=user[0], event=audit.TOKEN_ISSUED)]
    assert issued.grant_type == "implicit"


def test_the_implicit_grant_is_refused_to_a_client_not_registered_for_it(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, _ = parties
    with Browser(server) as browser:
        answer = browser.authorize(response_type="token", client_id=client[0], redirect_uri=REDIRECT_URI, state="s2")
    told = query_of(answer.headers["location"])
    assert told["error"] == "unauthorized_client" and told["state"] == "s2" and "access_token" not in told


def test_logout_sends_the_browser_back_only_to_a_registered_uri(server: LiveServer, parties) -> None:  # noqa: ANN001
    """OpenID Connect RP-Initiated Logout 1.0: ``post_logout_redirect_uri`` (with ``client_id``,
    ``state``) is followed after the sign-out only when it is one the client registered."""
    client, user = parties
    for back, expected in ((REDIRECT_URI, REDIRECT_URI + "?state=bye"), ("https://evil.example/", None)):
        with Browser(server) as browser:
            signed_in(browser, client, user)
            page = browser.http.get("/as/logout", params={"client_id": client[0], "post_logout_redirect_uri": back,
                                                          "state": "bye"})
            done = browser.submit(page)
            if expected is None:
                assert done.status_code == 200 and "Signed out" in done.text and "location" not in done.headers
            else:
                assert "form-action 'self' http://127.0.0.1:8000" in page.headers["content-security-policy"]
                assert done.status_code == 303 and done.headers["location"] == expected
            assert browser.authorize(**code_flow_params(client[0], pkce_pair()[1])).status_code == 200


def test_the_consent_page_says_what_an_admin_scope_gives(server: LiveServer) -> None:
    # A third-party client asking a person who holds a role for mobproc:admin asks for everything
    # the admin API can do: the consent page must say so, not "the access this scope names".
    client = add_web_client(server, trusted=False, scopes=("MOBPROC", "mobproc:admin"))
    user = server.add_user()
    with Browser(server) as browser:
        consent = browser.login(browser.authorize(**code_flow_params(client[0], pkce_pair()[1],
                                                                     scope="mobproc:admin")), user)
    assert consent.status_code == 200 and "mobproc:admin" in consent.text
    assert "the access this scope names" not in consent.text
    assert "administer" in consent.text.lower()
