"""The tables. Every row belongs to one environment (CONTRACT §3).

Times are seconds since the epoch (double precision): one type on SQLite and PostgreSQL,
compared without time-zone conversions. Tokens and client secrets are stored as SHA-256
digests only (``lookup``, ``secret_digest``), passwords as argon2id hashes.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

clients = Table(
    "clients",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("secret_digest", LargeBinary(32), nullable=False),
    Column("grant_types", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("default_scopes", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
    # Interactive sign-in (issue 20): where the authorization endpoint may send the browser
    # back (space-separated, matched exactly), whether the client holds no secret (public:
    # PKCE then required), whether PKCE may be left out ("required" or "optional", for a
    # confidential client only), whether consent is skipped (first-party), its own access-token
    # lifetime (None: the deployment's), and the algorithm of its ID tokens (None: RS256).
    Column("redirect_uris", Text, nullable=False, server_default=""),
    Column("public", Boolean, nullable=False, server_default=false()),
    Column("pkce", String(16), nullable=False, server_default="required"),
    Column("trusted", Boolean, nullable=False, server_default=false()),
    Column("access_token_lifetime", Double),
    Column("id_token_alg", String(16)),
    # Moved by every change: the admin API's ETag and the condition of its If-Match writes.
    Column("version", Integer, nullable=False, server_default="0"),
    UniqueConstraint("environment", "client_id"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("source_system", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("tenant", String(64)),
    Column("multitenant", Boolean, nullable=False),
    Column("domain", String(255)),
    Column("created_at", Double, nullable=False),
    # Raised by every change of the password: a login checked against the old one may not
    # make a grant after it (the grant's transaction compares it).
    Column("credential_version", Integer, nullable=False, server_default="0"),
    Column("last_login_at", Double),
    Column("version", Integer, nullable=False, server_default="0"),  # as clients.version
    UniqueConstraint("environment", "source_system", "name"),
)
# Account search by name prefix (0009_admin): (environment, name, source_system), the name in
# byte order (PostgreSQL: COLLATE "C", an expression index the migration makes).

# The console's sessions (backend-for-frontend, mobproc.web.console): the access token each
# holds, sealed under a key only the browser's cookie gives; found by the cookie's digest.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("environment", String(16), primary_key=True),
    Column("id_digest", LargeBinary(32), primary_key=True),
    Column("subject", String(320), nullable=False),
    Column("sealed", Text, nullable=False),
    Column("auth_time", Double, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False, index=True),
)

# The admin API's roles (mobproc.domain.roles), by subject: a directory's account has no row
# in ``accounts`` and may hold a role all the same.
account_roles = Table(
    "account_roles",
    metadata,
    Column("environment", String(16), primary_key=True),
    Column("subject", String(320), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("granted_at", Double, nullable=False),
    Column("granted_by", String(255)),
)

# Lockout (RFC 6749 §4.3.2) by subject, whatever its identity source and whether it exists,
# shared by every process and machine (mobproc.domain.lockout). ``subject_key`` is a keyed
# digest of the name as typed, which may be a password. ``streak`` counts the attempts of the
# current streak (claimed before the password is checked), ``lockouts`` the lockouts since
# the last success (each one twice as long), ``window_failures`` the failures of the hour
# that began at ``window_start``.
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("environment", String(16), primary_key=True),
    Column("subject_key", LargeBinary(32), primary_key=True),
    Column("streak", Integer, nullable=False),
    Column("lockouts", Integer, nullable=False),
    Column("locked_until", Double),
    Column("window_start", Double, nullable=False),
    Column("window_failures", Integer, nullable=False),
    # A source has said that the subject exists (a wrong password, a success): the audit trail
    # may then name its refused attempts in clear.
    Column("known", Boolean, nullable=False, server_default="0"),
    Column("updated_at", Double, nullable=False),
)

# Secrets the deployment makes for itself on first use (the key of its pseudonyms, when
# MOBPROC_AUDIT_KEY does not give one): one row per environment and name.
deployment_secrets = Table(
    "deployment_secrets",
    metadata,
    Column("environment", String(16), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary(64), nullable=False),
    Column("created_at", Double, nullable=False),
)

# One row per login (or client-credentials request): the root that every token descends
# from, carrying the identity's attributes so that a refresh keeps them.
grants = Table(
    "grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("client_pk", ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), index=True),
    Column("grant_type", String(64), nullable=False),
    Column("subject", String(320), nullable=False),
    Column("scope", Text, nullable=False),
    Column("source_system", String(64)),
    Column("tenant", String(64)),
    Column("multitenant", Boolean, nullable=False),
    Column("domain", String(255)),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("revoked_at", Double),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("lookup", LargeBinary(32), nullable=False, unique=True),
    Column("environment", String(16), nullable=False),
    Column("grant_id", ForeignKey("grants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("scope", Text, nullable=False),
    Column("issued_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("revoked_at", Double),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("lookup", LargeBinary(32), nullable=False, unique=True),
    Column("environment", String(16), nullable=False),
    Column("grant_id", ForeignKey("grants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("generation", Integer, nullable=False),
    Column("issued_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("consumed_at", Double),
)

# Background work that one process at a time may do (housekeeping): whoever moves
# ``expires_at`` forward with a conditional UPDATE holds the lease until then.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", Double, nullable=False),
)

Index("ix_access_tokens_expires_at", access_tokens.c.expires_at)
Index("ix_refresh_tokens_expires_at", refresh_tokens.c.expires_at)

# The keys that sign JWT access tokens. One newest key (retired_at NULL) per environment: it
# signs from signs_from, and the key before it until then (its retired_at). A retired key is
# published until not_after and, once its retired_at has passed, has no private key any more.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("kid", String(128), nullable=False),
    Column("alg", String(16), nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("private_key", Text),  # a JWK in JSON, or a JWE under MOBPROC_KEY_ENCRYPTION_KEY
    Column("created_at", Double, nullable=False),
    Column("signs_from", Double),  # published from created_at, signing from here (a staged key: later)
    Column("retired_at", Double),  # signs until here; NULL for the newest key of the environment
    Column("not_after", Double),  # published until here
    # "access" (the access tokens', MOBPROC_SIGNING_ALGORITHM) or "id_token" (RS256): each ring
    # has its own newest key and rotation.
    Column("ring", String(16), nullable=False, server_default="access"),
    UniqueConstraint("environment", "kid"),
)

Index(
    "uq_signing_keys_active",
    signing_keys.c.environment,
    signing_keys.c.ring,
    unique=True,
    sqlite_where=signing_keys.c.retired_at.is_(None),
    postgresql_where=signing_keys.c.retired_at.is_(None),
)

# The audit trail: one row per security event. Never a secret: a token is named by a short
# digest prefix, and an unknown username by one too (people type passwords into it).
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("at", Double, nullable=False),
    Column("event", String(64), nullable=False),
    Column("actor", String(255)),
    Column("client_id", String(255)),
    Column("subject", String(320)),
    Column("source_address", String(64)),
    Column("grant_type", String(128)),
    Column("grant_id", Integer),
    Column("token", String(16)),
    Column("refresh_token", String(16)),
    Column("reason", String(64)),
    Column("detail", Text),
)

Index("ix_audit_events_environment_at", audit_events.c.environment, audit_events.c.at)
# Read newest first, by subject, client or event (the admin API's filters), each with its time.
Index("ix_audit_events_subject_at", audit_events.c.environment, audit_events.c.subject, audit_events.c.at)
Index("ix_audit_events_client_at", audit_events.c.environment, audit_events.c.client_id, audit_events.c.at)
Index("ix_audit_events_event_at", audit_events.c.environment, audit_events.c.event, audit_events.c.at)

# Failure budgets (token buckets) for password guessing, shared by every process: ``tokens``
# is what was left at ``updated_at``; the refill since is computed in the claiming UPDATE.
throttle = Table(
    "throttle",
    metadata,
    Column("environment", String(16), primary_key=True),
    Column("bucket", String(128), primary_key=True),
    Column("tokens", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)


def _signed_in_identity() -> list[Column]:
    """Who signed in, as a session and a code carry it: the account (a directory's has no row
    here) and the attributes its grant will be made with."""
    return [
        Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), index=True),
        Column("subject", String(320), nullable=False),
        Column("source_system", String(64), nullable=False),
        Column("tenant", String(64)),
        Column("multitenant", Boolean, nullable=False),
        Column("domain", String(255)),
    ]


# A browser's sign-in (issue 20): the cookie holds only a random id, stored here by digest,
# with who signed in, when (OpenID Connect's auth_time, max_age) and until when it holds: idle
# and absolute timeouts. Removing the account ends it (the foreign key); setting its password
# anew or locking it ends it too (``ended_at``).
browser_sessions = Table(
    "browser_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("lookup", LargeBinary(32), nullable=False, unique=True),
    *_signed_in_identity(),
    Column("auth_time", Double, nullable=False),
    Column("idle_expires_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("ended_at", Double),
)
Index("ix_browser_sessions_environment_subject", browser_sessions.c.environment, browser_sessions.c.subject)
Index("ix_browser_sessions_expires_at", browser_sessions.c.expires_at)

# RFC 6749 §4.1.2: a code is used once, lives a minute, and is stored by digest. It carries
# what the grant it becomes is made of; ``grant_id`` is that grant, revoked if the code is
# presented again (§4.1.2: "SHOULD revoke ... all tokens previously issued based on that code").
authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("lookup", LargeBinary(32), nullable=False, unique=True),
    Column("client_pk", ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True),
    *_signed_in_identity(),
    Column("scope", Text, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("code_challenge", String(128)),
    Column("nonce", Text),
    Column("auth_time", Double, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("used_at", Double),
    Column("grant_id", Integer),
)
Index("ix_authorization_codes_expires_at", authorization_codes.c.expires_at)

# What an account allowed a client (not a first-party one) to have: one scope set per account
# and client, asked again when a request wants more.
consents = Table(
    "consents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("subject", String(320), nullable=False),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), index=True),
    Column("client_pk", ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("scope", Text, nullable=False),
    Column("granted_at", Double, nullable=False),
    UniqueConstraint("environment", "subject", "client_pk"),
)
