"""``/orders``: confirm (``?confirm=true``, nothing stored), submit (idempotent by the caller's
``externalOrderNumber``), list, read, approve or reject, and the order properties to fill in.

An order is for the actor (its ``accountHolder``) and requested by the authenticated account's
employee (``requestedBy``). The same ``externalOrderNumber`` submitted again by the same tenant
answers the order stored the first time, also when the submissions arrive at once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import RootModel

from .. import models
from ..procurement.orders import OrderDesk, OrderProblem, OrderRejected, order_document
from ..procurement.records import ServiceStateChanged, StoredOrder
from .context import parts, view_of
from .door import Actor
from .errors import bad_request, forbidden, not_found, rejected_order_body
from .resources import (
    ERRORS,
    CompanyFilter,
    EmployeeFilter,
    Key,
    Paged,
    QueryKey,
    Who,
    answer,
    collection,
    holders,
)

router = APIRouter(responses=ERRORS)


class BadOrder(RootModel[models.OrderErrors | models.Error]):
    """An order that cannot be accepted (every problem, each naming its field), or a bad call."""


class OrderAnswer(RootModel[models.Confirmed | models.Submitted]):
    """A confirmation (``?confirm=true``) or the submitted order."""


def _rejected(problems: list[OrderProblem]) -> JSONResponse:
    return JSONResponse(rejected_order_body(OrderRejected(problems)), status_code=400)


def order_answer(order: StoredOrder, now: float) -> dict[str, Any]:
    """The stored order as the API answers it: its id, where it stands, its segment."""
    document = dict(order.document)
    segment = document.pop("segment", {})
    status = order.status(now)
    return {
        "_meta": {"href": f"/orders/{order.id}"},
        **document,
        "orderId": str(order.id),
        "orderSegments": {"items": [{"orderSegmentId": f"{order.id}-1", "status": status, **segment}]},
        "status": status,
    }


def order_summary(order: StoredOrder, now: float) -> dict[str, Any]:
    """An order as a collection lists it: what tells it apart, and its ``_meta.href`` for the
    rest (the documentation's "Metadata": a list does not repeat every detail record)."""
    return {
        "_meta": {"href": f"/orders/{order.id}"},
        "accountHolder": {"_meta": {"href": f"/employees/{quote(order.account_holder, safe='')}"},
                          "id": order.account_holder},
        "dateSubmitted": submitted(order.submitted_at),
        "externalOrderNumber": order.external_order_number,
        "orderId": str(order.id),
        "status": order.status(now),
        "transactionType": order.transaction_type,
    }


def submitted(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _visible_order(request: Request, who: Actor, order_id: str) -> StoredOrder:
    order = parts(request).store.order(who.caller.tenant, int(order_id)) if order_id.isascii() and order_id.isdigit() and len(order_id) < 16 else None
    if order is None or not who.may_see(order.account_holder):
        raise not_found("order", order_id)
    return order


@router.post(
    "/orders", response_model=OrderAnswer, response_model_exclude_none=True,
    responses={400: {"model": BadOrder, "description": "The order cannot be accepted, or a bad call"}},
    summary="Confirm (confirm=true) or submit an order",
)
def submit_order(request: Request, who: Who, body: models.OrderBody,
                 confirm: Annotated[bool, Query(description="validate and expand only; store nothing")] = False) -> Any:
    store, tenant = parts(request).store, who.caller.tenant
    order = body.orderRequest.model_dump(exclude_none=True)
    if not confirm:
        first = store.order_by_number(tenant, order["externalOrderNumber"])
        if first is not None:
            return _first(request, who, first)
    desk = OrderDesk(view_of(request, who), who.tenant, holder=who.actor, requester=who.me)
    try:
        checked = desk.check(order)
    except OrderRejected as rejected:
        return _rejected(rejected.problems)
    if confirm:
        return answer(request, {"orderConfirmation": checked.confirmation, "status": "SUCCESS"})
    now = time.time()
    approvals = who.tenant.get("approvals", {})
    needs_approval = order["transactionType"] in approvals.get("transactionTypes", [])
    try:
        stored, _created = store.submit(tenant, {
            "external_order_number": order["externalOrderNumber"],
            "transaction_type": order["transactionType"],
            "account_holder": who.actor.key,
            "requested_by": who.me.key,
            "service_id": checked.service_id,
            "needs_approval": needs_approval,
            "ready_at": now + approvals.get("readyAfterSeconds", 0),
            "submitted_at": now,
            "effect": checked.effect,
            "document": order_document(checked.confirmation, checked.segment, submitted(now)),
        }, apply_now=not needs_approval)
    except ServiceStateChanged as changed:
        return _rejected([OrderProblem("orderRequest.serviceId", "service-state",
                                       f"Service {changed} changed state meanwhile; look at it again")])
    return _first(request, who, stored)


def _first(request: Request, who: Actor, order: StoredOrder) -> Any:
    if not who.may_see(order.account_holder):
        # The tenant's number is taken by an order this account may not see.
        raise forbidden("order-number-taken", "This externalOrderNumber belongs to an order the account may not see")
    return answer(request, {"order": order_answer(order, time.time()), "status": "SUCCESS"})


@router.get("/orders", response_model=models.Orders, response_model_exclude_none=True,
            summary="Orders the account may see, newest first")
def orders(request: Request, who: Who, at: Paged, employee: EmployeeFilter = None,
           companyEmployeeId: CompanyFilter = None) -> dict[str, Any]:  # noqa: N803
    found, total = parts(request).store.orders(who.caller.tenant, offset=at.offset, limit=at.limit,
                                               holders=holders(request, who, employee, companyEmployeeId))
    now = time.time()
    return collection(request, "orders", [order_summary(order, now) for order in found], at, total)


@router.get("/orders/properties", response_model=models.OrderProperties, response_model_exclude_none=True,
            summary="The properties an order of a transaction type takes")
def order_properties(request: Request, who: Who, transactionType: models.TransactionType,  # noqa: N803
                     vendor: QueryKey = None, service: QueryKey = None) -> dict[str, Any]:
    """The documentation's "Obtaining Order Properties"; this sandbox's properties are the
    tenant's for the transaction type, whichever vendor fulfils it."""
    fields = [{k: v for k, v in spec.items() if k != "transactionTypes"}
              for spec in who.tenant.get("orderProperties", [])
              if not spec.get("transactionTypes") or transactionType in spec["transactionTypes"]]
    return answer(request, {"properties": {"_meta": {"href": str(request.url)}, "items": [
        {"fields": fields, "groupId": "MISCELLANEOUS"}]}})


@router.get("/orders/{order_id}", response_model=models.Order, response_model_exclude_none=True,
            summary="One order")
def one_order(request: Request, who: Who, order_id: Key) -> dict[str, Any]:
    return answer(request, order_answer(_visible_order(request, who, order_id), time.time()))


@router.post("/orders/{order_id}/approval", response_model=models.ApprovalAnswer,
             summary="Approve or reject an order awaiting approval")
def approve(request: Request, who: Who, order_id: Key, body: models.Approval) -> dict[str, Any]:
    """Only an approver of the tenant (``/me``: ``isApprover``) decides, and a rejection says why.
    An order that needs no approval, or was decided already, answers APPROVAL_NOT_NEEDED; one
    that will need it but does not await it yet, NOT_READY_FOR_APPROVAL."""
    order = _visible_order(request, who, order_id)
    if not who.is_approver:
        raise forbidden("approver-required", "Only an approver of the tenant may approve or reject orders")
    if body.action == "REJECT" and not (body.reason or "").strip():
        raise bad_request("reason-required", "A rejection needs a reason")
    status = order.status(time.time())
    if status == "PENDING_APPROVAL":
        return {"status": "NOT_READY_FOR_APPROVAL"}
    if status != "AWAITING_APPROVAL":
        return {"status": "APPROVAL_NOT_NEEDED"}
    decision = "APPROVED" if body.action == "APPROVE" else "REJECTED"
    try:
        decided = parts(request).store.decide(who.caller.tenant, order.id, decision, who.caller.token.subject, body.reason)
    except ServiceStateChanged as changed:
        raise bad_request("service-state", f"Service {changed} changed state since the order; it cannot be approved") from None
    if not decided:
        return {"status": "APPROVAL_NOT_NEEDED"}
    return {"status": "APPROVAL_QUEUED" if decision == "APPROVED" else "REJECTION_QUEUED"}
