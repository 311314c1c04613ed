"""placeholder for the issue3 branch's signing-keys migration

Revision ID: 0002
Revises: 0001

Empty on purpose: the issue3 branch adds the real 0002 concurrently, and it replaces this
file at merge. It exists only so that 0003 (issue 4) has its declared parent here.
"""

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
