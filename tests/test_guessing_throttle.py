"""Failure budgets per client and per source address: spraying one password over many
accounts is slowed too (RFC 6749 §4.3.2, RFC 9700 §2.4)."""

from __future__ import annotations

import time

import httpx
import pytest

from conftest import LiveServer, all_at_once, mobproc, password_grant, unique
from mobproc.config import load_settings
from mobproc.domain import audit

CHEAP = {"argon2_memory_kib": 64, "argon2_time_cost": 1}


def spray(http: httpx.Client, client: tuple[str, str], count: int, **headers: str) -> list[httpx.Response]:
    """One likely password on each of many usernames, as a sprayer does."""
    return [
        http.post("/as/token.oauth2", headers=headers, data={
            "grant_type": "password", "client_id": client[0], "client_secret": client[1],
            "username": f"command://{unique('victim')}", "password": "Summer2026!"})
        for _ in range(count)
    ]


def assert_slow_down(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {"error": "slow_down", "error_description": "Too many failed login attempts; retry later"}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert int(response.headers["retry-after"]) >= 1


def test_spraying_from_one_address_is_answered_429_once_its_budget_is_spent(make_server) -> None:  # noqa: ANN001
    with make_server(address_failure_burst=5, address_failures_per_minute=1, **CHEAP) as server, \
            server.client() as http:
        client = server.add_client()
        answers = spray(http, client, 7)
        assert [a.status_code for a in answers] == [400] * 5 + [429] * 2
        assert_slow_down(answers[-1])
        assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
        # Even a real account's right password waits: nothing is checked while over budget.
        user = server.add_user()
        assert_slow_down(password_grant(http, client, user))
        throttled = server.services.audit.events(event=audit.LOGIN_THROTTLED)
        assert len(throttled) == 3 and {e.reason for e in throttled} == {"address"}
        assert all(e.subject.startswith("#") for e in throttled)  # usernames unchecked: digests only


def test_a_client_spraying_from_many_addresses_spends_the_clients_budget(make_server) -> None:  # noqa: ANN001
    settings = {"client_failure_burst": 4, "client_failures_per_minute": 1, "trusted_proxies": "127.0.0.1"}
    with make_server(**settings, **CHEAP) as server, server.client() as http:
        client, other = server.add_client(), server.add_client()
        answers = [spray(http, client, 1, **{"X-Forwarded-For": f"198.51.100.{n}"})[0] for n in range(6)]
        assert [a.status_code for a in answers] == [400] * 4 + [429] * 2
        assert {e.reason for e in server.services.audit.events(event=audit.LOGIN_THROTTLED)} == {"client"}
        # Another client's budget is its own.
        assert spray(http, other, 1, **{"X-Forwarded-For": "198.51.100.99"})[0].status_code == 400


def test_successful_logins_spend_no_budget(make_server) -> None:  # noqa: ANN001
    with make_server(address_failure_burst=2, client_failure_burst=2, **CHEAP) as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        assert all(password_grant(http, client, user).status_code == 200 for _ in range(10))


def test_the_first_logins_of_a_new_client_and_address_all_at_once_all_succeed(make_server) -> None:  # noqa: ANN001
    # Their budgets' rows do not exist yet: all of them race to create each one. On
    # PostgreSQL the losers wait for the winner's commit, and must then take a token from the
    # row it made, not answer 429 from a full bucket.
    settings = {"hashing_concurrency": 16, "hashing_queue": 1000, "hashing_wait_ms": 60000, **CHEAP}
    with make_server(**settings) as server:
        client, users = server.add_client(), [server.add_user() for _ in range(16)]
        with server.client(connections=16) as shared:
            statuses = all_at_once(16, lambda n: password_grant(shared, client, users[n]).status_code)
        assert statuses == [200] * 16


def test_the_budget_refills_with_time(make_server) -> None:  # noqa: ANN001
    # 60 a minute: one failure's worth a second, so that the two guesses after the pause are
    # checked well within the next one's (at 300 a minute, 0.2 s, a loaded machine let a second
    # token in between them).
    with make_server(address_failure_burst=2, address_failures_per_minute=60, **CHEAP) as server, \
            server.client() as http:
        client = server.add_client()
        assert [a.status_code for a in spray(http, client, 3)] == [400, 400, 429]
        time.sleep(1.1)
        assert [a.status_code for a in spray(http, client, 2)] == [400, 429]


def test_forwarded_for_from_an_untrusted_peer_does_not_buy_a_new_budget(make_server) -> None:  # noqa: ANN001
    with make_server(address_failure_burst=3, address_failures_per_minute=1, **CHEAP) as server, \
            server.client() as http:
        client = server.add_client()
        answers = [spray(http, client, 1, **{"X-Forwarded-For": f"203.0.113.{n}"})[0] for n in range(4)]
        assert [a.status_code for a in answers] == [400, 400, 400, 429]
        assert {e.source_address for e in server.services.audit.events(event=audit.LOGIN_FAILED)} == {"127.0.0.1"}


def test_servers_sharing_a_database_share_the_budget(make_server, tmp_path) -> None:  # noqa: ANN001
    settings = {"address_failure_burst": 4, "address_failures_per_minute": 1, **CHEAP}
    database = tmp_path / "shared.db"
    with make_server(database, **settings) as one, make_server(database, **settings) as two, \
            one.client() as http_one, two.client() as http_two:
        client = one.add_client()
        statuses = [spray(http, client, 1)[0].status_code for http in (http_one, http_two) * 3]
        assert statuses == [400] * 4 + [429] * 2


@pytest.mark.parametrize(("setting", "value"), [("address_failure_burst", -1), ("client_failures_per_minute", 0)])
def test_budget_settings_are_checked(setting: str, value: float) -> None:
    from mobproc.config import SettingsError, load_settings

    with pytest.raises(SettingsError, match=setting.upper()):
        load_settings(**{setting: value})


def test_the_shared_default_server_has_budgets_on(server: LiveServer) -> None:
    settings = server.settings
    assert (settings.address_failure_burst, settings.address_failures_per_minute) == (20, 10)
    assert (settings.client_failure_burst, settings.client_failures_per_minute) == (100, 60)


def test_the_64s_of_one_ipv6_48_share_a_budget(make_server) -> None:  # noqa: ANN001
    """Issue 19, item 11: 25 /64s of one /48 each got the whole budget of a /64. The /48 now has
    four budgets in all, whichever of its 65,536 /64s the guesses come from."""
    settings = {"address_failure_burst": 2, "address_failures_per_minute": 1, "trusted_proxies": "127.0.0.1"}
    with make_server(**settings, **CHEAP) as server, server.client() as http:
        client = server.add_client()
        # 25 /64s in 25 /56s of one /48 (each /56 would have a budget of its own too).
        answers = [spray(http, client, 1, **{"X-Forwarded-For": f"2001:db8:7:{n:x}00::1"})[0] for n in range(25)]
        statuses = [a.status_code for a in answers]
        assert statuses.count(400) == 2 * 4  # the /48's budget: four times one /64's
        assert statuses[8:] == [429] * 17
        # Another /48 has a budget of its own.
        assert spray(http, client, 1, **{"X-Forwarded-For": "2001:db8:8::1"})[0].status_code == 400


def test_a_success_between_failures_does_not_open_the_way_to_endless_guesses(make_server) -> None:  # noqa: ANN001
    """Issue 19, item 10: 25 rounds of 4 wrong guesses and 1 right login checked 100 wrong
    passwords without a lockout. Now at most MOBPROC_LOCKOUT_FAILURES_PER_HOUR are checked in an
    hour, whatever successes come between: then the account is locked for the rest of the hour."""
    with make_server(lockout_failures_per_hour=20, client_failure_burst=0, address_failure_burst=0,
                     **CHEAP) as server, server.client() as http:
        client, (username, password) = server.add_client(), server.add_user()
        outcomes = []
        for _ in range(25):
            for _ in range(4):
                outcomes.append(password_grant(http, client, (username, "a guess")).status_code)
            outcomes.append(password_grant(http, client, (username, password)).status_code)
        failures = server.services.audit.events(subject=username, event=audit.LOGIN_FAILED)
    checked = [e for e in failures if e.reason == "wrong_password"]
    assert len(checked) == 20
    assert outcomes[-1] == 400  # the owner too is refused until the hour is over
    locked = [e for e in server.services.audit.events(subject=username, event=audit.ACCOUNT_LOCKED)]
    assert locked and 3000 <= int(locked[-1].detail.split()[0]) <= 3600


def test_the_hourly_cap_of_failed_checks_is_at_most_100() -> None:
    """Issue 19, item 10 (ASVS 4.0.3 §2.2.1: at most 100 failed checks an hour): a higher cap is
    refused at start, in one line that names the setting."""
    assert load_settings(lockout_failures_per_hour=100).lockout_failures_per_hour == 100
    result = mobproc("serve", env={"MOBPROC_LOCKOUT_FAILURES_PER_HOUR": "101"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "MOBPROC_LOCKOUT_FAILURES_PER_HOUR" in result.stderr and "less than or equal to 100" in result.stderr
