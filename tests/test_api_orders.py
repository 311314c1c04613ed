"""Orders of the MOBPROC v1 API: each transaction type confirmed (nothing stored) and submitted,
each validation rule's error, idempotency by externalOrderNumber (20 at once over two worker
processes: one order), approvals, and the documented pagination walked by its links."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api_world import ANA_SERVICE, DEMO, SAM, SAM_SERVICE, World, contact, make_world, order
from conftest import LiveServer, ServerProcess, all_at_once, query, unique

SHIP_TO = order()["orderRequest"]["shipTo"]
# A care order is for the actor's own service: Sam's and Ana's, acted for by the boss.
AS_SAM = {"X-TNGO-CONTEXT-EMPLOYEEID": SAM}
AS_ANA = {"X-TNGO-CONTEXT-EMPLOYEEID": "40003"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, server_log: Path) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("orders")
    with LiveServer(workdir / "mobproc.db") as live:
        built = make_world(live, live.url, live.services, workdir)
        built.database_url = live.settings.database_url
        yield built


def orders_count(world: World) -> int:
    return world.get("/orders", params={"limit": 1}).json()["_meta"]["totalCount"]


def care(kind: str, service: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    request = {"transactionType": kind, "serviceId": service, "regionId": None, "postalCode": None,
               "shoppingCart": None, "shipTo": None, "properties": contact(*fields), **extra}
    return order(**request)


def confirm_then_submit(world: World, body: dict[str, Any], role: str = "boss", **headers: str) -> dict[str, Any]:
    before = orders_count(world)
    confirmed = world.post("/orders", role, params={"confirm": "true"}, json=body, headers=world.headers(role, **headers))
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "SUCCESS"
    assert orders_count(world) == before  # a confirmation stores nothing
    submitted = world.post("/orders", role, json=body, headers=world.headers(role, **headers))
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "SUCCESS"
    assert orders_count(world) == before + 1
    return {"confirmation": confirmed.json()["orderConfirmation"], "order": submitted.json()["order"]}


def post_as(world: World, context: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return world.post("/orders", json=body, headers=world.headers(**context))


def service_status(world: World, service: str) -> str:
    return world.get(f"/assets/services/{service}").json()["status"]


def test_new_activation_is_confirmed_with_its_costs_then_submitted(world: World) -> None:
    result = confirm_then_submit(world, order())
    confirmation, placed = result["confirmation"], result["order"]
    assert confirmation["shoppingCart"]["device"]["id"] == "880101"
    assert [f["id"] for f in confirmation["shoppingCart"]["plan"]["optionalFeatures"]] == ["31"]
    assert confirmation["costSummary"] == [
        {"amount": 299.97, "currencyCode": "USD", "recurrence": "ONETIME"},  # 249.99 + 29.99 + 19.99
        {"amount": 55.0, "currencyCode": "USD", "recurrence": "MONTHLY"},  # 45.00 + 10.00
    ]
    assert confirmation["shipTo"]["address"][0] == {"id": "LINE_1", "label": "Address Line 1", "value": "1 Harbor Road"}
    assert confirmation["properties"][0]["fields"][0]["label"] == "Contact Phone Number"
    assert placed["status"] == "ORDER_SUBMITTED" and placed["orderId"]
    assert placed["_meta"]["href"] == f"{world.api}/mobproc/v1/orders/{placed['orderId']}"
    assert placed["accountHolder"]["id"] == placed["requestedBy"]["id"] == "40001"
    assert placed["orderSegments"]["items"][0]["status"] == "ORDER_SUBMITTED"
    assert world.get(f"/orders/{placed['orderId']}").json()["externalOrderNumber"] == placed["externalOrderNumber"]


def test_an_order_for_the_context_employee_is_theirs_requested_by_the_account(world: World) -> None:
    placed = confirm_then_submit(world, order(), **{"X-TNGO-CONTEXT-EMPLOYEEID": SAM})["order"]
    assert placed["accountHolder"]["id"] == SAM and placed["requestedBy"]["id"] == "40001"
    mine = world.get("/orders", params={"employee": SAM, "limit": 50}).json()["orders"]
    assert placed["orderId"] in {o["orderId"] for o in mine}
    assert all(o["accountHolder"]["id"] == SAM for o in mine)


def test_port_number_names_the_number_and_its_current_carrier(world: World) -> None:
    port_fields = [{"id": "SERVICE_NUMBER", "type": "TEXT", "text": "5125550000"},
                   {"id": "CURRENT_CARRIER", "type": "TEXT", "text": "Formerly Acme Cellular"}]
    body = order(transactionType="PORT_NUMBER", properties=contact(*port_fields))
    assert confirm_then_submit(world, body)["order"]["transactionType"] == "PORT_NUMBER"
    missing = world.post("/orders", params={"confirm": "true"},
                         json=order(transactionType="PORT_NUMBER", properties=contact(port_fields[0])))
    assert rejected(missing) == {("400-property-required", "orderRequest.properties")}


def test_order_accessories_for_the_device_of_a_service(world: World) -> None:
    body = order(transactionType="ORDER_ACCESSORIES", serviceId=SAM_SERVICE, regionId=None, postalCode=None,
                 shoppingCart={"accessoryIds": ["990101"]}, properties=contact())
    result = confirm_then_submit(world, body, **AS_SAM)
    assert result["confirmation"]["device"]["id"] == "300201"
    assert result["confirmation"]["costSummary"][0]["amount"] == 29.99
    wrong = order(transactionType="ORDER_ACCESSORIES", serviceId=SAM_SERVICE, regionId=None, postalCode=None,
                  shoppingCart={"accessoryIds": ["990201"]}, properties=contact())  # a Kestrel K5 protector
    assert rejected(post_as(world, AS_SAM, wrong)) == {("400-accessory-does-not-fit",
                                                            "orderRequest.shoppingCart.accessoryIds[0]")}


def test_upgrade_waits_for_approval_and_an_approver_approves_it(world: World) -> None:
    body = order(transactionType="UPGRADE", serviceId=SAM_SERVICE, regionId=None, postalCode=None,
                 shoppingCart={"deviceId": "880102"}, properties=contact({"id": "Reason", "type": "CHOICE",
                                                                          "choice": {"id": "2"}}),
                 existingDevice={"manufacturerId": "Aster", "modelId": "Aster One",
                                 "serialNumber": {"type": "IMEI", "value": "356938035643809"}})
    result = confirm_then_submit(world, body, **AS_SAM)
    assert result["confirmation"]["existingDevice"]["model"]["id"] == "Aster One"
    assert result["confirmation"]["service"]["id"] == SAM_SERVICE
    placed = result["order"]
    assert placed["status"] == "AWAITING_APPROVAL"
    path = f"/orders/{placed['orderId']}/approval"
    # The clerk may see Sam's order (it acts for Sam), and approves nothing.
    assert world.post(path, "clerk", json={"action": "APPROVE"}).json()["errorCode"] == "403-approver-required"
    assert world.post(path, "outsider", json={"action": "APPROVE"},
                      headers=world.headers("outsider", tenant=world.other)).status_code == 404
    assert world.post(path, json={"action": "REJECT"}).json()["errorCode"] == "400-reason-required"
    assert world.post(path, json={"action": "APPROVE", "reason": "Promotion"}).json() == {"status": "APPROVAL_QUEUED"}
    assert world.post(path, json={"action": "APPROVE"}).json() == {"status": "APPROVAL_NOT_NEEDED"}
    assert world.get(f"/orders/{placed['orderId']}").json()["status"] == "ORDER_SUBMITTED"


def test_only_an_approver_decides_and_a_rejection_is_queued(world: World, tmp_path: Path) -> None:
    body = order(transactionType="UPGRADE", serviceId=SAM_SERVICE, regionId=None, postalCode=None,
                 shoppingCart={"planId": "660101", "optionalFeatureIds": ["32"]}, properties=contact(), shipTo=None)
    placed = post_as(world, AS_SAM, body).json()["order"]
    path = f"/orders/{placed['orderId']}/approval"
    clerk_sees = world.headers("multi")  # Sam's own account: may see Sam's order, approves nothing
    assert world.post(path, "multi", json={"action": "APPROVE"}, headers=clerk_sees).json()["errorCode"] == "403-approver-required"
    assert world.post(path, json={"action": "REJECT", "reason": "Not this quarter"}).json() == {"status": "REJECTION_QUEUED"}
    assert world.get(f"/orders/{placed['orderId']}").json()["status"] == "REJECTED"
    activation = world.post("/orders", json=order()).json()["order"]
    answer = world.post(f"/orders/{activation['orderId']}/approval", json={"action": "APPROVE"}).json()
    assert answer == {"status": "APPROVAL_NOT_NEEDED"}


def test_an_order_not_yet_ready_for_approval(tmp_path: Path, server: LiveServer) -> None:
    slow = make_world(server, server.url, server.services, tmp_path,
                      approvals={"transactionTypes": ["NEW_ACTIVATION"], "readyAfterSeconds": 3600})
    placed = slow.post("/orders", json=order()).json()["order"]
    assert placed["status"] == "PENDING_APPROVAL"
    assert slow.post(f"/orders/{placed['orderId']}/approval", json={"action": "APPROVE"}).json() == {
        "status": "NOT_READY_FOR_APPROVAL"}


def test_suspend_then_unsuspend_change_the_services_state(world: World) -> None:
    assert service_status(world, SAM_SERVICE) == "ACTIVE"
    suspend = care("SUSPEND", SAM_SERVICE, {"id": "PREFERRED_SUSPENSION_DATE", "type": "DATE", "date": "2027-01-04T00:00:00+00:00"})
    result = confirm_then_submit(world, suspend, **AS_SAM)
    assert result["confirmation"]["properties"][0]["fields"][1]["date"] == "2027-01-04T00:00:00Z"
    assert result["order"]["serviceNumber"] == "2035550142"
    assert service_status(world, SAM_SERVICE) == "SUSPENDED"
    again = post_as(world, AS_SAM, care("SUSPEND", SAM_SERVICE))
    assert rejected(again) == {("400-service-state", "orderRequest.serviceId")}
    confirm_then_submit(world, care("UNSUSPEND", SAM_SERVICE), **AS_SAM)
    assert service_status(world, SAM_SERVICE) == "ACTIVE"


def test_update_features_adds_and_removes_optional_features(world: World) -> None:
    body = care("UPDATE_FEATURES", SAM_SERVICE, shoppingCart={
        "features": [{"id": "32", "action": "ADD"}, {"id": "33", "action": "REMOVE"}],
        "featureRequestComment": "Protection instead of caller ID"})
    result = confirm_then_submit(world, body, **AS_SAM)
    assert result["confirmation"]["costSummary"][1]["amount"] == 12.5
    features = world.get(f"/assets/services/{SAM_SERVICE}").json()["plan"]["optionalFeatures"]
    assert [f["id"] for f in features] == ["32"]
    twice = care("UPDATE_FEATURES", SAM_SERVICE, shoppingCart={"features": [{"id": "32", "action": "ADD"}]})
    assert rejected(post_as(world, AS_SAM, twice)) == {("400-feature-present", "orderRequest.shoppingCart.features[0].id")}


def test_deactivate_ends_a_suspended_service(world: World) -> None:
    confirm_then_submit(world, care("DEACTIVATE", ANA_SERVICE, {"id": "Reason", "type": "CHOICE", "choice": {"id": "4"}}),
                        **AS_ANA)
    assert service_status(world, ANA_SERVICE) == "DEACTIVATED"
    assert rejected(post_as(world, AS_ANA, care("UNSUSPEND", ANA_SERVICE))) == {("400-service-state", "orderRequest.serviceId")}


def test_the_same_external_order_number_answers_the_first_order(world: World) -> None:
    number = unique("SAME-")
    first = world.post("/orders", json=order(number)).json()["order"]
    # Submitted again (even with another cart), the first order is the answer.
    again = world.post("/orders", json=order(number, shoppingCart={"deviceId": "880102", "planId": "660101"})).json()
    assert again["order"]["orderId"] == first["orderId"]
    assert again["order"]["dateSubmitted"] == first["dateSubmitted"]


def test_an_external_order_number_is_the_tenants_own(world: World, tmp_path: Path) -> None:
    """Issue 21, item 5: the same externalOrderNumber submitted again *by the same tenant* is the
    first order; another tenant's order of that number is an order of its own."""
    number = unique("BOTH-")
    neighbour = make_world(world.issuer, world.api, world.issuer.services, tmp_path)  # the demo catalog, another code
    first = world.post("/orders", json=order(number)).json()["order"]
    theirs = neighbour.post("/orders", json=order(number)).json()["order"]
    assert theirs["orderId"] != first["orderId"] and theirs["externalOrderNumber"] == number
    assert world.get(f"/orders/{theirs['orderId']}").status_code == 404  # and neither sees the other's


def test_orders_are_filtered_by_the_customers_own_employee_id_too(world: World) -> None:
    placed = confirm_then_submit(world, order(), **AS_SAM)["order"]
    by_company = world.get("/orders", params={"companyEmployeeId": "sam.lindqvist@xyz.example", "limit": 500}).json()
    by_id = world.get("/orders", params={"employee": SAM, "limit": 500}).json()
    assert placed["orderId"] in {o["orderId"] for o in by_company["orders"]}
    assert [o["orderId"] for o in by_company["orders"]] == [o["orderId"] for o in by_id["orders"]]


def rejected(response: httpx.Response) -> set[tuple[str, str]]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "ERROR" and all(len(e["id"]) == 10 and e["message"] for e in body["errors"])
    return {(error["errorCode"], error["field"]) for error in body["errors"]}


# Each rule of an order, broken alone: the error it gets and the field that error names.
RULES = [
    ({"regionId": None}, "400-region-required", "orderRequest.regionId"),
    ({"regionId": "5101"}, "400-region-not-found", "orderRequest.regionId"),  # a state, not a country
    ({"postalCode": None}, "400-postal-code-required", "orderRequest.postalCode"),
    ({"postalCode": "ABC"}, "400-postal-code-invalid", "orderRequest.postalCode"),
    ({"shoppingCart": {"planId": "660101"}}, "400-cart-incomplete", "orderRequest.shoppingCart.deviceId"),
    ({"shoppingCart": {"deviceId": "nope", "planId": "660101"}}, "400-device-not-found", "orderRequest.shoppingCart.deviceId"),
    ({"shoppingCart": {"deviceId": "880101", "planId": "nope"}}, "400-plan-not-found", "orderRequest.shoppingCart.planId"),
    ({"shoppingCart": {"deviceId": "880201", "planId": "660101"}}, "400-device-plan-mismatch", "orderRequest.shoppingCart.deviceId"),
    ({"shoppingCart": {"deviceId": "880101", "planId": "660101", "optionalFeatureIds": ["41"]}},
     "400-feature-not-offered", "orderRequest.shoppingCart.optionalFeatureIds[0]"),
    ({"shoppingCart": {"deviceId": "880101", "planId": "660101", "accessoryIds": ["nope"]}},
     "400-accessory-not-found", "orderRequest.shoppingCart.accessoryIds[0]"),
    ({"shoppingCart": {"deviceId": "880101", "planId": "660101", "accessoryIds": ["990201"]}},
     "400-accessory-does-not-fit", "orderRequest.shoppingCart.accessoryIds[0]"),
    ({"serviceId": SAM_SERVICE}, "400-service-not-allowed", "orderRequest.serviceId"),
    ({"shipTo": None}, "400-ship-to-required", "orderRequest.shipTo"),
    ({"shipTo": {**SHIP_TO, "regionId": "9999"}}, "400-region-not-found", "orderRequest.shipTo.regionId"),
    ({"shipTo": {**SHIP_TO, "address": SHIP_TO["address"][1:]}}, "400-address-line-required", "orderRequest.shipTo.address"),
    ({"shipTo": {**SHIP_TO, "address": [*SHIP_TO["address"], {"id": "FLOOR", "value": "3"}]}},
     "400-address-line-unknown", "orderRequest.shipTo.address[4].id"),
    ({"shipTo": {**SHIP_TO, "address": [*SHIP_TO["address"][:2], {"id": "STATE", "value": "Connecticut"},
                                        SHIP_TO["address"][3]]}}, "400-address-line-length", "orderRequest.shipTo.address[2].value"),
    ({"shipTo": {**SHIP_TO, "address": [*SHIP_TO["address"][:3], {"id": "POSTAL_CODE", "value": "0647X"}]}},
     "400-address-line-format", "orderRequest.shipTo.address[3].value"),
    ({"properties": []}, "400-property-required", "orderRequest.properties"),
    ({"properties": contact({"id": "SHOE_SIZE", "type": "TEXT", "text": "9"})}, "400-property-unknown",
     "orderRequest.properties[0].fields[1].id"),
    ({"properties": contact({"id": "Reason", "type": "TEXT", "text": "9"})}, "400-property-type",
     "orderRequest.properties[0].fields[1].type"),
    ({"properties": [{"fields": [{"id": "CONTACT_NUMBER", "type": "TEXT", "text": "12"}]}]}, "400-property-length",
     "orderRequest.properties[0].fields[0].text"),
    ({"properties": contact({"id": "Reason", "type": "CHOICE", "choice": {"id": "77"}})}, "400-property-choice",
     "orderRequest.properties[0].fields[1].choice.id"),
    ({"properties": contact({"id": "Reason", "type": "CHOICE", "choice": {"id": "1", "otherText": "x"}})},
     "400-property-choice", "orderRequest.properties[0].fields[1].choice.otherText"),
]
CARE_RULES = [
    (care("SUSPEND", None), "400-service-required", "orderRequest.serviceId"),
    (care("SUSPEND", "nope"), "400-service-not-found", "orderRequest.serviceId"),
    (care("SUSPEND", "500301"), "400-service-not-found", "orderRequest.serviceId"),  # Ana's, not the actor's
    (care("UPDATE_FEATURES", SAM_SERVICE), "400-cart-incomplete", "orderRequest.shoppingCart.features"),
    (care("UPDATE_FEATURES", SAM_SERVICE, shoppingCart={"features": [{"id": "41", "action": "ADD"}]}),
     "400-feature-not-offered", "orderRequest.shoppingCart.features[0].id"),
    (care("UPDATE_FEATURES", SAM_SERVICE, shoppingCart={"features": [{"id": "31", "action": "REMOVE"}]}),
     "400-feature-absent", "orderRequest.shoppingCart.features[0].id"),
    (care("SUSPEND", SAM_SERVICE, {"id": "PREFERRED_SUSPENSION_DATE", "type": "DATE", "date": "next tuesday"}),
     "400-property-value", "orderRequest.properties[0].fields[1].date"),
    (order(transactionType="ORDER_ACCESSORIES", serviceId=SAM_SERVICE, regionId=None, postalCode=None,
           shoppingCart={"accessoryIds": []}, properties=contact()),
     "400-cart-incomplete", "orderRequest.shoppingCart.accessoryIds"),
    (order(transactionType="UPGRADE", serviceId=SAM_SERVICE, regionId=None, postalCode=None, shoppingCart={},
           properties=contact()), "400-cart-incomplete", "orderRequest.shoppingCart"),
]


@pytest.mark.parametrize(("change", "code", "field"), RULES, ids=[f"{c}:{f}" for _, c, f in RULES])
def test_each_rule_of_a_new_activation_names_its_field(world: World, change: dict, code: str, field: str) -> None:
    body = order(**change)
    assert (code, field) in rejected(world.post("/orders", params={"confirm": "true"}, json=body))
    before = orders_count(world)
    assert (code, field) in rejected(world.post("/orders", json=body))
    assert orders_count(world) == before


@pytest.mark.parametrize(("body", "code", "field"), CARE_RULES, ids=[f"{c}:{f}" for _, c, f in CARE_RULES])
def test_each_rule_of_a_care_order_names_its_field(world: World, body: dict, code: str, field: str) -> None:
    assert (code, field) in rejected(post_as(world, AS_SAM, body))


def test_a_malformed_order_names_the_field_it_lacks(world: World) -> None:
    response = world.post("/orders", json={"orderRequest": {"transactionType": "SWAP_DEVICES"}})
    body = response.json()
    assert response.status_code == 400 and body["errorCode"] == "400-invalid-field"
    assert "orderRequest.externalOrderNumber" in body["message"] and "orderRequest.transactionType" in body["message"]
    assert world.post("/orders", content=b"{not json", headers={**world.headers(), "Content-Type": "application/json"}
                      ).json()["errorCode"] == "400-invalid-field"


def test_order_properties_are_the_tenants_for_the_transaction_type(world: World) -> None:
    answer = world.get("/orders/properties", params={"transactionType": "SUSPEND", "vendor": "71"}).json()
    ids = [f["id"] for f in answer["properties"]["items"][0]["fields"]]
    assert "PREFERRED_SUSPENSION_DATE" in ids and "PREFERRED_AREA_CODE" not in ids and "CONTACT_NUMBER" in ids


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("workers")
    with ServerProcess(workdir, "--workers", "2") as live:
        built = make_world(live, live.url, live.services, workdir)
        built.database_url = live.database_url
        yield built


def test_twenty_submissions_at_once_over_two_workers_make_one_order(two_workers: World) -> None:
    world = two_workers
    number = unique("RACE-")
    body = order(number)
    headers = world.headers()
    with httpx.Client(base_url=world.api, timeout=60, limits=httpx.Limits(max_connections=20)) as http:
        answers = all_at_once(20, lambda _: http.post("/mobproc/v1/orders", json=body, headers=headers))
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers if a.status_code != 200]
    ids = {a.json()["order"]["orderId"] for a in answers}
    assert len(ids) == 1
    stored = query(world.database_url, "SELECT count(*) FROM api_orders WHERE external_order_number = :n", n=number)
    assert stored == [(1,)]


def test_the_meta_links_walk_72_items_in_pages_of_10(tmp_path: Path, server: LiveServer) -> None:
    people = [{"id": f"7{n:04d}", "firstName": "Person", "lastName": f"Number {n}"} for n in range(69)]
    world = make_world(server, server.url, server.services, tmp_path, employees=[*DEMO["employees"], *people])
    seen, url, pages = [], f"{world.api}/mobproc/v1/employees?limit=10", 0
    headers = world.headers()
    with httpx.Client(timeout=30) as http:
        while url:
            page = http.get(url, headers=headers).json()
            meta, pages = page["_meta"], pages + 1
            assert meta["totalCount"] == 72 and meta["limit"] == 10 and meta["href"] == url
            if meta["offset"] == 0:
                assert "hrefStart" not in meta and "hrefPrevious" not in meta
            else:
                assert meta["hrefStart"].endswith("offset=0&limit=10")
                assert meta["hrefPrevious"].endswith(f"offset={meta['offset'] - 10}&limit=10")
            if meta["offset"] == 70:
                assert "hrefNext" not in meta and "hrefEnd" not in meta
            else:
                assert meta["hrefEnd"].endswith("offset=70&limit=10")
            seen += [e["id"] for e in page["employees"]]
            assert all(e["_meta"]["href"] == f"{world.api}/mobproc/v1/employees/{e['id']}" for e in page["employees"])
            url = meta.get("hrefNext")
    assert pages == 8 and len(seen) == 72 and len(set(seen)) == 72
