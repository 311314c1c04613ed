"""RFC 9700 §4.14.2 under concurrency: one refresh token, many simultaneous uses, two processes."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx

from conftest import TOKEN_PATH, ServerProcess, password_grant, record_tokens, refresh_grant


def test_twenty_simultaneous_refreshes_on_two_workers_give_one_winner_and_revoke_the_grant(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, "--workers", "2") as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        token = password_grant(http, client, user).json()
        start = threading.Barrier(20)
        statuses: list[int] = []
        winners: list[dict] = []

        def use() -> None:
            with httpx.Client(base_url=server.url, timeout=60, event_hooks={"response": [record_tokens]}) as mine:
                start.wait()
                response = refresh_grant(mine, client, token["refresh_token"])
            statuses.append(response.status_code)
            if response.status_code == 200:
                winners.append(response.json())

        threads = [threading.Thread(target=use) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counts = Counter(statuses)
        assert counts == Counter({200: 1, 400: 19}), counts
        # The losers' uses were reuse: the winner's new refresh token is dead with the grant.
        after = refresh_grant(http, client, winners[0]["refresh_token"])
        assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
        assert http.post(TOKEN_PATH).status_code == 400
