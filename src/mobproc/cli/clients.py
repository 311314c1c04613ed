"""``mobproc client``: client applications (id, secret, grants, scopes)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..domain.clients import GRANT_TYPES
from ..domain.registries import ClientRegistration
from ..domain.views import client_fields
from ._common import read_secret
from ._server import DatabaseOption, EnvironmentOption, actor, open_services, refusals

client_app = typer.Typer(help="Client applications (id, secret, grants, scopes).", no_args_is_help=True)
SHOWN_ONCE = "(shown once: only its digest is stored)"


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
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option("--redirect-uri", help="Where the authorization endpoint may send the browser back, repeatable; "
                                            "matched exactly (a loopback http://127.0.0.1/… one on any port)"),
    ] = None,
    public: Annotated[bool, typer.Option("--public", help="No secret (a single-page or native app): PKCE required")] = False,
    pkce: Annotated[str, typer.Option("--pkce", help="required (the default) or optional (a confidential client only)")] = "required",
    trusted: Annotated[bool, typer.Option("--trusted", help="First-party: people signing in are not asked for consent")] = False,
    access_token_lifetime: Annotated[
        float | None, typer.Option("--access-token-lifetime", help="Seconds, for this client's access tokens "
                                                                   "(the implicit grant's: keep it short)"),
    ] = None,
    id_token_alg: Annotated[
        str | None, typer.Option("--id-token-alg", help="RS256 (the default) or ES256: how its OpenID Connect ID "
                                                        "tokens are signed"),
    ] = None,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Register a client; without --secret-stdin a secret is generated and printed once (a
    --public client has none)."""
    registration = ClientRegistration(client_id, tuple(grant), tuple(scope or ()),
                                      tuple(default_scope) if default_scope else None,
                                      tuple(redirect_uri or ()), public, pkce, trusted, access_token_lifetime,
                                      id_token_alg)
    with refusals():
        registration.validated()  # before a secret is asked for
        secret = read_secret("Client secret", True) if secret_stdin else None
        created = open_services(database, environment).client_registry.register(registration, actor=actor(), secret=secret)
    typer.echo(f"client {client_id} added")
    if created.secret is not None and not secret_stdin:
        typer.echo(f"client_secret: {created.secret}\n{SHOWN_ONCE}")


@client_app.command("list")
def client_list(
    json_output: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """List the clients of this environment."""
    rows = [client_fields(client) for client in open_services(database, environment).client_registry.list()]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        extra = "".join(f"  {word}" for word, on in (("public", row["public"]), ("trusted", row["trusted"])) if on)
        uris = f"  redirect_uris={','.join(row['redirect_uris'])}" if row["redirect_uris"] else ""
        typer.echo(f"{row['client_id']}  grants={','.join(row['grants'])}  scopes={','.join(row['scopes'])}{uris}{extra}")


@client_app.command("remove")
def client_remove(client_id: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Remove a client; every grant and token it holds ends with it."""
    with refusals():
        open_services(database, environment).client_registry.remove(client_id, actor=actor())
    typer.echo(f"client {client_id} removed")


@client_app.command("disable")
def client_disable(client_id: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Stop a client from authenticating, keeping its registration (and its grants, unusable meanwhile)."""
    with refusals():
        open_services(database, environment).client_registry.set_enabled(client_id, False, actor=actor())
    typer.echo(f"client {client_id} disabled")


@client_app.command("enable")
def client_enable(client_id: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Let a disabled client authenticate again."""
    with refusals():
        open_services(database, environment).client_registry.set_enabled(client_id, True, actor=actor())
    typer.echo(f"client {client_id} enabled")


@client_app.command("rotate-secret")
def client_rotate_secret(
    client_id: str,
    secret_stdin: Annotated[bool, typer.Option("--secret-stdin")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Give a client a new secret; the old one stops working at once."""
    secret = read_secret("Client secret", True) if secret_stdin else None
    with refusals():
        rotated = open_services(database, environment).client_registry.rotate_secret(client_id, actor=actor(),
                                                                                      secret=secret)
    typer.echo(f"client {client_id}: secret replaced")
    if not secret_stdin:
        typer.echo(f"client_secret: {rotated.secret}\n{SHOWN_ONCE}")
