"""Clients, accounts and their grants, signing keys: each call a registry's (the command line's
rules, one place), answered with the fields ``mobproc … --json`` prints.

Optimistic concurrency (RFC 9110 §13.1.1): a client or account answers with an ``ETag`` naming
its version; a change sent with ``If-Match`` is made only on that version, else ``412`` and
nothing changed. Without ``If-Match`` a change is made on whatever version is current.
"""

from __future__ import annotations

import re
import time
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from ...domain.clients import Client as ClientRecord
from ...domain.registries import (
    AccountAttributes,
    ClientFilter,
    ClientRegistration,
    Stale,
)
from ...domain.operators import may_learn_secret
from ...domain.roles import Action, strongest
from ...domain.views import account_fields, client_fields, consent_fields, grant_fields, key_fields
from . import models
from .context import allowed, parts
from .door import Principal, insufficient

router = APIRouter()

Reader = Annotated[Principal, Depends(allowed(Action.READ))]
Operator = Annotated[Principal, Depends(allowed(Action.OPERATE))]
Admin = Annotated[Principal, Depends(allowed(Action.ADMINISTER))]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="index of the first item")]
Limit = Annotated[int, Query(ge=1, le=500, description="items per page")]
Prefix = Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00-\x1f\x7f]*$",
                                     description="only those whose id or name starts with this")]
ClientId = Annotated[str, Path(max_length=255, description="the client's id, percent-encoded")]
Username = Annotated[str, Path(max_length=330, description="command://name, rivermine://name or a bare name, "
                                                           "percent-encoded or not")]
IfMatch = "If-Match"
_ETAG = re.compile(r'"([ca])(\d{1,18})\.(\d{1,18})"')


def etag(kind: str, pk: int, version: int) -> str:
    """``"c12.3"``: the client of row 12 at version 3 (a client removed and made again is another)."""
    return f'"{kind}{pk}.{version}"'


def if_version(request: Request, kind: str, pk: int, version: int) -> int | None:
    """The version a change is conditioned on: None without ``If-Match`` (or ``*``), the current
    one when ``If-Match`` names it; any other is 412 (RFC 9110 §13.1.1: a strong comparison, so a
    weak tag never matches)."""
    header = request.headers.get(IfMatch)
    if header is None:
        return None
    tags = [tag.strip() for tag in header.split(",")]
    if "*" in tags:
        return None
    listed = {(m.group(1), int(m.group(2)), int(m.group(3))) for tag in tags if (m := _ETAG.fullmatch(tag))}
    if (kind, pk, version) in listed:
        return version
    raise Stale("If-Match names a version that is not the current one: read it again")


def _root(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def _page_next(offset: int, limit: int, total: int) -> int | None:
    return offset + limit if offset + limit < total else None


# --- clients ----------------------------------------------------------------------------------


def _client(response: Response, client: ClientRecord) -> dict:
    response.headers["ETag"] = etag("c", client.pk, client.version)
    return client_fields(client)


@router.get("/clients", response_model=models.ClientPage, tags=["clients"], summary="List clients, a page at a time")
def list_clients(request: Request, who: Reader, prefix: Prefix = None,
                 enabled: Annotated[bool | None, Query(description="only enabled (true) or disabled (false) ones")] = None,
                 grant: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]+$",
                                                    description="only those allowed this grant type")] = None,
                 offset: Offset = 0, limit: Limit = 50) -> dict:
    found, total = parts(request).services.client_registry.page(ClientFilter(prefix or None, enabled, grant),
                                                                offset=offset, limit=limit)
    return {"items": [client_fields(c) for c in found], "total": total, "offset": offset, "limit": limit,
            "next_offset": _page_next(offset, limit, total)}


@router.post("/clients", status_code=201, response_model=models.ClientWithSecret, tags=["clients"],
             summary="Register a client; its secret is in this answer once, never again")
def create_client(request: Request, response: Response, body: models.NewClient, who: Admin) -> dict:
    registration = ClientRegistration(body.client_id, tuple(body.grants), tuple(body.scopes),
                                      tuple(body.default_scopes) if body.default_scopes is not None else None,
                                      tuple(body.redirect_uris), body.public, body.pkce, body.trusted,
                                      body.access_token_lifetime)
    created = parts(request).services.client_registry.register(registration, actor=who.actor,
                                                               secret=body.client_secret)
    response.headers["Location"] = f"{_root(request)}/clients/{quote(created.client.client_id, safe='')}"
    return {**_client(response, created.client), "client_secret": created.secret}


@router.get("/clients/{client_id}", response_model=models.Client, tags=["clients"], summary="A client")
def get_client(request: Request, response: Response, client_id: ClientId, who: Reader) -> dict:
    return _client(response, parts(request).services.client_registry.find(client_id))


@router.patch("/clients/{client_id}", response_model=models.Client, tags=["clients"],
              summary="Change a client's grants, scopes or default scopes (If-Match: its ETag)")
def update_client(request: Request, response: Response, client_id: ClientId, body: models.ClientChange,
                  who: Admin) -> dict:
    registry = parts(request).services.client_registry
    current = registry.find(client_id)
    updated = registry.update(client_id, actor=who.actor, grants=body.grants, scopes=body.scopes,
                              default_scopes=body.default_scopes, redirect_uris=body.redirect_uris,
                              if_version=if_version(request, "c", current.pk, current.version))
    return _client(response, updated)


@router.delete("/clients/{client_id}", status_code=204, tags=["clients"],
               summary="Remove a client; every grant and token it holds ends with it")
def remove_client(request: Request, client_id: ClientId, who: Admin) -> Response:
    registry = parts(request).services.client_registry
    current = registry.find(client_id)
    registry.remove(client_id, actor=who.actor, if_version=if_version(request, "c", current.pk, current.version))
    return Response(status_code=204)


def _set_enabled(request: Request, response: Response, client_id: str, who: Principal, enabled: bool) -> dict:
    registry = parts(request).services.client_registry
    current = registry.find(client_id)
    return _client(response, registry.set_enabled(client_id, enabled, actor=who.actor,
                                                  if_version=if_version(request, "c", current.pk, current.version)))


@router.post("/clients/{client_id}/disable", response_model=models.Client, tags=["clients"],
             summary="Stop a client from authenticating (its grants are unusable meanwhile)")
def disable_client(request: Request, response: Response, client_id: ClientId, who: Operator) -> dict:
    return _set_enabled(request, response, client_id, who, False)


@router.post("/clients/{client_id}/enable", response_model=models.Client, tags=["clients"],
             summary="Let a disabled client authenticate again")
def enable_client(request: Request, response: Response, client_id: ClientId, who: Operator) -> dict:
    return _set_enabled(request, response, client_id, who, True)


@router.post("/clients/{client_id}/secret", response_model=models.ClientWithSecret, tags=["clients"],
             summary="Give a client a new secret (in this answer once); the old one stops working")
def rotate_secret(request: Request, response: Response, client_id: ClientId, who: Operator) -> dict:
    registry = parts(request).services.client_registry
    current = registry.find(client_id)
    if not may_learn_secret(who, current):
        needed = strongest(current.scopes, None)
        assert needed is not None
        raise insufficient(Action(needed.rank), f"The client's own tokens act as {needed.value}: only a role as "
                                                "strong may be told its secret")
    rotated = registry.rotate_secret(client_id, actor=who.actor,
                                     if_version=if_version(request, "c", current.pk, current.version))
    return {**_client(response, rotated.client), "client_secret": rotated.secret}


# --- accounts ---------------------------------------------------------------------------------


def _account(response: Response, view) -> dict:  # noqa: ANN001 - an AccountView
    response.headers["ETag"] = etag("a", view.account.id, view.account.version)
    return account_fields(view)


@router.get("/accounts", response_model=models.AccountPage, tags=["accounts"],
            summary="Search the built-in accounts by name prefix and source system, a page at a time")
def search_accounts(request: Request, who: Reader, prefix: Prefix = None,
                    source_system: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_]+$")] = None,
                    offset: Offset = 0, limit: Limit = 50) -> dict:
    found, total = parts(request).services.account_registry.search(prefix or "", source_system, offset=offset,
                                                                   limit=limit)
    return {"items": [account_fields(v) for v in found], "total": total, "offset": offset, "limit": limit,
            "next_offset": _page_next(offset, limit, total)}


@router.post("/accounts", status_code=201, response_model=models.Account, tags=["accounts"],
             summary="Add an account of a built-in source system")
def create_account(request: Request, response: Response, body: models.NewAccount, who: Admin) -> dict:
    registry = parts(request).services.account_registry
    registry.add(body.username, body.password, AccountAttributes(body.tenant, body.multitenant, body.domain),
                 actor=who.actor)
    view = registry.find(body.username)
    response.headers["Location"] = f"{_root(request)}/accounts/{quote(str(view.account.username), safe='')}"
    return _account(response, view)


# The sub-resources first: a username may hold '/', and the path converter takes the longest match.
@router.get("/accounts/{username:path}/grants", response_model=models.Grants, tags=["accounts"],
            summary="An account's grants, newest first: each login and the tokens descended from it")
def account_grants(request: Request, username: Username, who: Reader) -> dict:
    return {"items": [grant_fields(g) for g in parts(request).services.account_registry.grants(username)]}


@router.get("/accounts/{username:path}/consents", response_model=models.Consents, tags=["accounts"],
            summary="What the account allowed which client on the sign-in's consent page")
def account_consents(request: Request, username: Username, who: Reader) -> dict:
    return {"items": [consent_fields(c) for c in parts(request).services.account_registry.consents(username)]}


@router.delete("/accounts/{username:path}/consents/{client_id}", status_code=204, tags=["accounts"],
               summary="Withdraw the account's consent to a client: its next sign-in there asks again")
def revoke_consent(request: Request, username: Username, client_id: ClientId, who: Operator) -> Response:
    parts(request).services.account_registry.revoke_consent(username, client_id, actor=who.actor)
    return Response(status_code=204)


@router.delete("/accounts/{username:path}/grants/{grant_id}", status_code=204, tags=["accounts"],
               summary="Revoke one of an account's grants: its refresh token and every access token from it")
def revoke_grant(request: Request, username: Username, grant_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
                 who: Operator) -> Response:
    parts(request).services.account_registry.revoke_grant(username, grant_id, actor=who.actor)
    return Response(status_code=204)


@router.post("/accounts/{username:path}/unlock", status_code=204, tags=["accounts"],
             summary="End a lockout now and forget the failure streak (a directory's account too)")
def unlock_account(request: Request, username: Username, who: Operator) -> Response:
    parts(request).services.account_registry.unlock(username, actor=who.actor)
    return Response(status_code=204)


@router.put("/accounts/{username:path}/password", status_code=204, tags=["accounts"],
            summary="Set a new password; every grant made with the old one is revoked (it does not unlock)")
def set_password(request: Request, username: Username, body: models.NewPassword, who: Admin) -> Response:
    registry = parts(request).services.account_registry
    current = registry.find(username).account
    registry.set_password(username, body.password, actor=who.actor,
                          if_version=if_version(request, "a", current.id, current.version))
    return Response(status_code=204)


@router.put("/accounts/{username:path}/roles/{role}", status_code=204, tags=["accounts"],
            summary="Give an account a role of the admin API: admin, operator or auditor (a directory's account too)")
def grant_role(request: Request, username: Username, role: Annotated[str, Path(max_length=32)],
               who: Admin) -> Response:
    parts(request).services.account_registry.grant_role(username, role, actor=who.actor)
    return Response(status_code=204)


@router.delete("/accounts/{username:path}/roles/{role}", status_code=204, tags=["accounts"],
               summary="Take a role away: the account's tokens cannot act in it any more")
def revoke_role(request: Request, username: Username, role: Annotated[str, Path(max_length=32)],
                who: Admin) -> Response:
    parts(request).services.account_registry.revoke_role(username, role, actor=who.actor)
    return Response(status_code=204)


@router.get("/accounts/{username:path}", response_model=models.Account, tags=["accounts"],
            summary="An account, with its lockout in force, its last login and its roles")
def get_account(request: Request, response: Response, username: Username, who: Reader) -> dict:
    return _account(response, parts(request).services.account_registry.find(username))


@router.delete("/accounts/{username:path}", status_code=204, tags=["accounts"],
               summary="Remove an account; every grant and token it holds ends with it")
def remove_account(request: Request, username: Username, who: Admin) -> Response:
    registry = parts(request).services.account_registry
    current = registry.find(username).account
    registry.remove(username, actor=who.actor, if_version=if_version(request, "a", current.id, current.version))
    return Response(status_code=204)


# --- signing keys -----------------------------------------------------------------------------


@router.get("/signing-keys", response_model=models.SigningKeys, tags=["signing keys"],
            summary="The signing keys of JWT access tokens, newest first")
def list_keys(request: Request, who: Reader) -> dict:
    now = time.time()
    return {"items": [key_fields(r, now) for r in parts(request).services.key_registry.list()]}


@router.post("/signing-keys/rotate", response_model=models.SigningKey, tags=["signing keys"],
             summary="Stage a new key (published now, signing after MOBPROC_KEY_PUBLICATION_DELAY_SECONDS), "
                     "as mobproc keys rotate; with now, it signs at once")
def rotate_keys(request: Request, who: Operator, body: models.Rotation | None = None) -> dict:
    if body is not None and body.now and not who.role.may(Action.ADMINISTER):
        raise insufficient(Action.ADMINISTER, "Only an admin may stop every other key at once (now)")
    key, _new = parts(request).services.key_registry.rotate(actor=who.actor, now=bool(body and body.now))
    return key_fields(key, time.time())


@router.post("/signing-keys/{kid}/retire", response_model=models.SigningKey, tags=["signing keys"],
             summary="Stop a key signing now (a compromised key): a new key signs at once; the new key")
def retire_key(request: Request, kid: Annotated[str, Path(max_length=128)], who: Admin) -> dict:
    return key_fields(parts(request).services.key_registry.retire(kid, actor=who.actor), time.time())
