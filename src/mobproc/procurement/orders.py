"""Orders of the MOBPROC v1 API: each transaction type checked by its own rules against the
tenant's catalog and assets, and expanded into the documented confirmation.

Procurement (``NEW_ACTIVATION``, ``UPGRADE``, ``PORT_NUMBER``, ``ORDER_ACCESSORIES``) orders
things from the catalog; care (``SUSPEND``, ``UNSUSPEND``, ``DEACTIVATE``, ``UPDATE_FEATURES``)
changes one of the account holder's services, which the order names by ``serviceId``. Every
problem found is reported at once, each naming its field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .records import Record
from .views import Document, View, price

PROCUREMENT = ("NEW_ACTIVATION", "UPGRADE", "PORT_NUMBER", "ORDER_ACCESSORIES")
CARE = ("SUSPEND", "UNSUSPEND", "DEACTIVATE", "UPDATE_FEATURES")
# What each care order asks of its service's state, and what it makes of it.
SERVICE_MOVES = {
    "SUSPEND": ({"ACTIVE"}, "SUSPENDED"),
    "UNSUSPEND": ({"SUSPENDED"}, "ACTIVE"),
    "DEACTIVATE": ({"ACTIVE", "SUSPENDED"}, "DEACTIVATED"),
    "UPDATE_FEATURES": ({"ACTIVE"}, "ACTIVE"),
    "UPGRADE": ({"ACTIVE"}, None),
    "ORDER_ACCESSORIES": ({"ACTIVE"}, None),
    "PORT_NUMBER": ({"ACTIVE"}, None),
}
# A port names the number and the carrier it leaves (the documentation's PORT_NUMBER example).
PORT_FIELDS = ("SERVICE_NUMBER", "CURRENT_CARRIER")


@dataclass(frozen=True)
class OrderProblem:
    field: str
    kind: str
    message: str


class OrderRejected(Exception):
    """The order request cannot be accepted: every problem found, each naming its field."""

    def __init__(self, problems: list[OrderProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


@dataclass
class CheckedOrder:
    """An order that passed: its confirmation, and what submitting it stores."""

    confirmation: Document
    service_id: str | None = None
    effect: dict[str, Any] | None = None
    segment: Document = field(default_factory=dict)


class _Check:
    """The problems of one order request, gathered as its rules run."""

    def __init__(self) -> None:
        self.problems: list[OrderProblem] = []

    def fail(self, where: str, kind: str, message: str) -> None:
        self.problems.append(OrderProblem(f"orderRequest.{where}", kind, message))


class OrderDesk:
    """Checks order requests of one tenant, for one account holder, requested by one account."""

    def __init__(self, view: View, tenant: Document, holder: Record, requester: Record) -> None:
        self.view, self.tenant, self.holder, self.requester = view, tenant, holder, requester

    def check(self, request: Document) -> CheckedOrder:
        """The documented confirmation of ``request``, or :class:`OrderRejected`."""
        check, kind = _Check(), request["transactionType"]
        view = self.view
        confirmation: Document = {
            "accountHolder": view.employee(self.holder),
            "externalOrderNumber": request["externalOrderNumber"],
            "requestedBy": view.employee(self.requester),
            "transactionType": kind,
        }
        service = self._service(check, request, kind)
        region = self._region(check, request, kind, service)
        cart = request.get("shoppingCart") or {}
        onetime = monthly = 0.0
        segment: Document = {"accessories": [], "features": []}
        if service is not None:
            confirmation["service"] = view.service(service, detail=False)
            device = view.find("device_asset", service.document.get("device"))
            if device is not None:
                confirmation["device"] = view.device_asset(device)
        if region is not None:
            confirmation["region"] = view.region_reference(region.key)
            if "postalCode" in request:
                confirmation["postalCode"] = request["postalCode"]
        if kind in PROCUREMENT:
            expanded, onetime, monthly = self._cart(check, cart, kind, service)
            confirmation["shoppingCart"] = expanded
            segment.update({k: v for k, v in expanded.items() if k in ("device", "plan", "accessories")})
            # Only physical items travel: a new plan alone needs no address.
            if cart.get("deviceId") or cart.get("accessoryIds") or request.get("shipTo"):
                confirmation["shipTo"] = self._ship_to(check, request.get("shipTo"))
        if kind == "UPGRADE" and "existingDevice" in request:
            confirmation["existingDevice"] = self._existing_device(request["existingDevice"])
        effect = None
        if kind == "UPDATE_FEATURES":
            expanded, monthly, features = self._features(check, cart, service)
            confirmation["shoppingCart"] = expanded
            segment["features"] = expanded["features"]
            if service is not None and features is not None:
                effect = {"service": service.key, "from": "ACTIVE", "to": "ACTIVE",
                          "document": {**service.document, "features": features}}
        elif kind in CARE and service is not None:
            effect = {"service": service.key, "from": service.state, "to": SERVICE_MOVES[kind][1]}
        if kind in PROCUREMENT or kind == "UPDATE_FEATURES":
            confirmation["costSummary"] = [price(onetime, "ONETIME", view.currency), price(monthly, "MONTHLY", view.currency)]
        confirmation["properties"] = self._properties(check, request.get("properties") or [], kind)
        if check.problems:
            raise OrderRejected(check.problems)
        vendor = (cart_vendor(confirmation) or (view.vendor(service.document["vendor"]) if service else None))
        if vendor is not None:
            segment["vendor"] = vendor
        return CheckedOrder(confirmation, service.key if service else None, effect, segment)

    # --- what the order names ------------------------------------------------------------------

    def _service(self, check: _Check, request: Document, kind: str) -> Record | None:
        """A care order (and an upgrade, an accessory order) names a service of the account holder
        in a state the transaction can change; a port may name the service it moves."""
        key = request.get("serviceId")
        if key is None:
            if kind in CARE or kind in ("UPGRADE", "ORDER_ACCESSORIES"):
                check.fail("serviceId", "service-required", f"A {kind} order names the service asset it is for")
            return None
        if kind == "NEW_ACTIVATION":
            check.fail("serviceId", "service-not-allowed", "A NEW_ACTIVATION order names no existing service")
            return None
        service = self.view.find("service", key)
        if service is None or service.owner != self.holder.key:
            check.fail("serviceId", "service-not-found",
                       f"The account holder has no service asset {key!r}")
            return None
        allowed, _ = SERVICE_MOVES[kind]
        if service.state not in allowed:
            check.fail("serviceId", "service-state",
                       f"Service {key} is {service.state}; a {kind} order needs it {' or '.join(sorted(allowed))}")
        return service

    def _region(self, check: _Check, request: Document, kind: str, service: Record | None) -> Record | None:
        """Where a new device or service is used: a country; in the United States with its postal code."""
        key = request.get("regionId")
        if key is None:
            if kind in ("NEW_ACTIVATION", "PORT_NUMBER"):
                check.fail("regionId", "region-required", "Region ID must be passed in for a new device or service")
                return None
            return self.view.find("region", service.document["region"]) if service is not None else None
        region = self.view.find("region", key)
        if region is None or region.document.get("type", "COUNTRY") != "COUNTRY":
            check.fail("regionId", "region-not-found", f"No country with region ID {key!r}")
            return None
        postal = request.get("postalCode")
        if region.document.get("abbreviation") == "US" and not postal:
            check.fail("postalCode", "postal-code-required", "A postal code is required in the United States")
        elif postal and region.document.get("postalCodeRegEx") and not re.fullmatch(region.document["postalCodeRegEx"], postal):
            hint = region.document.get("postalCodePattern", region.document["postalCodeRegEx"])
            check.fail("postalCode", "postal-code-invalid", f"{postal!r} is not a postal code of {region.document['name']} ({hint})")
        return region

    def _cart(self, check: _Check, cart: Document, kind: str, service: Record | None) -> tuple[Document, float, float]:
        """The device, plan, optional features and accessories: each in the catalog, and fitting
        together (the device sold with the plan, of its carrier; features of that plan; accessories
        made for that device)."""
        view, expanded, onetime, monthly = self.view, {"quantity": 1}, 0.0, 0.0
        device = plan = None
        wants = {
            "NEW_ACTIVATION": ("deviceId", "planId"), "PORT_NUMBER": ("deviceId", "planId"),
            "ORDER_ACCESSORIES": ("accessoryIds",), "UPGRADE": (),
        }[kind]
        for name in wants:
            if not cart.get(name):
                check.fail(f"shoppingCart.{name}", "cart-incomplete", f"A {kind} order needs shoppingCart.{name}")
        if kind == "UPGRADE" and not (cart.get("deviceId") or cart.get("planId")):
            check.fail("shoppingCart", "cart-incomplete", "An UPGRADE order needs a new device, a new plan, or both")
        if kind == "ORDER_ACCESSORIES" and (cart.get("deviceId") or cart.get("planId")):
            check.fail("shoppingCart", "cart-not-allowed", "An ORDER_ACCESSORIES order orders accessories only")
        if cart.get("deviceId"):
            device = view.find("device", cart["deviceId"])
            if device is None:
                check.fail("shoppingCart.deviceId", "device-not-found", f"No device {cart['deviceId']!r} in the catalog")
            else:
                expanded["device"] = view.catalog_item(device)
                onetime += device.document["price"]
        plan_key = cart.get("planId") or (service.document.get("plan") if service is not None and device else None)
        if plan_key:
            plan = view.find("plan", plan_key)
            if plan is None:
                check.fail("shoppingCart.planId", "plan-not-found", f"No plan {plan_key!r} in the catalog")
        if plan is not None and cart.get("planId"):
            chosen = cart.get("optionalFeatureIds") or []
            offered = {f["id"]: f for f in plan.document.get("optionalFeatures", [])}
            for n, feature in enumerate(chosen):
                if feature not in offered:
                    check.fail(f"shoppingCart.optionalFeatureIds[{n}]", "feature-not-offered",
                               f"Plan {plan.key} offers no optional feature {feature!r}")
            expanded["plan"] = view.plan(plan, features=list(chosen))
            monthly += plan.document["price"] + sum(offered[f].get("price", 0) for f in set(chosen) if f in offered)
        elif cart.get("optionalFeatureIds"):
            check.fail("shoppingCart.optionalFeatureIds", "feature-without-plan", "Optional features belong to a plan: name planId")
        if device is not None and plan is not None:
            sold_with = plan.document.get("devices") or []
            if device.document["vendor"] != plan.document["vendor"] or (sold_with and device.key not in sold_with):
                check.fail("shoppingCart.deviceId", "device-plan-mismatch",
                           f"Device {device.key} is not sold with plan {plan.key}")
        fits = device.key if device is not None else self._service_device(service)
        accessories = []
        for n, key in enumerate(cart.get("accessoryIds") or []):
            accessory = view.find("accessory", key)
            if accessory is None:
                check.fail(f"shoppingCart.accessoryIds[{n}]", "accessory-not-found", f"No accessory {key!r} in the catalog")
                continue
            made_for = accessory.document.get("devices") or []
            if made_for and fits not in made_for:
                check.fail(f"shoppingCart.accessoryIds[{n}]", "accessory-does-not-fit",
                           f"Accessory {key} does not fit the device of this order")
            accessories.append(view.catalog_item(accessory))
            onetime += accessory.document["price"]
        if accessories or "accessoryIds" in cart:
            expanded["accessories"] = accessories
        return expanded, onetime, monthly

    def _service_device(self, service: Record | None) -> str | None:
        asset = self.view.find("device_asset", service.document.get("device")) if service is not None else None
        return asset.document.get("catalogDevice") if asset is not None else None

    def _features(self, check: _Check, cart: Document, service: Record | None) -> tuple[Document, float, list[str] | None]:
        """UPDATE_FEATURES: each ADD an optional feature of the service's plan that it lacks, each
        REMOVE one that it has. Answers the cart, the monthly change, and the features after."""
        asked = cart.get("features") or []
        if not asked:
            check.fail("shoppingCart.features", "cart-incomplete", "An UPDATE_FEATURES order names the features to ADD or REMOVE")
        plan = self.view.find("plan", service.document.get("plan")) if service is not None else None
        if service is not None and plan is None:
            check.fail("serviceId", "service-without-plan", f"Service {service.key} has no plan whose features could change")
        offered = {f["id"]: f for f in plan.document.get("optionalFeatures", [])} if plan else {}
        has = list(service.document.get("features", [])) if service is not None else []
        expanded, monthly = [], 0.0
        for n, item in enumerate(asked):
            feature = offered.get(item["id"])
            if plan is not None and feature is None:
                check.fail(f"shoppingCart.features[{n}].id", "feature-not-offered",
                           f"Plan {plan.key} offers no optional feature {item['id']!r}")
                continue
            if feature is None:
                continue
            if item["action"] == "ADD":
                if item["id"] in has:
                    check.fail(f"shoppingCart.features[{n}].id", "feature-present", f"The service has feature {item['id']} already")
                else:
                    has.append(item["id"])
                    monthly += feature.get("price", 0)
            elif item["id"] not in has:
                check.fail(f"shoppingCart.features[{n}].id", "feature-absent", f"The service has no feature {item['id']} to remove")
            else:
                has.remove(item["id"])
            expanded.append({"action": item["action"], "description": feature["description"], "id": item["id"],
                             "price": price(feature.get("price", 0), "MONTHLY", self.view.currency)})
        document: Document = {"features": expanded, "quantity": 0}
        if cart.get("featureRequestComment"):
            document["featureRequestComment"] = cart["featureRequestComment"]
        return document, monthly, has if plan is not None else None

    def _existing_device(self, existing: Document) -> Document:
        manufacturer = self.view.manufacturer(existing["manufacturerId"]) or {"id": existing["manufacturerId"],
                                                                                "name": existing["manufacturerId"]}
        document = {"manufacturer": manufacturer, "model": {"id": existing["modelId"], "name": existing["modelId"]}}
        return {**document, **{k: existing[k] for k in ("serialNumber", "simId") if k in existing}}

    def _ship_to(self, check: _Check, ship_to: Document | None) -> Document:
        """Physical items need an address, in the format of its country (``/regions/{id}``'s
        ``addressFormat``: each REQUIRED line present, each within its lengths and pattern)."""
        if ship_to is None:
            check.fail("shipTo", "ship-to-required", "An order of physical items needs shipTo")
            return {"address": []}
        region = self.view.find("region", ship_to["regionId"])
        if region is None or region.document.get("type", "COUNTRY") != "COUNTRY":
            check.fail("shipTo.regionId", "region-not-found", f"No country with region ID {ship_to['regionId']!r}")
            return {"address": []}
        lines = {line["id"]: line for line in region.document.get("addressFormat", [])}
        given = {}
        for n, line in enumerate(ship_to.get("address", [])):
            spec = lines.get(line["id"])
            if spec is None:
                check.fail(f"shipTo.address[{n}].id", "address-line-unknown",
                           f"An address in {region.document['name']} has no line {line['id']!r}")
                continue
            if line["id"] in given:
                check.fail(f"shipTo.address[{n}].id", "address-line-twice", f"Line {line['id']} is given twice")
            given[line["id"]] = line["value"]
            value = line["value"]
            if not spec.get("minLength", 0) <= len(value) <= spec.get("maxLength", 100):
                check.fail(f"shipTo.address[{n}].value", "address-line-length",
                           f"{spec['label']} takes {spec.get('minLength', 0)} to {spec.get('maxLength', 100)} characters")
            elif spec.get("regEx") and not re.fullmatch(spec["regEx"], value):
                check.fail(f"shipTo.address[{n}].value", "address-line-format", f"{value!r} is not a valid {spec['label']}")
        for line_id, spec in lines.items():
            if spec.get("validation") == "REQUIRED" and line_id not in given:
                check.fail("shipTo.address", "address-line-required", f"{spec['label']} ({line_id}) is required")
        address = [{"id": line_id, "label": lines[line_id]["label"], "value": value} for line_id, value in given.items()]
        return {"address": address, "expedite": ship_to.get("expedite", False), "name": ship_to["name"],
                "region": self.view.region_reference(region.key)}

    def _properties(self, check: _Check, groups: list[Document], kind: str) -> list[Document]:
        """The order's properties against the tenant's (``/orders/properties``): each field known
        for this transaction type, of its type, within its lengths; a CHOICE among its choices,
        ``otherText`` only with the "other" choice; every REQUIRED one present."""
        known = {p["id"]: p for p in self.tenant.get("orderProperties", [])
                 if not p.get("transactionTypes") or kind in p["transactionTypes"]}
        given: dict[str, Document] = {}
        answered = []
        for g, group in enumerate(groups):
            fields = []
            for n, item in enumerate(group.get("fields", [])):
                where = f"properties[{g}].fields[{n}]"
                spec = known.get(item["id"])
                if spec is None and not (kind == "PORT_NUMBER" and item["id"] in PORT_FIELDS):
                    check.fail(f"{where}.id", "property-unknown", f"{item['id']!r} is not a property of a {kind} order")
                    continue
                spec = spec or {"id": item["id"], "label": item["id"].replace("_", " ").title(), "type": "TEXT"}
                if item["type"] != spec["type"]:
                    check.fail(f"{where}.type", "property-type", f"{item['id']} is of type {spec['type']}")
                    continue
                given[item["id"]] = item
                fields.append({**self._property_value(check, where, spec, item), "id": item["id"], "label": spec["label"],
                               "type": spec["type"]})
            answered.append({"fields": fields, "groupId": group.get("groupId", "MISCELLANEOUS")})
        required = [p for p in known.values() if p.get("validation") == "REQUIRED"]
        if kind == "PORT_NUMBER":  # whatever the tenant's properties say
            required += [{"id": name} for name in PORT_FIELDS if name not in {spec["id"] for spec in required}]
        for spec in required:
            if spec["id"] not in given:
                check.fail("properties", "property-required", f"Property {spec['id']} is required for a {kind} order")
        return answered

    @staticmethod
    def _property_value(check: _Check, where: str, spec: Document, item: Document) -> Document:
        if spec["type"] == "TEXT":
            text = item.get("text")
            if text is None:
                check.fail(f"{where}.text", "property-value", f"{item['id']} needs text")
                return {}
            low, high = spec.get("minLength") or 0, spec.get("maxLength")
            if len(text) < low or (high is not None and len(text) > high):
                check.fail(f"{where}.text", "property-length", f"{item['id']} takes {low} to {high or 'any number of'} characters")
            return {"text": text}
        if spec["type"] == "DATE":
            try:
                value = datetime.fromisoformat(str(item.get("date")).replace("Z", "+00:00"))
            except ValueError:
                check.fail(f"{where}.date", "property-value", f"{item['id']} needs an ISO 8601 date")
                return {}
            return {"date": value.isoformat().replace("+00:00", "Z")}
        choice = item.get("choice")
        choices = {c["id"]: c for c in spec.get("choices", [])}
        if choice is None or choice["id"] not in choices:
            check.fail(f"{where}.choice.id", "property-choice", f"{item['id']} takes one of {', '.join(choices)}")
            return {}
        if choice.get("otherText") and not choices[choice["id"]].get("isOther"):
            check.fail(f"{where}.choice.otherText", "property-choice", "otherText goes with the choice that is isOther only")
        return {"choice": choice}


def cart_vendor(confirmation: Document) -> Document | None:
    cart = confirmation.get("shoppingCart", {})
    for item in (cart.get("plan"), cart.get("device"), *cart.get("accessories", [])):
        if item is not None and item.get("vendor") is not None:
            return item["vendor"]
    return None


def order_document(confirmation: Document, segment: Document, submitted_at: str) -> Document:
    """The submitted order, as stored (its id, status and links are added as it is answered)."""
    document = {k: confirmation[k] for k in ("accountHolder", "externalOrderNumber", "properties", "requestedBy",
                                              "transactionType") if k in confirmation}
    document["dateSubmitted"] = submitted_at
    document["shipTo"] = confirmation.get("shipTo", {"address": []})
    if "service" in confirmation:
        document["serviceNumber"] = confirmation["service"]["serviceNumber"]
    if "costSummary" in confirmation:
        document["costSummary"] = confirmation["costSummary"]
    document["segment"] = segment
    return document
