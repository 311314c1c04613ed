"""MOBPROC_REFRESH_GRACE_SECONDS: the immediate predecessor re-presented within the grace
period is a retry, not theft; anything else still revokes the grant (RFC 9700 §4.14.2)."""

from __future__ import annotations

import time

import httpx
import pytest

from conftest import LiveServer, all_at_once, password_grant, refresh_grant
from mobproc.config import SettingsError, load_settings
from mobproc.domain import audit, secrets


def is_live(server: LiveServer, refresh_token: str) -> bool:
    """Looked up, not presented: presenting a dead token would revoke the grant."""
    record = server.services.tokens.find_refresh_token(secrets.digest(refresh_token))
    return not record.consumed and not record.grant_revoked


def refreshed(http: httpx.Client, client: tuple[str, str], refresh_token: str) -> str:
    response = refresh_grant(http, client, refresh_token)
    assert response.status_code == 200, response.text
    return response.json()["refresh_token"]


@pytest.fixture
def graced(make_server):  # noqa: ANN001, ANN201
    with make_server(refresh_grace_seconds=2) as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        yield server, http, client, password_grant(http, client, user).json()["refresh_token"]


def test_a_retry_with_the_predecessor_gets_a_pair_that_replaces_the_live_one(graced) -> None:  # noqa: ANN001
    server, http, client, first = graced
    second = refreshed(http, client, first)  # ...and suppose this answer was lost on the way
    retried = refreshed(http, client, first)
    assert retried != second
    assert is_live(server, retried) and not is_live(server, second)  # never two live branches
    assert refreshed(http, client, retried)  # the retry's token carries the grant on
    [grace] = server.services.audit.events(event=audit.REFRESH_GRACE)
    assert grace.detail == f"presented {secrets.short_id(first)} (generation 0)"


def test_the_replaced_sibling_presented_later_revokes_the_grant(graced) -> None:  # noqa: ANN001
    server, http, client, first = graced
    second = refreshed(http, client, first)
    retried = refreshed(http, client, first)  # a thief's copy of `first` wins the branch...
    # ...and the rightful holder's next use of `second` reveals it: the grant ends for both.
    assert refresh_grant(http, client, second).json()["error"] == "invalid_grant"
    assert refresh_grant(http, client, retried).json()["error"] == "invalid_grant"
    assert [e.reason for e in server.services.audit.events(event=audit.GRANT_REVOKED)] == ["refresh_token_reuse"]


def test_retries_within_the_window_do_not_move_it(graced) -> None:  # noqa: ANN001
    server, http, client, first = graced
    refreshed(http, client, first)
    for _ in range(3):
        latest = refreshed(http, client, first)
    assert is_live(server, latest)
    time.sleep(2.1)  # the window counts from the first use of `first`, not from the retries
    assert refresh_grant(http, client, first).json()["error"] == "invalid_grant"
    assert not is_live(server, latest)


def test_an_older_generation_revokes_the_grant_even_within_the_window(graced) -> None:  # noqa: ANN001
    server, http, client, first = graced
    second = refreshed(http, client, first)
    third = refreshed(http, client, second)
    assert refresh_grant(http, client, first).json()["error"] == "invalid_grant"
    assert not is_live(server, third)
    assert server.services.audit.events(event=audit.REFRESH_REUSE)


def test_without_grace_the_predecessor_revokes_the_grant_at_once(server: LiveServer, http: httpx.Client) -> None:
    assert server.settings.refresh_grace_seconds == 0
    client, user = server.add_client(), server.add_user()
    first = password_grant(http, client, user).json()["refresh_token"]
    second = refreshed(http, client, first)
    assert refresh_grant(http, client, first).json()["error"] == "invalid_grant"
    assert not is_live(server, second)


def test_simultaneous_uses_within_grace_all_succeed_and_leave_one_live_token(graced) -> None:  # noqa: ANN001
    server, _, client, first = graced
    with server.client(connections=10) as shared:
        answers = all_at_once(10, lambda _: refresh_grant(shared, client, first))
    assert [a.status_code for a in answers] == [200] * 10
    assert sum(is_live(server, a.json()["refresh_token"]) for a in answers) == 1


def test_the_grace_period_is_at_most_300_seconds() -> None:
    assert load_settings(refresh_grace_seconds=300).refresh_grace_seconds == 300
    with pytest.raises(SettingsError, match="MOBPROC_REFRESH_GRACE_SECONDS"):
        load_settings(refresh_grace_seconds=301)
