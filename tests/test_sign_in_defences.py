"""The login page applies the password grant's defences, through the same Authenticator
(issue 20, item 2): admission control (a 503 page with Retry-After), the failure budgets (a
429 page), a directory that cannot be reached (503, never "wrong password"), the audit trail;
and the sign-in's housekeeping."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from conftest import LiveServer, ldap_sources
from mobproc.domain import audit
from mobproc.storage.housekeeping import cleanup
from sign_in import Browser, add_web_client, code_flow_params, pkce_pair, query_of

NO_BUDGETS = {"client_failure_burst": 0, "address_failure_burst": 0}


def test_a_burst_beyond_the_hashing_capacity_gets_503_pages_with_retry_after(make_server) -> None:  # noqa: ANN001
    with make_server(hashing_concurrency=1, hashing_queue=0, hashing_wait_ms=1, **NO_BUDGETS) as server:
        client, user = add_web_client(server), server.add_user()
        with Browser(server) as browser:
            page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1]))
            start, answers = threading.Barrier(8), []

            def login() -> None:
                start.wait()
                answers.append(browser.login(page, user))

            threads = [threading.Thread(target=login) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    statuses = sorted(answer.status_code for answer in answers)
    assert 503 in statuses and set(statuses) <= {303, 503}, statuses
    busy = next(answer for answer in answers if answer.status_code == 503)
    assert busy.headers["retry-after"] == "1" and busy.headers["content-type"].startswith("text/html")
    assert "Too many sign-ins" in busy.text and "frame-ancestors 'none'" in busy.headers["content-security-policy"]


def test_the_failure_budget_of_an_address_is_a_429_page(make_server) -> None:  # noqa: ANN001
    with make_server(client_failure_burst=0, address_failure_burst=2, address_failures_per_minute=1) as server:
        client, user = add_web_client(server), server.add_user()
        with Browser(server) as browser:
            page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1]))
            answers = [browser.login(page, (user[0], "wrong")) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) >= 1 and "Too many failed sign-ins" in answers[2].text
    assert server.services.audit.events(event=audit.LOGIN_THROTTLED)


def test_a_directory_that_cannot_be_reached_is_a_503_page_not_a_wrong_password(make_server, slapd,  # noqa: ANN001
                                                                              tmp_path: Path) -> None:
    with make_server(identity_sources=ldap_sources(slapd, tmp_path), **NO_BUDGETS) as server:
        client = add_web_client(server)
        alice = ("command://alice", slapd.passwords["alice"])
        with Browser(server) as browser:
            page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1]))
            assert "code" in query_of(browser.login(page, alice).headers["location"])  # a directory account signs in
        slapd.stop()
        try:
            with Browser(server) as browser:
                page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1]))
                answer = browser.login(page, alice)
        finally:
            slapd.start()
    assert answer.status_code == 503 and int(answer.headers["retry-after"]) >= 1
    assert "cannot be checked right now" in answer.text and "incorrect" not in answer.text


def test_every_sign_in_is_in_the_audit_trail(server: LiveServer) -> None:
    client, user = add_web_client(server), server.add_user()
    with Browser(server) as browser:
        page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1]))
        browser.login(page, (user[0], "wrong"))
        browser.login(page, user)
    [failed] = server.services.audit.events(subject=user[0], event=audit.LOGIN_FAILED)
    assert failed.reason == "wrong_password" and failed.grant_type == "authorization_code"
    assert failed.client_id == client[0]
    [started] = server.services.audit.events(subject=user[0], event=audit.SESSION_STARTED)
    assert started.source_address == "127.0.0.1"


def test_a_new_sign_in_in_the_same_browser_ends_the_session_before(server: LiveServer) -> None:
    client, user = add_web_client(server), server.add_user()
    with Browser(server) as browser:
        browser.login(browser.authorize(**code_flow_params(client[0], pkce_pair()[1])), user)
        first = browser.http.cookies["mobproc_session"]
        page = browser.authorize(**code_flow_params(client[0], pkce_pair()[1], prompt="login"))
        browser.login(page, user)
        assert browser.http.cookies["mobproc_session"] != first
    assert server.services.sessions.find(first, time.time()) is None


def test_housekeeping_deletes_old_codes_and_sessions_that_are_over(make_server) -> None:  # noqa: ANN001
    with make_server() as server:
        client, user = add_web_client(server), server.add_user()
        with Browser(server) as browser:
            browser.login(browser.authorize(**code_flow_params(client[0], pkce_pair()[1])), user)
        with server.services.database.transaction(write=True) as transaction:
            transaction.execute(text("UPDATE authorization_codes SET expires_at = 1"))
            transaction.execute(text("UPDATE browser_sessions SET idle_expires_at = 1"))
        cleaned = cleanup(server.services.database)
        assert cleaned.authorization_codes == 1 and cleaned.browser_sessions == 1


def test_a_signing_key_that_cannot_be_used_is_a_503_page_not_a_500(server: LiveServer, monkeypatch) -> None:  # noqa: ANN001
    # A JWT access token (implicit grant) or a key whose encryption secret is missing: the
    # sign-in answers as for any unavailable dependency, never with a 500.
    from mobproc.domain.signing_keys import SigningKeyUnavailable

    def unavailable(*args: object, **kwargs: object) -> str:
        raise SigningKeyUnavailable("the private signing key cannot be decrypted")

    client, user = add_web_client(server), server.add_user()
    monkeypatch.setattr(server.services.sign_in.endpoint, "respond", unavailable)
    with Browser(server) as browser:
        answer = browser.login(browser.authorize(**code_flow_params(client[0], pkce_pair()[1])), user)
    assert answer.status_code == 503 and answer.headers["retry-after"], answer.text
    assert "Traceback" not in answer.text
