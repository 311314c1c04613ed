"""the MOBPROC v1 API's sandbox: tenants, their records, their orders

Revision ID: 0007_mobproc_api
Revises: 0006_login_attempts
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_mobproc_api"
down_revision = "0006_login_attempts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tenants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tenants")),
        sa.UniqueConstraint("environment", "code", name=op.f("uq_api_tenants_environment_code")),
    )
    op.create_table(
        "api_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("alt_key", sa.String(length=320), nullable=True),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_records")),
        sa.UniqueConstraint("environment", "tenant", "kind", "key", name=op.f("uq_api_records_environment_tenant_kind_key")),
    )
    op.create_index("ix_api_records_listing", "api_records", ["environment", "tenant", "kind", "position"])
    op.create_index("ix_api_records_alt_key", "api_records", ["environment", "tenant", "kind", "alt_key"])
    op.create_index("ix_api_records_owner", "api_records", ["environment", "tenant", "kind", "owner"])
    op.create_table(
        "api_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("external_order_number", sa.String(length=255), nullable=False),
        sa.Column("transaction_type", sa.String(length=32), nullable=False),
        sa.Column("account_holder", sa.String(length=255), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=255), nullable=True),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("ready_at", sa.Double(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.Double(), nullable=False),
        sa.Column("effect", sa.Text(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_orders")),
        sa.UniqueConstraint("environment", "tenant", "external_order_number",
                            name=op.f("uq_api_orders_environment_tenant_external_order_number")),
    )
    op.create_index("ix_api_orders_listing", "api_orders", ["environment", "tenant", "id"])
    op.create_index("ix_api_orders_holder", "api_orders", ["environment", "tenant", "account_holder"])


def downgrade() -> None:
    op.drop_table("api_orders")
    op.drop_table("api_records")
    op.drop_table("api_tenants")
