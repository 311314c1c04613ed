"""Admission control for argon2id: a burst of password grants beyond capacity gets fast 503s
while other grants keep their latency."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import ServerProcess, client_credentials_grant, password_grant, record_tokens, refresh_grant
from mobproc.domain import passwords
from mobproc.domain.passwords import HashingAdmission, HashingCapacityExceeded

BURST = 100  # password grants at once, against one hashing slot and a queue of two


def timed(call) -> tuple[httpx.Response, float]:  # noqa: ANN001
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


@pytest.mark.timing
def test_a_password_burst_beyond_capacity_gets_fast_503s_while_refreshes_keep_succeeding(tmp_path: Path) -> None:
    env = {
        "MOBPROC_HASHING_CONCURRENCY": "1", "MOBPROC_HASHING_QUEUE": "2", "MOBPROC_HASHING_WAIT_MS": "50",
        "MOBPROC_CLIENT_FAILURE_BURST": "0", "MOBPROC_ADDRESS_FAILURE_BURST": "0", "MOBPROC_ACCESS_LOG": "false",
    }
    with ServerProcess(tmp_path, env=env) as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        refresh_token = password_grant(http, client, user).json()["refresh_token"]
        refreshes: dict[str, list[float]] = {"alone": [], "burst": []}

        def refresh(during: str) -> None:
            nonlocal refresh_token
            response, seconds = timed(lambda: refresh_grant(http, client, refresh_token))
            assert response.status_code == 200, response.text
            refresh_token = response.json()["refresh_token"]
            refreshes[during].append(seconds)

        for _ in range(30):
            refresh("alone")
        start = threading.Barrier(BURST + 1)
        grants: list[tuple[httpx.Response, float]] = []
        burst = httpx.Client(base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=BURST),
                             event_hooks={"response": [record_tokens]})

        def login() -> None:
            start.wait()
            grants.append(timed(lambda: password_grant(burst, client, user)))

        threads = [threading.Thread(target=login) for _ in range(BURST)]
        with burst:
            for thread in threads:
                thread.start()
            start.wait()
            while any(thread.is_alive() for thread in threads):  # a stream of refreshes meanwhile
                refresh("burst")
            for thread in threads:
                thread.join()

    served = [seconds for response, seconds in grants if response.status_code == 200]
    refused = [(response, seconds) for response, seconds in grants if response.status_code == 503]
    assert len(served) + len(refused) == BURST
    assert served and refused, (len(served), len(refused))
    for response, _ in refused:
        assert response.json()["error"] == "temporarily_unavailable"
        assert response.headers["retry-after"] == "1"
    alone = statistics.median(refreshes["alone"]) * 1000
    during = statistics.median(refreshes["burst"]) * 1000
    slowest = max(refreshes["burst"]) * 1000
    fast = statistics.median(seconds for _, seconds in refused) * 1000
    print(f"\nburst of {BURST} password grants against 1 hashing slot: {len(served)} served "
          f"(median {statistics.median(served) * 1000:.0f} ms), "
          f"{len(refused)} refused with 503 (median {fast:.0f} ms); "
          f"refresh median alone {alone:.1f} ms, during the burst {during:.1f} ms, slowest {slowest:.0f} ms "
          f"({len(refreshes['burst'])} refreshes)")
    # Without admission control the same burst keeps every worker thread hashing for seconds
    # (100 x ~25 ms of argon2id on 2 cores): refreshes then stall for 1.5-3 s on this machine.
    assert fast < 1000
    assert slowest < 1000
    assert during < alone + 100


def test_beyond_the_queue_a_request_is_refused_and_a_waiter_too_each_within_the_wait() -> None:
    """Issue 19, item 5: a refusal answered at once invites the next request at once; a
    flood on kept-alive connections then takes the whole event loop. Beyond the queue a
    request is refused in the wait's second half, holding no place in the queue; a waiter at
    the wait."""
    admission = HashingAdmission(concurrency=1, queue=1, wait=0.1)

    async def main() -> None:
        holding, release = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with admission.slot():
                holding.set()
                await release.wait()

        async def wait_in_queue() -> float:
            started = time.perf_counter()
            with pytest.raises(HashingCapacityExceeded):
                async with admission.slot():
                    pass
            return time.perf_counter() - started

        holder = asyncio.create_task(hold())
        await holding.wait()
        waiter = asyncio.create_task(wait_in_queue())
        await asyncio.sleep(0.02)
        started = time.perf_counter()
        with pytest.raises(HashingCapacityExceeded):  # the queue (one place) is taken
            async with admission.slot():
                pass
        assert 0.045 <= time.perf_counter() - started < 1  # in the wait's second half
        assert 0.09 <= await waiter < 1
        release.set()
        await holder
        async with admission.slot():  # free again
            pass

    asyncio.run(main())


def test_a_freed_slot_goes_to_the_longest_waiter_not_to_a_newcomer() -> None:
    admission = HashingAdmission(concurrency=1, queue=8, wait=5)
    admitted: list[str] = []

    async def check(name: str) -> None:
        async with admission.slot():
            admitted.append(name)

    async def main() -> None:
        held = admission.slot()
        await held.__aenter__()
        waiters = []
        for name in ("first", "second"):
            waiters.append(asyncio.create_task(check(name)))
            await asyncio.sleep(0.05)  # queued, in this order
        await held.__aexit__(None, None, None)
        await check("newcomer")  # arrives the moment the slot is freed, before any waiter has run
        await asyncio.gather(*waiters)

    asyncio.run(main())
    assert admitted == ["first", "second", "newcomer"]


def test_a_waiter_handed_the_slot_as_its_wait_ends_keeps_it() -> None:
    """The slot is handed over, never lost: after any mix of timeouts, the capacity is whole."""
    admission = HashingAdmission(concurrency=2, queue=64, wait=0.002)

    async def check() -> bool:
        try:
            async with admission.slot():
                await asyncio.sleep(0.001)
            return True
        except HashingCapacityExceeded:
            return False

    async def main() -> list[bool]:
        outcomes = await asyncio.gather(*(check() for _ in range(200)))  # far more than two slots serve in 2 ms
        async with admission.slot(), admission.slot():  # both slots free again
            pass
        with pytest.raises(HashingCapacityExceeded):
            async with admission.slot(), admission.slot(), admission.slot():
                pass
        return outcomes

    outcomes = asyncio.run(main())
    assert any(outcomes) and not all(outcomes)  # both happened


def test_refusals_of_requests_that_arrived_together_are_spread_over_the_waits_second_half() -> None:
    """Refused together, a burst would come back together and take the event loop in one piece
    every wait (README, Admission control): each refusal comes at a point of its own."""
    admission = HashingAdmission(concurrency=1, queue=0, wait=0.2)

    async def refused() -> float:
        with pytest.raises(HashingCapacityExceeded):
            async with admission.slot():
                pass
        return time.perf_counter()

    async def main() -> list[float]:
        async with admission.slot():
            started = time.perf_counter()
            ends = await asyncio.gather(*(refused() for _ in range(32)))
        return [end - started for end in ends]

    waited = asyncio.run(main())
    assert min(waited) >= 0.099 and max(waited) < 1
    assert max(waited) - min(waited) > 0.05  # 32 points of a 100 ms span all within 50 ms: (1/2)**31


def run_requests(admission: HashingAdmission, *requests) -> list[str]:  # noqa: ANN002
    """Each of ``requests`` (coroutine functions given a log to write to) in a task of its own,
    as a server runs each request; answers the log."""
    log: list[str] = []

    async def main() -> None:
        for request in requests:
            await asyncio.create_task(request(log))

    asyncio.run(main())
    return log


def answered_without_hashing(admission: HashingAdmission):  # noqa: ANN201
    async def request(log: list[str]) -> None:
        admission.answered()
        log.append(f"open {admission.open_slots}")

    return request


def two_password_checks(admission: HashingAdmission):  # noqa: ANN201
    """Two password checks at once, the first the longer: are they run together or in turn?"""

    async def request(log: list[str]) -> None:
        async def check(name: str, seconds: float) -> None:
            async with admission.slot():
                log.append(f"{name} in")
                await asyncio.sleep(seconds)
                log.append(f"{name} out")
            admission.answered()

        await asyncio.gather(asyncio.create_task(check("a", 0.05)), asyncio.create_task(check("b", 0)))

    return request


def test_while_requests_that_hash_nothing_are_answered_a_core_is_spared_for_them() -> None:
    """Issue 19, item 5: with a slot a core, a flood of password grants hashes on every core and
    the event loop, which answers the refreshes, waits for one behind the hashes."""
    admission = HashingAdmission(concurrency=2, queue=8, wait=5, spare_core=True)
    log = run_requests(admission, two_password_checks(admission), answered_without_hashing(admission),
                       two_password_checks(admission))
    assert log == ["a in", "b in", "b out", "a out",  # nothing else answered: both cores hash
                   "open 1",  # a refresh, say, was answered
                   "a in", "a out", "b in", "b out"]  # the second check waits for the first


@pytest.mark.parametrize("concurrency, spare_core, expected", [
    (2, False, ["open 2", "a in", "b in", "b out", "a out"]),  # not asked to spare one: both stay open
    (1, True, ["open 1", "a in", "a out", "b in", "b out"]),  # one slot: never none
])
def test_without_a_core_to_spare_every_slot_stays_open(concurrency: int, spare_core: bool, expected: list[str]) -> None:
    admission = HashingAdmission(concurrency=concurrency, queue=8, wait=5, spare_core=spare_core)
    assert run_requests(admission, answered_without_hashing(admission), two_password_checks(admission)) == expected


def test_once_nothing_else_is_answered_every_core_hashes_again_waiters_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "SPARE_CORE_HOLD", 0.05)
    admission = HashingAdmission(concurrency=2, queue=8, wait=5, spare_core=True)

    async def request(log: list[str]) -> None:
        release = asyncio.Event()

        async def check(name: str) -> None:
            async with admission.slot():
                log.append(f"{name} in")
                if name == "holder":
                    await release.wait()

        holder = asyncio.create_task(check("holder"))
        await asyncio.sleep(0.01)
        waiter = asyncio.create_task(check("waiter"))  # the one open slot is taken: it waits
        await asyncio.sleep(0.1)  # the spare core's hold ends
        log.append(f"open {admission.open_slots}")
        await asyncio.create_task(check("newcomer"))  # the slot opened goes to the waiter first
        release.set()
        await asyncio.gather(holder, waiter)

    log = run_requests(admission, answered_without_hashing(admission), request)
    assert log == ["open 1", "holder in", "open 2", "waiter in", "newcomer in"]


def test_a_request_that_checks_a_password_spares_nothing_over_http(make_server) -> None:  # noqa: ANN001
    """The HTTP edge tells admission control of every answer, in the request's own task: a
    password grant's answer (it asked for a slot) spares no core; a refresh's does."""
    with make_server(hashing_concurrency=2) as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        refresh_token = password_grant(http, client, user).json()["refresh_token"]
        assert server.services.hashing.open_slots == 2
        assert refresh_grant(http, client, refresh_token).status_code == 200
        assert server.services.hashing.open_slots == 1
    with make_server(hashing_concurrency=2, hashing_spare_core=False) as server, server.client() as http:
        client = server.add_client(grants=("client_credentials",))
        assert client_credentials_grant(http, client).status_code == 200
        assert server.services.hashing.open_slots == 2
