"""The ``mobproc`` command: a thin layer of commands over the services (:mod:`mobproc.services`).

Secrets come from standard input or a prompt, never from argv. One module per command group.
"""

from __future__ import annotations

import typer

from . import audit, serve, token
from .clients import client_app
from .data import data_app
from .db import db_app
from .keys import keys_app
from .users import user_app

app = typer.Typer(help="mobproc: a self-hostable OAuth 2.0 token service for the MOBPROC v1 API.", no_args_is_help=True)
app.add_typer(client_app, name="client")
app.add_typer(user_app, name="user")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(data_app, name="data")
for commands in (serve.app, audit.app, token.app):
    app.registered_commands += commands.registered_commands


def main() -> None:
    app()
