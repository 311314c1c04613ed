"""The MOBPROC v1 API's read-only resources (issue 21, item 4), in the demo tenant's data: each
collection answers its records with their own ``_meta.href``, which answers that record; the
one-record forms of every resource; a record the tenant does not hold is the documented 404.
(The door is tests/test_api_door.py's, orders tests/test_api_orders.py's; schemathesis checks
the shapes of every answer against the description.)"""

from __future__ import annotations

import httpx
import pytest

from api_world import ANA, SAM, World, make_world
from conftest import LiveServer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, server: LiveServer) -> World:
    return make_world(server, server.url, server.services, tmp_path_factory.mktemp("resources"))


# path, the collection's key, the ids the demo tenant holds there (the boss sees every employee's)
COLLECTIONS = [
    ("/regions", "regions", {"5100", "5200"}),
    ("/regions?parentRegion=5100", "regions", {"5101", "5102", "5103"}),
    ("/vendors", "vendors", {"71", "72"}),
    ("/catalog/devices", "devices", {"880101", "880102", "880201"}),
    ("/catalog/plans", "plans", {"660101"}),
    ("/catalog/accessories", "accessories", {"990101", "990102", "990201"}),
    ("/assets/services", "services", {"500201", "500301"}),
]


@pytest.mark.parametrize(("path", "key", "ids"), COLLECTIONS, ids=[path for path, _, _ in COLLECTIONS])
def test_each_collection_answers_its_records_and_each_record_its_own_href(world: World, path: str, key: str,
                                                                            ids: set[str]) -> None:
    headers = world.headers()
    with httpx.Client(base_url=world.api, timeout=30) as http:
        path, _, query = path.partition("?")
        page = http.get("/mobproc/v1" + path, headers=headers, params={"limit": 500, **dict(
            [query.split("=")] if query else [])})
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["_meta"]["totalCount"] == len(body[key])
        assert ids <= {item["id"] for item in body[key]}, body[key]
        for item in body[key]:
            one = http.get(item["_meta"]["href"], headers=headers)
            assert one.status_code == 200, (item["_meta"]["href"], one.text)
            assert one.json()["id"] == item["id"]


def test_the_device_assets_are_those_of_the_employees_the_account_sees(world: World) -> None:
    everyone = world.get("/assets/devices").json()
    assert everyone["devices"] and all(item["_meta"]["href"].endswith("/assets/devices/" + item["id"])
                                       for item in everyone["devices"])
    sams = world.get("/assets/devices", params={"employee": SAM}).json()["devices"]
    assert sams and {item["id"] for item in sams} <= {item["id"] for item in everyone["devices"]}
    assert world.get("/assets/services", params={"employee": ANA}).json()["services"][0]["id"] == "500301"


def test_a_region_carries_its_address_format_and_a_plan_its_optional_features(world: World) -> None:
    us = world.get("/regions/5100").json()
    assert us["type"] == "COUNTRY" and us["currency"]["code"] == "USD" and us["addressFormat"]
    plan = world.get("/catalog/plans/660101").json()
    assert {feature["id"] for feature in plan["optionalFeatures"]} >= {"31", "32", "33"}
    assert world.get("/manufacturers/Aster").json()["name"] == "Aster"
    assert world.get("/vendors/71").json()["name"] == "Northwind Wireless"


@pytest.mark.parametrize("path", ["/regions/9999", "/vendors/9999", "/manufacturers/Nobody", "/catalog/devices/1",
                                  "/catalog/plans/1", "/catalog/accessories/1", "/assets/devices/1",
                                  "/assets/services/1", "/employees/1"])
def test_a_record_the_tenant_does_not_hold_is_the_documented_404(world: World, path: str) -> None:
    response = world.get(path)
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["status"] == 404 and body["errorCode"].startswith("404-") and len(body["id"]) == 10


def test_ping_echoes_and_names_the_node(world: World) -> None:
    answer = world.get("/ping", params={"echoText": "are you there"}).json()
    assert answer == {"echoText": "are you there", "node": answer["node"], "status": "SUCCESS"} and answer["node"]
