"""Issue 19, item 5: admission control is fast. 500 password grants at concurrency 64 against
the default settings (as many hashing slots as cores, a queue of 16, 200 ms): every refused
request is answered 503 within the wait (p99 ≤ the wait + 50 ms), and refreshes running
meanwhile keep their latency (p99 during the flood ≤ 3 × alone)."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import httpx
import pytest

from conftest import ServerProcess, TOKEN_PATH, password_grant, record_tokens, remember

from .conftest import figure

GRANTS = 500
CONCURRENCY = 64
WAIT_MS = 200  # MOBPROC_HASHING_WAIT_MS's default
REFRESHES_ALONE = 300


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else values[0]


async def _refreshes(url: str, client: tuple[str, str], refresh_token: str, stop: asyncio.Event | None,
                     count: int = 0) -> tuple[list[float], str]:
    """Refreshes one after another (each rotates the token): ``count`` of them, or until ``stop``."""
    seconds: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30, auth=client) as http:
        while (stop is None and len(seconds) < count) or (stop is not None and not stop.is_set()):
            started = time.perf_counter()
            response = await http.post(TOKEN_PATH, data={"grant_type": "refresh_token", "refresh_token": refresh_token})
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            refresh_token = response.json()["refresh_token"]
            remember(refresh_token, response.json()["access_token"])
    return seconds, refresh_token


async def _flood(url: str, client: tuple[str, str], user: tuple[str, str]) -> list[tuple[int, float]]:
    """GRANTS password grants, CONCURRENCY at a time: each one's status and seconds."""
    pending = iter(range(GRANTS))
    outcomes: list[tuple[int, float]] = []
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits,
                                 event_hooks={"response": [_record]}) as http:

        async def worker() -> None:
            for _ in pending:
                started = time.perf_counter()
                response = await http.post(TOKEN_PATH, auth=client, data={
                    "grant_type": "password", "username": user[0], "password": user[1], "scope": "MOBPROC"})
                outcomes.append((response.status_code, time.perf_counter() - started))

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return outcomes


async def _record(response: httpx.Response) -> None:
    await response.aread()
    record_tokens(response)


# Known to fail (issue 19, item 5, left open): on the 2-core development machine, alone, the
# 503s' p99 was 4.9 s against the 250 ms asked, measured by one asyncio client process driving 64
# connections. Whether the time is the server's or this client's own queue is not settled; the
# run still measures and prints its figures, and a pass would show as XPASS.
@pytest.mark.xfail(reason="issue 19 item 5: the 503s' p99 exceeds the wait + 50 ms on this machine", strict=False)
def test_a_flood_of_password_grants_is_refused_fast_and_refreshes_keep_their_latency(tmp_path: Path) -> None:
    env = {"MOBPROC_CLIENT_FAILURE_BURST": "0", "MOBPROC_ADDRESS_FAILURE_BURST": "0", "MOBPROC_ACCESS_LOG": "false"}
    with ServerProcess(tmp_path, env=env) as server:
        client, user = server.add_client(), server.add_user()
        with server.client() as http:
            refresh_token = password_grant(http, client, user).json()["refresh_token"]

        async def run() -> tuple[list[float], list[tuple[int, float]], list[float]]:
            alone, token = await _refreshes(server.url, client, refresh_token, None, REFRESHES_ALONE)
            stop = asyncio.Event()
            refreshing = asyncio.create_task(_refreshes(server.url, client, token, stop))
            flood = await _flood(server.url, client, user)
            stop.set()
            during, _ = await refreshing
            return alone, flood, during

        alone, flood, during = asyncio.run(run())

    refused = [seconds for status, seconds in flood if status == 503]
    served = [seconds for status, seconds in flood if status == 200]
    assert len(refused) + len(served) == GRANTS, {status for status, _ in flood}
    figure("admission", f"password grants at concurrency {CONCURRENCY}", GRANTS)
    figure("admission", "  served 200 / refused 503", f"{len(served)} / {len(refused)}")
    if refused:
        figure("admission", "  503 latency p50 / p99 / max (ms)",
               f"{statistics.median(refused) * 1000:.0f} / {p99(refused) * 1000:.0f} / {max(refused) * 1000:.0f}")
    figure("admission", "refresh p50 / p99 alone (ms)",
           f"{statistics.median(alone) * 1000:.1f} / {p99(alone) * 1000:.1f}")
    figure("admission", "refresh p50 / p99 during the flood (ms)",
           f"{statistics.median(during) * 1000:.1f} / {p99(during) * 1000:.1f} ({len(during)} refreshes)")
    assert refused, "the flood never exceeded the capacity: nothing was measured"
    assert p99(refused) <= (WAIT_MS + 50) / 1000
    assert p99(during) <= 3 * p99(alone)
