"""``mobproc audit``: reading the audit trail."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from ..domain.audit import format_line
from ..domain.views import event_fields, iso
from ._common import fail
from ._server import DatabaseOption, EnvironmentOption, open_services

app = typer.Typer()

def _since(value: str) -> float:
    """``90s``, ``30m``, ``12h``, ``7d`` ago, or an ISO 8601 date or time (UTC unless it says)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isdigit():
        return time.time() - int(value[:-1]) * units[value[-1]]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--since {value!r}: give a duration (30m, 12h, 7d) or an ISO 8601 time (2026-05-01T12:00)", 2)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@app.command("audit")
def audit_trail(
    since: Annotated[str | None, typer.Option(help="Only events since then: 30m, 12h, 7d, or an ISO 8601 time")] = None,
    subject: Annotated[str | None, typer.Option(
        help="Only events about this subject (username or client id), also where the trail names it by its "
             "pseudonym (before its account was known to exist)")] = None,
    event: Annotated[str | None, typer.Option(help="Only events of this kind (token_issued, login_failed…)")] = None,
    limit: Annotated[int, typer.Option(help="At most this many of the latest events", min=1)] = 1000,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Read the audit trail, oldest first. It holds no secret: tokens appear as digest prefixes."""
    start = _since(since) if since else None
    events = open_services(database, environment).audit.events(since=start, subject=subject, event=event, limit=limit)
    if json_output:
        rows = [event_fields(e) for e in events]
        typer.echo(json.dumps(rows, indent=2))
        return
    for e in events:
        typer.echo(f"{iso(e.at)} {format_line(e)}")
