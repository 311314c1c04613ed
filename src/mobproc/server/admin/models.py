"""The admin API's shapes. The resources' field names are those of ``mobproc client list
--json``, ``user list --json`` and ``keys list --json`` (mobproc.domain.views writes them for
both); a request naming a field the resource does not have is refused, naming it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ...domain.clients import GRANT_TYPES

Name = Annotated[str, Field(min_length=1, max_length=255)]
Scope = Annotated[str, Field(min_length=1, max_length=255)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Client(BaseModel):
    client_id: str
    grants: list[str]
    scopes: list[str]
    default_scopes: list[str]
    enabled: bool
    redirect_uris: list[str]
    public: bool
    pkce: str = Field(description="required or optional")
    trusted: bool
    access_token_lifetime: float | None
    id_token_alg: str | None


class ClientWithSecret(Client):
    client_secret: str | None = Field(description="Shown this once: only its digest is stored (null: a public "
                                                  "client, which has none)")


class NewClient(Strict):
    client_id: Name
    grants: list[Annotated[str, Field(json_schema_extra={"enum": list(GRANT_TYPES)})]] = Field(
        min_length=1, max_length=len(GRANT_TYPES))
    scopes: list[Scope] = Field(default_factory=list, max_length=100)
    default_scopes: list[Scope] | None = Field(
        None, max_length=100, description="Required with several scopes: what a request without scope gets")
    client_secret: Annotated[str, Field(min_length=32, max_length=1024)] | None = Field(
        None, description="Import this secret (32 characters or more); without it one is generated")
    redirect_uris: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=20, description="For authorization_code and implicit: matched exactly")
    public: bool = Field(False, description="No secret (a browser or native app): PKCE required")
    pkce: Annotated[str, Field(json_schema_extra={"enum": ["required", "optional"]})] = "required"
    trusted: bool = Field(False, description="First-party: people signing in are not asked for consent")
    access_token_lifetime: Annotated[float, Field(ge=1, le=86400)] | None = None


class ClientChange(Strict):
    """What is not given stays as it is."""

    grants: list[Annotated[str, Field(json_schema_extra={"enum": list(GRANT_TYPES)})]] | None = Field(
        None, min_length=1, max_length=len(GRANT_TYPES))
    scopes: list[Scope] | None = Field(None, max_length=100)
    default_scopes: list[Scope] | None = Field(None, max_length=100)
    redirect_uris: list[Annotated[str, Field(min_length=1, max_length=2000)]] | None = Field(None, max_length=20)


class ClientPage(BaseModel):
    items: list[Client]
    total: int
    offset: int
    limit: int
    next_offset: int | None = Field(description="The offset of the next page, or null on the last")


class Account(BaseModel):
    username: str
    tenant: str | None
    multitenant: bool
    domain: str | None
    locked_until: str | None = Field(description="A lockout in force ends then (ISO 8601, UTC)")
    last_login_at: str | None
    roles: list[str]


class NewAccount(Strict):
    username: Annotated[str, Field(min_length=1, max_length=330)] = Field(
        description="command://name, rivermine://name, or a bare platform name")
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    tenant: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    multitenant: bool = False
    domain: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class NewPassword(Strict):
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class AccountPage(BaseModel):
    items: list[Account]
    total: int
    offset: int
    limit: int
    next_offset: int | None


class Grant(BaseModel):
    grant_id: int
    client_id: str
    grant_type: str
    scopes: list[str]
    created_at: str
    expires_at: str
    revoked_at: str | None
    active: bool


class Grants(BaseModel):
    items: list[Grant]


class Consent(BaseModel):
    client_id: str
    scopes: list[str]
    granted_at: str


class Consents(BaseModel):
    items: list[Consent]


class SigningKey(BaseModel):
    kid: str
    alg: str
    state: str = Field(description="staged, active, retired or expired")
    created_at: str
    signs_from: str
    signs_until: str | None
    published_until: str | None
    private_key: str = Field(description="encrypted, unencrypted or erased (never the key itself)")


class SigningKeys(BaseModel):
    items: list[SigningKey]


class Rotation(Strict):
    now: bool = Field(False, description="Sign with the new key at once and stop every other (a compromised key)")


class AuditEvent(BaseModel):
    at: str
    event: str
    client_id: str | None = None
    subject: str | None = None
    source_address: str | None = None
    grant_type: str | None = None
    grant_id: int | None = None
    token: str | None = None
    refresh_token: str | None = None
    reason: str | None = None
    detail: str | None = None
    actor: str | None = None


class AuditPage(BaseModel):
    items: list[AuditEvent]
    next_cursor: str | None = Field(description="Pass as cursor for the next (older) page; null on the last")


class Me(BaseModel):
    subject: str
    client_id: str
    role: str
    actor: str
    environment: str
