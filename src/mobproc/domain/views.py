"""How an operator sees clients, accounts, grants, signing keys and audit events: the fields
that ``mobproc … --json`` prints and the admin API answers, under the same names, written once
for both. Times are ISO 8601 in UTC (``2026-05-01T12:00:00Z``). Never a secret: a client's
secret digest, a password hash and a private key are not among them.

>>> iso(0)
'1970-01-01T00:00:00Z'
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .audit import AuditEvent
    from .authorization import Consent
    from .clients import Client
    from .registries import AccountView, GrantView
    from .signing_keys import SigningKeyRecord


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _iso(at: float | None) -> str | None:
    return iso(at) if at else None


def client_fields(client: Client) -> dict[str, Any]:
    """A client as ``client list --json`` shows it."""
    return {
        "client_id": client.client_id,
        "grants": sorted(client.grant_types),
        "scopes": sorted(client.scopes),
        "default_scopes": list(client.default_scopes),
        "enabled": client.enabled,
        "redirect_uris": list(client.redirect_uris),
        "public": client.public,
        "pkce": "required" if client.pkce_required else "optional",
        "trusted": client.trusted,
        "access_token_lifetime": client.access_token_lifetime,
        "id_token_alg": client.id_token_alg,
    }


def account_fields(view: AccountView) -> dict[str, Any]:
    """An account as ``user list --json`` shows it: with its lockout in force, its last login
    and its roles."""
    account = view.account
    return {
        "username": str(account.username),
        "tenant": account.tenant,
        "multitenant": account.multitenant,
        "domain": account.domain,
        "locked_until": _iso(view.locked_until),
        "last_login_at": _iso(account.last_login_at),
        "roles": list(view.roles),
    }


def grant_fields(grant: GrantView) -> dict[str, Any]:
    """A grant: one login (or client-credentials request) and every token descended from it."""
    return {
        "grant_id": grant.grant_id,
        "client_id": grant.client_id,
        "grant_type": grant.grant_type,
        "scopes": list(grant.scopes),
        "created_at": iso(grant.created_at),
        "expires_at": iso(grant.expires_at),
        "revoked_at": _iso(grant.revoked_at),
        "active": grant.active,
    }


def consent_fields(consent: Consent) -> dict[str, Any]:
    """What an account allowed a client on the sign-in's consent page."""
    return {"client_id": consent.client_id, "scopes": list(consent.scope), "granted_at": iso(consent.granted_at)}


def key_fields(record: SigningKeyRecord, now: float) -> dict[str, Any]:
    """A signing key as ``keys list --json`` shows it (never its private key: whether it has one)."""
    return {
        "kid": record.kid,
        "alg": record.alg,
        "state": record.state(now),
        "created_at": iso(record.created_at),
        "signs_from": iso(record.signs_from),
        "signs_until": _iso(record.retired_at),
        "published_until": _iso(record.not_after),
        "private_key": "erased" if record.private_key is None else "encrypted" if record.encrypted else "unencrypted",
    }


def event_fields(event: AuditEvent) -> dict[str, Any]:
    """An audit event as ``audit --json`` shows it."""
    return {"at": iso(event.at), **{name: value for name, value in asdict(event).items() if name != "at"}}
