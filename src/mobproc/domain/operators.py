"""Who operates: the holder of an access token of this mobproc, and the role it acts in on the
operator's side (the admin API and its console). The strongest role whose scope the token
carries and its holder holds now (:func:`mobproc.domain.roles.strongest`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..resource import RejectedToken
from .clients import Client, ClientStore
from .registries import AccountRegistry, Actor
from .roles import ROLES, Role, strongest
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


def client_roles(client: Client | None) -> tuple[Role, ...]:
    """The roles a client's own tokens (client credentials) may act in: the admin scopes it is
    registered with now (an admin's act)."""
    return () if client is None else tuple(role for role in ROLES if role.scope in client.scopes)


def may_learn_secret(caller: Principal, client: Client) -> bool:
    """Whether ``caller`` may be told a new secret of ``client``: whoever holds it acts in the
    roles the client's scopes name (client credentials), so an operator who could rotate the
    secret of an admin's automation client would act as admin from then on."""
    own = strongest(client.scopes, None)
    return own is None or caller.role.rank >= own.rank


def principal_of(verifier: AccessTokenVerifier, accounts: AccountRegistry, clients: ClientStore, token: str,
                 address: str | None) -> Principal | RejectedToken:
    """Whom ``token`` speaks for, in which role; why it is refused (``RejectedToken``); or
    :class:`NoRole`. An account's token acts in a role the account holds now; a client's own
    token in the admin scopes its client is registered with now (both read again on every
    call: a role revoked, or an admin scope taken from the client, ends at once what the
    tokens already issued could do)."""
    checked = verifier.verify(token)
    if isinstance(checked, RejectedToken):
        return checked
    if checked.platform is not None:
        held = accounts.roles_of(checked.subject)
    else:
        held = client_roles(clients.find_client(checked.client_id))
    role = strongest(checked.scope, held)
    if role is None:
        raise NoRole(checked.subject)
    name = f"account:{checked.subject}" if checked.platform is not None else f"client:{checked.client_id}"
    return Principal(role, Actor(name, address), checked.subject, checked.client_id)
