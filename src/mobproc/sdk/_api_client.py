"""The MOBPROC v1 API, typed: :class:`Client` and :class:`AsyncClient` read every answer into
the models the server publishes (:mod:`mobproc.models`, the very classes, not a copy), over the
JSON calls of :mod:`._api`. Needs pydantic: ``pip install 'mobproc[client]'``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

try:
    from pydantic import BaseModel, ValidationError
except ImportError as missing:  # pragma: no cover - the test extra installs pydantic
    raise ImportError(
        "mobproc.Client reads the API's answers into its pydantic models: pip install 'mobproc[client]'"
    ) from missing

from .. import models
from ._api import ApiSession, AsyncApiSession
from ._api_errors import UnexpectedAnswer

M = TypeVar("M", bound=BaseModel)
PAGE_SIZE = 100  # items a page: fewer calls than the API's default of 10, within its most (500)
OrderLike = models.OrderRequest | Mapping[str, Any]


def read(model: type[M], body: Any) -> M:
    """An answer as the API's model. What the model does not know is kept (``model_extra``):
    the hosted system may say more than mobproc's sandbox does."""
    try:
        return model.model_validate(body, extra="allow")
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(part) for part in each['loc']) or 'answer'}: {each['msg']}"
                             for each in error.errors()[:3])
        raise UnexpectedAnswer(200, message=f"not a {model.__name__}: {problems}", body=body) from None


def order_body(order: OrderLike) -> dict[str, Any]:
    """``{"orderRequest": …}``, checked against the model before it is sent (a misspelt field
    is a ``pydantic.ValidationError`` here, not a 400 there)."""
    request = order if isinstance(order, models.OrderRequest) else models.OrderRequest.model_validate(order)
    return models.OrderBody(orderRequest=request).model_dump(mode="json", exclude_none=True)


def at(collection: str, key: str, *rest: str) -> str:
    """``/orders/{key}``, the key quoted whole (a ``/`` or ``?`` in it stays in it).

    >>> at("/orders", "7/approval?x", "approval")
    '/orders/7%2Fapproval%3Fx/approval'
    """
    if not key.strip(".") or not key.strip():
        # Empty, or a dot segment, which URL normalisation would take for a step up the path.
        raise ValueError(f"not an id: {key!r}")
    return "/".join((collection, quote(key, safe=""), *rest))


def _filters(employee: str | None, company_employee_id: str | None, page_size: int) -> dict[str, Any]:
    return {"employee": employee, "companyEmployeeId": company_employee_id, "limit": page_size}


class Client(ApiSession):
    """The MOBPROC v1 API for any number of threads, its answers typed.

    ``endpoint`` is the token endpoint as :class:`TokenSession` takes it (``"production"``,
    ``"qa"``, a mobproc's base URL), the API taken beside it (``/mobproc/v1``), or at
    ``api_url``. Tokens come from a :class:`TokenSession` (``store`` shares them with other
    processes), so a refresh token is never presented twice; every call carries
    ``X-TNGO-TENANT`` (``tenant``), ``client_id`` and a fresh
    ``X-TNGO-CONTEXT-CORRELATIONID``; :meth:`with_context` sets the other headers. A refusal
    raises an :class:`ApiError` subclass carrying the occurrence id.

    >>> with Client("qa", client_id, secret, username="command://alice", password=pw, tenant="XYZ") as api:  # doctest: +SKIP
    ...     order = api.submit(OrderRequest(externalOrderNumber="MY-APP-0001", ...))
    ...     api.approve(order.orderId)

    Collections (:meth:`orders`, :meth:`employees`, …) are iterators over every page, each item
    once; a call is made as they are iterated.
    """

    def ping(self, echo_text: str = "") -> models.Ping:
        """``GET /ping``: echoes ``echo_text`` and names the node that answered."""
        return read(models.Ping, self.request("GET", "/ping", params={"echoText": echo_text or None}))

    def me(self) -> models.Me:
        """``GET /me``: the authenticated user and the actor (the context), ``isApprover``."""
        return read(models.Me, self.request("GET", "/me"))

    def employees(self, *, employee: str | None = None, company_employee_id: str | None = None,
                  page_size: int = PAGE_SIZE) -> Iterator[models.Employee]:
        """``GET /employees``: those the account may see (or the one a filter names)."""
        return self._items(models.Employee, "/employees", "employees",
                           _filters(employee, company_employee_id, page_size))

    def employee(self, employee_id: str) -> models.Employee:
        """``GET /employees/{id}``."""
        return read(models.Employee, self.request("GET", at("/employees", employee_id)))

    def regions(self, *, parent_region: str | None = None, page_size: int = PAGE_SIZE) -> Iterator[models.Region]:
        """``GET /regions``: the countries, or the states of ``parent_region``."""
        return self._items(models.Region, "/regions", "regions", {"parentRegion": parent_region, "limit": page_size})

    def region(self, region_id: str) -> models.Region:
        """``GET /regions/{id}``, with its ``addressFormat`` (what ``shipTo.address`` takes)."""
        return read(models.Region, self.request("GET", at("/regions", region_id)))

    def devices(self, *, page_size: int = PAGE_SIZE) -> Iterator[models.CatalogItem]:
        """``GET /catalog/devices``."""
        return self._items(models.CatalogItem, "/catalog/devices", "devices", {"limit": page_size})

    def device(self, device_id: str) -> models.CatalogItem:
        """``GET /catalog/devices/{id}``."""
        return read(models.CatalogItem, self.request("GET", at("/catalog/devices", device_id)))

    def plans(self, *, page_size: int = PAGE_SIZE) -> Iterator[models.Plan]:
        """``GET /catalog/plans``, each with its optional features."""
        return self._items(models.Plan, "/catalog/plans", "plans", {"limit": page_size})

    def plan(self, plan_id: str) -> models.Plan:
        """``GET /catalog/plans/{id}``."""
        return read(models.Plan, self.request("GET", at("/catalog/plans", plan_id)))

    def accessories(self, *, page_size: int = PAGE_SIZE) -> Iterator[models.CatalogItem]:
        """``GET /catalog/accessories``."""
        return self._items(models.CatalogItem, "/catalog/accessories", "accessories", {"limit": page_size})

    def accessory(self, accessory_id: str) -> models.CatalogItem:
        """``GET /catalog/accessories/{id}``."""
        return read(models.CatalogItem, self.request("GET", at("/catalog/accessories", accessory_id)))

    def services(self, *, employee: str | None = None, company_employee_id: str | None = None,
                 page_size: int = PAGE_SIZE) -> Iterator[models.Service]:
        """``GET /assets/services``: the lines a care order (``SUSPEND``, …) names by ``serviceId``."""
        return self._items(models.Service, "/assets/services", "services",
                           _filters(employee, company_employee_id, page_size))

    def service(self, service_id: str) -> models.Service:
        """``GET /assets/services/{id}``."""
        return read(models.Service, self.request("GET", at("/assets/services", service_id)))

    def order_properties(self, transaction_type: models.TransactionType, *,
                         vendor: str | None = None) -> list[models.PropertySpecGroup]:
        """``GET /orders/properties``: the ``properties`` an order of this type takes."""
        answer = self.request("GET", "/orders/properties", params={"transactionType": transaction_type,
                                                                    "vendor": vendor})
        return read(models.OrderProperties, answer).properties.items

    def confirm(self, order: OrderLike) -> models.OrderConfirmation:
        """``POST /orders?confirm=true``: the order checked and every id expanded, with its
        ``costSummary``; nothing is stored. Raises :class:`OrderRejected` naming each field."""
        answer = self._run(self._call("POST", "/orders", params={"confirm": "true"}, json=order_body(order),
                                      repeatable=True))
        return read(models.Confirmed, answer).orderConfirmation

    def submit(self, order: OrderLike) -> models.Order:
        """``POST /orders``: the order submitted (``ORDER_SUBMITTED``, or ``AWAITING_APPROVAL``).

        Sent again after a lost answer or a gateway's 502 or 504, with the same
        ``externalOrderNumber``: the API answers the order first stored under it, so a retry
        never orders twice. An ``externalOrderNumber`` names one order: submitting another
        under it answers the first."""
        answer = self._run(self._call("POST", "/orders", json=order_body(order), repeatable=True))
        return read(models.Submitted, answer).order

    def order(self, order_id: str) -> models.Order:
        """``GET /orders/{id}``."""
        return read(models.Order, self.request("GET", at("/orders", order_id)))

    def orders(self, *, employee: str | None = None, company_employee_id: str | None = None,
               page_size: int = PAGE_SIZE) -> Iterator[models.OrderSummary]:
        """``GET /orders``: the orders the account may see, newest first (``order(id)`` for
        the whole of one)."""
        return self._items(models.OrderSummary, "/orders", "orders", _filters(employee, company_employee_id, page_size))

    def approve(self, order_id: str, *, reason: str | None = None) -> models.ApprovalAnswer:
        """``POST /orders/{id}/approval`` (an approver of the tenant only): ``APPROVAL_QUEUED``,
        ``APPROVAL_NOT_NEEDED`` (decided already, or no approval needed) or
        ``NOT_READY_FOR_APPROVAL``. Not sent again after a lost answer (read the order)."""
        return self._decide(order_id, models.Approval(action="APPROVE", reason=reason))

    def reject(self, order_id: str, reason: str) -> models.ApprovalAnswer:
        """As :meth:`approve`, rejecting: ``REJECTION_QUEUED``; a rejection needs a reason."""
        return self._decide(order_id, models.Approval(action="REJECT", reason=reason))

    def _decide(self, order_id: str, decision: models.Approval) -> models.ApprovalAnswer:
        answer = self.request("POST", at("/orders", order_id, "approval"), json=decision.model_dump(exclude_none=True))
        return read(models.ApprovalAnswer, answer)

    def _items(self, model: type[M], path: str, key: str, params: Mapping[str, Any]) -> Iterator[M]:
        return (read(model, item) for item in self.walk(path, key, params))


class AsyncClient(AsyncApiSession):
    """:class:`Client` for asyncio, with the same arguments and methods, awaited; collections
    are async iterators (``async for order in api.orders()``).

    >>> async with AsyncClient("qa", client_id, secret, username=user, password=pw, tenant="XYZ") as api:  # doctest: +SKIP
    ...     print((await api.me()).actor.firstName)
    """

    async def ping(self, echo_text: str = "") -> models.Ping:
        return read(models.Ping, await self.request("GET", "/ping", params={"echoText": echo_text or None}))

    async def me(self) -> models.Me:
        return read(models.Me, await self.request("GET", "/me"))

    def employees(self, *, employee: str | None = None, company_employee_id: str | None = None,
                  page_size: int = PAGE_SIZE) -> AsyncIterator[models.Employee]:
        return self._items(models.Employee, "/employees", "employees",
                           _filters(employee, company_employee_id, page_size))

    async def employee(self, employee_id: str) -> models.Employee:
        return read(models.Employee, await self.request("GET", at("/employees", employee_id)))

    def regions(self, *, parent_region: str | None = None, page_size: int = PAGE_SIZE) -> AsyncIterator[models.Region]:
        return self._items(models.Region, "/regions", "regions", {"parentRegion": parent_region, "limit": page_size})

    async def region(self, region_id: str) -> models.Region:
        return read(models.Region, await self.request("GET", at("/regions", region_id)))

    def devices(self, *, page_size: int = PAGE_SIZE) -> AsyncIterator[models.CatalogItem]:
        return self._items(models.CatalogItem, "/catalog/devices", "devices", {"limit": page_size})

    async def device(self, device_id: str) -> models.CatalogItem:
        return read(models.CatalogItem, await self.request("GET", at("/catalog/devices", device_id)))

    def plans(self, *, page_size: int = PAGE_SIZE) -> AsyncIterator[models.Plan]:
        return self._items(models.Plan, "/catalog/plans", "plans", {"limit": page_size})

    async def plan(self, plan_id: str) -> models.Plan:
        return read(models.Plan, await self.request("GET", at("/catalog/plans", plan_id)))

    def accessories(self, *, page_size: int = PAGE_SIZE) -> AsyncIterator[models.CatalogItem]:
        return self._items(models.CatalogItem, "/catalog/accessories", "accessories", {"limit": page_size})

    async def accessory(self, accessory_id: str) -> models.CatalogItem:
        return read(models.CatalogItem, await self.request("GET", at("/catalog/accessories", accessory_id)))

    def services(self, *, employee: str | None = None, company_employee_id: str | None = None,
                 page_size: int = PAGE_SIZE) -> AsyncIterator[models.Service]:
        return self._items(models.Service, "/assets/services", "services",
                           _filters(employee, company_employee_id, page_size))

    async def service(self, service_id: str) -> models.Service:
        return read(models.Service, await self.request("GET", at("/assets/services", service_id)))

    async def order_properties(self, transaction_type: models.TransactionType, *,
                               vendor: str | None = None) -> list[models.PropertySpecGroup]:
        answer = await self.request("GET", "/orders/properties", params={"transactionType": transaction_type,
                                                                          "vendor": vendor})
        return read(models.OrderProperties, answer).properties.items

    async def confirm(self, order: OrderLike) -> models.OrderConfirmation:
        answer = await self._run(self._call("POST", "/orders", params={"confirm": "true"}, json=order_body(order),
                                            repeatable=True))
        return read(models.Confirmed, answer).orderConfirmation

    async def submit(self, order: OrderLike) -> models.Order:
        """As :meth:`Client.submit`: sent again with the same ``externalOrderNumber`` where safe."""
        answer = await self._run(self._call("POST", "/orders", json=order_body(order), repeatable=True))
        return read(models.Submitted, answer).order

    async def order(self, order_id: str) -> models.Order:
        return read(models.Order, await self.request("GET", at("/orders", order_id)))

    def orders(self, *, employee: str | None = None, company_employee_id: str | None = None,
               page_size: int = PAGE_SIZE) -> AsyncIterator[models.OrderSummary]:
        return self._items(models.OrderSummary, "/orders", "orders", _filters(employee, company_employee_id, page_size))

    async def approve(self, order_id: str, *, reason: str | None = None) -> models.ApprovalAnswer:
        return await self._decide(order_id, models.Approval(action="APPROVE", reason=reason))

    async def reject(self, order_id: str, reason: str) -> models.ApprovalAnswer:
        return await self._decide(order_id, models.Approval(action="REJECT", reason=reason))

    async def _decide(self, order_id: str, decision: models.Approval) -> models.ApprovalAnswer:
        answer = await self.request("POST", at("/orders", order_id, "approval"),
                                    json=decision.model_dump(exclude_none=True))
        return read(models.ApprovalAnswer, answer)

    async def _items(self, model: type[M], path: str, key: str, params: Mapping[str, Any]) -> AsyncIterator[M]:
        async for item in self.walk(path, key, params):
            yield read(model, item)
