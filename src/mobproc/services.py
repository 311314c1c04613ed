"""The wiring: every domain service of one process, built once from the settings.

This is the one place that chooses implementations (the identity source of each source
system, the token format, the grants, the stores). Every surface is a thin adapter over what
it builds: ``mobproc.server`` (the token endpoints over ASGI), ``mobproc.cli`` (commands), the
tests and the benchmarks. Nothing here knows HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .config import Settings
from .domain.authentication import Authenticator
from .domain.authorization import AuthorizationCodes, Consents
from .domain.clients import CachedClientStore
from .domain.id_tokens import IdTokens
from .domain.identities import BuiltinIdentitySource, IdentitySource
from .domain.jwt_tokens import JwtTokenStrategy
from .domain.lockout import Lockout, LockoutPolicy
from .domain.passwords import HashingAdmission, PasswordHasher
from .domain.pseudonyms import Pseudonyms
from .domain.registries import AccountRegistry, ClientRegistry, SigningKeyRegistry
from .domain.sessions import BrowserSessions, LoginTransactions
from .domain.signing_keys import KeyEncryption, SigningKeys
from .domain.throttling import GuessingThrottle
from .domain.tokens import OpaqueTokenStrategy, TokenFactory, TokenFormats
from .domain.verifier import AccessTokenVerifier
from .oauth2.authorization import AuthorizationEndpoint
from .oauth2.endpoint import TokenEndpoint
from .oauth2.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    Grant,
    RefreshTokenGrant,
    ResourceOwnerPasswordGrant,
    ValidateBearerGrant,
)
from .oauth2.rfc7009 import RevocationEndpoint
from .oauth2.sign_in import SignIn
from .oauth2.rfc7662 import IntrospectionEndpoint
from .procurement.records import ProcurementStore
from .storage.accounts import SqlAccountStore
from .storage.attempts import SqlLoginAttempts
from .storage.audit import SqlAuditLog
from .storage.authorization import SqlAuthorizationCodeStore, SqlConsentStore
from .storage.clients import SqlClientStore
from .storage.console_sessions import SqlConsoleSessions
from .storage.database import Database
from .storage.deployment_secrets import SqlDeploymentSecrets
from .storage.procurement import SqlProcurementStore
from .storage.roles import SqlRoleStore
from .storage.sessions import SqlSessionStore
from .storage.signing_keys import SqlSigningKeyStore
from .storage.throttle import SqlFailureBudget, forget_after
from .storage.tokens import SqlTokenStore
from .telemetry import MeteredHashingAdmission, MeteredSourceAdmission, count_event, source_state


@dataclass(frozen=True)
class GrantParts:
    """What a grant is built from."""

    settings: Settings
    authenticator: Authenticator
    storage: SqlTokenStore
    tokens: TokenFactory
    verifier: AccessTokenVerifier
    audit: SqlAuditLog
    codes: AuthorizationCodes | None = None
    id_tokens: IdTokens | None = None


GrantFactory = Callable[[GrantParts], Grant]

# The grant registry: a new grant is one module and one line here.
GRANTS: tuple[GrantFactory, ...] = (
    lambda parts: ResourceOwnerPasswordGrant(parts.authenticator, parts.storage, parts.tokens),
    lambda parts: RefreshTokenGrant(parts.storage, parts.tokens, audit=parts.audit,
                                    grace_seconds=parts.settings.refresh_grace_seconds,
                                    recheck=parts.authenticator.still_holds
                                    if parts.authenticator.rechecks_on_refresh else None),
    lambda parts: ClientCredentialsGrant(parts.storage, parts.tokens),
    lambda parts: ValidateBearerGrant(parts.verifier),
    lambda parts: AuthorizationCodeGrant(parts.codes, parts.storage, parts.tokens, parts.audit,
                                         id_tokens=parts.id_tokens),
)


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
    audit: SqlAuditLog
    verifier: AccessTokenVerifier
    authenticator: Authenticator
    hashing: HashingAdmission  # admission control of this process's password hashes
    attempts: SqlLoginAttempts
    pseudonyms: Pseudonyms
    client_registry: ClientRegistry
    account_registry: AccountRegistry
    identity_sources: dict[str, IdentitySource]
    key_registry: SigningKeyRegistry
    # Interactive sign-in (issue 20): the authorization endpoint, browser sessions, the sign-in
    # forms' CSRF tokens, consents.
    sign_in: SignIn
    id_tokens: IdTokens
    sessions: BrowserSessions
    login_transactions: LoginTransactions
    consents: Consents
    deployment_secrets: SqlDeploymentSecrets
    # The console's sessions (issue 24), and the MOBPROC v1 sandbox's tenants and orders (issue 21).
    console_sessions: SqlConsoleSessions
    procurement: ProcurementStore

    @classmethod
    def build(cls, settings: Settings, *, extra_grants: Iterable[GrantFactory] = ()) -> Services:
        """``extra_grants``: grants beside :data:`GRANTS` (a test's own, say)."""
        database = Database(
            settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms, background_checkpoints=True
        )
        environment = settings.environment.value
        clients = SqlClientStore(database, environment)
        accounts = SqlAccountStore(database, environment)
        deployment_secrets = SqlDeploymentSecrets(database, environment)
        given = settings.audit_secret()
        pseudonyms = Pseudonyms(lambda: given or deployment_secrets.get_or_create("pseudonyms"))
        audit = SqlAuditLog(database, environment, listeners=[count_event], pseudonyms=pseudonyms)
        tokens = SqlTokenStore(database, environment, audit)
        hasher = PasswordHasher.from_settings(settings)
        sources = identity_sources(settings, accounts, hasher)
        attempts = SqlLoginAttempts(database, environment)
        lockout = Lockout(attempts, LockoutPolicy(
            settings.lockout_threshold, settings.lockout_seconds, settings.lockout_max_seconds,
            settings.lockout_failures_per_hour,
        ))
        secret = settings.key_encryption_secret()
        encryption = KeyEncryption(secret) if secret else None
        keys = SigningKeys(
            SqlSigningKeyStore(database, environment),
            algorithm=settings.signing_algorithm,
            token_lifetime=settings.access_token_lifetime,
            encryption=encryption,
            publication_delay=settings.key_publication_delay_seconds,
            rotation_days=settings.key_rotation_days,
        )
        # How an access token looks is configuration; a grant never knows.
        formats = {
            "opaque": OpaqueTokenStrategy(settings.access_token_length),
            "jwt": JwtTokenStrategy(keys, issuer=settings.issuer_url, audience=settings.access_token_audience),
        }
        verifier = AccessTokenVerifier(
            TokenFormats(formats.values()), tokens, issuer=settings.issuer_url, audience=settings.access_token_audience
        )
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
        sessions = BrowserSessions(SqlSessionStore(database, environment), idle_timeout=settings.session_idle_timeout,
                                   lifetime=settings.session_lifetime)
        hashing = MeteredHashingAdmission.from_settings(settings)
        authenticator = Authenticator(
            sources,
            transactions=database,
            lockout=lockout,
            throttle=throttle,
            audit_log=audit,
            pseudonyms=pseudonyms,
            hasher=hasher,
            admission=hashing,
            sessions=sessions,
        )
        codes = AuthorizationCodes(SqlAuthorizationCodeStore(database, environment), database,
                                   lifetime=settings.authorization_code_lifetime)
        # OpenID Connect's ID tokens: RS256 by a ring of their own (staged rotation as the access
        # tokens'), and ES256 by the access tokens' ring when that is ES256.
        id_token_keys = SigningKeys(
            SqlSigningKeyStore(database, environment, ring="id_token"),
            algorithm="RS256",
            token_lifetime=settings.id_token_lifetime,
            encryption=encryption,
            publication_delay=settings.key_publication_delay_seconds,
            rotation_days=settings.key_rotation_days,
        )
        rings = {"RS256": id_token_keys, **({"ES256": keys} if settings.signing_algorithm == "ES256" else {})}
        id_tokens = IdTokens(rings, issuer=settings.issuer_url, lifetime=settings.id_token_lifetime)
        parts = GrantParts(settings, authenticator, tokens, factory, verifier, audit, codes, id_tokens)
        consents = Consents(SqlConsentStore(database, environment))
        grants = [make(parts) for make in (*GRANTS, *extra_grants)]
        endpoint_clients = (
            CachedClientStore(clients, ttl=settings.client_cache_seconds) if settings.client_cache_seconds else clients
        )
        return cls(
            settings, database, clients, accounts, tokens, hasher,
            TokenEndpoint(endpoint_clients, grants, query_credentials=settings.query_credentials),
            keys=keys,
            introspection=IntrospectionEndpoint(endpoint_clients, verifier, tokens),
            revocation=RevocationEndpoint(endpoint_clients, tokens, verifier, audit),
            audit=audit,
            verifier=verifier,
            authenticator=authenticator,
            hashing=hashing,
            attempts=attempts,
            pseudonyms=pseudonyms,
            client_registry=ClientRegistry(clients, audit),
            account_registry=AccountRegistry(
                accounts, hasher, attempts, attempts, pseudonyms, audit, source_systems=settings.source_systems,
                directories={name: source.canonical_name for name, source in sources.items()
                             if not isinstance(source, BuiltinIdentitySource)},
                consents=consents, roles=SqlRoleStore(database, environment), grants=tokens,
            ),
            identity_sources=sources,
            key_registry=SigningKeyRegistry(keys, audit),
            sign_in=SignIn(AuthorizationEndpoint(endpoint_clients, codes, factory, tokens, issuer=settings.issuer_url),
                           authenticator, sessions, consents, audit),
            id_tokens=id_tokens,
            sessions=sessions,
            login_transactions=LoginTransactions(lambda: deployment_secrets.get_or_create("csrf")),
            consents=consents,
            deployment_secrets=deployment_secrets,
            console_sessions=SqlConsoleSessions(database, environment),
            procurement=SqlProcurementStore(database, environment),
        )

    def jwks(self) -> dict[str, list[dict[str, object]]]:
        """RFC 7517 §5: the keys of the access tokens and of the ID tokens, at /pf/JWKS."""
        published = {key["kid"]: key for key in self.keys.jwks()["keys"]}
        for key in self.id_tokens.jwks():
            published.setdefault(key["kid"], key)
        return {"keys": list(published.values())}

    def close(self) -> None:
        """Let go of what the services hold open: the database's connections, the directories'."""
        for source in self.identity_sources.values():
            getattr(source, "close", lambda: None)()
        self.database.dispose()


def api_storage(settings: Settings) -> tuple[Database, ProcurementStore]:
    """What ``mobproc serve --api-only`` serves the MOBPROC v1 API from: its own database, which
    holds only the tenants' data and orders (its tokens are checked by the token service)."""
    database = Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    return database, SqlProcurementStore(database, settings.environment.value)


def identity_sources(settings: Settings, accounts: SqlAccountStore,
                     hasher: PasswordHasher) -> dict[str, IdentitySource]:
    """The identity source of each enabled source system: the built-in table, unless
    MOBPROC_IDENTITY_SOURCES names another."""
    configured = settings.identity_source_configs()
    sources: dict[str, IdentitySource] = {}
    for name in settings.source_systems:
        config = configured.get(name)
        if config is not None and config.type == "ldap":
            from .directory.connections import Directory
            from .directory.ldap_source import LdapIdentitySource

            sources[name] = LdapIdentitySource(
                name, config,
                admission=MeteredSourceAdmission(name, config.pool_size, config.queue, config.wait_ms / 1000),
                directory=Directory(name, config, on_state=source_state(name)),
            )
        else:
            sources[name] = BuiltinIdentitySource(name, accounts, hasher)
    return sources
