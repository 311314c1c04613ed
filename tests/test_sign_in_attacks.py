"""Issue 20's attacks on the authorization endpoint and its pages, each a test: redirect-URI
variants refused without a redirect (never an open redirector), CSRF, framing, ``state``
round-trip, and no secret on a page or in a redirect."""

from __future__ import annotations

import re
import secrets
from urllib.parse import quote

import pytest

from conftest import LiveServer
from sign_in import REDIRECT_URI, Browser, add_web_client, code_flow_params, pkce_pair, query_of

REGISTERED = "https://app.example.com/cb"


@pytest.fixture(scope="module")
def parties(server: LiveServer):  # noqa: ANN201
    client = add_web_client(server, redirect_uris=(REGISTERED, REDIRECT_URI))
    return client, server.add_user()


@pytest.mark.parametrize("attempt", [
    "https://app.example.com/cb/", "https://app.example.com/cbx", "https://app.example.com/c",
    "https://app.example.com/cb/../cb", "https://app.example.com/cb/..%2Fevil", "https://APP.example.com/cb",
    "HTTPS://app.example.com/cb", "https://app.example.com/CB", "https://app.example.com.evil.example/cb",
    "https://app.example.com@evil.example/cb", "https://good@app.example.com/cb", "https://app.example.com/cb#x",
    "https://app.example.com/cb?next=https://evil.example", "https://app.example.com:8443/cb",
    "https://app.example.com%2F@evil.example/cb", "https://app.example.com%2Fcb", "https://evil.example/cb",
    "http://app.example.com/cb", "//evil.example/cb", "javascript:alert(1)", "http://127.0.0.1:8000/cb/",
    "http://127.0.0.1:8000@evil.example/cb", "http://localhost:8000/cb", "https://app.example.com/cb ",
])
def test_a_redirect_uri_not_registered_exactly_is_refused_on_a_page(server: LiveServer, parties, attempt: str) -> None:  # noqa: ANN001
    client, _ = parties
    with Browser(server) as browser:
        answer = browser.authorize(**code_flow_params(client[0], pkce_pair()[1], redirect_uri=attempt))
    assert answer.status_code == 400 and "location" not in answer.headers
    assert answer.headers["content-type"].startswith("text/html")
    assert "not one the application registered" in answer.text
    assert "evil.example" not in answer.text


@pytest.mark.parametrize("params", [
    {"client_id": None}, {"client_id": "nobody-registered"}, {"redirect_uri": None},
])
def test_an_unknown_client_or_missing_redirect_uri_is_a_page_not_a_redirect(server: LiveServer, parties,
                                                                             params: dict) -> None:  # noqa: ANN001
    client, _ = parties
    with Browser(server) as browser:
        answer = browser.authorize(**{**code_flow_params(client[0], pkce_pair()[1]), **params})
    assert answer.status_code == 400 and "location" not in answer.headers


def test_a_repeated_redirect_uri_or_client_id_is_a_page(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, _ = parties
    with Browser(server) as browser:
        for name, value in (("redirect_uri", "https://evil.example/cb"), ("client_id", "other")):
            url = ("/as/authorization.oauth2?response_type=code&client_id=" + client[0] + "&redirect_uri="
                   + quote(REGISTERED, safe="") + f"&{name}=" + quote(value, safe=""))
            answer = browser.http.get(url)
            assert answer.status_code == 400 and "location" not in answer.headers


def test_the_loopback_redirect_uri_may_use_another_port(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    with Browser(server) as browser:
        page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1], redirect_uri="http://127.0.0.1:51999/cb"))
        answer = browser.login(page, user)
    assert answer.headers["location"].startswith("http://127.0.0.1:51999/cb?code=")


@pytest.mark.parametrize("state", ["a b&c=d", "ümlaut/?#%", "x" * 500, "'\"<script>"])
def test_state_comes_back_exactly_as_it_was_sent(server: LiveServer, parties, state: str) -> None:  # noqa: ANN001
    client, user = parties
    with Browser(server) as browser:
        page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1], state=state))
        assert "<script>" not in page.text  # escaped in the form's hidden field
        answer = browser.login(page, user)
    assert query_of(answer.headers["location"])["state"] == state


def test_errors_after_the_client_is_known_go_back_with_state_and_iss(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, _ = parties
    with Browser(server) as browser:
        for params, error in (({"response_type": "id_token"}, "unsupported_response_type"),
                              ({"response_type": "token"}, "unauthorized_client"),
                              ({"scope": "ADMIN"}, "invalid_scope"),
                              ({"prompt": "none"}, "login_required")):
            sent = {**code_flow_params(client[0], pkce_pair()[1], redirect_uri=REGISTERED), **params}
            answer = browser.authorize(**sent)
            assert answer.status_code == 302, (params, answer.text)
            told = query_of(answer.headers["location"])
            # RFC 6749 §4.2.2.1: an implicit request's error is in the fragment.
            assert answer.headers["location"].startswith(REGISTERED + ("#" if sent["response_type"] == "token" else "?"))
            assert told["error"] == error and told["state"] == sent["state"] and told["iss"] == server.url


def test_a_form_posted_without_its_csrf_token_or_with_another_browsers_is_refused(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    with Browser(server) as victim, Browser(server) as attacker:
        page = victim.authorize(**code_flow_params(client[0], pkce_pair()[1]))
        theirs = attacker.authorize(**code_flow_params(client[0], pkce_pair()[1]))
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', theirs.text).group(1)
        for csrf in ("", token, "0" * 64):
            answer = victim.login(page, user, csrf_token=csrf)
            assert answer.status_code == 403 and "location" not in answer.headers, csrf
            assert "set-cookie" not in answer.headers
        # The page's own token works.
        assert victim.login(page, user).status_code == 303


def test_the_pages_refuse_framing_and_run_no_script(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, _ = parties
    with Browser(server) as browser:
        pages = [browser.authorize(**code_flow_params(client[0], pkce_pair()[1])),
                 browser.authorize(client_id="nobody")]
    for page in pages:
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy and "script-src" not in policy
        assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
        assert page.headers.get_list("content-security-policy") == [policy]  # one policy, the page's
        assert "<script" not in page.text and " on" not in re.sub(r"<[^>]*>", "", page.text)[:0]
    assert "form-action 'self' http://127.0.0.1:8000" in pages[0].headers["content-security-policy"]


def test_the_login_cookie_is_httponly_and_samesite(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, user = parties
    with Browser(server) as browser:
        page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1]))
        assert re.search(r"mobproc_login=[A-Za-z0-9]{32}; HttpOnly; Max-Age=3600; Path=/; SameSite=lax",
                         page.headers["set-cookie"]), page.headers["set-cookie"]
        answer = browser.login(page, user)
        cookie = answer.headers["set-cookie"]
        assert re.fullmatch(r"mobproc_session=[A-Za-z0-9]{43}; HttpOnly; Path=/; SameSite=lax", cookie), cookie


def test_over_https_the_cookies_are_secure_and_host_prefixed(make_server) -> None:  # noqa: ANN001
    with make_server(issuer="https://sso.example.com") as live:
        client = add_web_client(live)
        with Browser(live) as browser:
            page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1]))
            cookie = page.headers["set-cookie"]
            assert cookie.startswith("__Host-mobproc_login=") and "; Secure" in cookie and "Domain" not in cookie


def test_nothing_secret_is_on_a_page_or_in_a_redirect(server: LiveServer, parties) -> None:  # noqa: ANN001
    client, (username, password) = parties
    with Browser(server) as browser:
        page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1]))
        wrong = browser.login(page, (username, password + "-typo"))
        assert password not in wrong.text and 'type="password"' in wrong.text
        assert re.search(r'<input id="password"[^>]*>', wrong.text).group(0).find("value=") == -1
        answer = browser.login(page, (username, password))
        assert password not in answer.headers["location"] and password not in answer.text


def test_any_method_but_get_and_post_is_refused_with_a_page(server: LiveServer) -> None:
    with Browser(server) as browser:
        answer = browser.http.request("PUT", "/as/authorization.oauth2")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize("body", [b"\xff\xfe", b"a=%ff", b"=" * 5000, b"client_id=x&" * 200])
def test_malformed_posts_are_pages_never_a_500(server: LiveServer, body: bytes) -> None:
    with Browser(server) as browser:
        answer = browser.http.post("/as/authorization.oauth2", content=body,
                                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 400, answer.text
    assert "Traceback" not in answer.text


def test_a_non_form_post_is_a_page(server: LiveServer) -> None:
    with Browser(server) as browser:
        answer = browser.http.post("/as/authorization.oauth2", json={"client_id": secrets.token_hex(4)})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html")
