"""What the MOBPROC v1 sandbox keeps: a loaded tenant's records, its orders, and the store
they are kept in (:class:`ProcurementStore`; in SQL, :mod:`mobproc.storage.procurement`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Record:
    """One row of a loaded tenant: ``owner`` is the employee an asset or account belongs to
    (a region's parent), ``alt_key`` an employee's companyEmployeeId."""

    kind: str
    key: str
    document: dict[str, Any]
    owner: str | None = None
    alt_key: str | None = None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class LoadedTenant:
    code: str
    document: dict[str, Any]
    records: tuple[Record, ...]


@dataclass(frozen=True, slots=True)
class StoredOrder:
    id: int
    tenant: str
    external_order_number: str
    transaction_type: str
    account_holder: str
    requested_by: str
    service_id: str | None
    needs_approval: bool
    ready_at: float
    decision: str | None
    submitted_at: float
    effect: dict[str, Any] | None
    document: dict[str, Any]

    def status(self, now: float) -> str:
        """Where the order stands: approval, when its tenant's rules ask for it, comes first."""
        if self.decision == "REJECTED":
            return "REJECTED"
        if self.needs_approval and self.decision is None:
            return "AWAITING_APPROVAL" if now >= self.ready_at else "PENDING_APPROVAL"
        return "ORDER_SUBMITTED"


class ServiceStateChanged(Exception):
    """A care order's service was no longer in the state the order was checked against."""


class ProcurementStore(Protocol):
    """The sandbox's data: tenants loaded whole from their files, their records read a page or a
    key at a time, and orders stored once per externalOrderNumber and decided once."""

    def replace_tenants(self, tenants: Iterable[LoadedTenant]) -> None: ...

    def tenant(self, code: str) -> dict[str, Any] | None: ...

    def record(self, tenant: str, kind: str, key: str) -> Record | None: ...

    def record_by_alt_key(self, tenant: str, kind: str, alt_key: str) -> Record | None: ...

    def records_by_key(self, tenant: str, kind: str, keys: Collection[str]) -> dict[str, Record]: ...

    def records(
        self, tenant: str, kind: str, *, offset: int, limit: int, owners: Collection[str] | None = None,
        keys: Collection[str] | None = None, roots: bool = False,
    ) -> tuple[list[Record], int]: ...

    def order(self, tenant: str, order_id: int) -> StoredOrder | None: ...

    def order_by_number(self, tenant: str, external_order_number: str) -> StoredOrder | None: ...

    def orders(
        self, tenant: str, *, offset: int, limit: int, holders: Collection[str] | None = None
    ) -> tuple[list[StoredOrder], int]: ...

    def submit(self, tenant: str, order: Mapping[str, Any], *, apply_now: bool) -> tuple[StoredOrder, bool]: ...

    def decide(self, tenant: str, order_id: int, decision: str, decided_by: str, reason: str | None) -> bool: ...
