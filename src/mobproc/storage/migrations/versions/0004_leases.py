"""leases: housekeeping by one process at a time

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    leases = op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    # The row exists from the start, so that taking the lease is one conditional UPDATE.
    op.bulk_insert(leases, [{"name": "housekeeping", "holder": "", "expires_at": 0}])


def downgrade() -> None:
    op.drop_table("leases")
