"""The API's reading resources: ``/ping``, ``/me``, employees, regions, vendors, manufacturers,
the catalog and the assets. Every collection pages (:mod:`.paging`) and keeps to what the
authenticated account may see: its own employee and those it may act for."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AfterValidator
from starlette.concurrency import run_in_threadpool

from .. import models
from ..models import storable
from ..procurement.orders import CARE, PROCUREMENT
from ..procurement.records import Record
from ..procurement.views import View, absolute
from .context import actor, base_url, caller, echo, parts, view_of
from .door import Actor, Caller, resolve_actor
from .errors import forbidden, not_found
from .paging import Page, page, page_meta
from .ping import ECHO_TEXT_LENGTH

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": models.Error, "description": description}
    for status, description in ((400, "Bad request"), (401, "No valid access token"), (403, "Forbidden"),
                                (404, "Not found"), (500, "Server error"), (503, "Unavailable, retry later"))
}
router = APIRouter(responses=ERRORS)
get = partial(router.get, response_model_exclude_none=True)
Who = Annotated[Actor, Depends(actor)]
Paged = Annotated[Page, Depends(page)]
# Every key a call names is looked up: text both databases can hold.
Key = Annotated[str, Path(max_length=255), AfterValidator(storable)]
QueryKey = Annotated[str | None, Query(max_length=320), AfterValidator(lambda v: v if v is None else storable(v))]
EmployeeFilter = Annotated[QueryKey, Query(description="only this employee's (employee id)")]
CompanyFilter = Annotated[QueryKey, Query(description="only this employee's (company employee id)")]


def answer(request: Request, document: Any) -> Any:
    return absolute(document, base_url(request))


def collection(request: Request, name: str, items: list[Any], at: Page, total: int) -> dict[str, Any]:
    return {"_meta": page_meta(request, at, total), name: answer(request, items)}


def holders(request: Request, who: Actor, employee: str | None, company_employee: str | None) -> frozenset[str] | None:
    """The documented employee filter (employee id first): the employees whose records a
    collection lists, never beyond the account's reach (None: the whole tenant)."""
    if employee is None and company_employee is None:
        return who.reach
    store = parts(request).store
    record = (store.record(who.caller.tenant, "employee", employee) if employee is not None
              else store.record_by_alt_key(who.caller.tenant, "employee", company_employee))
    if record is None or not who.may_see(record.key):
        raise forbidden("employee-forbidden", "The account may not see that employee's records")
    return frozenset({record.key})


@router.get("/ping", response_model=models.Ping, summary="Check the API and the door")
async def ping(request: Request, call: Annotated[Caller, Depends(caller)],
               echoText: Annotated[str, Query(max_length=ECHO_TEXT_LENGTH)] = "") -> dict[str, Any]:  # noqa: N803
    """Echoes ``echoText`` and names the node (host and process) that answered. (A GET is
    answered by :class:`~.ping.DirectPing`, with the same door and answer; this route
    describes it and answers every other method.)"""
    if call.context_employee is not None or call.context_company_employee is not None:
        await run_in_threadpool(resolve_actor, parts(request).store, call)  # the context must hold, here too
    return echo(parts(request), echoText)


def _me_user(view: View, who: Actor, record: Record, *, username: str | None = None) -> dict[str, Any]:
    mine = record.key == who.me.key
    user = {**view.employee(record), "isApprover": mine and who.is_approver,
            "canMoveService": mine and (who.reach is None or len(who.reach) > 1)}
    return {**user, "username": username} if username else user


@get("/me", response_model=models.Me, summary="The authenticated user and the actor")
def me(request: Request, who: Who) -> dict[str, Any]:
    view = view_of(request, who)
    return answer(request, {
        "authenticatedUser": _me_user(view, who, who.me, username=who.caller.token.subject),
        "actor": _me_user(view, who, who.actor),
        "transactionTypes": [*PROCUREMENT, *CARE],
    })


@get("/employees", response_model=models.Employees, summary="Employees the account may see")
def employees(request: Request, who: Who, at: Paged, employee: EmployeeFilter = None,
              companyEmployeeId: CompanyFilter = None) -> dict[str, Any]:  # noqa: N803
    keys = holders(request, who, employee, companyEmployeeId)
    found, total = parts(request).store.records(who.caller.tenant, "employee", offset=at.offset, limit=at.limit, keys=keys)
    view = view_of(request, who)
    return collection(request, "employees", [view.employee(r) for r in found], at, total)


@get("/employees/{employee_id}", response_model=models.Employee, summary="One employee")
def one_employee(request: Request, who: Who, employee_id: Key) -> dict[str, Any]:
    record = parts(request).store.record(who.caller.tenant, "employee", employee_id)
    if record is None or not who.may_see(record.key):
        raise not_found("employee", employee_id)
    return answer(request, view_of(request, who).employee(record))


def _records(request: Request, who: Actor, kind: str, at: Page, **narrow: Any) -> tuple[list[Record], int, View]:
    found, total = parts(request).store.records(who.caller.tenant, kind, offset=at.offset, limit=at.limit, **narrow)
    view = view_of(request, who)
    view.remember(found)
    return found, total, view


def _one(request: Request, who: Actor, kind: str, key: str, what: str) -> tuple[Record, View]:
    view = view_of(request, who)
    record = view.find(kind, key)
    if record is None:
        raise not_found(what, key)
    return record, view


@get("/regions", response_model=models.Regions, summary="Countries, or the states of one")
def regions(request: Request, who: Who, at: Paged,
            parentRegion: QueryKey = None) -> dict[str, Any]:  # noqa: N803
    """Without ``parentRegion``, the countries; with it, the states or provinces of that country."""
    if parentRegion is None:
        found, total, view = _records(request, who, "region", at, roots=True)
    else:
        found, total, view = _records(request, who, "region", at, owners=[parentRegion])
    return collection(request, "regions", [view.region(r) for r in found], at, total)


@get("/regions/{region_id}", response_model=models.Region, summary="One region, with its address format")
def one_region(request: Request, who: Who, region_id: Key) -> dict[str, Any]:
    record, view = _one(request, who, "region", region_id, "region")
    return answer(request, view.region(record, detail=True))


@get("/vendors", response_model=models.Vendors, summary="The tenant's carriers")
def vendors(request: Request, who: Who, at: Paged) -> dict[str, Any]:
    found, total, view = _records(request, who, "vendor", at)
    return collection(request, "vendors", [view.vendor(r.key) for r in found], at, total)


@get("/vendors/{vendor_id}", response_model=models.Reference, summary="One carrier")
def one_vendor(request: Request, who: Who, vendor_id: Key) -> dict[str, Any]:
    _one(request, who, "vendor", vendor_id, "vendor")
    return answer(request, view_of(request, who).vendor(vendor_id))


@get("/manufacturers/{name}", response_model=models.Reference, summary="One manufacturer")
def one_manufacturer(request: Request, who: Who, name: Key) -> dict[str, Any]:
    _, view = _one(request, who, "manufacturer", name, "manufacturer")
    return answer(request, view.manufacturer(name))


@get("/catalog/devices", response_model=models.Devices, summary="Devices to order")
def catalog_devices(request: Request, who: Who, at: Paged) -> dict[str, Any]:
    found, total, view = _records(request, who, "device", at)
    return collection(request, "devices", [view.catalog_item(r) for r in found], at, total)


@get("/catalog/devices/{device_id}", response_model=models.CatalogItem, summary="One device of the catalog")
def catalog_device(request: Request, who: Who, device_id: Key) -> dict[str, Any]:
    record, view = _one(request, who, "device", device_id, "device")
    return answer(request, view.catalog_item(record))


@get("/catalog/plans", response_model=models.Plans, summary="Plans to order, with their optional features")
def catalog_plans(request: Request, who: Who, at: Paged) -> dict[str, Any]:
    found, total, view = _records(request, who, "plan", at)
    return collection(request, "plans", [view.plan(r) for r in found], at, total)


@get("/catalog/plans/{plan_id}", response_model=models.Plan, summary="One plan, with its optional features")
def catalog_plan(request: Request, who: Who, plan_id: Key) -> dict[str, Any]:
    record, view = _one(request, who, "plan", plan_id, "plan")
    return answer(request, view.plan(record))


@get("/catalog/accessories", response_model=models.Accessories, summary="Accessories to order")
def catalog_accessories(request: Request, who: Who, at: Paged) -> dict[str, Any]:
    found, total, view = _records(request, who, "accessory", at)
    return collection(request, "accessories", [view.catalog_item(r) for r in found], at, total)


@get("/catalog/accessories/{accessory_id}", response_model=models.CatalogItem, summary="One accessory")
def catalog_accessory(request: Request, who: Who, accessory_id: Key) -> dict[str, Any]:
    record, view = _one(request, who, "accessory", accessory_id, "accessory")
    return answer(request, view.catalog_item(record))


@get("/assets/devices", response_model=models.DeviceAssets, summary="Device assets the account may see")
def device_assets(request: Request, who: Who, at: Paged, employee: EmployeeFilter = None,
                  companyEmployeeId: CompanyFilter = None) -> dict[str, Any]:  # noqa: N803
    owners = holders(request, who, employee, companyEmployeeId)
    found, total, view = _records(request, who, "device_asset", at, owners=owners)
    return collection(request, "devices", [view.device_asset(r) for r in found], at, total)


@get("/assets/devices/{device_id}", response_model=models.DeviceAsset, summary="One device asset")
def device_asset(request: Request, who: Who, device_id: Key) -> dict[str, Any]:
    record, view = _one(request, who, "device_asset", device_id, "device asset")
    if not who.may_see(record.owner):
        raise not_found("device asset", device_id)
    return answer(request, view.device_asset(record))


@get("/assets/services", response_model=models.Services, summary="Service assets the account may see")
def service_assets(request: Request, who: Who, at: Paged, employee: EmployeeFilter = None,
                   companyEmployeeId: CompanyFilter = None) -> dict[str, Any]:  # noqa: N803
    owners = holders(request, who, employee, companyEmployeeId)
    found, total, view = _records(request, who, "service", at, owners=owners)
    return collection(request, "services", [view.service(r, detail=False) for r in found], at, total)


@get("/assets/services/{service_id}", response_model=models.Service, summary="One service asset")
def service_asset(request: Request, who: Who, service_id: Key) -> dict[str, Any]:
    record, view = _one(request, who, "service", service_id, "service asset")
    if not who.may_see(record.owner):
        raise not_found("service asset", service_id)
    return answer(request, view.service(record))
