"""CONTRACT §1: a failing database is a 503 with JSON and Retry-After, never a 500."""

from __future__ import annotations


from conftest import TOKEN_PATH, password_grant, write_lock_held


def test_a_database_locked_past_its_timeout_gives_503_with_retry_after(make_server) -> None:  # noqa: ANN001
    with make_server(sqlite_busy_timeout_ms=200, argon2_memory_kib=64, argon2_time_cost=1) as server, \
            server.client() as http:
        client, user = server.add_client(), server.add_user()
        with write_lock_held(server):
            response = password_grant(http, client, user)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"] == "temporarily_unavailable"
        assert password_grant(http, client, user).status_code == 200  # and it recovers by itself


def test_an_unreachable_database_gives_503(make_server) -> None:  # noqa: ANN001
    unreachable = "postgresql://mobproc@127.0.0.1:1/none"
    with make_server(database_url=unreachable, migrate=False, sqlite_busy_timeout_ms=1000) as server, \
            server.client() as http:
        form = {"grant_type": "password", "client_id": "a", "client_secret": "b", "username": "u", "password": "p"}
        response = http.post(TOKEN_PATH, data=form)
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable" and response.headers["retry-after"]
