"""Several mobproc processes on one PostgreSQL database, and PostgreSQL failing under load."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from conftest import (
    EVERY_GRANT, ServerProcess, all_at_once, database_url, introspect, password_grant, refresh_grant, revoke,
)
from mobproc.domain import audit
from mobproc.domain import secrets
from mobproc.storage.database import normalize_url
from mobproc.storage.schema import access_tokens, grants
from tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgresql_only


def test_two_servers_on_one_database_share_every_token(tmp_path: Path) -> None:
    with ServerProcess(tmp_path) as one, ServerProcess(tmp_path) as two, one.client() as a, two.client() as b:
        client, user = one.add_client(), one.add_user()
        first = password_grant(a, client, user).json()
        second = refresh_grant(b, client, first["refresh_token"])  # issued by one, refreshed by the other
        assert second.status_code == 200
        reused = refresh_grant(b, client, first["refresh_token"])  # reuse seen by the other process
        assert reused.json()["error"] == "invalid_grant"
        assert refresh_grant(a, client, second.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_token_issued_by_one_server_is_introspected_and_revoked_through_the_other(tmp_path: Path) -> None:
    with ServerProcess(tmp_path) as one, ServerProcess(tmp_path) as two, one.client() as a, two.client() as b:
        client, user = one.add_client(grants=EVERY_GRANT), one.add_user()
        token = password_grant(a, client, user).json()
        assert introspect(b, client, token["access_token"]).json()["active"] is True
        assert revoke(a, client, token["refresh_token"]).status_code == 200  # the whole grant, on one
        assert introspect(b, client, token["access_token"]).json() == {"active": False}  # seen on the other
        assert introspect(b, client, token["refresh_token"]).json() == {"active": False}


def test_two_hundred_parallel_guesses_spread_over_two_servers_check_at_most_five_passwords(tmp_path: Path) -> None:
    env = {
        "MOBPROC_CLIENT_FAILURE_BURST": "0", "MOBPROC_ADDRESS_FAILURE_BURST": "0",
        "MOBPROC_HASHING_CONCURRENCY": "16", "MOBPROC_HASHING_QUEUE": "1000", "MOBPROC_HASHING_WAIT_MS": "60000",
        "MOBPROC_ARGON2_MEMORY_KIB": "1024", "MOBPROC_ARGON2_TIME_COST": "1",
    }
    with ServerProcess(tmp_path, env=env) as one, ServerProcess(tmp_path, env=env) as two:
        client, (username, password) = one.add_client(), one.add_user()
        with one.client(connections=100) as first, two.client(connections=100) as second:
            statuses = all_at_once(200, lambda n: password_grant(
                (first, second)[n % 2], client, (username, f"guess-{n}")).status_code)
        assert Counter(statuses) == Counter({400: 200})
        counted = Counter(e.reason for e in one.services.audit.events(subject=username, event=audit.LOGIN_FAILED))
        assert counted["wrong_password"] == 5, counted
        assert counted["locked"] + counted["busy"] == 195
        with one.client() as http:
            assert password_grant(http, client, (username, password)).status_code == 400  # locked everywhere


def test_a_client_disabled_elsewhere_stops_working_within_the_cache_bound(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, env={"MOBPROC_CLIENT_CACHE_SECONDS": "1"}) as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        assert password_grant(http, client, user).status_code == 200  # now cached there
        server.services.clients.set_enabled(client[0], False)  # "another machine": this test process
        disabled_at = time.monotonic()
        while password_grant(http, client, user).status_code == 200:
            assert time.monotonic() - disabled_at < 1.5, "the disabled client outlived the cache bound"
        assert password_grant(http, client, user).json()["error"] == "invalid_client"


def test_a_client_removed_elsewhere_gets_no_token_even_while_cached(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, env={"MOBPROC_CLIENT_CACHE_SECONDS": "60"}) as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        token = password_grant(http, client, user).json()
        server.services.clients.remove_client(client[0])
        # The grant's rows are gone and a new one cannot reference the client: no 200, no 500.
        assert password_grant(http, client, user).json()["error"] == "invalid_grant"
        assert refresh_grant(http, client, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_postgresql_gone_under_load_gives_503_never_500_and_service_resumes_by_itself(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    real = make_url(database_url(tmp_path / "fault.db"))
    proxy = TcpProxy((real.host or "127.0.0.1", real.port or 5432))
    through_proxy = real.set(port=proxy.port).render_as_string(hide_password=False)
    try:
        with make_server(database_url=through_proxy, argon2_memory_kib=64, argon2_time_cost=1,
                         sqlite_busy_timeout_ms=1000) as server, server.client() as http:
            client, user = server.add_client(grants=EVERY_GRANT), server.add_user()
            answers: list[tuple[float, int, dict]] = []
            stop = time.monotonic() + 9
            events = {}

            def load() -> None:
                while time.monotonic() < stop:
                    response = password_grant(http, client, user)
                    answers.append((time.monotonic(), response.status_code, response.json()))

            worker = threading.Thread(target=load)
            worker.start()
            time.sleep(2)
            proxy.cut()
            events["cut"] = time.monotonic()
            time.sleep(3)
            proxy.restore()
            events["restored"] = time.monotonic()
            worker.join()
            # Every token whose 200 reached the client introspects active now.
            issued = [body["access_token"] for _, status, body in answers if status == 200]
            assert all(introspect(http, client, token).json()["active"] is True for token in issued)
        statuses = Counter(status for _, status, _ in answers)
        assert set(statuses) <= {200, 503}, statuses
        assert statuses[503] > 0 and statuses[200] > 0
        outage = [a for a in answers if events["cut"] + 0.2 < a[0] < events["restored"]]
        assert outage and all(status == 503 for _, status, _ in outage)
        assert all(body["error"] == "temporarily_unavailable" for _, status, body in answers if status == 503)
        first_after = min(t for t, status, _ in answers if status == 200 and t > events["restored"])
        assert first_after - events["restored"] < 5, "service did not resume within 5 s"
        # Every token whose 200 reached the client was durably stored, and is live.
        engine = create_engine(normalize_url(str(real.render_as_string(hide_password=False))))
        with engine.connect() as connection:
            for _, status, body in answers:
                if status == 200:
                    row = connection.execute(
                        select(access_tokens.c.expires_at, grants.c.revoked_at)
                        .join(grants, grants.c.id == access_tokens.c.grant_id)
                        .where(access_tokens.c.lookup == secrets.digest(body["access_token"]))
                    ).first()
                    assert row is not None and row.revoked_at is None and row.expires_at > time.time()
        engine.dispose()
    finally:
        proxy.close()
