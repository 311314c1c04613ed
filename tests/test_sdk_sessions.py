"""TokenSession and AsyncTokenSession against a live `mobproc serve` whose access tokens live 3 s
(expires_in 2; a session refreshes halfway, about once a second): single flight for threads,
tasks and processes, counted in the server's audit trail; a revoked grant, a stopped server,
a lost refresh answer, a spent failure budget.

Run with -s for the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import LOG_FILES, ServerProcess, all_at_once, remember, revoke
from mobproc import (
    AsyncTokenSession,
    EndpointUnreachable,
    FileTokenStore,
    InvalidClient,
    InvalidGrant,
    Retry,
    SlowDown,
    Token,
    TokenClient,
    TokenSession,
)
from tcp_proxy import TcpProxy

pytestmark = pytest.mark.database_agnostic

LIFETIME = 3
SECONDS = 5.0  # each concurrency test: several lifetimes
WORKER = Path(__file__).with_name("sdk_worker.py")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, server_log: Path) -> Iterator[ServerProcess]:
    # server_log: the SDK's own lines (logger mobproc.sdk) go there, for the log-hygiene check after the run (conftest).
    env = {"MOBPROC_ACCESS_TOKEN_LIFETIME": str(LIFETIME)}
    with ServerProcess(tmp_path_factory.mktemp("sdk"), env=env) as live:
        yield live


def trail(server: ServerProcess, client_id: str) -> Counter[str]:
    """The client's audit events by name; token_issued by grant (``token_issued:password``)."""
    events = [e for e in server.services.audit.events(limit=100_000) if e.client_id == client_id]
    return Counter(f"{e.event}:{e.grant_type}" if e.event == "token_issued" else e.event for e in events)


def seen_tokens(tokens: dict[str, Token], token: Token) -> None:
    if token.access_token not in tokens:
        tokens[token.access_token] = token
        remember(token.access_token, token.refresh_token)


def assert_one_login_then_one_refresh_per_expiry(server: ServerProcess, client_id: str, tokens: dict[str, Token],
                                                 seconds: float) -> Counter[str]:
    counts = trail(server, client_id)
    assert counts["token_issued:password"] == 1, counts
    # Every token the server issued was handed out, and no other: one request per need.
    assert counts["token_refreshed"] == len(tokens) - 1, counts
    # A token is replaced halfway through its 2 s (expires_in), not sooner.
    assert 3 <= counts["token_refreshed"] <= seconds / 1.0 + 1, counts
    assert counts["refresh_token_reuse"] == 0 and counts["grant_revoked"] == 0, counts
    return counts


def test_fifty_threads_cause_one_login_then_one_refresh_per_expiry(server: ServerProcess) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    session = TokenSession(server.url, client_id, secret, username=username, password=password)
    tokens: dict[str, Token] = {}
    lock = threading.Lock()
    slowest, calls = [0.0], [0]

    def hammer(_: int) -> None:
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            started = time.monotonic()
            token = session.token()
            took = time.monotonic() - started
            assert time.time() < token.expires_at
            with lock:
                seen_tokens(tokens, token)
                slowest[0], calls[0] = max(slowest[0], took), calls[0] + 1
            time.sleep(0.02)

    all_at_once(50, hammer)
    counts = assert_one_login_then_one_refresh_per_expiry(server, client_id, tokens, SECONDS)
    print(f"\n50 threads, {SECONDS:.0f} s: {calls[0]} calls, {counts['token_issued:password']} password grant, "
          f"{counts['token_refreshed']} refreshes, 0 failed; slowest call {slowest[0] * 1000:.0f} ms")


def test_fifty_tasks_cause_one_login_then_one_refresh_per_expiry(server: ServerProcess) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    tokens: dict[str, Token] = {}
    slowest, calls = [0.0], [0]

    async def main() -> None:
        async with AsyncTokenSession(server.url, client_id, secret, username=username, password=password) as session:

            async def hammer() -> None:
                end = time.monotonic() + SECONDS
                while time.monotonic() < end:
                    started = time.monotonic()
                    token = await session.token()
                    slowest[0], calls[0] = max(slowest[0], time.monotonic() - started), calls[0] + 1
                    assert time.time() < token.expires_at
                    seen_tokens(tokens, token)
                    await asyncio.sleep(0.02)

            await asyncio.gather(*(hammer() for _ in range(50)))

    asyncio.run(main())
    counts = assert_one_login_then_one_refresh_per_expiry(server, client_id, tokens, SECONDS)
    print(f"\n50 tasks, {SECONDS:.0f} s: {calls[0]} calls, {counts['token_issued:password']} password grant, "
          f"{counts['token_refreshed']} refreshes, 0 failed; slowest call {slowest[0] * 1000:.0f} ms")


def test_two_processes_sharing_a_file_store_never_present_a_used_refresh_token(
    server: ServerProcess, tmp_path: Path
) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    store = tmp_path / "tokens.json"
    logs = [tmp_path / f"worker{n}.log" for n in range(2)]
    LOG_FILES.extend(logs)
    workers = [
        subprocess.Popen([sys.executable, str(WORKER), server.url, client_id, username, str(store), str(SECONDS), "10",
                          str(log)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for log in logs
    ]
    # Each reads its secrets at once, so that both run at the same time.
    outputs = all_at_once(2, lambda n: workers[n].communicate(f"{secret}\n{password}\n", timeout=60))
    tokens: dict[str, str | None] = {}
    calls = 0
    for (out, err), worker in zip(outputs, workers, strict=True):
        assert worker.returncode == 0, err
        *lines, summary = [json.loads(line) for line in out.splitlines()]
        for line in lines:
            remember(line["token"], line["refresh"])
            tokens[line["token"]] = line["refresh"]
        assert summary["failures"] == [], summary["failures"]
        calls += summary["calls"]
    counts = trail(server, client_id)
    assert counts["refresh_token_reuse"] == 0 and counts["grant_revoked"] == 0, counts
    # The second process found the first one's token in the store: one login between them.
    assert counts["token_issued:password"] == 1, counts
    assert counts["token_refreshed"] == len(tokens) - 1, counts
    assert 3 <= counts["token_refreshed"] <= SECONDS / 1.0 + 2, counts  # the two start a moment apart
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    print(f"\n2 processes x 10 threads, {SECONDS:.0f} s, one file store: {calls} calls, "
          f"{counts['token_issued:password']} password grant, {counts['token_refreshed']} refreshes, 0 reuse, 0 failed")


def test_a_revoked_grant_is_recovered_by_the_password_grant(server: ServerProcess) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    with TokenSession(server.url, client_id, secret, username=username, password=password) as session, \
            server.client() as http:
        first = session.token()
        remember(first.access_token, first.refresh_token)
        assert revoke(http, (client_id, secret), first.refresh_token).status_code == 200  # the whole grant
        # The resource server refuses the access token; the refresh is refused too.
        second = session.token(rejected=first.access_token)
        remember(second.access_token, second.refresh_token)
        assert second.access_token != first.access_token
        # and then on, refreshes as usual
        time.sleep(1.2)
        third = session.token()
        remember(third.access_token, third.refresh_token)
        assert third.access_token != second.access_token
    counts = trail(server, client_id)
    assert counts["token_issued:password"] == 2 and counts["token_refreshed"] == 1, counts
    assert counts["refresh_token_reuse"] == 0, counts


def test_a_rejected_token_already_replaced_by_another_caller_costs_no_request(server: ServerProcess) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    with TokenSession(server.url, client_id, secret, username=username, password=password) as session:
        first = session.token()
        second = session.token(rejected=first.access_token)
        assert session.token(rejected=first.access_token) is second  # the second caller with the old token
        remember(first.access_token, first.refresh_token, second.access_token, second.refresh_token)
    assert trail(server, client_id)["token_refreshed"] == 1


def test_the_server_stopped_for_three_seconds(server: ServerProcess) -> None:
    """Ten threads need a refresh while the server is away: with a 10 s deadline they wait and
    get one refresh when it is back (a refresh that never reached the server may be sent again);
    with a 1 s deadline they fail with EndpointUnreachable within it."""
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    proxy = TcpProxy(("127.0.0.1", server.port))
    url = f"http://127.0.0.1:{proxy.port}"
    patient = TokenSession(url, client_id, secret, username=username, password=password, retry=Retry(deadline=10))
    hasty = TokenSession(url, client_id, secret, username=username, password=password, retry=Retry(deadline=1))
    try:
        for session in (patient, hasty):
            token = session.token()
            remember(token.access_token, token.refresh_token)
        proxy.cut()
        away = time.monotonic()
        back = threading.Timer(3.0, proxy.restore)
        back.start()
        time.sleep(1.05)  # both sessions' tokens are due now
        started = time.monotonic()
        failed = all_at_once(10, lambda _: _fails(hasty))
        hasty_took = time.monotonic() - started
        started = time.monotonic()
        tokens = all_at_once(10, lambda _: patient.token())
        patient_took, patient_done = time.monotonic() - started, time.monotonic() - away
        back.join()
    finally:
        proxy.close()
        patient.close()
        hasty.close()
    assert all(isinstance(error, EndpointUnreachable) and error.status_code is None for error in failed), failed
    assert hasty_took < 1.0 + 0.5, hasty_took  # the deadline, and the waiters share the failure
    assert len({token.access_token for token in tokens}) == 1 and time.time() < tokens[0].expires_at
    remember(tokens[0].access_token, tokens[0].refresh_token)
    assert 3.0 <= patient_done < 1.05 + 10, patient_done  # waited for the server, within the deadline
    counts = trail(server, client_id)
    # One login per session, one refresh for the patient one; the hasty one never reached the server.
    assert counts["token_issued:password"] == 2 and counts["token_refreshed"] == 1, counts
    assert counts["refresh_token_reuse"] == 0, counts
    print(f"\nserver away 3 s: 10 threads with a 1 s deadline failed (EndpointUnreachable) after "
          f"{hasty_took:.2f} s; 10 with a 10 s deadline got one refreshed token after {patient_took:.2f} s "
          f"({patient_done:.2f} s after the server went)")


def _fails(session: TokenSession) -> Exception:
    with pytest.raises(EndpointUnreachable) as failed:
        session.token()
    return failed.value


def test_a_lost_refresh_answer_is_followed_by_a_login_not_by_reuse(server: ServerProcess, tmp_path: Path) -> None:
    (client_id, secret), (username, password) = server.add_client(), server.add_user()
    proxy = TcpProxy(("127.0.0.1", server.port))
    store = FileTokenStore(tmp_path / "tokens.json")
    url = f"http://127.0.0.1:{proxy.port}"
    try:
        with TokenSession(url, client_id, secret, username=username, password=password, store=store) as session:
            first = session.token()
            proxy.lose_one_answer(b"grant_type=refresh_token")
            time.sleep(1.1)  # due
            second = session.token()  # the refresh reached the server; its answer did not come back
            assert proxy.lost == 1
            time.sleep(1.1)
            third = session.token()  # the new grant refreshes as usual
            remember(*(t.access_token for t in (first, second, third)), *(t.refresh_token for t in (first, second, third)))
        # A second session on the same store, later: it must not find the lost refresh's predecessor.
        with TokenSession(url, client_id, secret, username=username, password=password, store=store) as again:
            assert again.token().access_token == third.access_token
    finally:
        proxy.close()
    assert len({first.access_token, second.access_token, third.access_token}) == 3
    counts = trail(server, client_id)
    assert counts["token_issued:password"] == 2 and counts["token_refreshed"] == 2, counts
    assert counts["refresh_token_reuse"] == 0 and counts["grant_revoked"] == 0, counts


def test_retry_after_of_a_spent_failure_budget_is_honoured_within_the_deadline(tmp_path: Path) -> None:
    # A budget of 2 failed logins, refilled one every 3 s: the third login of the client, even
    # with the right password, is 429 slow_down with Retry-After until then.
    env = {"MOBPROC_CLIENT_FAILURE_BURST": "2", "MOBPROC_CLIENT_FAILURES_PER_MINUTE": "20",
           "MOBPROC_ARGON2_MEMORY_KIB": "64", "MOBPROC_ARGON2_TIME_COST": "1"}
    with ServerProcess(tmp_path, env=env) as server:
        (client_id, secret), (username, password) = server.add_client(), server.add_user()
        with TokenClient(server.url, client_id, secret) as one_request:
            for _ in range(2):
                with pytest.raises(InvalidGrant):
                    one_request.password(username, "wrong-" + password)
        with pytest.raises(SlowDown) as slowed, TokenSession(server.url, client_id, secret, username=username,
                                                            password=password, retry=Retry(deadline=0.5)) as hasty:
            hasty.token()
        assert slowed.value.status_code == 429 and slowed.value.retry_after is not None
        assert slowed.value.retry_after >= 1
        started = time.monotonic()
        with TokenSession(server.url, client_id, secret, username=username, password=password) as patient:
            token = patient.token()
            remember(token.access_token, token.refresh_token)
        waited = time.monotonic() - started
    assert 0.5 <= waited < 3 + 2, waited
    print(f"\nslow_down (Retry-After {slowed.value.retry_after:.0f} s): a 0.5 s deadline failed at once, "
          f"a 30 s one got its token after {waited:.2f} s")


def test_a_wrong_secret_fails_at_once_with_invalid_client(server: ServerProcess) -> None:
    client_id, _ = server.add_client()
    started = time.monotonic()
    with pytest.raises(InvalidClient) as refused, TokenSession(server.url, client_id, "not-the-secret-" + "x" * 20) as session:
        session.token()
    assert time.monotonic() - started < 2  # not retried: asking again would not change the answer
    assert refused.value.status_code == 401 and refused.value.error == "invalid_client"
    assert refused.value.description == "Invalid client or client credentials"


def test_client_credentials_sessions_get_no_refresh_token_and_log_in_again(server: ServerProcess) -> None:
    client_id, secret = server.add_client(grants=("client_credentials",))
    with TokenSession(server.url, client_id, secret) as session:
        first = session.token()
        assert first.refresh_token is None
        time.sleep(1.1)
        second = session.token()
        remember(first.access_token, second.access_token)
    assert first.access_token != second.access_token
    assert trail(server, client_id)["token_issued:client_credentials"] == 2
