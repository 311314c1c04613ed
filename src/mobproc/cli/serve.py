"""``mobproc serve``: the server, its workers, and the seed's demo client and account."""

from __future__ import annotations

import os
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from ..config import Environment, SettingsError
from ..domain.registries import AccountAttributes, AlreadyExists, ClientRegistration
from ._common import fail
from ._server import DatabaseOption, EnvironmentOption, open_services, settings_from
from .sources import start_warnings

DEMO_CLIENT_ID = "376af94124f4400e9227c89937c12354"
DEMO_CLIENT_SECRET = "81f40d2777ea4a41A992535F17AC92EC"
DEMO_USERNAME = "command://myusername"
DEMO_PASSWORD = "mypassword"
DEMO_ACTOR = "cli:serve --demo"

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
    api_only: Annotated[
        bool | None, typer.Option("--api-only", help="Serve the MOBPROC v1 API alone, for the tokens of --issuer "
                                  "[env MOBPROC_API_ONLY; introspection client: MOBPROC_INTROSPECTION_CLIENT_ID, "
                                  "MOBPROC_INTROSPECTION_CLIENT_SECRET]")
    ] = None,
    issuer: Annotated[
        str | None, typer.Option(help="The issuer URL: this server's, or with --api-only the token service's "
                                 "[env MOBPROC_ISSUER]")
    ] = None,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Run the authorization server and the MOBPROC v1 API (and upgrade the schema first)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from ..api.standalone import serve_api
    from ..server.app import listeners, serve_app
    from ..server.http import CoalescingHttpToolsProtocol
    from ..server.logs import log_config
    from ..server.transport import plain_http_refusal, tls_problem

    overrides = {"host": host, "port": port, "workers": workers, "database_url": database, "environment": environment,
                 "tls_cert": tls_cert, "tls_key": tls_key, "behind_proxy": behind_proxy, "api_only": api_only,
                 "issuer": issuer}
    settings = settings_from(**overrides)
    if demo and settings.environment is not Environment.DEV:
        fail(f"--demo creates a published client and password; it is refused in {settings.environment.value}")
    try:
        settings.require_issuer()
    except SettingsError as error:
        fail(str(error), 2)
    if settings.api_only and settings.issuer is None:
        fail("--api-only checks the tokens of another mobproc: name it with --issuer URL", 2)
    refusal = plain_http_refusal(settings) or tls_problem(settings)
    if refusal:
        fail(refusal, 2)
    for warning in start_warnings(settings):
        typer.echo(f"mobproc: warning: {warning}", err=True)
    services = open_services(None, None, settings=settings)
    if demo:
        if not settings.api_only:
            _create_demo(services)
        _load_demo_tenant(services)
    if settings.access_token_format == "jwt" and not settings.api_only:
        _check_signing_key(services)
    services.close()
    if settings.workers > 1:
        _share_metrics_between_workers()
    if demo and not settings.api_only:
        base = f"{'https' if settings.tls_cert else 'http'}://{settings.host}:{settings.port}"
        typer.echo(
            "mobproc demo: the seed's request works against this server:\n"
            f"  curl -X POST '{base}/as/token.oauth2?grant_type=password&client_id={DEMO_CLIENT_ID}"
            f"&client_secret={DEMO_CLIENT_SECRET}&scope=MOBPROC&username={DEMO_USERNAME}&password={DEMO_PASSWORD}'\n"
            "and its access token opens the MOBPROC v1 API's demo tenant XYZ:\n"
            f"  curl {base}/mobproc/v1/me -H 'Authorization: Bearer ACCESS_TOKEN' -H 'X-TNGO-TENANT: XYZ'"
            f" -H 'client_id: {DEMO_CLIENT_ID}'\n"
            f"  (every resource, and a page to try them: {base}/mobproc/v1/docs)"
            + (f"\nthe console, for an account given a role (mobproc user grant-role U admin): "
               f"{settings.console_base_url}/" if settings.admin_enabled else "")
        )
    # Each worker process builds its app from these settings, handed to it (pickled into the
    # process uvicorn spawns), not read again from an environment edited for it.
    config = uvicorn.Config(
        partial(serve_api if settings.api_only else serve_app, settings),
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,  # mobproc's own access log masks secrets in query strings
        proxy_headers=False,
        server_header=False,
        http=CoalescingHttpToolsProtocol,  # an answer in one write, not two (server/http.py)
        # uvicorn's supervisor kills a worker that does not answer its ping within this many
        # seconds, and a worker answers only once its imports are done (2.2-2.8 s on an idle
        # 2-core machine; over 5 s, uvicorn's default, with the test suite running beside it,
        # where workers were killed and restarted four times in 20 s and never served).
        timeout_worker_healthcheck=30,
        log_config=log_config(settings.log_format),
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
    )
    try:
        # The API alone has no operations of its own to serve (its token service has them).
        sockets = [config.bind_socket(), *([] if settings.api_only else listeners(settings))]
    except OSError as error:
        fail(f"cannot listen: {error}")
    if settings.workers > 1:
        Multiprocess(config, sockets=sockets).run()
    else:
        uvicorn.Server(config).run(sockets=sockets)


def _share_metrics_between_workers() -> None:
    """prometheus-client's multiprocess mode: each worker writes its metrics to files in one
    folder, so that a scrape answered by any worker reports them all."""
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="mobproc-metrics-")
    for stale in Path(folder).glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


def _create_demo(services) -> None:  # noqa: ANN001
    """The seed's client and account, if missing (dev only)."""
    demo = ClientRegistration(DEMO_CLIENT_ID, ("password", "refresh_token"), ("MOBPROC",))
    with suppress(AlreadyExists):
        services.client_registry.register(demo, actor=DEMO_ACTOR, secret=DEMO_CLIENT_SECRET)
    with suppress(AlreadyExists):
        services.account_registry.add(DEMO_USERNAME, DEMO_PASSWORD, AccountAttributes(tenant="XYZ"), actor=DEMO_ACTOR)


def _load_demo_tenant(services) -> None:  # noqa: ANN001
    """The demo tenant XYZ of the MOBPROC v1 API, in which the seed's account can order at once."""
    from importlib.resources import as_file, files

    from .data import load_file

    with as_file(files("mobproc.procurement") / "demo_tenant.yaml") as path:
        load_file(services, path)


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
