"""interactive sign-in: redirect URIs and kinds of clients, browser sessions, authorization
codes, consents, and a second signing-key ring (ID tokens)

Revision ID: 0008_interactive_sign_in
Revises: 0007_mobproc_api
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_interactive_sign_in"
down_revision = "0007_mobproc_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        # Space-separated; a redirect URI has no space (RFC 3986).
        batch_op.add_column(sa.Column("redirect_uris", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("pkce", sa.String(length=16), nullable=False, server_default="required"))
        batch_op.add_column(sa.Column("trusted", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("access_token_lifetime", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("id_token_alg", sa.String(length=16), nullable=True))
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("lookup", sa.LargeBinary(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("multitenant", sa.Boolean(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("auth_time", sa.Double(), nullable=False),
        sa.Column("idle_expires_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("ended_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_browser_sessions_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
        sa.UniqueConstraint("lookup", name=op.f("uq_browser_sessions_lookup")),
    )
    op.create_index("ix_browser_sessions_environment_subject", "browser_sessions", ["environment", "subject"])
    op.create_index("ix_browser_sessions_expires_at", "browser_sessions", ["expires_at"])
    op.create_index(op.f("ix_browser_sessions_account_id"), "browser_sessions", ["account_id"])
    op.create_table(
        "authorization_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("lookup", sa.LargeBinary(length=32), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("multitenant", sa.Boolean(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("auth_time", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("used_at", sa.Double(), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["client_pk"], ["clients.id"], name=op.f("fk_authorization_codes_client_pk_clients"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_authorization_codes_account_id_accounts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_codes")),
        sa.UniqueConstraint("lookup", name=op.f("uq_authorization_codes_lookup")),
    )
    op.create_index("ix_authorization_codes_expires_at", "authorization_codes", ["expires_at"])
    op.create_index(op.f("ix_authorization_codes_client_pk"), "authorization_codes", ["client_pk"])
    op.create_index(op.f("ix_authorization_codes_account_id"), "authorization_codes", ["account_id"])
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["client_pk"], ["clients.id"], name=op.f("fk_consents_client_pk_clients"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_consents_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
        sa.UniqueConstraint("environment", "subject", "client_pk", name=op.f("uq_consents_environment_subject_client_pk")),
    )
    op.create_index(op.f("ix_consents_client_pk"), "consents", ["client_pk"])
    op.create_index(op.f("ix_consents_account_id"), "consents", ["account_id"])
    # A second ring of signing keys beside the access tokens': ID tokens are RS256 by default
    # (OpenID Connect Discovery 1.0 §3), whatever MOBPROC_SIGNING_ALGORITHM says. One newest
    # key per environment and ring.
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ring", sa.String(length=16), nullable=False, server_default="access"))
        batch_op.drop_index("uq_signing_keys_active", sqlite_where=sa.text("retired_at IS NULL"),
                            postgresql_where=sa.text("retired_at IS NULL"))
        batch_op.create_index("uq_signing_keys_active", ["environment", "ring"], unique=True,
                              sqlite_where=sa.text("retired_at IS NULL"), postgresql_where=sa.text("retired_at IS NULL"))


def downgrade() -> None:
    op.execute("DELETE FROM signing_keys WHERE ring <> 'access'")
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index("uq_signing_keys_active", sqlite_where=sa.text("retired_at IS NULL"),
                            postgresql_where=sa.text("retired_at IS NULL"))
        batch_op.create_index("uq_signing_keys_active", ["environment"], unique=True,
                              sqlite_where=sa.text("retired_at IS NULL"), postgresql_where=sa.text("retired_at IS NULL"))
        batch_op.drop_column("ring")
    op.drop_table("consents")
    op.drop_table("authorization_codes")
    op.drop_table("browser_sessions")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("id_token_alg")
        batch_op.drop_column("access_token_lifetime")
        batch_op.drop_column("trusted")
        batch_op.drop_column("pkce")
        batch_op.drop_column("public")
        batch_op.drop_column("redirect_uris")
