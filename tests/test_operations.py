"""What operators rely on: health, readiness, metrics, structured logs, safe upgrades."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import threading
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mobproc.config import load_settings
from mobproc.log_lines import TurnLines
from mobproc.server.access_log import AccessLog
from mobproc.server.app import listeners, serve_app
from mobproc.server.logs import JsonFormatter, PlainFormatter

from conftest import (MOBPROC, LiveServer, ServerProcess, database_url, free_port, password_grant, refresh_grant,
                      unique)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_healthz_and_readyz_answer_when_all_is_well(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_readyz_is_503_while_the_schema_is_not_current(make_server) -> None:  # noqa: ANN001
    with make_server(migrate=False) as server, server.client() as http, server.operations() as operations:
        ready = operations.get("/readyz")
        assert ready.status_code == 503 and "mobproc db upgrade" in ready.json()["reason"]
        assert http.get("/healthz").status_code == 200  # alive all the same
        # Whoever can reach the token endpoint learns that it is not ready, not why.
        public = http.get("/readyz")
        assert public.status_code == 503 and public.json() == {"status": "unavailable"}


def test_readyz_is_503_while_the_database_is_unreachable(make_server) -> None:  # noqa: ANN001
    with make_server(database_url="postgresql://mobproc@127.0.0.1:1/none", migrate=False,
                     sqlite_busy_timeout_ms=1000) as server, server.client() as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert ready.headers["retry-after"]


def test_metrics_count_requests_by_endpoint_grant_and_outcome(server: LiveServer, http: httpx.Client) -> None:
    metrics = server.operations()
    before = samples(metrics.get("/metrics").text)
    client, user = server.add_client(), server.add_user()
    token = password_grant(http, client, user).json()
    password_grant(http, client, (user[0], "wrong"))
    refresh_grant(http, client, token["refresh_token"])
    password_grant(http, client, user, grant_type="made-up")
    response = metrics.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("mobproc_token_requests_total", grant_type="password", outcome="issued") == 1
    assert grew("mobproc_token_requests_total", grant_type="password", outcome="invalid_grant") == 1
    assert grew("mobproc_token_requests_total", grant_type="refresh_token", outcome="issued") == 1
    # Client input never becomes a label value.
    assert grew("mobproc_token_requests_total", grant_type="other", outcome="unsupported_grant_type") == 1
    assert grew("mobproc_http_requests_total", endpoint="/as/token.oauth2", status="200") == 2
    assert grew("mobproc_http_request_duration_seconds_count", endpoint="/as/token.oauth2") == 4
    names = {name for name, _ in after}
    for family in ("mobproc_password_hashing_in_flight", "mobproc_password_hashing_refused_total",
                   "mobproc_account_lockouts_total", "mobproc_refresh_token_reuse_total",
                   "mobproc_database_errors_total"):
        assert any(name.startswith(family.removesuffix("_total")) for name in names), family


def test_metrics_of_several_workers_are_summed(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, "--workers", "2") as server:
        client, user = server.add_client(), server.add_user()
        for _ in range(6):  # spread over both workers by the kernel
            with server.client() as fresh:
                password_grant(fresh, client, user)
        with server.operations() as operations:
            counted = samples(operations.get("/metrics").text)
    key = ("mobproc_token_requests_total", (("grant_type", "password"), ("outcome", "issued")))
    assert counted[key] == 6


def test_json_log_lines(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, env={"MOBPROC_LOG_FORMAT": "json"}) as server, server.client() as http:
        http.get("/healthz")
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "mobproc.access"]
    assert access and {"time", "level", "logger", "message"} <= set(access[0])


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_answers_of_one_turn_of_the_loop_are_logged_after_it_in_their_order() -> None:
    access, written = AccessLog(), _Lines()

    def answered(path: str) -> None:
        access.observe({"type": "http", "client": ("10.0.0.7", 1), "method": "POST", "path": path}, 200, 0.0012)

    async def turn() -> list[str]:
        for path in ("/a", "/b", "/c"):
            answered(path)
        assert written.lines == []  # not while the turn still runs
        await asyncio.sleep(0)  # the turn ends
        answered("/d")  # the next turn's first answer
        await asyncio.sleep(0)
        return written.lines

    logger = logging.getLogger("mobproc.access")
    level = logger.level
    logger.addHandler(written)
    logger.setLevel(logging.INFO)
    try:
        assert asyncio.run(turn()) == [f'10.0.0.7 "POST /{path}" 200 1.2ms' for path in "abcd"]
        answered("/e")  # no event loop: at once
        assert written.lines[-1] == '10.0.0.7 "POST /e" 200 1.2ms'
    finally:
        logger.removeHandler(written)
        logger.setLevel(level)


@pytest.fixture
def turn_lines() -> Iterator[tuple[TurnLines, _Lines]]:
    """A TurnLines of a logger of its own, and what reaches that logger."""
    logger, written = logging.getLogger("mobproc.turn-lines-test"), _Lines()
    logger.addHandler(written)
    logger.setLevel(logging.INFO)
    try:
        yield TurnLines(logger), written
    finally:
        logger.removeHandler(written)


def test_a_line_made_off_the_event_loop_is_written_at_once_and_never_joins_a_turns_lines(
    turn_lines: tuple[TurnLines, _Lines],
) -> None:
    """The audit trail's lines come from the loop (after its group commit) and from worker
    threads (a password check's, PostgreSQL's): a thread's line must not wait in, or be taken
    from, the loop's turn."""
    lines, written = turn_lines

    async def turn() -> list[list[str]]:
        seen = []
        lines.add("loop 1")
        worker = threading.Thread(target=lines.add, args=("thread",))
        worker.start()
        worker.join()
        seen.append(list(written.lines))  # the thread's at once; the loop's still waiting
        lines.add("loop 2")
        await asyncio.sleep(0)
        seen.append(list(written.lines))
        return seen

    assert asyncio.run(turn()) == [["thread"], ["thread", "loop 1", "loop 2"]]


def test_the_lines_of_a_loop_closed_before_their_write_are_not_lost(turn_lines: tuple[TurnLines, _Lines]) -> None:
    lines, written = turn_lines
    loop = asyncio.new_event_loop()
    loop.call_soon(lines.add, "the last of its loop")  # queues the turn's write ...
    loop.call_soon(loop.stop)  # ... which this turn's end never runs
    loop.run_forever()
    loop.close()
    assert written.lines == []
    lines.add("made later, off any loop")
    assert written.lines == ["the last of its loop", "made later, off any loop"]


def test_a_stopped_server_has_logged_every_answer_once(tmp_path: Path) -> None:
    with ServerProcess(tmp_path) as server, ThreadPoolExecutor(8) as pool:
        def get(_: int) -> int:
            with server.client() as http:
                return sum(http.get("/healthz").status_code == 200 for _ in range(25))

        answered = sum(pool.map(get, range(8)))
    lines = [line for line in server.log_path.read_text().splitlines() if "mobproc.access" in line]
    assert answered == 200 and sum('"GET /healthz"' in line for line in lines) == 200


def test_plain_log_lines_read_as_the_stock_formatter_writes_them() -> None:
    stock = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    plain, as_json = PlainFormatter(), JsonFormatter()
    # Within one second, across a boundary, and back to an earlier second (another thread's record).
    for created in (1764563122.0, 1764563122.999, 1764563123.001, 1764563122.5, 1764649522.25):
        record = logging.LogRecord("mobproc.access", logging.INFO, "", 0, "%s %d", ("GET /", 200), None)
        record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
        assert plain.format(record) == stock.format(record)
        # What the access log writes without a record is what each formatter makes of one.
        assert plain.line(created, "INFO", "mobproc.access", "GET / 200") == plain.format(record)
        assert as_json.line(created, "INFO", "mobproc.access", "GET / 200") == as_json.format(record)


class _Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


@pytest.mark.parametrize("formatter", [PlainFormatter, JsonFormatter])
def test_under_mobprocs_log_set_up_the_lines_of_a_turn_leave_in_one_write(formatter: type) -> None:
    stream, access = _Writes(), AccessLog()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter())
    logger = logging.getLogger("mobproc")  # as logs.log_config sets it up for mobproc serve
    saved = logger.handlers[:], logger.propagate, logger.level
    logger.handlers[:], logger.propagate = [handler], False
    logger.setLevel(logging.INFO)

    async def turn() -> None:
        for path in ("/a", "/b", "/c"):
            access.observe({"type": "http", "client": ("10.0.0.7", 1), "method": "POST", "path": path}, 200, 0.0012)
        await asyncio.sleep(0)

    try:
        asyncio.run(turn())
    finally:
        logger.handlers[:], logger.propagate = saved[:2]
        logger.setLevel(saved[2])
    # Other threads of the suite may log meanwhile: only the access lines are counted.
    writes = [text for text in stream.writes if "mobproc.access" in text]
    assert len(writes) == 1
    if formatter is JsonFormatter:
        lines = [f"{e['level'].upper()} {e['logger']}: {e['message']}" for e in map(json.loads, writes[0].splitlines())]
    else:
        lines = [line.split(" ", 2)[2] for line in writes[0].splitlines()]  # after the date and time
    assert lines == [f'INFO mobproc.access: 10.0.0.7 "POST /{path}" 200 1.2ms' for path in "abc"]


def test_a_served_app_keeps_its_start_up_objects_out_of_garbage_collection(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("MOBPROC_DATABASE_URL", database_url(tmp_path / "mobproc.db"))
    gc.unfreeze()
    app = serve_app(load_settings())
    try:
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
        app.state.services.database.dispose()


def test_db_upgrade_is_safe_from_several_processes_at_once(tmp_path: Path) -> None:
    url = database_url(tmp_path / "race.db")

    def upgrade(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MOBPROC, "db", "upgrade", "--database", url], capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(upgrade, range(4)))
    assert all(result.returncode == 0 for result in results), [r.stderr for r in results]


def test_lockouts_reuse_and_refused_hashing_are_counted(make_server) -> None:  # noqa: ANN001
    settings = {"lockout_threshold": 2, "client_failure_burst": 0, "address_failure_burst": 0,
                "hashing_concurrency": 1, "hashing_queue": 0, "hashing_wait_ms": 0}
    with make_server(**settings) as server, server.client() as http, server.operations() as operations:
        client, user = server.add_client(), server.add_user()
        before = samples(operations.get("/metrics").text)
        token = password_grant(http, client, user).json()
        refresh_grant(http, client, token["refresh_token"])
        refresh_grant(http, client, token["refresh_token"])  # reuse
        for _ in range(2):
            password_grant(http, client, (user[0], "wrong"))  # the second locks the account
        with server.client() as a, server.client() as b:  # one slot, no queue: one of two is refused
            threads = [threading.Thread(target=password_grant, args=(h, client, user)) for h in (a, b, a, b)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        after = samples(operations.get("/metrics").text)

    def grew(name: str) -> float:
        return after.get((name, ()), 0) - before.get((name, ()), 0)

    assert grew("mobproc_refresh_token_reuse_total") == 1
    assert grew("mobproc_account_lockouts_total") == 1
    assert grew("mobproc_password_hashing_refused_total") >= 1
    assert after[("mobproc_password_hashing_in_flight", ())] == 0


def test_metrics_and_the_reasons_of_readiness_are_not_served_to_whoever_reaches_the_token_endpoint(
        server: LiveServer, http: httpx.Client) -> None:
    """Issue 19, item 1: /metrics answered anyone. It is served on the operations listener
    (loopback by default, MOBPROC_OPERATIONS_PORT) alone."""
    assert http.get("/metrics").status_code == 404
    with server.operations() as operations:
        assert operations.get("/metrics").status_code == 200
        assert operations.get("/healthz").json() == {"status": "ok"}
        # The operations listener answers nothing else: no token endpoint there.
        assert operations.post("/as/token.oauth2").status_code == 404


def test_the_operations_listener_is_on_loopback_even_when_the_token_endpoint_faces_every_interface() -> None:
    """Issue 19, item 1: /metrics and the detailed /readyz are for operators, on loopback unless
    MOBPROC_OPERATIONS_HOST says otherwise, wherever the token endpoint listens."""
    sockets = listeners(load_settings(host="0.0.0.0", port=free_port(), operations_port=free_port()))
    try:
        assert [sock.getsockname()[0] for sock in sockets] == ["127.0.0.1"]
    finally:
        for sock in sockets:
            sock.close()


def test_no_counter_tells_an_existing_account_from_an_unknown_one(make_server) -> None:  # noqa: ANN001
    """Issue 19, item 1: five wrong passwords for an existing account raised the lockout counter,
    and for an unknown account nothing moved. Every name typed has its lockout now."""
    with make_server(client_failure_burst=0, address_failure_burst=0) as server, server.client() as http, \
            server.operations() as operations:
        client, user = server.add_client(), server.add_user()
        moved = {}
        for kind, username in (("existing", user[0]), ("unknown", f"command://{unique('nobody')}")):
            before = samples(operations.get("/metrics").text)
            for _ in range(5):
                password_grant(http, client, (username, "a wrong password"))
            after = samples(operations.get("/metrics").text)
            moved[kind] = {key: after[key] - before.get(key, 0) for key in after
                           if key[0].startswith("mobproc_") and not key[0].startswith("mobproc_http_")
                           and after[key] != before.get(key, 0)}
    assert moved["existing"] == moved["unknown"]
    assert moved["existing"][("mobproc_account_lockouts_total", ())] == 1
