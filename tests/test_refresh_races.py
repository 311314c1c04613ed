"""RFC 9700 §4.14.2 under concurrency, on SQLite and on PostgreSQL: one refresh token, many
simultaneous uses, over two worker processes or two servers on one database; exactly one wins,
and the others' uses are reuse."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from conftest import TOKEN_PATH, ServerProcess, all_at_once, password_grant, refresh_grant


def test_twenty_simultaneous_refreshes_on_two_workers_give_one_winner_and_revoke_the_grant(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, "--workers", "2") as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        token = password_grant(http, client, user).json()
        with server.client(connections=20) as shared:
            answers = all_at_once(20, lambda _: refresh_grant(shared, client, token["refresh_token"]))
        counts = Counter(a.status_code for a in answers)
        winners = [a.json() for a in answers if a.status_code == 200]
        assert counts == Counter({200: 1, 400: 19}), counts
        # The losers' uses were reuse: the winner's new refresh token is dead with the grant.
        after = refresh_grant(http, client, winners[0]["refresh_token"])
        assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
        assert http.post(TOKEN_PATH).status_code == 400


def test_fifty_concurrent_refreshes_over_two_servers_give_exactly_one_winner(tmp_path: Path) -> None:
    with ServerProcess(tmp_path) as one, ServerProcess(tmp_path) as two, one.client() as http:
        client, user = one.add_client(), one.add_user()
        token = password_grant(http, client, user).json()
        with one.client(connections=25) as first, two.client(connections=25) as second:
            statuses = all_at_once(50, lambda n: refresh_grant(
                (first, second)[n % 2], client, token["refresh_token"]).status_code)
        assert Counter(statuses) == Counter({200: 1, 400: 49})
