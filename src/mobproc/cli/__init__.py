"""The ``mobproc`` command: a thin layer of commands over the services (:mod:`mobproc.services`).

Secrets come from standard input or a prompt, never from argv. One module per command group.
Without the server installed (``pip install mobproc``, the SDK alone) only the client side's
commands are here; the others say how to get them.
"""

from __future__ import annotations

import typer

from . import api, token
from ._common import fail

app = typer.Typer(help="mobproc: a self-hostable OAuth 2.0 token service for the MOBPROC v1 API.", no_args_is_help=True)
app.registered_commands += token.app.registered_commands + api.app.registered_commands

try:
    from . import audit, serve, sources
    from .clients import client_app
    from .data import data_app
    from .db import db_app
    from .keys import keys_app
    from .users import user_app
except ModuleNotFoundError as missing:  # the SDK alone: no server to command
    _missing = missing.name

    @app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def serve() -> None:
        """The server's commands need mobproc[server]."""
        fail(f"the server is not installed (no module {_missing!r}): pip install 'mobproc[server]'", 2)
else:
    app.add_typer(client_app, name="client")
    app.add_typer(user_app, name="user")
    app.add_typer(db_app, name="db")
    app.add_typer(keys_app, name="keys")
    app.add_typer(data_app, name="data")
    for commands in (serve.app, audit.app, sources.app):
        app.registered_commands += commands.registered_commands


def main() -> None:
    app()
