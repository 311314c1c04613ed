"""The MOBPROC v1 API's tables (the sandbox's tenants, their records and their orders).

A tenant's records (employees, regions, vendors, manufacturers, catalog, assets, accounts)
are JSON documents loaded from a data file (``mobproc data load``), one row each, found by
kind and id; what the API changes in them (a service's state) has a column of its own so that
it changes by a conditional UPDATE. Orders are rows of their own: the unique constraint on
(environment, tenant, externalOrderNumber) is what makes a submission idempotent, across
processes and machines.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .schema import metadata

api_tenants = Table(
    "api_tenants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("code", String(64), nullable=False),
    Column("document", Text, nullable=False),  # name, currency, approval rules, order properties
    Column("loaded_at", Double, nullable=False),
    UniqueConstraint("environment", "code"),
)

api_records = Table(
    "api_records",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    # An employee's companyEmployeeId; the employee an asset or account belongs to, a region's parent.
    Column("alt_key", String(320)),
    Column("owner", String(255)),
    Column("position", Integer, nullable=False),  # the file's order: collections keep it
    Column("state", String(32)),
    Column("document", Text, nullable=False),
    UniqueConstraint("environment", "tenant", "kind", "key"),
)

Index("ix_api_records_listing", api_records.c.environment, api_records.c.tenant, api_records.c.kind,
      api_records.c.position)
Index("ix_api_records_alt_key", api_records.c.environment, api_records.c.tenant, api_records.c.kind,
      api_records.c.alt_key)
Index("ix_api_records_owner", api_records.c.environment, api_records.c.tenant, api_records.c.kind,
      api_records.c.owner)

api_orders = Table(
    "api_orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("external_order_number", String(255), nullable=False),
    Column("transaction_type", String(32), nullable=False),
    Column("account_holder", String(255), nullable=False),  # the employee the order is for
    Column("requested_by", String(255), nullable=False),  # the authenticated account's employee
    Column("service_id", String(255)),
    Column("needs_approval", Boolean, nullable=False),
    Column("ready_at", Double, nullable=False),  # when an order needing approval awaits it
    Column("decision", String(16)),  # APPROVED or REJECTED
    Column("decided_by", String(320)),
    Column("reason", Text),
    Column("submitted_at", Double, nullable=False),
    Column("effect", Text),  # what a care order does to its service, once it may (JSON)
    Column("document", Text, nullable=False),  # the order as answered, without its status
    # Idempotency (the caller's own reference): 20 submissions at once, one order.
    UniqueConstraint("environment", "tenant", "external_order_number"),
)

Index("ix_api_orders_listing", api_orders.c.environment, api_orders.c.tenant, api_orders.c.id)
Index("ix_api_orders_holder", api_orders.c.environment, api_orders.c.tenant, api_orders.c.account_holder)
