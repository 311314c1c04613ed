"""``mobproc db``: the database schema and housekeeping."""

from __future__ import annotations

from typing import Annotated

import typer

from ._server import DatabaseOption, EnvironmentOption, open_services

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)

@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Bring the schema to the current version (the server also does this on start)."""
    open_services(database, environment)
    typer.echo("database schema is current")


@db_app.command("cleanup")
def db_cleanup(
    batch: Annotated[int, typer.Option(min=10, max=100_000, help="Rows deleted per transaction")] = 1000,
    pause: Annotated[float, typer.Option(min=0, help="Seconds to wait between batches")] = 0.0,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Delete expired tokens and finished grants in small batches (token traffic goes on)."""
    from ..storage.housekeeping import cleanup

    services = open_services(database, environment)
    cleaned = cleanup(services.database, batch=batch, pause=pause)
    typer.echo(
        f"deleted {cleaned.access_tokens} access tokens, {cleaned.refresh_tokens} refresh tokens, "
        f"{cleaned.grants} grants, {cleaned.login_attempts} quiet lockout rows, "
        f"{cleaned.authorization_codes} authorization codes, {cleaned.browser_sessions} browser sessions"
    )
