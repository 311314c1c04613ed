"""login attempts by subject, credential versions, deployment secrets

Lockout moves from the account row to a row per subject (known or not, whatever its identity
source); accounts gain the version of their credential and the time of their last login.
The lockout state of the old columns is transient and is not carried over.

Revision ID: 0006_login_attempts
Revises: 0005_staged_signing_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_login_attempts"
down_revision = "0005_staged_signing_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("subject_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.Double(), nullable=True),
        sa.Column("window_start", sa.Double(), nullable=False),
        sa.Column("window_failures", sa.Integer(), nullable=False),
        sa.Column("known", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "subject_key", name=op.f("pk_login_attempts")),
    )
    op.create_table(
        "deployment_secrets",
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.LargeBinary(length=64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "name", name=op.f("pk_deployment_secrets")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credential_version", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_login_at", sa.Double(), nullable=True))
        batch_op.drop_column("locked_until")
        batch_op.drop_column("lockouts")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("lockouts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("locked_until", sa.Double(), nullable=True))
        batch_op.drop_column("last_login_at")
        batch_op.drop_column("credential_version")
    op.drop_table("deployment_secrets")
    op.drop_table("login_attempts")
