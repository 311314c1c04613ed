"""A grant is made only for the password it checked (issue 19, item 3): logins with the old
password that are in flight when `mobproc user set-password` (or a removal) commits make
nothing after it, on one process or several, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from conftest import ServerProcess, password_grant, query, refresh_grant, remember
from mobproc.domain import audit

# A check slow enough (about 50-100 ms here) that many are in flight at the moment of the change.
SLOW_HASH = {"MOBPROC_ARGON2_MEMORY_KIB": "32768", "MOBPROC_ARGON2_TIME_COST": "3",
             "MOBPROC_HASHING_QUEUE": "64", "MOBPROC_HASHING_WAIT_MS": "60000",
             "MOBPROC_CLIENT_FAILURE_BURST": "0", "MOBPROC_ADDRESS_FAILURE_BURST": "0"}


def _logins_racing(server: ServerProcess, change) -> list[audit.AuditEvent]:  # noqa: ANN001
    """32 logins with the old password, the change made while they run. Afterwards no grant of
    the account is live and no refresh token handed out works: grants made before the change
    were revoked by it, and none may be made after it. The account's audit events."""
    client, user = server.add_client(), server.add_user()
    with server.client() as http, ThreadPoolExecutor(32) as pool:
        logins = [pool.submit(password_grant, http, client, user) for _ in range(32)]
        time.sleep(0.15)  # the first ones are past their claim, hashing
        change(user[0])
        answers = [login.result() for login in logins]
        refreshes = [refresh_grant(http, client, answer.json()["refresh_token"])
                     for answer in answers if answer.status_code == 200]
    assert [refresh.status_code for refresh in refreshes] == [400] * len(refreshes)
    live = query(server.database_url, "SELECT count(*) FROM grants WHERE subject = :s AND revoked_at IS NULL", s=user[0])
    assert live == [(0,)]
    return server.services.audit.events(subject=user[0])


def test_logins_in_flight_at_a_new_password_make_no_grant_after_it(tmp_path) -> None:  # noqa: ANN001
    with ServerProcess(tmp_path, "--workers", "2", env=SLOW_HASH) as server:
        new_password = "the new password 1"
        remember(new_password)
        events = _logins_racing(
            server, lambda username: server.services.account_registry.set_password(username, new_password, actor="test")
        )
    reasons = [e.reason for e in events if e.event == audit.LOGIN_FAILED]
    # The race was run: some logins had checked the old password when it changed.
    assert "credential_changed" in reasons, reasons


def test_logins_in_flight_at_a_removal_make_no_grant_after_it(tmp_path) -> None:  # noqa: ANN001
    with ServerProcess(tmp_path, "--workers", "2", env=SLOW_HASH) as server:
        events = _logins_racing(
            server, lambda username: server.services.account_registry.remove(username, actor="test")
        )
    assert any(e.event == audit.ACCOUNT_REMOVED for e in events)
