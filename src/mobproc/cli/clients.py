"""``mobproc client``: client applications (id, secret, grants, scopes)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..config import Environment
from ..domain import audit
from ..domain.clients import GRANT_TYPES, check_imported_secret, generate_secret
from ._common import (
    DatabaseOption,
    EnvironmentOption,
    fail,
    open_services,
    read_secret,
    record,
)

client_app = typer.Typer(help="Client applications (id, secret, grants, scopes).", no_args_is_help=True)

@client_app.command("add")
def client_add(
    client_id: str,
    grant: Annotated[list[str], typer.Option("--grant", help=f"Allowed grant type, repeatable: {', '.join(GRANT_TYPES)}")],
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Allowed scope, repeatable")] = None,
    default_scope: Annotated[
        list[str] | None,
        typer.Option("--default-scope", help="Scope granted when none is asked, repeatable (required with several "
                                             "--scope; with one, that one)"),
    ] = None,
    secret_stdin: Annotated[bool, typer.Option("--secret-stdin", help="Import the secret from standard input")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Register a client; without --secret-stdin a secret is generated and printed once."""
    from ..storage.clients import ClientExists

    unknown = sorted(set(grant) - set(GRANT_TYPES))
    if unknown:
        fail(f"unknown grant type {unknown[0]!r}; choose from {', '.join(GRANT_TYPES)}", 2)
    scopes = scope or []
    if default_scope and not set(default_scope) <= set(scopes):
        fail("every --default-scope must also be an allowed --scope", 2)
    if not default_scope and len(set(scopes)) > 1:
        # Least privilege (RFC 9700 §2.3): a request that names no scope gets what the operator
        # chose, not every scope the client may ask for; clients such as requests-oauthlib
        # refuse a token wider than the scope they were configured with.
        fail("a client allowed several scopes needs --default-scope: the scopes a request without "
             "`scope` gets (repeat --default-scope for each; README: Default scopes)", 2)
    if not 1 <= len(client_id) <= 255 or not client_id.isprintable() or ":" in client_id:
        fail("a client id is 1 to 255 printable characters, without ':'", 2)
    if secret_stdin:
        secret = read_secret("Client secret", True)
        try:
            check_imported_secret(secret)
        except ValueError as error:
            fail(str(error), 2)
    else:
        secret = generate_secret()
    services = open_services(database, environment)
    try:
        services.clients.add_client(client_id, secret, grant, scopes, default_scope)
    except ClientExists:
        fail(f"client {client_id} exists already")
    record(services, audit.CLIENT_ADDED, client_id=client_id,
            detail=f"grants={','.join(grant)} scopes={','.join(scopes)}")
    typer.echo(f"client {client_id} added")
    if not secret_stdin:
        typer.echo(f"client_secret: {secret}\n(shown once: only its digest is stored)")


@client_app.command("list")
def client_list(
    json_output: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """List the clients of this environment."""
    clients = open_services(database, environment).clients.list_clients()
    rows = [
        {
            "client_id": c.client_id,
            "grants": sorted(c.grant_types),
            "scopes": sorted(c.scopes),
            "default_scopes": list(c.default_scopes),
            "enabled": c.enabled,
        }
        for c in clients
    ]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['client_id']}  grants={','.join(row['grants'])}  scopes={','.join(row['scopes'])}")


@client_app.command("remove")
def client_remove(client_id: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Remove a client; every grant and token it holds ends with it."""
    services = open_services(database, environment)
    if not services.clients.remove_client(client_id):
        fail(f"no client {client_id}")
    record(services, audit.CLIENT_REMOVED, client_id=client_id, detail="its grants and tokens removed")
    typer.echo(f"client {client_id} removed")


@client_app.command("disable")
def client_disable(client_id: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Stop a client from authenticating, keeping its registration (and its grants, unusable meanwhile)."""
    _set_enabled(client_id, False, database, environment)


@client_app.command("enable")
def client_enable(client_id: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Let a disabled client authenticate again."""
    _set_enabled(client_id, True, database, environment)


def _set_enabled(client_id: str, enabled: bool, database: str | None, environment: Environment | None) -> None:
    services = open_services(database, environment)
    if not services.clients.set_enabled(client_id, enabled):
        fail(f"no client {client_id}")
    record(services, audit.CLIENT_ENABLED if enabled else audit.CLIENT_DISABLED, client_id=client_id)
    typer.echo(f"client {client_id} {'enabled' if enabled else 'disabled'}")


@client_app.command("rotate-secret")
def client_rotate_secret(
    client_id: str,
    secret_stdin: Annotated[bool, typer.Option("--secret-stdin")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Give a client a new secret; the old one stops working at once."""
    secret = read_secret("Client secret", True) if secret_stdin else generate_secret()
    if secret_stdin:
        try:
            check_imported_secret(secret)
        except ValueError as error:
            fail(str(error), 2)
    services = open_services(database, environment)
    if not services.clients.replace_secret(client_id, secret):
        fail(f"no client {client_id}")
    record(services, audit.CLIENT_SECRET_ROTATED, client_id=client_id)
    typer.echo(f"client {client_id}: secret replaced")
    if not secret_stdin:
        typer.echo(f"client_secret: {secret}\n(shown once: only its digest is stored)")
