"""``mobproc keys``: the keys that sign JWT access tokens (published at /pf/JWKS)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ._common import fail
from ._server import DatabaseOption, EnvironmentOption, open_services
from .audit import iso

keys_app = typer.Typer(help="The keys that sign JWT access tokens (published at /pf/JWKS).", no_args_is_help=True)

def _key_rows(services) -> list[dict]:  # noqa: ANN001
    import time

    now = time.time()
    rows = []
    for record in services.keys.records():
        if record.retired_at is None:
            state = "active"
        elif record.published_at(now):
            state = "retired"
        else:
            state = "expired"
        rows.append({
            "kid": record.kid,
            "alg": record.alg,
            "state": state,
            "created_at": iso(record.created_at),
            "published_until": iso(record.not_after) if record.not_after else None,
            "private_key": "erased" if record.private_key is None else "encrypted" if record.encrypted else "unencrypted",
        })
    return rows


@keys_app.command("list")
def keys_list(
    json_output: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """List the signing keys of this environment: the active one, the retired ones still
    published (until their last token expires), and the expired ones."""
    rows = _key_rows(open_services(database, environment))
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no signing key yet (one is made on first start with MOBPROC_ACCESS_TOKEN_FORMAT=jwt)")
    for row in rows:
        until = f"  published until {row['published_until']}" if row["state"] == "retired" else ""
        typer.echo(f"{row['kid']}  {row['alg']}  {row['state']}  created {row['created_at']}{until}"
                   f"  private key {row['private_key']}")


@keys_app.command("rotate")
def keys_rotate(database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Make a new signing key active at once (MOBPROC_SIGNING_ALGORITHM); the old one keeps
    verifying until every token it signed has expired, then leaves the JWKS."""
    from ..domain.signing_keys import SigningKeyUnavailable
    from ..storage.database import DatabaseUnavailable

    services = open_services(database, environment)
    previous = next((r for r in services.keys.records() if r.retired_at is None), None)
    try:
        new = services.keys.rotate()
    except (SigningKeyUnavailable, DatabaseUnavailable) as error:
        fail(f"rotation failed: {error}")
    typer.echo(f"signing key {new.kid} ({new.alg}) is active")
    if previous is not None:
        retired = next((r for r in services.keys.records() if r.kid == previous.kid), None)
        until = iso(retired.not_after) if retired and retired.not_after else "its tokens expire"
        typer.echo(f"signing key {previous.kid} is retired: published until {until}, its private key erased")
