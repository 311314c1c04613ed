"""the operator's side: roles, versions for optimistic concurrency, search indexes

Revision ID: 0009_admin
Revises: 0008_interactive_sign_in
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_admin"
down_revision = "0008_interactive_sign_in"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every change of a client or account moves its version: the admin API's ETag, and the
    # condition of a write made with If-Match (a stale one changes no row).
    with op.batch_alter_table("clients") as table:
        table.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("accounts") as table:
        table.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    # Roles of the admin API, by subject (a directory's accounts have no row in accounts).
    op.create_table(
        "account_roles",
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("granted_at", sa.Double(), nullable=False),
        sa.Column("granted_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("environment", "subject", "role", name=op.f("pk_account_roles")),
    )
    # The console's sessions (backend-for-frontend): the browser holds a random id in a cookie;
    # the row holds the access token sealed under a key derived from that id, found by its
    # digest, so that a copy of the database can use none of them.
    op.create_table(
        "console_sessions",
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("id_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("auth_time", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "id_digest", name=op.f("pk_console_sessions")),
    )
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    # Account search by name prefix, with or without a source system, in code-point order: a
    # range on the name in byte order, which SQLite's BINARY collation is and PostgreSQL's "C"
    # is (the database's own collation may sort 'ab-c' between 'abb' and 'abd').
    if op.get_bind().dialect.name == "postgresql":
        op.execute('CREATE INDEX ix_accounts_search ON accounts (environment, (name COLLATE "C"), source_system)')
        op.execute('CREATE INDEX ix_accounts_source_search ON accounts '
                   '(environment, source_system, (name COLLATE "C"))')
    else:
        op.create_index("ix_accounts_search", "accounts", ["environment", "name", "source_system"])
        # (environment, source_system, name): the unique constraint's index serves it.
    # The audit trail read newest first, by subject, client or event: each filter with its time.
    op.drop_index("ix_audit_events_environment_subject", table_name="audit_events")
    op.create_index("ix_audit_events_subject_at", "audit_events", ["environment", "subject", "at"])
    op.create_index("ix_audit_events_client_at", "audit_events", ["environment", "client_id", "at"])
    op.create_index("ix_audit_events_event_at", "audit_events", ["environment", "event", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_event_at", table_name="audit_events")
    op.drop_index("ix_audit_events_client_at", table_name="audit_events")
    op.drop_index("ix_audit_events_subject_at", table_name="audit_events")
    op.create_index("ix_audit_events_environment_subject", "audit_events", ["environment", "subject"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_accounts_source_search")
    op.drop_index("ix_accounts_search", table_name="accounts")
    op.drop_table("account_roles")
    op.drop_index("ix_console_sessions_expires_at", table_name="console_sessions")
    op.drop_table("console_sessions")
    with op.batch_alter_table("accounts") as table:
        table.drop_column("version")
    with op.batch_alter_table("clients") as table:
        table.drop_column("version")
