"""mobproc.Client and AsyncClient against `mobproc serve --demo` (the demo tenant XYZ, the seed's
client and account): an order placed and approved, collections walked whole (each item once,
also while orders arrive), the API's errors typed with their occurrence ids (the server's log
lines name the same), an order submission whose answer was lost sent again without ordering
twice (and an approval never sent again), the hosted API's URLs built right without calling
them, and `mobproc api` for curl users."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api_world import SAM, SAM_SERVICE, contact, order
from conftest import ServerProcess, mobproc, remember, unique
from mobproc import (
    PRODUCTION_API,
    QA,
    QA_API,
    ApiError,
    ApiUnreachable,
    AsyncClient,
    Client,
    Forbidden,
    MobprocError,
    NotFound,
    OrderRejected,
    Retry,
    UnexpectedAnswer,
    api_url,
)
from mobproc.models import OrderRequest
from tcp_proxy import TcpProxy

pytestmark = pytest.mark.database_agnostic

CLIENT_ID, SECRET = "376af94124f4400e9227c89937c12354", "81f40d2777ea4a41A992535F17AC92EC"  # the seed's
USERNAME, PASSWORD = "command://myusername", "mypassword"
remember(SECRET, PASSWORD)
ROBIN, ANA = "40001", "40003"
DEMO_EMPLOYEES = {ROBIN, SAM, ANA}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("client"), "--demo") as server:
        yield server


def client(server: ServerProcess, **options: Any) -> Client:
    return Client(server.url, CLIENT_ID, SECRET, username=USERNAME, password=PASSWORD, tenant="XYZ", **options)


def remember_tokens(api: Client) -> None:
    token = api.session.token()
    remember(token.access_token, token.refresh_token)


def activation(number: str | None = None, **fields: Any) -> dict[str, Any]:
    """A NEW_ACTIVATION the demo catalog accepts, as a dict of the request's fields."""
    request: dict[str, Any] = order(number, **fields)["orderRequest"]
    return request


def upgrade(number: str) -> OrderRequest:
    """Sam's service upgraded to another device: an order that waits for an approver."""
    return OrderRequest.model_validate(order(
        number, transactionType="UPGRADE", serviceId=SAM_SERVICE, regionId=None, postalCode=None,
        shoppingCart={"deviceId": "880102"}, properties=contact({"id": "Reason", "type": "CHOICE", "choice": {"id": "2"}}),
        existingDevice={"manufacturerId": "Aster", "modelId": "Aster One",
                        "serialNumber": {"type": "IMEI", "value": "356938035643809"}},
    )["orderRequest"])


def logged(server: ServerProcess, occurrence: str) -> str:
    """The server's log line of an error occurrence (written as the answer goes out)."""
    deadline = time.monotonic() + 5
    while True:
        found = [line for line in server.log_path.read_text().splitlines() if f"error {occurrence} " in line]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, occurrence
            return found[0]
        time.sleep(0.05)


def test_the_hosted_api_is_built_right_and_called_with_the_documented_headers() -> None:
    assert api_url("production") == PRODUCTION_API == "https://oauth.tangoe.com/mobproc/v1"
    assert api_url("qa") == QA_API == "https://oauthqa.tangoe.com/mobproc/v1"
    assert api_url("http://127.0.0.1:9031/") == api_url("http://127.0.0.1:9031/as/token.oauth2") == \
        "http://127.0.0.1:9031/mobproc/v1"
    sent: list[httpx.Request] = []

    def hosted(request: httpx.Request) -> httpx.Response:  # stands in for the network: nothing is called
        sent.append(request)
        if request.url == QA:
            return httpx.Response(200, json={"token_type": "Bearer", "expires_in": 7199, "access_token": "A" * 28})
        if request.url.path.endswith("/ping"):
            return httpx.Response(200, json={"echoText": request.url.params["echoText"], "node": "n1",
                                             "status": "SUCCESS", "backend": "command"})
        return httpx.Response(200, json={"_meta": {"href": str(request.url), "limit": 1, "offset": 0, "totalCount": 2,
                                                   "hrefNext": "https://elsewhere.example/mobproc/v1/orders?offset=1"},
                                         "orders": []})

    with Client("qa", CLIENT_ID, SECRET, username=USERNAME, password=PASSWORD, tenant="XYZ",
                http=httpx.Client(transport=httpx.MockTransport(hosted))) as api:
        ping = api.ping("hello")
        assert (ping.echoText, ping.node) == ("hello", "n1")
        assert ping.model_extra == {"backend": "command"}  # the hosted system may say more: kept
        api.with_context(employee_id=SAM, activity_id="nightly-sync", correlation_id="call-1").ping("again")
        with pytest.raises(UnexpectedAnswer, match="sent to this API only"):
            list(api.orders())
    token, first, second, page = sent
    assert token.method == "POST" and not token.url.query
    assert str(first.url) == "https://oauthqa.tangoe.com/mobproc/v1/ping?echoText=hello"
    assert first.headers["authorization"] == "Bearer " + "A" * 28
    assert (first.headers["x-tngo-tenant"], first.headers["client_id"]) == ("XYZ", CLIENT_ID)
    assert re.fullmatch(r"mobproc-[0-9a-f]{16}", first.headers["x-tngo-context-correlationid"])
    assert "x-tngo-context-employeeid" not in first.headers and "x-tngo-context-activityid" not in first.headers
    assert (second.headers["x-tngo-context-employeeid"], second.headers["x-tngo-context-activityid"],
            second.headers["x-tngo-context-correlationid"]) == (SAM, "nightly-sync", "call-1")
    assert page.url.host == "oauthqa.tangoe.com"  # the page leading elsewhere was not followed
    with pytest.raises(ValueError, match="printable"):
        Client("qa", CLIENT_ID, SECRET, tenant="XYZ\r\nX-Injected: 1")


def test_the_client_places_and_approves_an_order_in_the_demo_tenant(demo: ServerProcess) -> None:
    with client(demo) as api:
        me = api.me()
        assert me.authenticatedUser.isApprover and me.authenticatedUser.username == USERNAME
        assert {employee.id for employee in api.employees()} == DEMO_EMPLOYEES
        assert "880102" in {device.id for device in api.devices()}
        for_sam = api.with_context(employee_id=SAM)
        assert for_sam.me().actor.id == SAM
        request = upgrade(unique("SDK-UPGRADE-"))
        confirmed = for_sam.confirm(request)
        assert confirmed.service is not None and confirmed.service.id == SAM_SERVICE
        assert {price.recurrence for price in confirmed.costSummary or []} == {"ONETIME", "MONTHLY"}
        placed = for_sam.submit(request)
        assert placed.status == "AWAITING_APPROVAL" and placed.accountHolder.id == SAM
        assert placed.requestedBy.id == ROBIN and placed.externalOrderNumber == request.externalOrderNumber
        assert api.approve(placed.orderId, reason="Screen broken").status == "APPROVAL_QUEUED"
        assert api.order(placed.orderId).status == "ORDER_SUBMITTED"
        assert api.approve(placed.orderId).status == "APPROVAL_NOT_NEEDED"  # decided already
        assert placed.orderId in {summary.orderId for summary in api.orders(employee=SAM)}
        remember_tokens(api)


def test_a_paged_collection_is_walked_whole_each_item_once(demo: ServerProcess) -> None:
    pages: list[httpx.URL] = []
    with httpx.Client(event_hooks={"request": [lambda request: pages.append(request.url)]}) as http, \
            client(demo, http=http) as api:
        for _ in range(12):
            api.submit(activation(unique("SDK-PAGE-")))
        total = api.request("GET", "/orders", params={"limit": 1})["_meta"]["totalCount"]
        pages.clear()
        walked = [summary.orderId for summary in api.orders(page_size=5)]
        assert len(walked) == len(set(walked)) == total >= 12
        assert sum(url.path.endswith("/orders") for url in pages) == -(-total // 5)  # every page, once
        # An order placed mid-walk goes first (newest first) and shifts every later page by one:
        # the item pushed onto the next page is not handed out twice, and none is left out.
        walk = api.orders(page_size=5)
        head = [summary.orderId for summary in itertools.islice(walk, 5)]
        api.submit(activation(unique("SDK-SHIFT-")))
        rest = [summary.orderId for summary in walk]
        assert sorted(head + rest, key=int) == sorted(walked, key=int)
        assert [employee.id for employee in api.employees(page_size=1)] == sorted(DEMO_EMPLOYEES)
        remember_tokens(api)


def test_a_mobproc_error_carries_its_occurrence_id(demo: ServerProcess) -> None:
    with client(demo) as api:
        with pytest.raises(NotFound) as missing:
            api.order("999999")
        error = missing.value
        assert (error.status_code, error.error_code) == (404, "404-order-not-found")
        assert error.id and error.correlation_id and f"(id {error.id}, correlation {error.correlation_id})" in str(error)
        line = logged(demo, error.id)
        assert "404-order-not-found" in line and f"correlation={error.correlation_id}" in line
        assert error.body == {"errorCode": error.error_code, "id": error.id, "message": error.message, "status": 404}
        with pytest.raises(Forbidden) as stranger:
            api.with_context(employee_id="99999", correlation_id="who-is-this").me()
        assert stranger.value.error_code == "403-context-forbidden" and stranger.value.correlation_id == "who-is-this"
        assert "correlation=who-is-this" in logged(demo, stranger.value.id or "")
        with pytest.raises(OrderRejected) as rejected:
            api.confirm(activation(postalCode="ABCDE", shoppingCart={"deviceId": "880101", "planId": "no-such-plan"}))
        fields = {problem.field: problem for problem in rejected.value.problems}
        assert {"orderRequest.postalCode", "orderRequest.shoppingCart.planId"} <= set(fields)
        for problem in fields.values():
            assert problem.error_code.startswith("400-") and problem.message
            assert problem.field in logged(demo, problem.id)
        assert isinstance(rejected.value, ApiError) and isinstance(rejected.value, MobprocError)
        assert rejected.value.id == rejected.value.problems[0].id and rejected.value.status_code == 400
        remember_tokens(api)


def test_a_submission_whose_answer_was_lost_is_sent_again_and_orders_once(demo: ServerProcess) -> None:
    proxy = TcpProxy(("127.0.0.1", demo.port))
    try:
        # Tokens straight from the server; the API's calls through the proxy, which loses one answer.
        with client(demo, api_url=f"http://127.0.0.1:{proxy.port}/mobproc/v1") as api:
            before = api.request("GET", "/orders", params={"limit": 1})["_meta"]["totalCount"]
            number = unique("SDK-LOST-")
            proxy.lose_one_answer(b"POST /mobproc/v1/orders HTTP")
            placed = api.submit(activation(number))
            assert proxy.lost == 1 and placed.externalOrderNumber == number
            assert api.request("GET", "/orders", params={"limit": 1})["_meta"]["totalCount"] == before + 1
            assert [o.orderId for o in api.orders() if o.externalOrderNumber == number] == [placed.orderId]
            # An approval is not sent again after a lost answer: it may have been carried out.
            waiting = api.with_context(employee_id=SAM).submit(upgrade(unique("SDK-LOST-APPROVAL-")))
            proxy.lose_one_answer(f"POST /mobproc/v1/orders/{waiting.orderId}/approval ".encode())
            with pytest.raises(ApiUnreachable, match="may have been carried out"):
                api.approve(waiting.orderId)
            assert proxy.lost == 2
            assert api.order(waiting.orderId).status == "ORDER_SUBMITTED"  # it was: read the order, as told
            remember_tokens(api)
    finally:
        proxy.close()


def test_an_unreachable_api_fails_within_the_deadline_with_a_typed_error(demo: ServerProcess) -> None:
    proxy = TcpProxy(("127.0.0.1", demo.port))
    proxy.cut()
    with client(demo, api_url=f"http://127.0.0.1:{proxy.port}/mobproc/v1", retry=Retry(deadline=1.5)) as api:
        started = time.monotonic()
        with pytest.raises(ApiUnreachable) as down:
            api.me()
        assert time.monotonic() - started < 4 and down.value.status_code is None
        assert isinstance(down.value.__cause__, httpx.ConnectError)
        remember_tokens(api)


def test_the_async_client_places_an_order_and_walks_a_collection(demo: ServerProcess) -> None:
    async def main() -> tuple[str, list[str], str]:
        async with AsyncClient(demo.url, CLIENT_ID, SECRET, username=USERNAME, password=PASSWORD,
                               tenant="XYZ") as api:
            placed = await api.submit(activation(unique("SDK-ASYNC-")))
            again = await api.submit(activation(placed.externalOrderNumber))  # the same number: the same order
            assert again.orderId == placed.orderId
            decided = await api.approve(placed.orderId)
            walked = [summary.orderId async for summary in api.orders(page_size=3)]
            with pytest.raises(NotFound):
                await api.employee("99999")
            token = await api.session.token()
            remember(token.access_token, token.refresh_token)
            return placed.orderId, walked, decided.status

    placed, walked, decided = asyncio.run(main())
    assert placed in walked and len(walked) == len(set(walked)) and decided == "APPROVAL_NOT_NEEDED"


def test_mobproc_api_makes_an_authenticated_call_and_prints_the_json(demo: ServerProcess, tmp_path: Path) -> None:
    common = ("--client-id", CLIENT_ID, "--username", USERNAME, "--tenant", "XYZ", "--endpoint", demo.url)
    secrets = {"MOBPROC_CLIENT_SECRET": SECRET, "MOBPROC_PASSWORD": PASSWORD}
    me = mobproc("api", "GET", "/me", *common, env=secrets)
    assert me.returncode == 0, me.stderr
    assert json.loads(me.stdout)["authenticatedUser"]["username"] == USERNAME
    # The secrets one a line on standard input, and the body after them (--data @-).
    body = json.dumps({"orderRequest": activation(unique("CLI-"))})
    placed = mobproc("api", "POST", "/orders", *common, "--data", "@-", stdin=f"{SECRET}\n{PASSWORD}\n{body}")
    assert placed.returncode == 0, placed.stderr
    assert json.loads(placed.stdout)["order"]["status"] == "ORDER_SUBMITTED"
    (tmp_path / "approval.json").write_text('{"action": "REJECT"}')
    order_id = json.loads(placed.stdout)["order"]["orderId"]
    refused = mobproc("api", "POST", f"/orders/{order_id}/approval", *common, "--data", f"@{tmp_path / 'approval.json'}",
                      env=secrets)
    assert refused.returncode == 1 and json.loads(refused.stdout)["errorCode"] == "400-reason-required"
    assert refused.stderr.startswith("mobproc: 400 400-reason-required: A rejection needs a reason (id ")
    assert refused.stderr.count("\n") == 1
    acting = mobproc("api", "GET", "/me", *common, "--employee-id", SAM, "--correlation-id", "cli-1", env=secrets)
    assert json.loads(acting.stdout)["actor"]["id"] == SAM
    unreachable = mobproc("api", "GET", "/me", *common, "--api-url", "http://127.0.0.1:1/mobproc/v1", "--timeout", "1",
                          env=secrets)
    assert unreachable.returncode == 3 and "check --endpoint (or --api-url)" in unreachable.stderr
    for usage in (("FETCH", "/me"), ("GET", "/me", "--data", "{not json"), ("GET", "https://elsewhere.example/me")):
        wrong = mobproc("api", *usage, *common, env=secrets)
        assert wrong.returncode == 2 and wrong.stdout == "" and wrong.stderr.startswith("mobproc: "), wrong.stderr
    assert SECRET not in me.stdout + me.stderr and PASSWORD not in me.stdout + me.stderr
