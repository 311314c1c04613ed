"""``mobproc user``: accounts of the built-in identity sources."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ..domain.registries import AccountAttributes, AccountView
from ._common import read_secret
from ._server import DatabaseOption, EnvironmentOption, actor, open_services, refusals
from .audit import iso

user_app = typer.Typer(help="Accounts of the built-in identity sources.", no_args_is_help=True)


def account_fields(view: AccountView) -> dict[str, Any]:
    """An account as ``user list --json`` shows it (and the admin API names its fields)."""
    account = view.account
    return {
        "username": str(account.username),
        "tenant": account.tenant,
        "multitenant": account.multitenant,
        "domain": account.domain,
        "locked_until": iso(view.locked_until) if view.locked_until else None,
        "last_login_at": iso(account.last_login_at) if account.last_login_at else None,
    }


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
        typer.echo(f"{row['username']}  tenant={row['tenant'] or '-'}  multitenant={multitenant}{locked}")


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
        rows = [{"client_id": consent.client_id, "scopes": list(consent.scope), "granted_at": consent.granted_at}
                for consent in registry.consents(username)]
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
