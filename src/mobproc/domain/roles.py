"""Who may do what on the operator's side (the admin API and the console).

Three roles, each a scope of mobproc's own tokens: ``mobproc:admin`` (everything),
``mobproc:operator`` (what the person on call does: unlock, disable and enable, revoke, rotate)
and ``mobproc:auditor`` (read only). Each role includes the ones below it.

A token speaks for a role when it carries the role's scope *and* its holder holds the role:
an account must have been granted it (``mobproc user grant-role U admin``: the first admin
comes from the command line, never from a default password), and it is read again on every
call, so a role revoked ends at once what the tokens already issued could do. A client's own
token (client credentials) holds the scopes the client was registered with: registering a
client with an admin scope is itself an admin's act.

>>> Role.OPERATOR.may(Action.READ), Role.OPERATOR.may(Action.ADMINISTER)
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum, StrEnum

SCOPE_PREFIX = "mobproc:"


class Action(Enum):
    """What a call does, by how much it may harm: each call of the admin API is one of these."""

    READ = 1  # list, get, query the audit trail
    OPERATE = 2  # unlock, disable, enable, revoke a grant, rotate a secret or the signing key
    ADMINISTER = 3  # create, update, remove, set a password, retire a key now, grant a role


class Role(StrEnum):
    AUDITOR = "auditor"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def scope(self) -> str:
        return SCOPE_PREFIX + self.value

    @property
    def rank(self) -> int:
        return {Role.AUDITOR: 1, Role.OPERATOR: 2, Role.ADMIN: 3}[self]

    def may(self, action: Action) -> bool:
        return self.rank >= action.value


ROLES = tuple(Role)
ADMIN_SCOPES = tuple(role.scope for role in ROLES)


def parse_role(name: str) -> Role:
    """``admin``, ``operator`` or ``auditor`` (or its scope, ``mobproc:admin``)."""
    try:
        return Role(name.removeprefix(SCOPE_PREFIX))
    except ValueError:
        raise ValueError(f"{name!r} is not a role: {', '.join(ROLES)}") from None


def strongest(token_scopes: Iterable[str], held: Iterable[Role] | None) -> Role | None:
    """The strongest role a token speaks for: a role whose scope it carries and that its holder
    holds (``held``: the account's roles; None for a client's own token, whose scopes an admin
    registered), a held role including every role below it."""
    granted = {role for role in ROLES if role.scope in set(token_scopes)}
    if held is not None:
        best_held = max((role.rank for role in held), default=0)
        granted = {role for role in granted if role.rank <= best_held}
    return max(granted, key=lambda role: role.rank, default=None)
