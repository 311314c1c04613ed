"""CONTRACT §7: no password, secret or token in any log line (conftest checks every server log
once the run's tests are done: _no_secret_in_any_log)."""

from __future__ import annotations

import time


from conftest import LOG_FILES, SECRETS, TOKEN_PATH, LiveServer, leaked_secrets, password_grant


def test_the_access_log_masks_credentials_sent_in_the_query_string(server: LiveServer, server_log) -> None:  # noqa: ANN001
    client, user = server.add_client(), server.add_user()
    query = (f"grant_type=password&client_id={client[0]}&client_secret={client[1]}&scope=MOBPROC"
             f"&username={user[0]}&password={user[1]}&{client[1]}")
    with server.client() as http:
        assert http.post(f"{TOKEN_PATH}?{query}").status_code == 200
    expected = "?grant_type=password&client_id=***&client_secret=***&scope=***&username=***&password=***&_=***"
    deadline = time.monotonic() + 5  # the line is written just after the answer is sent
    while expected not in server_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert expected in server_log.read_text()


def test_the_check_after_the_run_finds_a_secret_in_a_log(tmp_path) -> None:  # noqa: ANN001
    """The check conftest runs once every test is done (_no_secret_in_any_log) can fail."""
    secret = "s3cret-" + "x" * 20
    log = tmp_path / "server.log"
    log.write_text(f"INFO mobproc.access: POST /as/token.oauth2?password={secret} 200\n")
    assert leaked_secrets({secret, "never-logged"}, [log]) == [("server.log", secret[:6])]
    assert leaked_secrets({"never-logged"}, [log]) == []


def test_the_servers_of_this_run_have_logged_and_the_suite_has_recorded_secrets(server: LiveServer) -> None:
    """What the check after the run reads is there to read: the shared server's log and the
    secrets the tests record (with one grant of its own, should this test run alone)."""
    client, user = server.add_client(), server.add_user()
    with server.client() as http:
        assert password_grant(http, client, user).status_code == 200
    assert any(path.exists() and "mobproc.access" in path.read_text() for path in LOG_FILES)
    assert {client[1], user[1]} <= SECRETS


def test_a_sign_in_leaves_no_password_code_or_token_in_the_log(server: LiveServer, server_log) -> None:  # noqa: ANN001
    """Issue 20: the login form's password, one typed into the username field, the code in the
    redirect and the tokens it becomes appear in no log line (the authorization request's query
    is masked like the token endpoint's)."""
    from sign_in import Browser, add_web_client, code_flow_params, pkce_pair, query_of, redeem

    client, (username, password) = add_web_client(server), server.add_user()
    verifier, challenge = pkce_pair()
    with Browser(server) as browser, server.client() as http:
        page = browser.authorize(**code_flow_params(client[0], challenge, login_hint=password))
        browser.login(page, (password, username))  # the two fields swapped, as people do
        answer = browser.login(page, (username, password))
        code = query_of(answer.headers["location"])["code"]
        tokens = redeem(http, client, code, verifier).json()
    secrets = [password, code, tokens["access_token"], tokens["refresh_token"]]
    deadline = time.monotonic() + 5
    while "grant_type=authorization_code" not in server_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = server_log.read_text()
    assert "/as/authorization.oauth2?" in text and "POST /as/authorization.oauth2" in text
    assert [secret[:6] for secret in secrets if secret in text] == []
