"""``mobproc user``: accounts of the built-in identity sources."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from ..domain import audit
from ..domain.identities import Username
from ._common import (
    DatabaseOption,
    EnvironmentOption,
    fail,
    open_services,
    parse_username,
    read_secret,
    record,
    settings_from,
)
from .audit import iso

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
    from ..storage.accounts import AccountExists

    parsed = parse_username(username)
    settings = settings_from(database_url=database, environment=environment)
    if parsed.source_system not in settings.source_systems:
        fail(f"source system {parsed.source_system!r} is not enabled (MOBPROC_SOURCE_SYSTEMS)", 2)
    password = read_secret("Password", password_stdin, confirm=True)
    services = open_services(database, environment)
    try:
        services.accounts.add_account(
            parsed, services.hasher.hash(password), tenant=tenant, multitenant=multitenant, domain=domain
        )
    except AccountExists:
        fail(f"account {parsed} exists already")
    record(services, audit.ACCOUNT_ADDED, subject=str(parsed),
            detail=f"tenant={tenant or '-'} multitenant={str(multitenant).lower()}")
    typer.echo(f"account {parsed} added")


@user_app.command("list")
def user_list(
    json_output: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """List the accounts of this environment."""
    accounts = open_services(database, environment).accounts.list_accounts()
    rows = [
        {"username": str(Username(a.source_system, a.name)), "tenant": a.tenant, "multitenant": a.multitenant,
         "domain": a.domain, "locked_until": iso(a.locked_until) if (a.locked_until or 0) > time.time() else None}
        for a in accounts
    ]
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
    parsed = parse_username(username)
    services = open_services(database, environment)
    if not services.accounts.remove_account(parsed):
        fail(f"no account {parsed}")
    record(services, audit.ACCOUNT_REMOVED, subject=str(parsed), detail="its grants and tokens removed")
    typer.echo(f"account {parsed} removed")


@user_app.command("set-password")
def user_set_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Set a new password; every grant made with the old one is revoked."""
    parsed = parse_username(username)
    password = read_secret("Password", password_stdin, confirm=True)
    services = open_services(database, environment)
    if not services.accounts.set_password_hash(parsed, services.hasher.hash(password)):
        fail(f"no account {parsed}")
    record(services, audit.PASSWORD_SET, subject=str(parsed), detail="its grants revoked")
    typer.echo(f"account {parsed}: password set, its grants revoked")


@user_app.command("unlock")
def user_unlock(username: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """End a lockout now and forget the account's failed logins."""
    parsed = parse_username(username)
    services = open_services(database, environment)
    if not services.accounts.unlock(parsed):
        fail(f"no account {parsed}")
    record(services, audit.ACCOUNT_UNLOCKED, subject=str(parsed))
    typer.echo(f"account {parsed} unlocked")
