"""The MOBPROC v1 sandbox's data in SQL: tenants loaded from data files, their records, their orders."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..procurement.records import LoadedTenant, Record, ServiceStateChanged, StoredOrder
from .database import Database, Transaction
from .procurement_schema import api_orders, api_records, api_tenants

# Built once (the loading and ordering statements run for every row and order).
_INSERT_TENANT = insert(api_tenants)
_INSERT_RECORD = insert(api_records)
_INSERT_ORDER = insert(api_orders).returning(api_orders.c.id)


def _dump(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _record(row: Any) -> Record:
    document = json.loads(row.document)
    if row.state is not None:
        document["status"] = row.state
    return Record(row.kind, row.key, document, row.owner, row.alt_key, row.state)


def _order(row: Any) -> StoredOrder:
    document = getattr(row, "document", None)
    return StoredOrder(
        id=row.id, tenant=row.tenant, external_order_number=row.external_order_number,
        transaction_type=row.transaction_type, account_holder=row.account_holder, requested_by=row.requested_by,
        service_id=row.service_id, needs_approval=bool(row.needs_approval), ready_at=row.ready_at,
        decision=row.decision, submitted_at=row.submitted_at,
        effect=json.loads(row.effect) if getattr(row, "effect", None) else None,
        document=json.loads(document) if document is not None else {},
    )


# A page of orders lists each by its columns alone: a stored order's document is a few KB of
# JSON, and fifty of them to parse, check and send were most of a page's time.
_SUMMARY = [column for column in api_orders.c if column.name not in ("document", "effect")]


class SqlProcurementStore:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    # --- loading ------------------------------------------------------------------------------

    def replace_tenants(self, tenants: Iterable[LoadedTenant]) -> None:
        """Each tenant's data replaced by the file's, all tenants in one transaction: a file
        loads whole or not at all, and loading it again changes nothing. Orders stay."""
        now = time.time()
        env = self._environment
        with self._db.transaction(write=True) as transaction:
            for tenant in tenants:
                transaction.execute(delete(api_records).where(api_records.c.environment == env,
                                                              api_records.c.tenant == tenant.code))
                transaction.execute(delete(api_tenants).where(api_tenants.c.environment == env,
                                                              api_tenants.c.code == tenant.code))
                transaction.execute(_INSERT_TENANT, {"environment": env, "code": tenant.code,
                                                     "document": _dump(tenant.document), "loaded_at": now})
                rows = [
                    {"environment": env, "tenant": tenant.code, "kind": r.kind, "key": r.key, "alt_key": r.alt_key,
                     "owner": r.owner, "position": position, "state": r.state, "document": _dump(r.document)}
                    for position, r in enumerate(tenant.records)
                ]
                transaction.execute_many(_INSERT_RECORD, rows)

    # --- reading ------------------------------------------------------------------------------

    def tenant(self, code: str) -> dict[str, Any] | None:
        row = self._db.first(select(api_tenants.c.document).where(
            api_tenants.c.environment == self._environment, api_tenants.c.code == code), {})
        return json.loads(row.document) if row else None

    def record(self, tenant: str, kind: str, key: str) -> Record | None:
        return self._one(tenant, kind, api_records.c.key == key)

    def record_by_alt_key(self, tenant: str, kind: str, alt_key: str) -> Record | None:
        return self._one(tenant, kind, api_records.c.alt_key == alt_key)

    def _one(self, tenant: str, kind: str, condition: Any) -> Record | None:
        row = self._db.first(select(api_records).where(self._of(tenant, kind), condition)
                             .order_by(api_records.c.position).limit(1), {})
        return _record(row) if row else None

    def records_by_key(self, tenant: str, kind: str, keys: Collection[str]) -> dict[str, Record]:
        if not keys:
            return {}
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(select(api_records).where(self._of(tenant, kind), api_records.c.key.in_(list(keys))))
        return {row.key: _record(row) for row in rows}

    def records(
        self, tenant: str, kind: str, *, offset: int, limit: int, owners: Collection[str] | None = None,
        keys: Collection[str] | None = None, roots: bool = False,
    ) -> tuple[list[Record], int]:
        """One page of a tenant's records of one kind, in the file's order, and how many there
        are in all; ``owners`` and ``keys`` (when given) narrow them, ``roots`` to those of no
        owner (the countries among the regions)."""
        condition = self._of(tenant, kind)
        if roots:
            condition = and_(condition, api_records.c.owner.is_(None))
        if owners is not None:
            condition = and_(condition, api_records.c.owner.in_(list(owners)))
        if keys is not None:
            condition = and_(condition, api_records.c.key.in_(list(keys)))
        with self._db.transaction(write=False) as transaction:
            total = transaction.scalar(select(func.count()).select_from(api_records).where(condition))
            rows = transaction.all(select(api_records).where(condition).order_by(api_records.c.position)
                                   .offset(offset).limit(limit))
        return [_record(row) for row in rows], total

    def _of(self, tenant: str, kind: str) -> Any:
        return and_(api_records.c.environment == self._environment, api_records.c.tenant == tenant,
                    api_records.c.kind == kind)

    # --- orders -------------------------------------------------------------------------------

    def order(self, tenant: str, order_id: int) -> StoredOrder | None:
        row = self._db.first(select(api_orders).where(self._orders_of(tenant), api_orders.c.id == order_id), {})
        return _order(row) if row else None

    def order_by_number(self, tenant: str, external_order_number: str) -> StoredOrder | None:
        row = self._db.first(select(api_orders).where(
            self._orders_of(tenant), api_orders.c.external_order_number == external_order_number), {})
        return _order(row) if row else None

    def orders(
        self, tenant: str, *, offset: int, limit: int, holders: Collection[str] | None = None
    ) -> tuple[list[StoredOrder], int]:
        """Newest first, without their documents; ``holders`` narrows them to the orders for
        those employees."""
        condition = self._orders_of(tenant)
        if holders is not None:
            condition = and_(condition, api_orders.c.account_holder.in_(list(holders)))
        with self._db.transaction(write=False) as transaction:
            total = transaction.scalar(select(func.count()).select_from(api_orders).where(condition))
            rows = transaction.all(select(*_SUMMARY).where(condition).order_by(api_orders.c.id.desc())
                                   .offset(offset).limit(limit))
        return [_order(row) for row in rows], total

    def _orders_of(self, tenant: str) -> Any:
        return and_(api_orders.c.environment == self._environment, api_orders.c.tenant == tenant)

    def submit(self, tenant: str, order: Mapping[str, Any], *, apply_now: bool) -> tuple[StoredOrder, bool]:
        """Store an order, or find the one stored first under the same externalOrderNumber:
        the order and whether this call created it. A care order's effect on its service is
        applied in the same transaction when ``apply_now`` (no approval to wait for).

        The unique constraint decides between concurrent submissions, whichever process or
        machine they reach: the loser's INSERT fails (on PostgreSQL it waits for the winner's
        commit first), its transaction rolls back, and it reads the winner's order."""
        row = {"environment": self._environment, "tenant": tenant, **order,
               "effect": _dump(order["effect"]) if order.get("effect") else None,
               "document": _dump(order["document"])}
        try:
            with self._db.transaction(write=True) as transaction:
                order_id = transaction.scalar(_INSERT_ORDER, row)
                if apply_now and order.get("effect"):
                    self._apply(transaction, tenant, order["effect"])
        except IntegrityError:
            existing = self.order_by_number(tenant, order["external_order_number"])
            if existing is None:  # not a duplicate: some other constraint refused it
                raise
            return existing, False
        stored = self.order(tenant, order_id)
        assert stored is not None
        return stored, True

    def decide(self, tenant: str, order_id: int, decision: str, decided_by: str, reason: str | None) -> bool:
        """Record an approval or a rejection, and apply an approved care order's effect, in one
        transaction; False when the order was decided meanwhile (by another approver)."""
        with self._db.transaction(write=True) as transaction:
            decided = transaction.execute(
                update(api_orders)
                .where(self._orders_of(tenant), api_orders.c.id == order_id, api_orders.c.decision.is_(None))
                .values(decision=decision, decided_by=decided_by, reason=reason)
            )
            if decided != 1:
                return False
            if decision == "APPROVED":
                effect = transaction.scalar(select(api_orders.c.effect).where(api_orders.c.id == order_id))
                if effect:
                    self._apply(transaction, tenant, json.loads(effect))
        return True

    def _apply(self, transaction: Transaction, tenant: str, effect: Mapping[str, Any]) -> None:
        """A service's state moves only from the state the order was checked against
        (a conditional UPDATE): of two orders racing on one service, one wins."""
        changes: dict[str, Any] = {"state": effect["to"]}
        if "document" in effect:
            changes["document"] = _dump(effect["document"])
        changed = transaction.execute(
            update(api_records)
            .where(self._of(tenant, "service"), api_records.c.key == effect["service"],
                   api_records.c.state == effect["from"])
            .values(**changes)
        )
        if changed != 1:
            raise ServiceStateChanged(effect["service"])
