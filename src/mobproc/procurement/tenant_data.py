"""A tenant data file (YAML or JSON): what the sandbox's tenants hold, checked before any of it
is stored, each problem named by file, line and field.

    tenants:
      - code: XYZ
        employees: [{id: "28671599", companyEmployeeId: peter.edwards.acme, firstName: Peter, ...}]
        accounts: [{username: "command://myusername", employee: "28671599", actsFor: ["*"], approver: true}]
        regions, vendors, manufacturers, devices, plans, accessories, deviceAssets, serviceAssets,
        orderProperties, approvals

The field names are the MOBPROC v1 API's own (its documentation's), so that a record reads in
the file as the API answers it; the demo tenant (``mobproc/procurement/demo_tenant.yaml``)
uses every field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from ..models import storable
from .records import LoadedTenant, Record

TRANSACTION_TYPES = (
    "NEW_ACTIVATION", "UPGRADE", "PORT_NUMBER", "ORDER_ACCESSORIES",
    "SUSPEND", "UNSUSPEND", "DEACTIVATE", "UPDATE_FEATURES",
)


Id = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._@:/+-][A-Za-z0-9 ._@:/+-]*$")]
Text = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(storable)]
Money = Annotated[float, Field(ge=0, le=1_000_000)]
TransactionType = Literal[
    "NEW_ACTIVATION", "UPGRADE", "PORT_NUMBER", "ORDER_ACCESSORIES",
    "SUSPEND", "UNSUSPEND", "DEACTIVATE", "UPDATE_FEATURES",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Department(_Strict):
    id: Id
    name: Text


class Employee(_Strict):
    id: Id
    companyEmployeeId: Id | None = None
    firstName: Text
    lastName: Text
    email: Text | None = None
    officePhone: Text | None = None
    department: Department | None = None
    status: Literal["ACTIVE", "INACTIVE"] = "ACTIVE"


class Account(_Strict):
    """An account of the token service as this tenant knows it: the employee it is, whom it may
    act for (employee ids, or ``*`` for every employee of the tenant) and whether it approves."""

    username: Text
    employee: Id
    actsFor: list[Id | Literal["*"]] = []
    approver: bool = False


class AddressLine(_Strict):
    id: Id
    label: Text
    minLength: int = Field(0, ge=0)
    maxLength: int = Field(100, ge=1)
    regEx: Text | None = None
    validation: Literal["REQUIRED", "OPTIONAL"] = "OPTIONAL"

    @field_validator("regEx")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a regular expression: {error}") from None
        return value


class Currency(_Strict):
    code: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    name: Text
    symbol: Text


class Region(_Strict):
    id: Id
    name: Text
    abbreviation: Text
    type: Literal["COUNTRY", "STATE_PROVINCE"] = "COUNTRY"
    parentId: Id | None = None
    countryCode: Text | None = None
    currency: Currency | None = None
    postalCodePattern: Text | None = None
    postalCodeRegEx: Text | None = None
    addressFormat: list[AddressLine] = []


class Vendor(_Strict):
    id: Id
    name: Text
    logoUrl: Text | None = None


class Manufacturer(_Strict):
    id: Id
    name: Text
    logoUrl: Text | None = None


class CatalogDevice(_Strict):
    id: Id
    name: Text
    manufacturer: Id
    vendor: Id
    price: Money
    imageUrl: Text | None = None


class Feature(_Strict):
    id: Id
    description: Text
    price: Money = 0


class Plan(_Strict):
    id: Id
    name: Text
    vendor: Id
    price: Money
    includedFeatures: list[Text] = []
    optionalFeatures: list[Feature] = []
    devices: list[Id] = []  # the catalog devices this plan may be ordered with


class Accessory(CatalogDevice):
    devices: list[Id] = []  # the catalog devices it fits; none: every device


class SerialNumber(_Strict):
    type: Literal["IMEI", "ESN", "MEID"]
    value: Id


class DeviceAsset(_Strict):
    id: Id
    employee: Id
    manufacturer: Id
    model: Text
    catalogDevice: Id | None = None
    serialNumber: SerialNumber | None = None
    simId: Text | None = None
    accessMethod: Text | None = None
    macAddress: Text | None = None
    companyAssetId: Text | None = None


class ContractDates(_Strict):
    activated: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    lastDeviceUpgrade: datetime | None = None


class ServiceAsset(_Strict):
    id: Id
    employee: Id
    serviceNumber: Annotated[str, Field(pattern=r"^[0-9]{7,15}$")]
    status: Literal["ACTIVE", "SUSPENDED", "DEACTIVATED"] = "ACTIVE"
    vendor: Id
    region: Id
    plan: Id | None = None
    device: Id | None = None  # a device asset
    features: list[Id] = []  # optional features of its plan that it has
    contractDates: ContractDates | None = None


class Choice(_Strict):
    id: Id
    label: Text
    isOther: bool = False


class OrderProperty(_Strict):
    """A field of the MISCELLANEOUS group of ``/orders/properties`` (the documentation's
    "Obtaining Order Properties"): TEXT, DATE, or CHOICE among ``choices``."""

    id: Id
    label: Text
    type: Literal["TEXT", "DATE", "CHOICE"]
    validation: Literal["REQUIRED", "OPTIONAL"] = "OPTIONAL"
    minLength: int | None = Field(None, ge=0)
    maxLength: int | None = Field(None, ge=1)
    pattern: Text | None = None
    choices: list[Choice] = []
    transactionTypes: list[TransactionType] = []  # none: every transaction type


class Approvals(_Strict):
    """Which orders wait for an approver, and how long after submission they are ready for one
    (before that, an approval answers NOT_READY_FOR_APPROVAL)."""

    transactionTypes: list[TransactionType] = []
    readyAfterSeconds: int = Field(0, ge=0, le=30 * 86400)


class Tenant(_Strict):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    name: Text
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    approvals: Approvals = Approvals()
    orderProperties: list[OrderProperty] = []
    regions: list[Region] = []
    vendors: list[Vendor] = []
    manufacturers: list[Manufacturer] = []
    devices: list[CatalogDevice] = []
    plans: list[Plan] = []
    accessories: list[Accessory] = []
    employees: list[Employee] = []
    accounts: list[Account] = []
    deviceAssets: list[DeviceAsset] = []
    serviceAssets: list[ServiceAsset] = []


class TenantFile(_Strict):
    tenants: list[Tenant] = Field(min_length=1)


# --- problems, with the line they are on ------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    line: int | None
    field: str
    message: str


class TenantDataError(Exception):
    """What is wrong with a file, every problem found; nothing of it was stored."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file, self.problems = file, problems
        super().__init__(self.describe())

    def describe(self) -> str:
        return "\n".join(f"{self.file}:{p.line if p.line else '?'}: {p.field}: {p.message}" for p in self.problems)


def _path_text(loc: Iterable[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


class _Lines:
    """Where each value of the file starts: PyYAML's node marks (JSON is read by the same
    composer for this alone, its syntax checked by the JSON decoder first)."""

    def __init__(self, text: str) -> None:
        try:
            self._root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            self._root = None

    def of(self, loc: Iterable[Any]) -> int | None:
        node, line = self._root, None
        for part in loc:
            if node is None:
                break
            line = node.start_mark.line + 1
            if isinstance(node, yaml.MappingNode):
                node = next((value for key, value in node.value if key.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                node = None
        return node.start_mark.line + 1 if node is not None else line


def parse(path: Path) -> tuple[TenantFile, _Lines]:
    """The file, checked field by field; :class:`TenantDataError` names every problem."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TenantDataError(name, [Problem(None, "(file)", f"cannot be read: {type(error).__name__}")]) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise TenantDataError(name, [Problem(error.lineno, "(file)", f"not JSON: {error.msg} (column {error.colno})")]) from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            raise TenantDataError(name, [Problem(mark.line + 1 if mark else None, "(file)",
                                                 f"not YAML: {getattr(error, 'problem', None) or error}")]) from None
    lines = _Lines(text)
    try:
        return TenantFile.model_validate(data), lines
    except ValidationError as error:
        problems = [Problem(lines.of(e["loc"]), _path_text(e["loc"]), e["msg"]) for e in error.errors()]
        raise TenantDataError(name, problems) from None


# --- references between records ---------------------------------------------------------------

def _references(tenant: Tenant) -> Iterable[tuple[tuple[Any, ...], str]]:
    """Every reference of one record to another that does not resolve: (field path, message)."""
    def ids(items: Iterable[Any]) -> set[str]:
        return {item.id for item in items}

    employees, vendors = ids(tenant.employees), ids(tenant.vendors)
    manufacturers, devices, regions = ids(tenant.manufacturers), ids(tenant.devices), ids(tenant.regions)
    plans, device_assets = {plan.id: plan for plan in tenant.plans}, ids(tenant.deviceAssets)
    for kind in ("employees", "regions", "vendors", "manufacturers", "devices", "plans", "accessories",
                 "deviceAssets", "serviceAssets", "orderProperties"):
        seen: set[str] = set()
        for n, item in enumerate(getattr(tenant, kind)):
            if item.id in seen:
                yield (kind, n, "id"), f"{item.id!r} appears twice"
            seen.add(item.id)
    company_ids: set[str] = set()
    for n, employee in enumerate(tenant.employees):
        if employee.companyEmployeeId in company_ids:
            yield ("employees", n, "companyEmployeeId"), f"{employee.companyEmployeeId!r} appears twice"
        if employee.companyEmployeeId:
            company_ids.add(employee.companyEmployeeId)
    usernames: set[str] = set()
    for n, account in enumerate(tenant.accounts):
        if account.username in usernames:
            yield ("accounts", n, "username"), f"{account.username!r} appears twice"
        usernames.add(account.username)
        if account.employee not in employees:
            yield ("accounts", n, "employee"), f"no employee {account.employee!r}"
        for m, other in enumerate(account.actsFor):
            if other != "*" and other not in employees:
                yield ("accounts", n, "actsFor", m), f"no employee {other!r}"
    for n, region in enumerate(tenant.regions):
        if region.parentId is not None and region.parentId not in regions:
            yield ("regions", n, "parentId"), f"no region {region.parentId!r}"
    for kind in ("devices", "accessories"):
        for n, item in enumerate(getattr(tenant, kind)):
            if item.manufacturer not in manufacturers:
                yield (kind, n, "manufacturer"), f"no manufacturer {item.manufacturer!r}"
            if item.vendor not in vendors:
                yield (kind, n, "vendor"), f"no vendor {item.vendor!r}"
            for m, device in enumerate(getattr(item, "devices", ())):
                if device not in devices:
                    yield (kind, n, "devices", m), f"no catalog device {device!r}"
    for n, plan in enumerate(tenant.plans):
        if plan.vendor not in vendors:
            yield ("plans", n, "vendor"), f"no vendor {plan.vendor!r}"
        for m, device in enumerate(plan.devices):
            if device not in devices:
                yield ("plans", n, "devices", m), f"no catalog device {device!r}"
    for n, asset in enumerate(tenant.deviceAssets):
        if asset.employee not in employees:
            yield ("deviceAssets", n, "employee"), f"no employee {asset.employee!r}"
        if asset.manufacturer not in manufacturers:
            yield ("deviceAssets", n, "manufacturer"), f"no manufacturer {asset.manufacturer!r}"
        if asset.catalogDevice is not None and asset.catalogDevice not in devices:
            yield ("deviceAssets", n, "catalogDevice"), f"no catalog device {asset.catalogDevice!r}"
    for n, service in enumerate(tenant.serviceAssets):
        if service.employee not in employees:
            yield ("serviceAssets", n, "employee"), f"no employee {service.employee!r}"
        if service.vendor not in vendors:
            yield ("serviceAssets", n, "vendor"), f"no vendor {service.vendor!r}"
        if service.region not in regions:
            yield ("serviceAssets", n, "region"), f"no region {service.region!r}"
        if service.device is not None and service.device not in device_assets:
            yield ("serviceAssets", n, "device"), f"no device asset {service.device!r}"
        plan = plans.get(service.plan) if service.plan else None
        if service.plan is not None and plan is None:
            yield ("serviceAssets", n, "plan"), f"no plan {service.plan!r}"
        for m, feature in enumerate(service.features):
            if plan is None or feature not in {f.id for f in plan.optionalFeatures}:
                yield ("serviceAssets", n, "features", m), f"{feature!r} is not an optional feature of its plan"
    for n, field in enumerate(tenant.orderProperties):
        if field.type == "CHOICE" and not field.choices:
            yield ("orderProperties", n, "choices"), "a CHOICE needs at least one choice"


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def records(tenant: Tenant) -> tuple[Record, ...]:
    """The tenant's rows: the account rows keyed by username, the others by their ids."""
    made: list[Record] = []
    made += [Record("employee", e.id, _dump(e), alt_key=e.companyEmployeeId) for e in tenant.employees]
    made += [Record("account", a.username, _dump(a), owner=a.employee) for a in tenant.accounts]
    made += [Record("region", r.id, _dump(r), owner=r.parentId) for r in tenant.regions]
    for kind, items in (("vendor", tenant.vendors), ("manufacturer", tenant.manufacturers),
                        ("device", tenant.devices), ("plan", tenant.plans), ("accessory", tenant.accessories)):
        made += [Record(kind, item.id, _dump(item)) for item in items]
    made += [Record("device_asset", d.id, _dump(d), owner=d.employee) for d in tenant.deviceAssets]
    for service in tenant.serviceAssets:
        document = _dump(service)
        state = document.pop("status")
        made.append(Record("service", service.id, document, owner=service.employee, state=state))
    return tuple(made)


def load(path: Path) -> list[LoadedTenant]:
    """The file's tenants, ready to store; :class:`TenantDataError` if anything is wrong."""
    data, lines = parse(path)
    problems = []
    codes: set[str] = set()
    for n, tenant in enumerate(data.tenants):
        if tenant.code in codes:
            problems.append(Problem(lines.of(("tenants", n, "code")), f"tenants[{n}].code", f"{tenant.code!r} appears twice"))
        codes.add(tenant.code)
        for loc, message in _references(tenant):
            full = ("tenants", n, *loc)
            problems.append(Problem(lines.of(full), _path_text(full), message))
    if problems:
        raise TenantDataError(str(path), problems)
    return [
        LoadedTenant(
            tenant.code,
            _dump(tenant.model_copy(update={k: [] for k in ("regions", "vendors", "manufacturers", "devices", "plans",
                                                               "accessories", "employees", "accounts", "deviceAssets",
                                                               "serviceAssets")})),
            records(tenant),
        )
        for tenant in data.tenants
    ]
