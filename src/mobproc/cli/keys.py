"""``mobproc keys``: the keys that sign JWT access tokens (published at /pf/JWKS)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..domain.registries import SigningKeyRegistry
from ..domain.views import iso, key_fields
from ._common import fail
from ._server import DatabaseOption, EnvironmentOption, actor, open_services

keys_app = typer.Typer(help="The keys that sign JWT access tokens and ID tokens (published at /pf/JWKS).",
                       no_args_is_help=True)
RingOption = Annotated[str, typer.Option("--ring", help="access (JWT access tokens, MOBPROC_SIGNING_ALGORITHM) or "
                                                        "id_token (OpenID Connect ID tokens, RS256)")]


def _ring(services, ring: str):  # noqa: ANN001, ANN202
    if ring not in ("access", "id_token"):
        fail("--ring is access or id_token", 2)
    return services.keys if ring == "access" else services.id_tokens.ring("RS256")


def _key_rows(services, ring: str = "access") -> list[dict]:  # noqa: ANN001
    import time

    now = time.time()
    return [key_fields(record, now) for record in _ring(services, ring).records()]


@keys_app.command("list")
def keys_list(
    json_output: Annotated[bool, typer.Option("--json")] = False,
    ring: RingOption = "access",
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """List the signing keys of this environment: the staged one (published, signing later),
    the active one, the retired ones still published (until their last token expires), and
    the expired ones."""
    rows = _key_rows(open_services(database, environment), ring)
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no signing key yet (one is made on first start with MOBPROC_ACCESS_TOKEN_FORMAT=jwt)")
    for row in rows:
        when = {
            "staged": f"  signs from {row['signs_from']}",
            "active": f"  signs until {row['signs_until']}" if row["signs_until"] else "",
            "retired": f"  published until {row['published_until']}",
        }.get(row["state"], "")
        typer.echo(f"{row['kid']}  {row['alg']}  {row['state']}  created {row['created_at']}{when}"
                   f"  private key {row['private_key']}")


@keys_app.command("rotate")
def keys_rotate(
    now: Annotated[bool, typer.Option("--now", help="Sign with the new key at once (a compromised key)")] = False,
    ring: RingOption = "access",
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Stage a new signing key (MOBPROC_SIGNING_ALGORITHM): published at once in the JWKS, it
    signs after MOBPROC_KEY_PUBLICATION_DELAY_SECONDS, once resource servers have fetched it.
    --now: it signs at once and the key before stops (resource servers that cache the JWKS
    refuse its tokens until they fetch it again). The keys before stay published until every
    token they signed has expired."""
    import time

    from ..domain.signing_keys import SigningKeyUnavailable
    from ..storage.database import DatabaseUnavailable

    services = open_services(database, environment)
    keys = _ring(services, ring)
    before = {record.kid for record in keys.records()}
    try:
        key, new = SigningKeyRegistry(keys, services.audit, ring=ring).rotate(now=now, actor=actor())
    except (SigningKeyUnavailable, DatabaseUnavailable) as error:
        fail(f"rotation failed: {error}")
    if not new:
        typer.echo(f"signing key {key.kid} is staged already: it signs from {iso(key.signs_from)} "
                   "(`mobproc keys rotate --now` replaces every key at once)")
        return
    if key.signs_from > time.time():
        typer.echo(f"signing key {key.kid} ({key.alg}) is staged: published now, it signs from {iso(key.signs_from)}")
    else:
        typer.echo(f"signing key {key.kid} ({key.alg}) is active")
    for record in keys.records():
        if record.kid in before and record.retired_at == key.signs_from:
            erased = ", its private key erased" if record.private_key is None else ""
            typer.echo(f"signing key {record.kid} signs until {iso(record.retired_at)}, is published until "
                       f"{iso(record.not_after)}{erased}")
