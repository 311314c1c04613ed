"""Handlers that opt in to the event loop (``runs_on_event_loop``) may be run twice up to their
first write (mobproc.storage.database.Database.run): on SQLite, a first write that finds the
write lock taken steps aside and the whole handler is run again on a thread. So before its
first write such a handler may only read, and whatever it says (audit lines, metrics) must
wait for its commit. These tests force that rerun on every opted-in handler and count what
was said; and a guard fails any test in this module in which an opted-in handler logs while
a rerun could still repeat it (a toy handler that does shows that the guard works)."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from conftest import (
    EVERY_GRANT, LiveServer, client_credentials_grant, introspect, password_grant, refresh_grant, revoke,
    validate_bearer, write_lock_held,
)
from mobproc.domain import audit
from mobproc.domain.clients import Client
from mobproc.oauth2.request import TokenRequest
from mobproc.storage.database import optimistic_now
from mobproc.telemetry import REUSE_DETECTED

pytestmark = pytest.mark.sqlite_only  # the event loop's optimism is SQLite's


class _SaidTooSoon(logging.Handler):
    """Records every line a request's code logs (on any ``mobproc`` logger) while a rerun could
    still repeat it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if optimistic_now():
            self.lines.append(record.getMessage())


@pytest.fixture
def guard() -> Iterator[_SaidTooSoon]:
    said, logger = _SaidTooSoon(), logging.getLogger("mobproc")
    level = logger.level
    logger.addHandler(said)
    logger.setLevel(logging.DEBUG)
    yield said
    logger.removeHandler(said)
    logger.setLevel(level)


@pytest.fixture
def deployment(make_server, guard: _SaidTooSoon) -> Iterator[tuple[LiveServer, httpx.Client]]:  # noqa: ANN001
    with make_server(sqlite_busy_timeout_ms=20_000, argon2_memory_kib=64, argon2_time_cost=1) as server, \
            server.client() as http:
        yield server, http
    assert guard.lines == [], f"said before the first write, where a rerun repeats it: {guard.lines}"


def _rerun(server: LiveServer, call: Callable[[], httpx.Response]) -> httpx.Response:
    """``call()``, its first write made to find the lock taken (so it is run again on a thread)."""
    with ThreadPoolExecutor(1) as pool:
        with write_lock_held(server):
            answer = pool.submit(call)
            time.sleep(0.3)  # it reached the lock, stepped aside, and waits on a thread
            assert not answer.done()
        return answer.result(timeout=30)


def _audit_lines(server_log_text: str, marker: str) -> int:
    return sum(1 for line in server_log_text.splitlines() if "mobproc.audit:" in line and marker in line)


def test_a_refresh_run_again_says_so_once(deployment, server_log) -> None:  # noqa: ANN001
    server, http = deployment
    client, user = server.add_client(), server.add_user()
    issued = password_grant(http, client, user).json()
    refreshed = _rerun(server, lambda: refresh_grant(http, client, issued["refresh_token"]))
    assert refreshed.status_code == 200
    [event] = server.services.audit.events(subject=user[0], event=audit.TOKEN_REFRESHED)
    _flush()
    assert _audit_lines(server_log.read_text(), f"token={event.token}") == 1


def test_reuse_found_by_a_rerun_is_recorded_and_counted_once(deployment, server_log) -> None:  # noqa: ANN001
    server, http = deployment
    client, user = server.add_client(), server.add_user()
    issued = password_grant(http, client, user).json()
    assert refresh_grant(http, client, issued["refresh_token"]).status_code == 200
    before = REUSE_DETECTED._value.get()
    reused = _rerun(server, lambda: refresh_grant(http, client, issued["refresh_token"]))
    assert reused.status_code == 400
    events = [e.event for e in server.services.audit.events(subject=user[0])]
    assert events.count(audit.REFRESH_REUSE) == 1 and events.count(audit.GRANT_REVOKED) == 1
    assert REUSE_DETECTED._value.get() == before + 1


def test_client_credentials_run_again_issue_once(deployment) -> None:  # noqa: ANN001
    server, http = deployment
    client = server.add_client(grants=("client_credentials",))
    assert _rerun(server, lambda: client_credentials_grant(http, client)).status_code == 200
    assert len(server.services.audit.events(event=audit.TOKEN_ISSUED)) == 1


def test_revocations_run_again_revoke_and_say_so_once(deployment) -> None:  # noqa: ANN001
    server, http = deployment
    client, user = server.add_client(grants=EVERY_GRANT), server.add_user()
    issued = password_grant(http, client, user).json()
    assert _rerun(server, lambda: revoke(http, client, issued["access_token"])).status_code == 200
    assert _rerun(server, lambda: revoke(http, client, issued["refresh_token"])).status_code == 200
    events = [e.event for e in server.services.audit.events(subject=user[0])]
    assert events.count(audit.TOKEN_REVOKED) == 1 and events.count(audit.GRANT_REVOKED) == 1
    assert introspect(http, client, issued["access_token"]).json() == {"active": False}


def test_lookups_need_no_rerun(deployment) -> None:  # noqa: ANN001
    server, http = deployment
    client, user = server.add_client(grants=EVERY_GRANT), server.add_user()
    token = password_grant(http, client, user).json()["access_token"]
    with write_lock_held(server):  # they read: the lock held elsewhere does not hold them
        assert introspect(http, client, token).json()["active"] is True
        assert validate_bearer(http, client, token).status_code == 200


class _ChattyGrant:
    """A handler that breaks the rule: it logs before its first write."""

    grant_type = "urn:test:chatty"
    client_grant = "client_credentials"
    runs_on_event_loop = True

    def __init__(self, parts: Any) -> None:
        self._audit = parts.audit

    def check(self, request: TokenRequest, client: Client) -> Client:
        logging.getLogger("mobproc.test").info("about to write for %s", client.client_id)
        return client

    def respond(self, client: Client) -> dict[str, Any]:
        self._audit.record(audit.AuditEvent(audit.TOKEN_ISSUED, client_id=client.client_id))
        return {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 0}


def test_the_guard_catches_a_handler_that_says_something_before_its_first_write(make_server, guard) -> None:  # noqa: ANN001
    with make_server(extra_grants=[_ChattyGrant]) as server, server.client() as http:
        client = server.add_client(grants=("client_credentials",))
        answer = _rerun(server, lambda: http.post("/as/token.oauth2", auth=client,
                                                  data={"grant_type": _ChattyGrant.grant_type}))
    assert answer.status_code == 200
    assert [line for line in guard.lines if "about to write" in line] == [f"about to write for {client[0]}"]
    guard.lines.clear()  # seen, as it had to be


def _flush() -> None:
    for handler in logging.getLogger("mobproc").handlers:
        handler.flush()
    threading.Event().wait(0.05)
