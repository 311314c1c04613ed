"""The housekeeping at scale: a million expired access tokens deleted by the real ``mobproc db
cleanup`` program while a client refreshes against the server (the same check at 50,000 tokens,
the command run in process, is in ``make test``: tests/test_housekeeping.py)."""

from __future__ import annotations

from functools import partial

from test_housekeeping import cleanup_while_a_client_refreshes

from conftest import mobproc_process

from .conftest import figure


def test_a_million_expired_tokens_are_deleted_while_the_server_answers(make_server) -> None:  # noqa: ANN001
    with make_server(argon2_memory_kib=64, argon2_time_cost=1) as server:
        figure("housekeeping", "a million expired tokens",
               cleanup_while_a_client_refreshes(server, 1_000_000, partial(mobproc_process, timeout=600)))
