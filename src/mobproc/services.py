"""The wiring: every domain service of one process, built once from the settings.

This is the one place that chooses implementations (the identity source of each source
system, the token format, the grants, the stores). Every surface is a thin adapter over what
it builds: ``mobproc.server`` (the token endpoints over ASGI), ``mobproc.cli`` (commands), the
tests and the benchmarks. Nothing here knows HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings
from .domain.clients import CachedClientStore
from .domain.identities import IdentitySource, LockoutPolicy, StoredIdentitySource
from .domain.jwt_tokens import JwtTokenStrategy
from .domain.passwords import PasswordHasher
from .domain.signing_keys import KeyEncryption, SigningKeys
from .domain.throttling import GuessingThrottle
from .domain.tokens import OpaqueTokenStrategy, TokenFactory, TokenFormats
from .oauth2.endpoint import TokenEndpoint
from .oauth2.grants import (
    ClientCredentialsGrant,
    RefreshTokenGrant,
    ResourceOwnerPasswordGrant,
    ValidateBearerGrant,
)
from .oauth2.rfc7009 import RevocationEndpoint
from .oauth2.rfc7662 import IntrospectionEndpoint
from .storage.accounts import SqlAccountStore
from .storage.audit import SqlAuditLog
from .storage.clients import SqlClientStore
from .storage.database import Database
from .storage.signing_keys import SqlSigningKeyStore
from .storage.throttle import SqlFailureBudget, forget_after
from .storage.tokens import SqlTokenStore
from .telemetry import MeteredAuditLog, MeteredHashingAdmission


@dataclass
class Services:
    """Everything a request or a command needs, built once per process from the settings."""

    settings: Settings
    database: Database
    clients: SqlClientStore
    accounts: SqlAccountStore
    tokens: SqlTokenStore
    hasher: PasswordHasher
    token_endpoint: TokenEndpoint
    keys: SigningKeys
    introspection: IntrospectionEndpoint
    revocation: RevocationEndpoint
    audit: MeteredAuditLog

    @classmethod
    def build(cls, settings: Settings) -> Services:
        database = Database(
            settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms, background_checkpoints=True
        )
        environment = settings.environment.value
        clients = SqlClientStore(database, environment)
        accounts = SqlAccountStore(database, environment)
        tokens = SqlTokenStore(database, environment)
        hasher = PasswordHasher.from_settings(settings)
        audit = MeteredAuditLog(SqlAuditLog(database, environment))
        lockout = LockoutPolicy(settings.lockout_threshold, settings.lockout_seconds, settings.lockout_max_seconds)
        sources: dict[str, IdentitySource] = {
            name: StoredIdentitySource(name, accounts, hasher, lockout) for name in settings.source_systems
        }
        secret = settings.key_encryption_secret()
        keys = SigningKeys(
            SqlSigningKeyStore(database, environment),
            algorithm=settings.signing_algorithm,
            token_lifetime=settings.access_token_lifetime,
            encryption=KeyEncryption(secret) if secret else None,
            publication_delay=settings.key_publication_delay_seconds,
            rotation_days=settings.key_rotation_days,
        )
        # How an access token looks is configuration; a grant never knows.
        formats = {
            "opaque": OpaqueTokenStrategy(settings.access_token_length),
            "jwt": JwtTokenStrategy(keys, issuer=settings.issuer_url, audience=settings.access_token_audience),
        }
        access_tokens = TokenFormats(formats.values())
        budgets = [(settings.client_failure_burst, settings.client_failures_per_minute),
                   (settings.address_failure_burst, settings.address_failures_per_minute)]
        throttle = GuessingThrottle(
            SqlFailureBudget(database, environment, forget_after=forget_after(*budgets)),
            client_burst=settings.client_failure_burst,
            client_per_minute=settings.client_failures_per_minute,
            address_burst=settings.address_failure_burst,
            address_per_minute=settings.address_failures_per_minute,
        )
        factory = TokenFactory(
            formats[settings.access_token_format],
            access_lifetime=settings.access_token_lifetime,
            refresh_length=settings.refresh_token_length,
            refresh_idle_timeout=settings.refresh_token_idle_timeout,
            grant_lifetime=settings.refresh_token_lifetime,
        )
        # The grant registry: a new grant is one module and one line here.
        grants = [
            ResourceOwnerPasswordGrant(
                sources, hasher, tokens, factory,
                audit=audit, throttle=throttle, admission=MeteredHashingAdmission.from_settings(settings),
            ),
            RefreshTokenGrant(tokens, factory, audit=audit, grace_seconds=settings.refresh_grace_seconds),
            ClientCredentialsGrant(tokens, factory),
            ValidateBearerGrant(access_tokens, tokens),
        ]
        endpoint_clients = (
            CachedClientStore(clients, ttl=settings.client_cache_seconds) if settings.client_cache_seconds else clients
        )
        return cls(
            settings, database, clients, accounts, tokens, hasher,
            TokenEndpoint(endpoint_clients, grants, query_credentials=settings.query_credentials),
            keys=keys,
            introspection=IntrospectionEndpoint(
                endpoint_clients, tokens, access_tokens, issuer=settings.issuer_url, audience=settings.access_token_audience
            ),
            revocation=RevocationEndpoint(endpoint_clients, tokens, access_tokens, audit),
            audit=audit,
        )
