"""CONTRACT §7: no password, secret or token in any log line. Runs after every other test."""

from __future__ import annotations

import time


from conftest import LOG_FILES, SECRETS, TOKEN_PATH, LiveServer


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


def test_no_server_log_holds_a_password_secret_or_token_the_suite_used() -> None:
    logs = {path: path.read_text(errors="replace") for path in LOG_FILES if path.exists()}
    # The check can fail only if there is something to look at.
    assert sum(text.count("mobproc.access") for text in logs.values()) > 100
    assert len(SECRETS) > 100
    leaks = [(path.name, secret[:6]) for path, text in logs.items() for secret in SECRETS if secret in text]
    assert not leaks, f"secrets found in logs: {leaks[:10]}"



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
