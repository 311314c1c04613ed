"""``mobproc token`` for people who use curl today: secrets from the environment, standard input
or a prompt (never argv), --access-token-only for $(…), --refresh, --validate, and exit codes
with one-line errors that say what to fix: 0 done, 1 refused, 2 usage, 3 unreachable, 4 the
server cannot answer now."""

from __future__ import annotations

import json
import os
import pty
import select
import time

import httpx
import pytest

from conftest import MOBPROC, EVERY_GRANT, LiveServer, free_port, introspect, mobproc, remember, revoke

pytestmark = pytest.mark.database_agnostic


def token(*args: str, stdin: str = "", **env: str):  # noqa: ANN201
    return mobproc("token", *args, stdin=stdin, env=env)


def test_access_token_only_for_scripts_with_secrets_from_the_environment(server: LiveServer, http: httpx.Client) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    validator = server.add_client(grants=EVERY_GRANT)
    got = token("--endpoint", server.url, "--client-id", client_id, "--username", username, "--access-token-only",
                MOBPROC_CLIENT_SECRET=secret, MOBPROC_PASSWORD=password)
    assert got.returncode == 0, got.stderr
    access = got.stdout.strip()
    remember(access)
    assert got.stdout == access + "\n" and len(access) == 28
    assert introspect(http, validator, access).json()["sub"] == username


def test_secrets_from_a_hidden_prompt_on_a_terminal(server: LiveServer, http: httpx.Client) -> None:
    """Issue 22, item 4: "secrets from standard input, a prompt or MOBPROC_CLIENT_SECRET /
    MOBPROC_PASSWORD". On a terminal, with neither variable set, both are asked for, the
    client secret first, without echo (the terminal never shows them)."""
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    validator = server.add_client(grants=EVERY_GRANT)
    env = {k: v for k, v in os.environ.items() if k not in ("MOBPROC_CLIENT_SECRET", "MOBPROC_PASSWORD")}
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as a person's shell would be
        try:
            os.execve(MOBPROC, [MOBPROC, "token", "--endpoint", server.url, "--client-id", client_id,
                                "--username", username, "--access-token-only"], env)
        finally:
            os._exit(127)  # never go on running the test suite in the child
    seen, answers = b"", {b"Client secret: ": secret, b"Password: ": password}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not select.select([terminal], [], [], 1)[0]:
            continue
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # the child has ended and closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        for prompt, answer in list(answers.items()):
            if seen.rstrip().endswith(prompt.rstrip()):
                os.write(terminal, answer.encode() + b"\n")
                del answers[prompt]
    finished, status = os.waitpid(pid, os.WNOHANG)
    if not finished:
        time.sleep(2)
        finished, status = os.waitpid(pid, os.WNOHANG)
    if not finished:  # never wait for ever on a child that hangs
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    os.close(terminal)
    assert finished, seen
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert not answers, seen  # both prompts were shown
    text = seen.decode(errors="replace")
    assert secret not in text and password not in text  # not echoed
    access = text.strip().splitlines()[-1].strip()
    remember(access)
    assert introspect(http, validator, access).json()["sub"] == username


def test_secrets_one_a_line_on_standard_input_then_refresh(server: LiveServer) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    got = token("--endpoint", server.url, "--client-id", client_id, "--username", username,
                stdin=f"{secret}\n{password}\n")
    assert got.returncode == 0, got.stderr
    first = json.loads(got.stdout)
    remember(first["access_token"], first["refresh_token"])
    assert first["expires_in"] == 7199 and first["token_type"] == "Bearer"
    # The refresh token on standard input, after the secret (here from the environment).
    refreshed = token("--endpoint", server.url, "--client-id", client_id, "--refresh",
                      stdin=first["refresh_token"] + "\n", MOBPROC_CLIENT_SECRET=secret)
    assert refreshed.returncode == 0, refreshed.stderr
    second = json.loads(refreshed.stdout)
    remember(second["access_token"], second["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    # The used one again: refused (and the grant revoked), with what to do about it.
    again = token("--endpoint", server.url, "--client-id", client_id, "--refresh",
                  stdin=f"{secret}\n{first['refresh_token']}\n")
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.count("\n") == 1 and "invalid_grant" in again.stderr and "log in again with --username" in again.stderr


def test_validate_reads_the_token_from_standard_input(server: LiveServer, http: httpx.Client) -> None:
    client, user = server.add_client(), server.add_user()
    validator_id, validator_secret = server.add_client(grants=EVERY_GRANT)
    response = http.post("/as/token.oauth2", data={"grant_type": "password", "username": user[0], "password": user[1],
                                                  "scope": "MOBPROC"}, auth=client)
    access = response.json()["access_token"]
    check = ("--endpoint", server.url, "--client-id", validator_id, "--validate")
    active = token(*check, stdin=access + "\n", MOBPROC_CLIENT_SECRET=validator_secret)
    assert active.returncode == 0, active.stderr
    assert json.loads(active.stdout)["active"] is True and json.loads(active.stdout)["sub"] == user[0]
    assert access not in active.stdout  # the answer never repeats the token
    assert revoke(http, client, access).status_code == 200
    inactive = token(*check, stdin=access + "\n", MOBPROC_CLIENT_SECRET=validator_secret)
    assert inactive.returncode == 1 and json.loads(inactive.stdout) == {"active": False}
    assert "not active" in inactive.stderr
    # A client not allowed to check tokens is told which grant it needs.
    refused = token("--endpoint", server.url, "--client-id", client[0], "--validate", stdin=f"{client[1]}\n{access}\n")
    assert refused.returncode == 1 and "--grant access_token_validation" in refused.stderr


def test_refusals_say_what_to_fix(server: LiveServer) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    wrong_secret = token("--endpoint", server.url, "--client-id", client_id, "--username", username,
                         stdin=f"wrong-secret-{'x' * 20}\n{password}\n")
    assert wrong_secret.returncode == 1
    assert wrong_secret.stderr == (f"mobproc: 401 invalid_client: Invalid client or client credentials; "
                                   f"check --client-id ({client_id}) and the client secret\n")
    wrong_password = token("--endpoint", server.url, "--client-id", client_id, "--username", username,
                           stdin=f"{secret}\nwrong\n")
    assert wrong_password.returncode == 1 and "check --username and the password" in wrong_password.stderr
    not_allowed = token("--endpoint", server.url, "--client-id", client_id, stdin=f"{secret}\n")
    assert not_allowed.returncode == 1 and "--grant client_credentials" in not_allowed.stderr
    bad_scope = token("--endpoint", server.url, "--client-id", client_id, "--username", username, "--scope", "ADMIN",
                      stdin=f"{secret}\n{password}\n")
    assert bad_scope.returncode == 1 and "invalid_scope" in bad_scope.stderr and "--scope" in bad_scope.stderr


def test_an_unreachable_server_is_exit_3() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    got = token("--endpoint", url, "--client-id", "app", stdin="secret\n")
    assert got.returncode == 3
    assert got.stderr.startswith("mobproc: unreachable: ConnectError") and f"cannot reach {url}/as/token.oauth2" in got.stderr


def test_a_spent_failure_budget_is_exit_4_with_the_wait(make_server) -> None:  # noqa: ANN001
    with make_server(client_failure_burst=1, client_failures_per_minute=1, argon2_memory_kib=64,
                     argon2_time_cost=1) as server:
        (client_id, secret), (username, _) = server.add_client(), server.add_user()
        answers = [token("--endpoint", server.url, "--client-id", client_id, "--username", username,
                         stdin=f"{secret}\nwrong\n") for _ in range(2)]
    assert [a.returncode for a in answers] == [1, 4]
    assert "429 slow_down" in answers[1].stderr and "retry in" in answers[1].stderr


def test_usage_errors_are_exit_2_and_secrets_have_no_option() -> None:
    base = ("--client-id", "app")
    cases = {
        (*base, "--username", "command://alice", "--refresh"): "three different requests",
        (*base, "--validate", "--access-token-only"): "--validate checks one",
        (*base, "--endpoint", "staging"): "endpoint must be production, qa",
        (*base, "--username", "command://"): "not an account name",
        base: "no client secret given",
    }
    for args, message in cases.items():
        got = token(*args, stdin="")
        assert got.returncode == 2 and message in got.stderr, (args, got.stderr)
        assert "Traceback" not in got.stderr
    for option in ("--password", "--client-secret", "--token"):
        assert token(*base, option, "x").returncode == 2
