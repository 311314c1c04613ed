"""``mobproc serve``: the server, its workers, and the seed's demo client and account."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ..config import Environment, SettingsError
from ..domain.identities import Username
from ._common import (
    DatabaseOption,
    EnvironmentOption,
    fail,
    open_services,
    settings_from,
)

DEMO_CLIENT_ID = "376af94124f4400e9227c89937c12354"
DEMO_CLIENT_SECRET = "81f40d2777ea4a41A992535F17AC92EC"
DEMO_USERNAME = "command://myusername"
DEMO_PASSWORD = "mypassword"

app = typer.Typer()

@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address [env MOBPROC_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [env MOBPROC_PORT]")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [env MOBPROC_WORKERS]")] = None,
    demo: Annotated[bool, typer.Option(help="dev only: create the seed's example client and user")] = False,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Serve HTTPS: certificate chain (PEM) [env MOBPROC_TLS_CERT]")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Serve HTTPS: private key (PEM) [env MOBPROC_TLS_KEY]")] = None,
    behind_proxy: Annotated[
        bool | None, typer.Option("--behind-proxy", help="TLS ends at a proxy in front [env MOBPROC_BEHIND_PROXY]")
    ] = None,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Run the authorization server (and upgrade the schema first)."""
    import uvicorn

    from ..server.http import CoalescingHttpToolsProtocol
    from ..server.logs import log_config
    from ..server.transport import plain_http_refusal, tls_problem

    overrides = {"host": host, "port": port, "workers": workers, "database_url": database, "environment": environment,
                 "tls_cert": tls_cert, "tls_key": tls_key, "behind_proxy": behind_proxy}
    settings = settings_from(**overrides)
    if demo and settings.environment is not Environment.DEV:
        fail(f"--demo creates a published client and password; it is refused in {settings.environment.value}")
    try:
        settings.require_issuer()
    except SettingsError as error:
        fail(str(error), 2)
    refusal = plain_http_refusal(settings) or tls_problem(settings)
    if refusal:
        fail(refusal, 2)
    services = open_services(settings.database_url, settings.environment)
    if demo:
        _create_demo(services)
    if settings.access_token_format == "jwt":
        _check_signing_key(services)
    # Workers are separate processes that read their settings from the environment.
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"MOBPROC_{name.upper()}"] = str(getattr(value, "value", value))
    if database is not None:
        os.environ.pop("MOBPROC_DATABASE_URL_FILE", None)  # --database won over it here, and must there
    services.database.dispose()
    if settings.workers > 1:
        _share_metrics_between_workers()
    if demo:
        base = f"{'https' if settings.tls_cert else 'http'}://{settings.host}:{settings.port}"
        typer.echo(
            "mobproc demo: the seed's request works against this server:\n"
            f"  curl -X POST '{base}/as/token.oauth2?grant_type=password&client_id={DEMO_CLIENT_ID}"
            f"&client_secret={DEMO_CLIENT_SECRET}&scope=MOBPROC&username={DEMO_USERNAME}&password={DEMO_PASSWORD}'"
        )
    uvicorn.run(
        "mobproc.server.app:serve_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,  # mobproc's own access log masks secrets in query strings
        proxy_headers=False,
        server_header=False,
        http=CoalescingHttpToolsProtocol,  # an answer in one write, not two (server/http.py)
        log_config=log_config(settings.log_format),
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
    )


def _share_metrics_between_workers() -> None:
    """prometheus-client's multiprocess mode: each worker writes its metrics to files in one
    folder, so that a scrape answered by any worker reports them all."""
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="mobproc-metrics-")
    for stale in Path(folder).glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


def _create_demo(services) -> None:  # noqa: ANN001
    from ..storage.accounts import AccountExists
    from ..storage.clients import ClientExists

    try:
        services.clients.add_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ["password", "refresh_token"], ["MOBPROC"])
    except ClientExists:
        pass
    try:
        username = Username.parse(DEMO_USERNAME)
        services.accounts.add_account(username, services.hasher.hash(DEMO_PASSWORD), tenant="XYZ")
    except AccountExists:
        pass


def _check_signing_key(services) -> None:  # noqa: ANN001
    """Make the first key on first start, and refuse to start with one that cannot sign."""
    from ..domain.signing_keys import SigningKeyUnavailable
    from ..storage.database import DatabaseUnavailable

    try:
        key = services.keys.active()
        record = next(record for record in services.keys.records() if record.kid == key.kid)
    except (SigningKeyUnavailable, DatabaseUnavailable) as error:
        fail(f"the signing key cannot be used: {error}")
    if not record.encrypted:
        hint = ("run `mobproc keys rotate` to replace it with an encrypted one"
                if services.settings.key_encryption_secret() else "set MOBPROC_KEY_ENCRYPTION_KEY")
        typer.echo(f"mobproc: warning: the private signing key {key.kid} is stored unencrypted ({hint})", err=True)
