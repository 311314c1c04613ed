"""``mobproc token``: the client side for people who use curl today. Asks for a token (or
refreshes one, or checks one) and prints the JSON, or just the access token for ``$(…)``.

Secrets never come from argv, which ``ps`` shows to everyone on the host: the client secret
from MOBPROC_CLIENT_SECRET, the password from MOBPROC_PASSWORD, else each from standard input
(one a line, in that order: client secret, then the password, refresh token or token to
check) or a hidden prompt.
"""

from __future__ import annotations

import json
from typing import Annotated, NoReturn

import typer

from ._common import fail, read_secret

app = typer.Typer()

# Exit codes, as the README's command table lists them.
OK, REFUSED, USAGE, UNREACHABLE, UNAVAILABLE = 0, 1, 2, 3, 4

GRANT_HINTS = {
    "password": "check --username and the password (a locked account answers the same: mobproc user unlock)",
    "refresh_token": "the refresh token is expired, revoked or already used: log in again with --username",
    "client_credentials": "check --client-id (client credentials: no --username)",
}


@app.command()
def token(
    client_id: Annotated[str, typer.Option(help="Your client application's id")],
    username: Annotated[
        str | None, typer.Option(help="command://name, rivermine://name or a bare name; omit for client credentials")
    ] = None,
    endpoint: Annotated[str, typer.Option(help="production, qa, a base URL or a token URL")] = "http://127.0.0.1:9031",
    scope: Annotated[str | None, typer.Option(help="Scope to ask for (default MOBPROC; a refresh keeps the login's)",
                                              show_default=False)] = None,
    access_token_only: Annotated[
        bool, typer.Option("--access-token-only", help="Print the access token alone, for $(…) in scripts")
    ] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", "--refresh-token-stdin", help="Refresh: the refresh token comes after the secret")
    ] = False,
    validate: Annotated[
        bool, typer.Option("--validate", help="Check a token (RFC 7662 introspection; the client must be allowed "
                                              "access_token_validation): it comes after the secret; exit 0 if active")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer")] = 10.0,
) -> None:
    """Request a token as the seed does (the password grant with --username, client credentials without), refresh one (--refresh) or check one (--validate).

    Secrets: MOBPROC_CLIENT_SECRET and MOBPROC_PASSWORD, else one a line on standard input (the client secret first), else a hidden prompt; never arguments, which ps shows.

    Exit codes: 0 done (--validate: active); 1 refused by the server (--validate: not active); 2 usage; 3 server unreachable; 4 server unable to answer now, or not a token endpoint.
    """
    from ..sdk import TokenClient, TokenError, token_url
    from ..sdk import username as checked_username

    if sum((refresh, validate, username is not None)) > 1:
        fail("--username, --refresh and --validate are three different requests: give one", USAGE)
    if validate and access_token_only:
        fail("--access-token-only prints a new token; --validate checks one", USAGE)
    try:  # checked before any secret is asked for
        token_url(endpoint)
        if username is not None:
            username = checked_username(username)
        client = TokenClient(endpoint, client_id, read_secret("Client secret", False, env="MOBPROC_CLIENT_SECRET"),
                             timeout=timeout)
    except ValueError as error:
        fail(str(error), USAGE)
    grant = ("access_token_validation" if validate else "refresh_token" if refresh
             else "password" if username else "client_credentials")
    try:
        if validate:
            answer = client.introspect(read_secret("Token to check", False))
            typer.echo(json.dumps(answer, indent=1))
            if not answer["active"]:
                fail("the token is not active: expired, revoked, unknown, or not an access token", REFUSED)
            return
        if refresh:
            result = client.refresh(read_secret("Refresh token", False), scope=scope)
        elif username:
            result = client.password(username, read_secret("Password", False, env="MOBPROC_PASSWORD"), scope=scope or "MOBPROC")
        else:
            result = client.client_credentials(scope=scope or "MOBPROC")
    except TokenError as error:
        explain(error, grant, client.client_id, client.url)
    typer.echo(result.access_token if access_token_only else json.dumps(result.as_dict(), indent=1))


def explain(error: Exception, grant: str, client_id: str, url: str) -> NoReturn:
    """One line: what the server said, and what to change."""
    from ..sdk import (
        EndpointUnreachable,
        InvalidClient,
        InvalidGrant,
        InvalidResponse,
        InvalidScope,
        SlowDown,
        TemporarilyUnavailable,
        TokenError,
        UnauthorizedClient,
    )

    assert isinstance(error, TokenError)
    later = f": retry in {error.retry_after:.0f} s" if error.retry_after is not None else ": retry later"
    code, hint = {
        EndpointUnreachable: (UNREACHABLE, f"cannot reach {url}: check --endpoint and that the server runs"),
        InvalidResponse: (UNAVAILABLE, f"{url} did not answer as a token endpoint: check --endpoint"),
        SlowDown: (UNAVAILABLE, "too many failed logins for this client or address" + later),
        TemporarilyUnavailable: (UNAVAILABLE, "the server cannot answer now" + later),
        InvalidClient: (REFUSED, f"check --client-id ({client_id}) and the client secret"),
        InvalidGrant: (REFUSED, GRANT_HINTS.get(grant, "")),
        InvalidScope: (REFUSED, "ask for a scope the client is allowed (--scope)"),
        UnauthorizedClient: (REFUSED, f"client {client_id} is not allowed the {grant} grant: register it with "
                                      f"--grant {grant} (mobproc client add)"),
    }.get(type(error), (REFUSED, ""))
    fail(f"{error}" + (f"; {hint}" if hint else ""), code)
