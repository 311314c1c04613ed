"""Who calls the admin API, and whether their role allows what they ask.

The caller presents an access token of this mobproc (RFC 6750 §2.1), checked in process by the
services' :class:`~mobproc.domain.verifier.AccessTokenVerifier` (a revocation is seen at once).
Its role is the strongest whose scope it carries and its holder holds now
(:func:`mobproc.domain.roles.strongest`). Failures follow RFC 6750 §3: ``401`` with
``WWW-Authenticate: Bearer`` (``error="invalid_token"`` only when a token was sent), ``403``
with ``error="insufficient_scope"`` naming the scopes that would do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...domain import operators
from ...domain.operators import Principal
from ...domain.roles import Action, Role
from ...resource import RejectedToken
from ...services import Services
from .errors import AdminError

REALM = 'realm="mobproc-admin"'


@dataclass
class AdminParts:
    """What the admin API's calls need, handed to :func:`~mobproc.server.admin.create_admin`."""

    services: Services
    address_of: Callable[[dict], str]  # the request's source address (MOBPROC_TRUSTED_PROXIES)


def _bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _unauthorized(detail: str, error: str | None = None) -> AdminError:
    challenge = f"Bearer {REALM}" + (f', error="{error}"' if error else "")
    return AdminError(401, "unauthorized", detail, {"WWW-Authenticate": challenge})


def insufficient(action: Action, detail: str) -> AdminError:
    scopes = " ".join(role.scope for role in Role if role.may(action))
    return AdminError(403, "forbidden", detail, {
        "WWW-Authenticate": f'Bearer {REALM}, error="insufficient_scope", scope="{scopes}"'})


def principal_of(services: Services, authorization: str | None, address: str | None) -> Principal:
    """Whom the ``Authorization`` header's token speaks for, in which role, or the door's
    refusal (401, 403)."""
    token = _bearer(authorization)
    if token is None:
        raise _unauthorized("An access token is required (Authorization: Bearer)")
    try:
        found = operators.principal_of(services.verifier, services.account_registry, services.clients, token,
                                        address)
    except operators.NoRole:
        raise insufficient(Action.READ, "The token carries no role of the admin API that its holder holds "
                                        "(scopes mobproc:admin, mobproc:operator, mobproc:auditor)") from None
    if isinstance(found, RejectedToken):
        raise _unauthorized("The access token is invalid, expired or revoked", "invalid_token")
    return found


def require(caller: Principal, action: Action) -> Principal:
    """The role's leave to do ``action``, or the door's 403."""
    if not caller.role.may(action):
        raise insufficient(action, f"The role {caller.role.value} may not do this "
                                    f"({action.name.lower()}: {', '.join(r.value for r in Role if r.may(action))})")
    return caller
