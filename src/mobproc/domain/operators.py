"""Who operates: the holder of an access token of this mobproc, and the role it acts in on the
operator's side (the admin API and its console). The strongest role whose scope the token
carries and its holder holds now (:func:`mobproc.domain.roles.strongest`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..resource import RejectedToken
from .registries import AccountRegistry, Actor
from .roles import Role, strongest
from .verifier import AccessTokenVerifier


@dataclass(frozen=True)
class Principal:
    """The caller: its role, and the actor its changes are audited under (with its address)."""

    role: Role
    actor: Actor
    subject: str
    client_id: str


class NoRole(Exception):
    """A valid token that speaks for no role of the operator's side."""


def principal_of(verifier: AccessTokenVerifier, accounts: AccountRegistry, token: str,
                 address: str | None) -> Principal | RejectedToken:
    """Whom ``token`` speaks for, in which role; why it is refused (``RejectedToken``); or
    :class:`NoRole`. An account's token acts in a role the account holds now (read again on
    every call); a client's own token in the admin scopes an admin registered it with."""
    checked = verifier.verify(token)
    if isinstance(checked, RejectedToken):
        return checked
    held = accounts.roles_of(checked.subject) if checked.platform is not None else None
    role = strongest(checked.scope, held)
    if role is None:
        raise NoRole(checked.subject)
    name = f"account:{checked.subject}" if checked.platform is not None else f"client:{checked.client_id}"
    return Principal(role, Actor(name, address), checked.subject, checked.client_id)
