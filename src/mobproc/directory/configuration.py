"""Which identity source backs each source system: the TOML file named by
``MOBPROC_IDENTITY_SOURCES``. A source system it does not name keeps the built-in table.

.. code-block:: toml

    [sources.command]
    type = "ldap"
    url = ["ldaps://ldap1.example.com", "ldaps://ldap2.example.com"]
    ca_file = "/etc/mobproc/ldap-ca.pem"
    bind_dn = "cn=mobproc,ou=services,dc=example,dc=com"
    bind_password_file = "/etc/mobproc/ldap-bind-password"
    base = "ou=people,dc=example,dc=com"
    filter = "(uid={name})"
    [sources.command.attributes]   # an entry attribute, or "=constant"
    tenant = "o"
    multitenant = "=false"
    domain = "=example.com"

Every mistake is one line naming the setting (``sources.command.url: …``), so that a bad
file stops start-up before anything is served.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

PLACEHOLDER = "{name}"
# RFC 4512 §1.4: an attribute description is a name (keystring) or a numeric OID.
_ATTRIBUTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$")
_TRUE, _FALSE = frozenset({"true", "yes", "1", "on"}), frozenset({"false", "no", "0", "off"})


class ConfigurationError(ValueError):
    """A bad identity-source file; the message is one line naming the setting."""


def _check_filter(value: str, *, placeholder: bool) -> str:
    """RFC 4515 §3's outer shape: one parenthesized filter, balanced. The server parses it;
    a mistake found here stops start-up instead of refusing every login later."""
    value = value.strip()
    if not (value.startswith("(") and value.endswith(")")):
        raise ValueError("must be one parenthesized LDAP filter, e.g. (uid={name})")
    depth = 0
    for position, character in enumerate(value):
        if character == "\\":
            continue
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth < 0 or (depth == 0 and position != len(value) - 1):
            raise ValueError("has unbalanced parentheses")
    if depth:
        raise ValueError("has unbalanced parentheses")
    remainder = value.replace(PLACEHOLDER, "")
    if placeholder and PLACEHOLDER not in value:
        raise ValueError("must contain {name}, where the escaped user name goes")
    if "{" in remainder or "}" in remainder:
        raise ValueError("may hold no other placeholder than {name}")
    return value


def _check_dn(value: str) -> str:
    import ldap.dn

    if not value.strip() or not ldap.dn.is_dn(value):
        raise ValueError(f"not a distinguished name: {value!r}")
    return value


class Mapped(BaseModel):
    """Where a token attribute comes from: an attribute of the entry, or a constant."""

    model_config = ConfigDict(frozen=True)

    attribute: str | None = None
    constant: str | None = None

    @classmethod
    def parse(cls, value: str) -> Mapped:
        if value.startswith("="):
            return cls(constant=value[1:])
        if not _ATTRIBUTE.match(value):
            raise ValueError(f"{value!r} is neither an attribute name nor =constant")
        return cls(attribute=value)

    def describe(self) -> str:
        return f"={self.constant}" if self.constant is not None else str(self.attribute)


class Attributes(BaseModel):
    """The entry's attributes that become the token's ``tenant``, ``multitenant`` and
    ``domain`` (CONTRACT §2). ``multitenant`` from an attribute is true for TRUE, yes, 1, on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: Mapped | None = None
    multitenant: Mapped = Mapped(constant="false")
    domain: Mapped | None = None

    @field_validator("tenant", "multitenant", "domain", mode="before")
    @classmethod
    def _mapping(cls, value: object) -> object:
        if isinstance(value, str):
            return Mapped.parse(value)
        return value

    @field_validator("multitenant")
    @classmethod
    def _boolean_constant(cls, value: Mapped) -> Mapped:
        if value.constant is not None and value.constant.lower() not in _TRUE | _FALSE:
            raise ValueError("a constant multitenant must be =true or =false")
        return value

    @property
    def requested(self) -> list[str]:
        """The attributes a search must ask for."""
        return [m.attribute for m in (self.tenant, self.multitenant, self.domain) if m is not None and m.attribute]


class BuiltinSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["builtin"]


class LdapSource(BaseModel):
    """One directory: search as the service account for the entry of a name, then bind as it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["ldap"]
    url: Annotated[tuple[str, ...], Field(min_length=1)]
    start_tls: bool = False
    ca_file: Path | None = None
    # RFC 4513 §3.1.3: the server's certificate is checked, name included. Off only for a
    # directory whose certificate cannot be checked, and then said at every start.
    verify_certificate: bool = True
    bind_dn: str
    bind_password_file: Path | None = None
    bind_password_env: str | None = None
    base: str
    scope: Literal["sub", "one"] = "sub"
    filter: str = "(uid={name})"
    attributes: Attributes = Attributes()
    # Seconds for connecting (the TLS handshake included) and for each operation.
    timeout: float = Field(3.0, gt=0, le=60)
    # Logins checked at once in a process (each holds a connection to search and one to
    # bind); so many more may wait, each at most wait_ms, before a 503.
    pool_size: int = Field(4, ge=1, le=256)
    queue: int = Field(16, ge=0, le=4096)
    wait_ms: int = Field(1000, ge=0, le=60_000)
    recheck_on_refresh: bool = False
    # With recheck_on_refresh: what an entry must also match to keep its grants, e.g.
    # (!(pwdAccountLockedTime=*)) for OpenLDAP's ppolicy, or Active Directory's
    # (!(userAccountControl:1.2.840.113556.1.4.803:=2)).
    enabled_filter: str | None = None
    bind_password: SecretStr = Field(SecretStr(""), exclude=True)

    @field_validator("url", mode="before")
    @classmethod
    def _urls(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _ldap_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from urllib.parse import urlsplit

        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
                raise ValueError(f"{url!r} must be ldap://host[:port] or ldaps://host[:port]")
            if parts.path not in ("", "/") or parts.query or parts.fragment:
                raise ValueError(f"{url!r}: give the base and filter as settings, not in the URL")
            try:
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError:
                raise ValueError(f"{url!r} has a bad port") from None
        return value

    @field_validator("bind_dn", "base")
    @classmethod
    def _dn(cls, value: str) -> str:
        return _check_dn(value)

    @field_validator("filter")
    @classmethod
    def _search_filter(cls, value: str) -> str:
        return _check_filter(value, placeholder=True)

    @field_validator("enabled_filter")
    @classmethod
    def _enabled_filter(cls, value: str | None) -> str | None:
        return None if value is None else _check_filter(value, placeholder=False)

    @field_validator("ca_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not os.access(value, os.R_OK):
            raise ValueError(f"cannot read {value}")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> LdapSource:
        if self.start_tls and any(url.startswith("ldaps:") for url in self.url):
            raise ConfigurationError("start_tls: not with ldaps:// URLs (they are TLS from the start)")
        if (self.bind_password_file is None) == (self.bind_password_env is None):
            raise ConfigurationError("bind_password_file: give it, or bind_password_env, exactly one")
        if self.bind_password_file is not None:
            try:
                secret = self.bind_password_file.read_text().rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as error:
                raise ConfigurationError(f"bind_password_file: cannot read {self.bind_password_file}: "
                                         f"{type(error).__name__}") from None
            where = "bind_password_file"
        else:
            secret = os.environ.get(self.bind_password_env or "", "")
            where = "bind_password_env"
        if not secret:
            # RFC 4513 §5.1.2: a bind with a DN and no password is an unauthenticated bind,
            # which a server may accept: the service account would search anonymously.
            raise ConfigurationError(f"{where}: the bind password is empty")
        object.__setattr__(self, "bind_password", SecretStr(secret))
        return self

    @property
    def secure(self) -> bool:
        return self.start_tls or all(url.startswith("ldaps:") for url in self.url)

    def describe(self) -> dict[str, object]:
        """What ``mobproc sources`` shows: everything but the bind password, of which only
        where it comes from."""
        return {
            "type": "ldap",
            "url": list(self.url),
            "tls": {url: "ldaps" if url.startswith("ldaps:") else "StartTLS" if self.start_tls else "none"
                    for url in self.url},
            "ca_file": str(self.ca_file) if self.ca_file else "system",
            "verify_certificate": self.verify_certificate,
            "bind_dn": self.bind_dn,
            "bind_password": (f"file {self.bind_password_file}" if self.bind_password_file
                              else f"environment variable {self.bind_password_env}"),
            "base": self.base,
            "scope": self.scope,
            "filter": self.filter,
            "attributes": {name: (mapped.describe() if mapped else None) for name, mapped in
                           (("tenant", self.attributes.tenant), ("multitenant", self.attributes.multitenant),
                            ("domain", self.attributes.domain))},
            "timeout": self.timeout,
            "pool_size": self.pool_size,
            "queue": self.queue,
            "wait_ms": self.wait_ms,
            "recheck_on_refresh": self.recheck_on_refresh,
            "enabled_filter": self.enabled_filter,
        }


SourceConfig = BuiltinSource | LdapSource


def load(path: Path, source_systems: tuple[str, ...]) -> dict[str, SourceConfig]:
    """The identity source of each source system the file names; raises
    :class:`ConfigurationError` with one line naming the first bad setting."""
    try:
        document = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror or type(error).__name__}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{path} is not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"sources"})
    if unknown:
        raise ConfigurationError(f"{unknown[0]}: unknown table (every source is under [sources.NAME])")
    sources = document.get("sources", {})
    if not isinstance(sources, dict):
        raise ConfigurationError("sources: must be a table of [sources.NAME]")
    configured: dict[str, SourceConfig] = {}
    for name, table in sources.items():
        where = f"sources.{name}"
        if name not in source_systems:
            raise ConfigurationError(f"{where}: not an enabled source system (MOBPROC_SOURCE_SYSTEMS: "
                                     f"{' '.join(source_systems)})")
        if not isinstance(table, dict):
            raise ConfigurationError(f"{where}: must be a table")
        kind = table.get("type")
        model = {"builtin": BuiltinSource, "ldap": LdapSource}.get(kind) if isinstance(kind, str) else None
        if model is None:
            raise ConfigurationError(f"{where}.type: must be \"builtin\" or \"ldap\"")
        try:
            configured[name] = model.model_validate(table)
        except ValidationError as error:
            first = error.errors()[0]
            location = ".".join(str(part) for part in first["loc"])
            cause = first.get("ctx", {}).get("error")
            message = str(cause) if isinstance(cause, Exception) else first["msg"]
            # A check of the whole table names its setting itself ("start_tls: …").
            raise ConfigurationError(f"{where}.{location}: {message}" if location else f"{where}.{message}") from None
    return configured
