"""``mobproc user``: accounts of the built-in identity sources."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..domain.registries import AccountAttributes
from ..domain.roles import ROLES
from ..domain.views import account_fields, consent_fields
from ._common import read_secret
from ._server import DatabaseOption, EnvironmentOption, actor, open_services, refusals

user_app = typer.Typer(help="Accounts of the built-in identity sources.", no_args_is_help=True)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="command://name, rivermine://name, or a bare platform name")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    tenant: Annotated[str | None, typer.Option(help="The account's tenant code")] = None,
    multitenant: Annotated[bool, typer.Option(help="May act for more than one tenant")] = False,
    domain: Annotated[str | None, typer.Option(help="The account's domain")] = None,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Add an account; the password comes from standard input or a prompt."""
    registry = open_services(database, environment).account_registry
    with refusals():
        parsed = registry.parse(username)  # before a password is asked for
        attributes = AccountAttributes(tenant, multitenant, domain).validated()
        registry.add(username, read_secret("Password", password_stdin, confirm=True), attributes, actor=actor())
    typer.echo(f"account {parsed} added")


@user_app.command("list")
def user_list(
    json_output: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """List the accounts of this environment, with any lockout in force."""
    rows = [account_fields(view) for view in open_services(database, environment).account_registry.list()]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        locked = f"  locked until {row['locked_until']}" if row["locked_until"] else ""
        multitenant = str(row["multitenant"]).lower()
        roles = f"  roles={','.join(row['roles'])}" if row["roles"] else ""
        typer.echo(f"{row['username']}  tenant={row['tenant'] or '-'}  multitenant={multitenant}{locked}{roles}")


@user_app.command("remove")
def user_remove(username: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Remove an account; every grant and token it holds ends with it."""
    registry = open_services(database, environment).account_registry
    with refusals():
        registry.remove(username, actor=actor())
        typer.echo(f"account {registry.parse(username)} removed")


@user_app.command("set-password")
def user_set_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Set a new password; every grant made with the old one is revoked, every browser session ended."""
    registry = open_services(database, environment).account_registry
    with refusals():
        parsed = registry.parse(username)
        registry.set_password(username, read_secret("Password", password_stdin, confirm=True), actor=actor())
    typer.echo(f"account {parsed}: password set, its grants revoked and its sessions ended")


@user_app.command("unlock")
def user_unlock(username: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """End a lockout now and forget the account's failed logins."""
    registry = open_services(database, environment).account_registry
    with refusals():
        registry.unlock(username, actor=actor())
        typer.echo(f"account {registry.parse(username)} unlocked")


RoleArgument = Annotated[str, typer.Argument(help=f"The admin API's role: {', '.join(ROLES)}")]


@user_app.command("grant-role")
def user_grant_role(username: str, role: RoleArgument, database: DatabaseOption = None,
                    environment: EnvironmentOption = None) -> None:
    """Give an account a role of the admin API and its console (admin, operator, auditor): how
    the first admin is made. Its tokens act in the role when they carry its scope (mobproc:ROLE)."""
    registry = open_services(database, environment).account_registry
    with refusals():
        added = registry.grant_role(username, role, actor=actor())
        typer.echo(f"account {registry.parse(username)}: role {role.removeprefix('mobproc:')} "
                   f"{'granted' if added else 'held already'}")


@user_app.command("revoke-role")
def user_revoke_role(username: str, role: RoleArgument, database: DatabaseOption = None,
                     environment: EnvironmentOption = None) -> None:
    """Take a role away; the account's tokens cannot act in it any more, at once."""
    registry = open_services(database, environment).account_registry
    with refusals():
        registry.revoke_role(username, role, actor=actor())
        typer.echo(f"account {registry.parse(username)}: role {role.removeprefix('mobproc:')} revoked")
@user_app.command("consents")
def user_consents(
    username: str,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Show which clients the account allowed, and which scopes (the sign-in's consent page)."""
    registry = open_services(database, environment).account_registry
    with refusals():
        rows = [consent_fields(consent) for consent in registry.consents(username)]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['client_id']}  scopes={','.join(row['scopes'])}")


@user_app.command("revoke-consent")
def user_revoke_consent(
    username: str,
    client: Annotated[str | None, typer.Option("--client", help="Only this client's (default: every client's)")] = None,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Withdraw the account's consent: the next sign-in through that client asks again."""
    registry = open_services(database, environment).account_registry
    with refusals():
        withdrawn = registry.revoke_consent(username, client, actor=actor())
    typer.echo(f"{withdrawn} consent(s) of {registry.parse(username)} withdrawn")
