"""How a tenant's records read in the MOBPROC v1 API: each expanded into the documented shape,
references resolved into small objects with their own ``_meta.href``.

Links are made relative to the API's root (``/employees/28671599``); the HTTP edge makes them
absolute with the URL the call came to (:func:`absolute`), so that stored orders do not keep
a host name.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .records import ProcurementStore, Record

Document = dict[str, Any]


def absolute(document: Any, base: str) -> Any:
    """``document`` with every link of every ``_meta`` block prefixed with ``base``."""
    if isinstance(document, dict):
        return {key: ({name: base + link for name, link in value.items()} if key == "_meta" and isinstance(value, dict)
                      and all(isinstance(link, str) and link.startswith("/") for link in value.values())
                      else absolute(value, base))
                for key, value in document.items()}
    if isinstance(document, list):
        return [absolute(item, base) for item in document]
    return document


def price(amount: float, recurrence: str, currency: str) -> Document:
    return {"amount": round(amount, 2), "currencyCode": currency, "recurrence": recurrence}


class View:
    """One call's reading of one tenant: records it looked up once are not looked up again."""

    def __init__(self, store: ProcurementStore, tenant: str, currency: str) -> None:
        self.store, self.tenant, self.currency = store, tenant, currency
        self._seen: dict[tuple[str, str], Record | None] = {}

    def find(self, kind: str, key: str | None) -> Record | None:
        if key is None:
            return None
        if (kind, key) not in self._seen:
            self._seen[kind, key] = self.store.record(self.tenant, kind, key)
        return self._seen[kind, key]

    def remember(self, records: list[Record]) -> None:
        for record in records:
            self._seen[record.kind, record.key] = record

    # --- references: the small objects other records point at ----------------------------

    def vendor(self, key: str) -> Document | None:
        record = self.find("vendor", key)
        return None if record is None else {"_meta": {"href": f"/vendors/{quote(key, safe='')}"}, **record.document}

    def manufacturer(self, key: str) -> Document | None:
        record = self.find("manufacturer", key)
        return None if record is None else {"_meta": {"href": f"/manufacturers/{quote(key, safe='')}"},
                                            **record.document}

    def region_reference(self, key: str) -> Document | None:
        record = self.find("region", key)
        return None if record is None else {"_meta": {"href": f"/regions/{quote(key, safe='')}"}, "id": key,
                                            "name": record.document["name"]}

    # --- records ------------------------------------------------------------------------------

    def employee(self, record: Record) -> Document:
        key = quote(record.key, safe="")
        return {
            "_meta": {
                "href": f"/employees/{key}",
                "hrefDevices": f"/assets/devices?limit=10&offset=0&employee={key}",
                "hrefServices": f"/assets/services?limit=10&offset=0&employee={key}",
            },
            **record.document,
        }

    def region(self, record: Record, *, detail: bool = False) -> Document:
        key = quote(record.key, safe="")
        document = dict(record.document)
        meta = {"href": f"/regions/{key}"}
        if document.get("type", "COUNTRY") == "COUNTRY":
            meta["hrefChildren"] = f"/regions?parentRegion={key}"
        if not detail:
            document.pop("addressFormat", None)
        return {"_meta": meta, **document}

    def catalog_item(self, record: Record) -> Document:
        """A catalog device or accessory: one-time price, its manufacturer and vendor."""
        document = record.document
        path = "devices" if record.kind == "device" else "accessories"
        item = {
            "_meta": {"href": f"/catalog/{path}/{quote(record.key, safe='')}"},
            "id": record.key,
            "name": document["name"],
            "manufacturer": self.manufacturer(document["manufacturer"]),
            "price": price(document["price"], "ONETIME", self.currency),
            "vendor": self.vendor(document["vendor"]),
        }
        if "imageUrl" in document:
            item["imageUrl"] = document["imageUrl"]
        return item

    def plan(self, record: Record, *, features: list[str] | None = None) -> Document:
        """A plan, monthly; ``features`` narrows its optional features to those chosen."""
        document = record.document
        optional = [
            {"description": f["description"], "id": f["id"], "price": price(f.get("price", 0), "MONTHLY", self.currency)}
            for f in document.get("optionalFeatures", [])
            if features is None or f["id"] in features
        ]
        return {
            "_meta": {"href": f"/catalog/plans/{quote(record.key, safe='')}"},
            "id": record.key,
            "includedFeatures": [{"description": text} for text in document.get("includedFeatures", [])],
            "name": document["name"],
            "optionalFeatures": optional,
            "price": price(document["price"], "MONTHLY", self.currency),
            "vendor": self.vendor(document["vendor"]),
        }

    def device_asset(self, record: Record) -> Document:
        document = dict(record.document)
        document.pop("employee", None)
        document.pop("catalogDevice", None)
        document["manufacturer"] = self.manufacturer(document["manufacturer"])
        return {"_meta": {"href": f"/assets/devices/{quote(record.key, safe='')}"}, **document}

    def service(self, record: Record, *, detail: bool = True) -> Document:
        document = record.document
        service: Document = {
            "_meta": {"href": f"/assets/services/{quote(record.key, safe='')}"},
            "id": record.key,
            "serviceNumber": document["serviceNumber"],
            "status": record.state or document.get("status", "ACTIVE"),
        }
        if "contractDates" in document:
            service["contractDates"] = document["contractDates"]
        if detail:
            service["vendor"] = self.vendor(document["vendor"])
            service["region"] = self.region_reference(document["region"])
            plan = self.find("plan", document.get("plan"))
            if plan is not None:
                service["plan"] = self.plan(plan, features=document.get("features", []))
            device = self.find("device_asset", document.get("device"))
            if device is not None:
                service["device"] = self.device_asset(device)
            employee = self.find("employee", record.owner)
            if employee is not None:
                service["employee"] = self.employee(employee)
        return service
