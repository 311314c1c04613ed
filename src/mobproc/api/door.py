"""The door every call of the API passes: who calls (the bearer token, RFC 6750), for which
tenant and client application (the documented ``X-TNGO-TENANT`` and ``client_id`` headers),
and on whose behalf (the context headers).

Token failures follow RFC 6750 §3: ``401`` with ``WWW-Authenticate: Bearer``, its
``error="invalid_token"`` only when a token was sent ("If the request lacks any
authentication information ..., the resource server SHOULD NOT include an error code"), and
``403`` with ``error="insufficient_scope"`` when the token lacks ``MOBPROC``. Then the
headers: a missing one is ``400``, one that does not match the token ``403``. The context can
switch the actor only to an employee of the same tenant whom the account may act for; the
authenticated account's reach bounds every answer whatever the context says (the
documentation's "Setting Context": "at no time should the API ever return data that the
authenticated user is not authorized to see").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..headers import (
    CLIENT_HEADER,
    COMPANY_EMPLOYEE_HEADER,
    EMPLOYEE_HEADER,
    TENANT_HEADER,
)
from ..procurement.records import ProcurementStore, Record
from ..resource import UNAVAILABLE, RejectedToken, TokenChecker, ValidatedToken
from .errors import ApiError, bad_request, forbidden

SCOPE = "MOBPROC"
REALM = 'realm="MOBPROC"'


class TokenVerifier(Protocol):
    """What the door asks of whoever knows the tokens: in process the services' shared
    :class:`~mobproc.domain.verifier.AccessTokenVerifier` (the token store, no HTTP hop, a
    revocation seen at once); alone, a remote mobproc (:class:`RemoteVerifier`). Never raises
    for a bad token: answers why it is refused."""

    def verify(self, token: str) -> ValidatedToken | RejectedToken: ...


class RemoteVerifier:
    """:class:`~mobproc.resource.TokenChecker` as a :class:`TokenVerifier`: JWTs checked
    locally, opaque tokens by introspection at the issuer (``mobproc serve --api-only``)."""

    def __init__(self, checker: TokenChecker) -> None:
        self.verify = checker.check


@dataclass(frozen=True)
class Caller:
    """What the door found: the token's holder, the tenant and client the call is for, and the
    context it asked for (not yet checked against the tenant's data: :class:`Actor` does)."""

    token: ValidatedToken
    tenant: str
    client_id: str
    context_employee: str | None = None
    context_company_employee: str | None = None


def bearer_token(authorization: str | None) -> str | None:
    """RFC 6750 §2.1: ``Authorization: Bearer <token>`` (the scheme is case-insensitive)."""
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def unauthorized(message: str, error: str | None = None) -> ApiError:
    challenge = f'Bearer {REALM}' + (f', error="{error}", error_description="{message}"' if error else "")
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": challenge})


def check_token(checked: ValidatedToken | RejectedToken, retry_after: int) -> ValidatedToken:
    if isinstance(checked, RejectedToken):
        if checked.reason == UNAVAILABLE:
            raise ApiError(503, "unavailable", "The token cannot be checked now; retry later",
                           {"Retry-After": str(retry_after)})
        raise unauthorized("The access token is invalid, expired or revoked", "invalid_token")
    if not checked.has_scope(SCOPE):
        raise ApiError(403, "insufficient-scope", f"The access token lacks the {SCOPE} scope",
                       {"WWW-Authenticate": f'Bearer {REALM}, error="insufficient_scope", scope="{SCOPE}"'})
    return checked


def check_headers(token: ValidatedToken, headers) -> Caller:  # noqa: ANN001 - a case-insensitive mapping
    tenant, client_id = headers.get(TENANT_HEADER), headers.get(CLIENT_HEADER)
    if not tenant:
        raise bad_request("tenant-required", f"The {TENANT_HEADER} header is required")
    if not client_id:
        raise bad_request("client-id-required", f"The {CLIENT_HEADER} header is required")
    if tenant != token.tenant and not token.multitenant:
        raise forbidden("tenant-forbidden", f"The account may not call for tenant {tenant!r}")
    # The header names the calling application; it must be the one the token was issued to.
    if client_id != token.client_id:
        raise forbidden("client-id-mismatch", "The client_id header is not the client the token was issued to")
    return Caller(token, tenant, client_id, headers.get(EMPLOYEE_HEADER) or None,
                  headers.get(COMPANY_EMPLOYEE_HEADER) or None)


@dataclass(frozen=True)
class Actor:
    """The tenant's view of one call: the authenticated account and its employee, whom it may
    see (``reach``: employee ids, None for all of the tenant's), and the actor (the context
    employee, or the account's own)."""

    caller: Caller
    tenant: dict
    account: Record
    me: Record
    actor: Record
    reach: frozenset[str] | None = field(default=None)

    @property
    def is_approver(self) -> bool:
        return bool(self.account.document.get("approver"))

    def may_see(self, employee_id: str | None) -> bool:
        return employee_id is not None and (self.reach is None or employee_id in self.reach)


def resolve_actor(store: ProcurementStore, caller: Caller) -> Actor:
    """The account as the tenant's data knows it, and the actor the context headers ask for
    (the employee id wins over the company employee id, as the documentation says)."""
    tenant = store.tenant(caller.tenant)
    if tenant is None:
        raise forbidden("tenant-unknown", f"Tenant {caller.tenant!r} has no data here (mobproc data load)")
    subject = caller.token.subject
    account = store.record(caller.tenant, "account", subject)
    if account is None:
        raise forbidden("account-unknown", f"The account {subject!r} is not an account of tenant {caller.tenant!r}")
    me = store.record(caller.tenant, "employee", account.owner)
    if me is None:  # the loader refuses such a file; a hand-edited database is not trusted either
        raise forbidden("account-unknown", f"The account {subject!r} has no employee in tenant {caller.tenant!r}")
    acts_for = account.document.get("actsFor", [])
    reach = None if "*" in acts_for else frozenset({me.key, *acts_for})
    actor = me
    if caller.context_employee is not None:
        actor = store.record(caller.tenant, "employee", caller.context_employee)
        wanted = f"{EMPLOYEE_HEADER} {caller.context_employee!r}"
    elif caller.context_company_employee is not None:
        actor = store.record_by_alt_key(caller.tenant, "employee", caller.context_company_employee)
        wanted = f"{COMPANY_EMPLOYEE_HEADER} {caller.context_company_employee!r}"
    if actor is None or (reach is not None and actor.key not in reach):
        # The same answer for an employee of another tenant, an unknown one and one out of
        # reach: the account learns nothing about who exists beyond what it may see.
        raise forbidden("context-forbidden", f"The account may not act for {wanted}")
    return Actor(caller, tenant, account, me, actor, reach)
