"""Settings: every one is ``MOBPROC_<NAME>`` in the environment; CLI flags override them."""

from __future__ import annotations

import ipaddress
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    """A deployment is one environment; nothing of one works in another (CONTRACT §3)."""

    PRODUCTION = "production"
    QA = "qa"
    DEV = "dev"


def usable_cpus() -> int:
    """The cores this process may run on: under ``taskset`` or a container's cpuset that is
    fewer than ``os.cpu_count()``, and more hashes at once than cores only queue in the kernel."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOBPROC_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./mobproc.db"
    # A file holding the URL, so that a PostgreSQL password is in neither a command line (which
    # `ps` shows to every local user) nor the environment of the shell that started mobproc.
    database_url_file: Path | None = None
    environment: Environment = Environment.DEV
    host: str = "127.0.0.1"
    port: int = Field(9031, ge=1, le=65535)  # PingFederate's runtime port
    # Where /metrics and the detailed /readyz are served: a listener of their own, on loopback
    # unless chosen otherwise, since they are not for whoever can reach the token endpoint.
    # The port of the token endpoint serves them beside it; 0 serves them nowhere.
    operations_host: str = "127.0.0.1"
    operations_port: int = Field(9032, ge=0, le=65535)
    # The admin API (/admin/v1): beside the token endpoint by default; MOBPROC_ADMIN_PORT puts it
    # on a listener of its own (on MOBPROC_ADMIN_HOST, loopback unless chosen otherwise), so that
    # it need not face the internet beside the token endpoint; disabled, it is served nowhere.
    admin_enabled: bool = True
    admin_host: str = "127.0.0.1"
    admin_port: int | None = Field(None, ge=1, le=65535)
    # The console (/admin/console): where browsers reach it (default: the issuer's URL, or the
    # admin listener's), and how old a login may be before a destructive action asks for the
    # password again (OpenID Connect's max_age).
    console_url: str | None = None
    console_reauth_seconds: float = Field(300, ge=0, le=86400)
    workers: int = Field(1, ge=1, le=256)
    log_format: Literal["plain", "json"] = "plain"
    # How long a process may keep using a client it looked up: the bound within which a
    # client removed elsewhere stops working here. 0 looks it up on every request.
    client_cache_seconds: float = Field(2.0, ge=0, le=300)
    cleanup_interval_seconds: int = Field(300, ge=0, description="0: no housekeeping by the server")

    access_token_lifetime: int = Field(7200, ge=1, description="seconds")
    refresh_token_idle_timeout: int = Field(30 * 86400, ge=1, description="seconds; PingFederate's default")
    refresh_token_lifetime: int = Field(180 * 86400, ge=1, description="absolute, seconds")
    # PingFederate's and the seed's sizes: 28 and 42 characters of [A-Za-z0-9].
    access_token_length: int = Field(28, ge=22, le=256)
    refresh_token_length: int = Field(42, ge=32, le=256)

    # --- interactive sign-in (README: Interactive sign-in)
    # RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED";
    # PingFederate's default is a minute, and a code is redeemed at once.
    authorization_code_lifetime: int = Field(60, ge=1, le=600, description="seconds")
    # A browser session ends after this long unused, and this long after its sign-in whatever
    # happens (PingFederate's defaults: 60 minutes idle, 8 hours).
    session_idle_timeout: int = Field(3600, ge=60, description="seconds")
    session_lifetime: int = Field(8 * 3600, ge=60, description="absolute, seconds")
    # OpenID Connect ID tokens: how long one is valid.
    id_token_lifetime: int = Field(3600, ge=60, le=86400, description="seconds")

    # OWASP's argon2id recommendation: m=19 MiB, t=2, p=1.
    argon2_memory_kib: int = Field(19456, ge=8, le=4 * 1024 * 1024)
    argon2_time_cost: int = Field(2, ge=1, le=100)
    argon2_parallelism: int = Field(1, ge=1, le=64)

    source_systems: Annotated[tuple[str, ...], NoDecode] = ("command", "rivermine", "platform")

    # --- token formats, keys, issuer
    # The issuer URL (RFC 8414 §2): tokens carry it and resource servers check it, so qa and
    # production must name their public URL; dev defaults to the listen address.
    issuer: str | None = None
    access_token_format: Literal["opaque", "jwt"] = "opaque"
    # RFC 9068 §3 ``aud``: the resource server the tokens are for, by name rather than by
    # URL, so that the MOBPROC API may move without every token changing.
    access_token_audience: str = Field("MOBPROC", min_length=1)
    signing_algorithm: Literal["ES256", "RS256"] = "ES256"
    key_encryption_key: SecretStr | None = None
    key_encryption_key_file: Path | None = None
    # A staged key is published this long before it signs (domain/signing_keys.py says why a
    # day); a key signs for MOBPROC_KEY_ROTATION_DAYS before the next takes over (0: until
    # `mobproc keys rotate`).
    key_publication_delay_seconds: float = Field(86400, ge=0, le=30 * 86400)
    key_rotation_days: float = Field(0, ge=0, le=3650)

    @model_validator(mode="before")
    @classmethod
    def _database_url_from_file(cls, data: object) -> object:
        """MOBPROC_DATABASE_URL_FILE supplies the URL when none is given (a --database flag wins,
        as every flag does: :func:`load_settings`); ``_url_file`` below says what is wrong with it."""
        if isinstance(data, dict) and data.get("database_url_file") and data.get("database_url") is None:
            try:
                return {**data, "database_url": Path(data["database_url_file"]).read_text().strip()}
            except (OSError, UnicodeDecodeError):
                pass
        return data

    @field_validator("database_url_file")
    @classmethod
    def _url_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        try:
            url = value.read_text().strip()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read {value}: {type(error).__name__}") from None
        if url != info.data.get("database_url"):
            raise ValueError("set MOBPROC_DATABASE_URL or MOBPROC_DATABASE_URL_FILE, not both")
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # RFC 8414 §2: "a URL that uses the "https" scheme and has no query or fragment
        # components" (plain http is tolerated for development and behind a TLS proxy).
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an http(s) URL without query or fragment, e.g. https://oauth.example.com")
        return value.rstrip("/")

    # Secrets of 32 characters or more, each given in a variable or in a file it names.
    @field_validator("key_encryption_key", "audit_key")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -base64 32`)")
        return value

    @field_validator("key_encryption_key_file", "audit_key_file")
    @classmethod
    def _readable_secret_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        variable = info.field_name.removesuffix("_file")
        if value is not None and info.data.get(variable) is not None:
            raise ValueError(f"set MOBPROC_{variable.upper()} or MOBPROC_{variable.upper()}_FILE, not both")
        if value is not None:
            try:
                secret = value.read_text().strip()
            except (OSError, UnicodeDecodeError) as error:
                raise ValueError(f"cannot read {value}: {type(error).__name__}") from None
            if len(secret) < 32:
                raise ValueError(f"{value} must hold at least 32 characters")
        return value

    def _secret(self, variable: str) -> str | None:
        """The secret of ``variable``, from the variable itself or from the file it names."""
        given: SecretStr | None = getattr(self, variable)
        if given is not None:
            return given.get_secret_value()
        file: Path | None = getattr(self, f"{variable}_file")
        return file.read_text().strip() if file is not None else None

    def audit_secret(self) -> bytes | None:
        """MOBPROC_AUDIT_KEY, from the variable or the file (None: the database keeps one)."""
        secret = self._secret("audit_key")
        return secret.encode() if secret is not None else None

    @property
    def issuer_url(self) -> str:
        """MOBPROC_ISSUER, or (dev) the listen address; :meth:`require_issuer` refuses qa and
        production without it."""
        return self.issuer or f"http://{self.host}:{self.port}"

    def require_issuer(self) -> None:
        """Refuse to serve qa or production under a made-up issuer: resource servers would
        check tokens against a URL that is not this server's."""
        if self.issuer is None and self.environment is not Environment.DEV:
            raise SettingsError(
                f"MOBPROC_ISSUER: must be set in {self.environment.value} (the public URL of this server, "
                "e.g. https://oauth.example.com)"
            )

    def key_encryption_secret(self) -> str | None:
        """The secret that encrypts private signing keys at rest, from the variable or the file."""
        return self._secret("key_encryption_key")

    sqlite_busy_timeout_ms: int = Field(5000, ge=0)
    retry_after_seconds: int = Field(1, ge=1, description="Retry-After of a 503")
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    # Bounds of the HTTP layer (server/http.py), per process: a request head (request line and
    # headers) of at most so many bytes (Node's default), a request's head and body arriving
    # within so many seconds of its first byte (slow-loris), and so many connections at once.
    max_header_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    read_timeout_seconds: float = Field(10, gt=0, le=600)
    max_connections: int = Field(1000, ge=1, le=1_000_000)
    access_log: bool = True

    # --- defences of the password grant
    # RFC 6749 §4.3.2: a server offering the password grant "MUST protect the endpoint
    # against brute force attacks". Lockout: 5 consecutive failures lock an account for 60 s,
    # doubling with each further streak up to 15 minutes; 0 turns lockout off.
    lockout_threshold: int = Field(5, ge=0, le=1000)
    lockout_seconds: int = Field(60, ge=1)
    lockout_max_seconds: int = Field(900, ge=1)
    # Failed checks of one subject in an hour, whatever successes come between (ASVS 4.0.3
    # §2.2.1: at most 100); reached, the subject is locked until the hour is over. 0: no cap.
    lockout_failures_per_hour: int = Field(20, ge=0, le=100)
    # The secret of the deployment's pseudonyms (unknown usernames in the audit trail, lockout
    # keys); without one it is made on first start and kept in the database.
    audit_key: SecretStr | None = None
    audit_key_file: Path | None = None
    # Failure budgets (token buckets) against spraying one password over many accounts:
    # a burst of failures, then so many a minute; a burst of 0 turns the budget off.
    client_failure_burst: int = Field(100, ge=0)
    client_failures_per_minute: float = Field(60, gt=0)
    address_failure_burst: int = Field(20, ge=0)
    address_failures_per_minute: float = Field(10, gt=0)
    # Peers whose X-Forwarded-For is believed (addresses or networks); nobody's by default.
    trusted_proxies: Annotated[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], NoDecode] = ()
    # Admission control for argon2id, per process: so many hashes at once, so many waiting,
    # each waiting at most so long before a 503.
    hashing_concurrency: int = Field(default_factory=lambda: usable_cpus(), ge=1, le=256)
    hashing_queue: int = Field(16, ge=0, le=4096)
    hashing_wait_ms: int = Field(200, ge=0, le=60_000)
    # One slot fewer while requests that hash nothing are answered, so that the event loop
    # answering them keeps a core (with more than one slot).
    hashing_spare_core: bool = True
    query_credentials: Literal["accept", "reject"] = "accept"
    tls_cert: Path | None = None
    tls_key: Path | None = Field(None, validate_default=True)
    behind_proxy: bool = False
    refresh_grace_seconds: int = Field(0, ge=0, le=300)
    # Which identity source backs each source system (a TOML file; README, Identity sources).
    # Unset, or for a source system the file does not name: the built-in account table.
    identity_sources: Path | None = None

    @field_validator("identity_sources")
    @classmethod
    def _identity_sources(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and "source_systems" in info.data:
            from .directory import configuration

            configuration.load(value, info.data["source_systems"])  # every mistake stops start-up
        return value

    def identity_source_configs(self) -> dict[str, object]:
        """The identity source of each source system MOBPROC_IDENTITY_SOURCES names (the file
        was checked when the settings were read)."""
        if self.identity_sources is None:
            return {}
        from .directory import configuration

        return dict(configuration.load(self.identity_sources, self.source_systems))

    # --- `mobproc serve --api-only`: the MOBPROC v1 API alone, checking the tokens of the mobproc
    # at MOBPROC_ISSUER (JWTs locally, opaque tokens by introspection as this client, which must
    # be allowed access_token_validation). A valid answer may be kept so many seconds (0: every
    # call asks, and a revoked opaque token is refused at once).
    api_only: bool = False
    introspection_client_id: str | None = None
    introspection_client_secret: SecretStr | None = None
    api_token_cache_seconds: float = Field(0, ge=0, le=300)

    @field_validator("source_systems", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part for part in value.replace(",", " ").split() if part)
        return value

    @field_validator("source_systems")
    @classmethod
    def _known_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one source system must be enabled")
        for name in value:
            if not name.isidentifier() or name != name.lower():
                raise ValueError(f"{name!r} is not a source-system name (lower-case letters, digits, _)")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split() if part]
        if isinstance(value, (list, tuple)):
            try:
                return tuple(ipaddress.ip_network(str(part), strict=False) for part in value)
            except ValueError as error:
                raise ValueError(f"not an address or network: {error}") from None
        return value

    @field_validator("tls_key")
    @classmethod
    def _tls_pair(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if (value is None) != (info.data.get("tls_cert") is None):
            raise ValueError("TLS needs both a certificate (MOBPROC_TLS_CERT) and a key (MOBPROC_TLS_KEY)")
        return value

    @property
    def console_base_url(self) -> str:
        """MOBPROC_CONSOLE_URL, or the console under the issuer, or under the admin listener."""
        if self.console_url:
            return self.console_url.rstrip("/")
        if self.admin_listener is not None:
            host, port = self.admin_listener
            return f"{'https' if self.tls_cert else 'http'}://{host}:{port}/admin/console"
        return self.issuer_url + "/admin/console"

    @property
    def admin_listener(self) -> tuple[str, int] | None:
        """Where the admin API has a listener of its own, if it has one."""
        if not self.admin_enabled or self.admin_port is None or self.admin_port == self.port:
            return None
        return self.admin_host, self.admin_port

    @field_validator("lockout_max_seconds")
    @classmethod
    def _longest_lockout(cls, value: int, info: ValidationInfo) -> int:
        if value < info.data.get("lockout_seconds", 0):
            raise ValueError("must not be below MOBPROC_LOCKOUT_SECONDS")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value


class SettingsError(Exception):
    """A bad setting; its message is one line naming the setting."""


def load_settings(**overrides: object) -> Settings:
    """Read the environment, apply the CLI's overrides, and explain the first bad setting in one line."""
    given = {key: value for key, value in overrides.items() if value is not None}
    if "database_url" in given:
        given["database_url_file"] = None  # the flag wins over the environment's file
    try:
        return Settings(**given)
    except ValidationError as error:
        first = error.errors()[0]
        name = "MOBPROC_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None
