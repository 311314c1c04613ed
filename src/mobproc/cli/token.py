"""``mobproc token``: the client side, asking for a token as the seed does."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from ._common import fail, read_secret

app = typer.Typer()

@app.command()
def token(
    client_id: Annotated[str, typer.Option(help="Your client application's id")],
    username: Annotated[str | None, typer.Option(help="Service account; omit for client_credentials")] = None,
    endpoint: Annotated[
        str, typer.Option(help="production, qa, a token URL or a base URL")
    ] = "http://127.0.0.1:9031",
    scope: Annotated[str | None, typer.Option(help="Scope to ask for")] = "MOBPROC",
    refresh_token_stdin: Annotated[
        bool, typer.Option("--refresh-token-stdin", help="Refresh: read the client secret, then the refresh token")
    ] = False,
) -> None:
    """Request a token as the seed does; the client secret (then the password or refresh
    token) are read from standard input, one a line, or prompted for."""
    from ..sdk import TokenClient, TokenError

    interactive = sys.stdin.isatty()
    secret = read_secret("Client secret", not interactive)
    client = TokenClient(endpoint, client_id, secret)
    try:
        if refresh_token_stdin:
            result = client.refresh(read_secret("Refresh token", True), scope=None)
        elif username:
            result = client.password(username, read_secret("Password", not interactive), scope=scope)
        else:
            result = client.client_credentials(scope=scope)
    except TokenError as error:
        fail(str(error))
    except Exception as error:  # noqa: BLE001 - a network failure is a message, not a trace
        fail(f"cannot reach {client.url}: {type(error).__name__}")
    typer.echo(json.dumps(result.as_dict(), indent=1))
