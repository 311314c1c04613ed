"""defences of the password grant: lockout columns, audit trail, failure budgets

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("lockouts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("locked_until", sa.Double(), nullable=True))

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("client_id", sa.String(length=255), nullable=True),
        sa.Column("subject", sa.String(length=320), nullable=True),
        sa.Column("source_address", sa.String(length=64), nullable=True),
        sa.Column("grant_type", sa.String(length=128), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(length=16), nullable=True),
        sa.Column("refresh_token", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_environment_at", ["environment", "at"], unique=False)
        batch_op.create_index("ix_audit_events_environment_subject", ["environment", "subject"], unique=False)

    op.create_table(
        "throttle",
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.String(length=128), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "bucket", name=op.f("pk_throttle")),
    )


def downgrade() -> None:
    op.drop_table("throttle")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_environment_subject")
        batch_op.drop_index("ix_audit_events_environment_at")
    op.drop_table("audit_events")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("lockouts")
        batch_op.drop_column("failed_logins")
