"""The MOBPROC v1 API's shapes, as its documentation shows them: what a call sends and what it
answers. One copy, imported by both sides: the server (:mod:`mobproc.api`: FastAPI checks
requests against these models and publishes them at ``/mobproc/v1/openapi.json``) and the
client (:class:`mobproc.Client` builds its requests from them and reads its answers into
them). It imports pydantic alone, so that the client needs neither FastAPI nor the server.

>>> OrderRequest(externalOrderNumber="MY-APP-0001", transactionType="SUSPEND", serviceId="500201").transactionType
'SUSPEND'

Ids are strings, as in the documentation; optional members are left out of an answer rather
than sent as null. A request refuses members it does not know (a misspelt field is an error,
not a field silently left out); an answer's models are as strict on the server, and the client
reads them keeping what it does not know (``extra="allow"``: the hosted system may say more).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def storable(value: str) -> str:
    """Text that both databases hold as it is: PostgreSQL's text refuses NUL, and UTF-8 has no
    unpaired surrogates (which a JSON document can spell, ``"\\udad8"``)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (an unpaired surrogate)") from None
    return value


TransactionType = Literal[
    "NEW_ACTIVATION", "UPGRADE", "PORT_NUMBER", "ORDER_ACCESSORIES",
    "SUSPEND", "UNSUSPEND", "DEACTIVATE", "UPDATE_FEATURES",
]
# What a call sends is looked up or stored: text both databases can hold (storable()), checked
# after its length (whose message names characters).
Storable = AfterValidator(storable)
Id = Annotated[str, Field(min_length=1, max_length=255), Storable]
ShortText = Annotated[str, Field(max_length=4000), Storable]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests -------------------------------------------------------------------------------

class ChoiceValue(_Request):
    id: Id
    otherText: ShortText | None = None


class PropertyField(_Request):
    id: Id
    type: Literal["TEXT", "DATE", "CHOICE"]
    text: ShortText | None = None
    date: Annotated[str, Field(min_length=0, max_length=64), Storable] | None = None
    choice: ChoiceValue | None = None


class PropertyGroup(_Request):
    groupId: Id = "MISCELLANEOUS"
    fields: Annotated[list[PropertyField], Field(max_length=100)] = []


class FeatureChange(_Request):
    id: Id
    action: Literal["ADD", "REMOVE"]


class ShoppingCart(_Request):
    deviceId: Id | None = None
    planId: Id | None = None
    optionalFeatureIds: Annotated[list[Id], Field(max_length=100)] | None = None
    accessoryIds: Annotated[list[Id], Field(max_length=100)] | None = None
    features: Annotated[list[FeatureChange], Field(max_length=100)] | None = None
    featureRequestComment: ShortText | None = None


class AddressValue(_Request):
    id: Id
    value: Annotated[str, Field(min_length=0, max_length=255), Storable]


class ShipTo(_Request):
    name: Annotated[str, Field(min_length=1, max_length=255), Storable]
    regionId: Id
    address: Annotated[list[AddressValue], Field(max_length=20)] = []
    expedite: bool = False


class SerialNumber(BaseModel):
    type: Annotated[str, Field(min_length=1, max_length=16), Storable]
    value: Annotated[str, Field(min_length=1, max_length=64), Storable]


class ExistingDevice(_Request):
    manufacturerId: Id
    modelId: Id
    serialNumber: SerialNumber | None = None
    simId: Annotated[str, Field(min_length=0, max_length=64), Storable] | None = None


class OrderRequest(_Request):
    externalOrderNumber: Annotated[str, Field(min_length=1, max_length=255), Storable]
    transactionType: TransactionType
    regionId: Id | None = None
    postalCode: Annotated[str, Field(min_length=0, max_length=16), Storable] | None = None
    serviceId: Id | None = None
    shoppingCart: ShoppingCart | None = None
    existingDevice: ExistingDevice | None = None
    properties: Annotated[list[PropertyGroup], Field(max_length=20)] = []
    shipTo: ShipTo | None = None


class OrderBody(_Request):
    orderRequest: OrderRequest


class Approval(_Request):
    action: Literal["APPROVE", "REJECT"]
    reason: ShortText | None = None


# --- answers --------------------------------------------------------------------------------

class Meta(BaseModel):
    """Links to related records (``href`` is the record's own); extra ``href…`` members vary."""

    model_config = ConfigDict(extra="allow")
    href: str


class PageMeta(_Answer):
    """The documentation's pagination block: each position link only when it leads elsewhere."""

    href: str
    hrefStart: str | None = None
    hrefPrevious: str | None = None
    hrefNext: str | None = None
    hrefEnd: str | None = None
    limit: int
    offset: int
    totalCount: int


class Error(_Answer):
    errorCode: str
    id: str
    message: str
    status: int


class FieldError(Error):
    field: str


class OrderErrors(_Answer):
    errors: list[FieldError]
    status: Literal["ERROR"]


class Ping(_Answer):
    echoText: str
    node: str
    status: Literal["SUCCESS"]


class Reference(_Answer):
    """A vendor, manufacturer or region where another record names it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: Meta = Field(alias="_meta")
    id: str
    name: str
    logoUrl: str | None = None


class Department(_Answer):
    id: str
    name: str


class Employee(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: Meta = Field(alias="_meta")
    id: str
    companyEmployeeId: str | None = None
    firstName: str
    lastName: str
    email: str | None = None
    officePhone: str | None = None
    department: Department | None = None
    status: str


class Employees(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: PageMeta = Field(alias="_meta")
    employees: list[Employee]


class MeUser(Employee):
    username: str | None = None
    isApprover: bool
    canMoveService: bool


class Me(_Answer):
    """The authenticated user and the actor (the context), and what the actor may order."""

    authenticatedUser: MeUser
    actor: MeUser
    transactionTypes: list[str]


class Price(_Answer):
    amount: float
    currencyCode: str
    recurrence: Literal["ONETIME", "MONTHLY"]


class AddressLine(_Answer):
    id: str
    label: str
    minLength: int
    maxLength: int
    regEx: str | None = None
    validation: Literal["REQUIRED", "OPTIONAL"]


class Currency(_Answer):
    code: str
    name: str
    symbol: str


class Region(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: Meta = Field(alias="_meta")
    id: str
    name: str
    abbreviation: str
    type: Literal["COUNTRY", "STATE_PROVINCE"]
    parentId: str | None = None
    countryCode: str | None = None
    currency: Currency | None = None
    postalCodePattern: str | None = None
    postalCodeRegEx: str | None = None
    addressFormat: list[AddressLine] | None = None


class Regions(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: PageMeta = Field(alias="_meta")
    regions: list[Region]


class Vendors(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: PageMeta = Field(alias="_meta")
    vendors: list[Reference]


class CatalogItem(_Answer):
    """A device or accessory of the catalog."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: Meta = Field(alias="_meta")
    id: str
    name: str
    imageUrl: str | None = None
    manufacturer: Reference
    price: Price
    vendor: Reference


class Devices(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: PageMeta = Field(alias="_meta")
    devices: list[CatalogItem]


class Accessories(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: PageMeta = Field(alias="_meta")
    accessories: list[CatalogItem]


class IncludedFeature(_Answer):
    description: str


class OptionalFeature(_Answer):
    description: str
    id: str
    price: Price


class Plan(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: Meta = Field(alias="_meta")
    id: str
    name: str
    includedFeatures: list[IncludedFeature]
    optionalFeatures: list[OptionalFeature]
    price: Price
    vendor: Reference


class Plans(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: PageMeta = Field(alias="_meta")
    plans: list[Plan]


class AssetSerial(_Answer):
    type: str
    value: str


class DeviceAsset(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: Meta = Field(alias="_meta")
    id: str
    manufacturer: Reference
    model: str
    serialNumber: AssetSerial | None = None
    simId: str | None = None
    accessMethod: str | None = None
    macAddress: str | None = None
    companyAssetId: str | None = None


class DeviceAssets(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: PageMeta = Field(alias="_meta")
    devices: list[DeviceAsset]


class ContractDates(_Answer):
    activated: str | None = None
    start: str | None = None
    end: str | None = None
    lastDeviceUpgrade: str | None = None


class Service(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: Meta = Field(alias="_meta")
    id: str
    serviceNumber: str
    status: Literal["ACTIVE", "SUSPENDED", "DEACTIVATED"]
    contractDates: ContractDates | None = None
    vendor: Reference | None = None
    region: Reference | None = None
    plan: Plan | None = None
    device: DeviceAsset | None = None
    employee: Employee | None = None


class Services(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: PageMeta = Field(alias="_meta")
    services: list[Service]


class Choice(_Answer):
    id: str
    label: str
    isOther: bool


class PropertySpec(_Answer):
    id: str
    label: str
    type: Literal["TEXT", "DATE", "CHOICE"]
    validation: Literal["REQUIRED", "OPTIONAL"]
    minLength: int | None = None
    maxLength: int | None = None
    pattern: str | None = None
    choices: list[Choice] | None = None


class PropertySpecGroup(_Answer):
    fields: list[PropertySpec]
    groupId: str


class PropertySpecs(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: Meta = Field(alias="_meta")
    items: list[PropertySpecGroup]


class OrderProperties(_Answer):
    properties: PropertySpecs


class PropertyAnswer(_Answer):
    id: str
    label: str
    type: Literal["TEXT", "DATE", "CHOICE"]
    text: str | None = None
    date: str | None = None
    choice: ChoiceValue | None = None


class PropertyAnswerGroup(_Answer):
    fields: list[PropertyAnswer]
    groupId: str


class ShippedLine(_Answer):
    id: str
    label: str
    value: str


class ShippedTo(_Answer):
    address: list[ShippedLine]
    expedite: bool | None = None
    name: str | None = None
    region: Reference | None = None


class FeatureAnswer(_Answer):
    action: Literal["ADD", "REMOVE"]
    description: str
    id: str
    price: Price


class CartAnswer(_Answer):
    device: CatalogItem | None = None
    plan: Plan | None = None
    accessories: list[CatalogItem] | None = None
    features: list[FeatureAnswer] | None = None
    featureRequestComment: str | None = None
    quantity: int


class ModelAnswer(_Answer):
    id: str
    name: str


class ExistingDeviceAnswer(_Answer):
    manufacturer: Reference | ModelAnswer  # a manufacturer the tenant does not list: as sent
    model: ModelAnswer
    serialNumber: AssetSerial | None = None
    simId: str | None = None


class OrderConfirmation(_Answer):
    accountHolder: Employee
    costSummary: list[Price] | None = None
    device: DeviceAsset | None = None
    existingDevice: ExistingDeviceAnswer | None = None
    externalOrderNumber: str
    postalCode: str | None = None
    properties: list[PropertyAnswerGroup]
    region: Reference | None = None
    requestedBy: Employee
    service: Service | None = None
    shipTo: ShippedTo | None = None
    shoppingCart: CartAnswer | None = None
    transactionType: TransactionType


class Confirmed(_Answer):
    orderConfirmation: OrderConfirmation
    status: Literal["SUCCESS"]


class OrderSegment(_Answer):
    orderSegmentId: str
    status: str
    vendor: Reference | None = None
    device: CatalogItem | None = None
    plan: Plan | None = None
    accessories: list[CatalogItem]
    features: list[FeatureAnswer]


class OrderSegments(_Answer):
    items: list[OrderSegment]


class Order(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: Meta = Field(alias="_meta")
    accountHolder: Employee
    costSummary: list[Price] | None = None
    dateSubmitted: str
    externalOrderNumber: str
    orderId: str
    orderSegments: OrderSegments
    properties: list[PropertyAnswerGroup]
    requestedBy: Employee
    serviceNumber: str | None = None
    shipTo: ShippedTo
    status: Literal["ORDER_SUBMITTED", "PENDING_APPROVAL", "AWAITING_APPROVAL", "REJECTED"]
    transactionType: TransactionType


class Submitted(_Answer):
    order: Order
    status: Literal["SUCCESS"]


class EmployeeReference(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: Meta = Field(alias="_meta")
    id: str


class OrderSummary(_Answer):
    """An order in a list; its ``_meta.href`` leads to the whole of it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: Meta = Field(alias="_meta")
    accountHolder: EmployeeReference
    dateSubmitted: str
    externalOrderNumber: str
    orderId: str
    status: Literal["ORDER_SUBMITTED", "PENDING_APPROVAL", "AWAITING_APPROVAL", "REJECTED"]
    transactionType: TransactionType


class Orders(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    meta: PageMeta = Field(alias="_meta")
    orders: list[OrderSummary]


class ApprovalAnswer(_Answer):
    status: Literal["APPROVAL_QUEUED", "REJECTION_QUEUED", "APPROVAL_NOT_NEEDED", "NOT_READY_FOR_APPROVAL"]
