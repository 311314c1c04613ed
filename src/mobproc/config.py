"""Settings: every one is ``MOBPROC_<NAME>`` in the environment; CLI flags override them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    """A deployment is one environment; nothing of one works in another (CONTRACT §3)."""

    PRODUCTION = "production"
    QA = "qa"
    DEV = "dev"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOBPROC_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./mobproc.db"
    environment: Environment = Environment.DEV
    host: str = "127.0.0.1"
    port: int = Field(9031, ge=1, le=65535)  # PingFederate's runtime port
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

    # OWASP's argon2id recommendation: m=19 MiB, t=2, p=1.
    argon2_memory_kib: int = Field(19456, ge=8, le=4 * 1024 * 1024)
    argon2_time_cost: int = Field(2, ge=1, le=100)
    argon2_parallelism: int = Field(1, ge=1, le=64)

    source_systems: Annotated[tuple[str, ...], NoDecode] = ("command", "rivermine", "platform")

    sqlite_busy_timeout_ms: int = Field(5000, ge=0)
    retry_after_seconds: int = Field(1, ge=1, description="Retry-After of a 503")
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    access_log: bool = True

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
    try:
        return Settings(**given)
    except ValidationError as error:
        first = error.errors()[0]
        name = "MOBPROC_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"{name}: {first['msg']}") from None
