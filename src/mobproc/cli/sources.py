"""``mobproc sources``: the identity source of each source system (MOBPROC_IDENTITY_SOURCES)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ._server import settings_from

app = typer.Typer()


@app.command()
def sources(
    check: Annotated[bool, typer.Option("--check", help="Connect to each directory and bind as its service account")] = False,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show which identity source backs each enabled source system: the built-in account table,
    or a directory with its settings (never its bind password, only where it comes from)."""
    settings = settings_from()
    configured = settings.identity_source_configs()
    rows: dict[str, dict[str, object]] = {}
    for name in settings.source_systems:
        config = configured.get(name)
        rows[name] = config.describe() if config is not None and config.type == "ldap" else {"type": "builtin"}
        if check and rows[name]["type"] == "ldap":
            from ..directory.connections import Directory

            directory = Directory(name, config)
            problem = directory.probe()
            directory.close()
            rows[name]["check"] = "ok" if problem is None else problem
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for name, row in rows.items():
            typer.echo(f"{name}: {row['type']}")
            for key, value in row.items():
                if key != "type" and value is not None:
                    typer.echo(f"  {key}: {json.dumps(value) if isinstance(value, dict | list) else value}")
    if check and any(row.get("check", "ok") != "ok" for row in rows.values()):
        raise typer.Exit(1)


def start_warnings(settings) -> list[str]:  # noqa: ANN001
    """What ``serve`` says at every start about a directory configured to weaken TLS."""
    said = []
    for name, config in settings.identity_source_configs().items():
        if config.type != "ldap":
            continue
        if not config.secure:
            said.append(f"sources.{name}: ldap:// without start_tls sends every password in clear")
        if not config.verify_certificate:
            said.append(f"sources.{name}: verify_certificate = false: any server can pose as the directory")
    return said
