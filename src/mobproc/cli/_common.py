"""What every command shares: the database and environment options, secrets from standard
input or a prompt (never argv), one-line failures, and the services of one command."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated, NoReturn

import typer

from ..config import Environment, Settings, SettingsError, load_settings
from ..domain.audit import AuditEvent
from ..domain.identities import Username

def _warn_of_a_password(url: str | None) -> str | None:
    """A password in --database is on this process's command line, which `ps` shows to every
    local user for as long as it runs (``mobproc serve``: for good)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        password = make_url(url).password if url else None
    except (ArgumentError, ValueError):
        password = None  # not a URL: the settings say so
    if password:
        typer.echo("mobproc: warning: --database holds a password, which `ps` shows to every local user; "
                   "put the URL in a file named by MOBPROC_DATABASE_URL_FILE, or the password in libpq's "
                   "PGPASSFILE (~/.pgpass)", err=True)
    return url


DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", help="Database URL [env MOBPROC_DATABASE_URL, or a file: MOBPROC_DATABASE_URL_FILE]",
                 show_default=False, callback=_warn_of_a_password),
]
EnvironmentOption = Annotated[
    Environment | None, typer.Option("--environment", help="dev, qa or production [env MOBPROC_ENVIRONMENT]")
]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"mobproc: {message}", err=True)
    raise typer.Exit(code)


def settings_from(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as error:
        fail(str(error), 2)


def read_secret(prompt: str, from_stdin: bool, *, confirm: bool = False) -> str:
    """One line from standard input, or a hidden prompt on a terminal."""
    if from_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = getpass.getpass(f"{prompt}: ")
        if confirm and getpass.getpass(f"{prompt} (again): ") != value:
            fail("the two entries differ")
    if not value:
        fail(f"no {prompt.lower()} given")
    return value


def open_services(database: str | None, environment: Environment | None):  # noqa: ANN202
    from sqlalchemy.exc import DBAPIError

    from ..services import Services
    from ..storage.database import DatabaseUnavailable
    from ..storage.migrate import upgrade

    settings = settings_from(database_url=database, environment=environment)
    services = Services.build(settings)
    try:
        upgrade(services.database)
    except DatabaseUnavailable as error:
        fail(f"the database cannot be reached ({error})")
    except DBAPIError as error:  # the driver's own, from a connection Alembic opened
        fail(f"the database cannot be reached ({type(error.orig).__name__})")
    return services


def actor() -> str:
    """Who made a change from the command line, for the audit trail."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid {os.getuid()}"


def record(services, event: str, **fields: object) -> None:  # noqa: ANN001
    services.audit.record(AuditEvent(event, actor=actor(), **fields))


def parse_username(value: str) -> Username:
    try:
        return Username.parse(value)
    except ValueError as error:
        fail(str(error), 2)
