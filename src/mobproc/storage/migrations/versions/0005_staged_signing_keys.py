"""staged signing keys: when a key begins to sign

Revision ID: 0005_staged_signing_keys
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_staged_signing_keys"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A key is published as soon as it is made, and signs only from signs_from: a resource server
    # must be able to know a key before the first token it signs arrives. Keys made before
    # signed from the moment they were made.
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signs_from", sa.Double(), nullable=True))
    op.execute("UPDATE signing_keys SET signs_from = created_at")


def downgrade() -> None:
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_column("signs_from")
