"""What the server's commands share: the database and environment options, the services of
one command on a current schema, the actor of a change, and a registry's refusals as one line."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from ..config import Environment, Settings, SettingsError, load_settings
from ..domain.registries import AlreadyExists, InvalidChange, NotFound
from ._common import fail


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


def settings_from(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as error:
        fail(str(error), 2)


def open_services(database: str | None, environment: Environment | None, *, settings: Settings | None = None):  # noqa: ANN202
    """The services of this command, on a database whose schema is current."""
    from sqlalchemy.exc import DBAPIError

    from ..services import Services
    from ..storage.database import DatabaseUnavailable
    from ..storage.migrate import upgrade

    settings = settings or settings_from(database_url=database, environment=environment)
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


@contextmanager
def refusals() -> Iterator[None]:
    """A registry's refusal as one line: a rule broken is a usage error (exit 2), a client or
    account that does not exist or exists already a failure (exit 1)."""
    try:
        yield
    except InvalidChange as error:
        fail(str(error), 2)
    except (NotFound, AlreadyExists) as error:
        fail(str(error))
