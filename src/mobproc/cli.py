"""The ``mobproc`` command. Secrets come from standard input or a prompt, never from argv."""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from .config import Environment, Settings, SettingsError, load_settings
from .domain import audit
from .domain.audit import AuditEvent, format_line
from .domain.clients import GRANT_TYPES, check_imported_secret, generate_secret
from .domain.identities import Username

app = typer.Typer(help="mobproc: a self-hostable OAuth 2.0 token service for the MOBPROC v1 API.", no_args_is_help=True)
client_app = typer.Typer(help="Client applications (id, secret, grants, scopes).", no_args_is_help=True)
user_app = typer.Typer(help="Accounts of the built-in identity sources.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="The keys that sign JWT access tokens (published at /pf/JWKS).", no_args_is_help=True)
app.add_typer(client_app, name="client")
app.add_typer(user_app, name="user")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")

DatabaseOption = Annotated[
    str | None, typer.Option("--database", help="Database URL [env MOBPROC_DATABASE_URL]", show_default=False)
]
EnvironmentOption = Annotated[
    Environment | None, typer.Option("--environment", help="dev, qa or production [env MOBPROC_ENVIRONMENT]")
]

DEMO_CLIENT_ID = "376af94124f4400e9227c89937c12354"
DEMO_CLIENT_SECRET = "81f40d2777ea4a41A992535F17AC92EC"
DEMO_USERNAME = "command://myusername"
DEMO_PASSWORD = "mypassword"


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


def _services(database: str | None, environment: Environment | None):  # noqa: ANN202
    from .server.app import Services
    from .storage.database import DatabaseUnavailable
    from .storage.migrate import upgrade

    settings = settings_from(database_url=database, environment=environment)
    services = Services.build(settings)
    try:
        upgrade(services.database)
    except DatabaseUnavailable as error:
        fail(f"the database cannot be reached ({error})")
    return services


def _actor() -> str:
    """Who made a change from the command line, for the audit trail."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid {os.getuid()}"


def _record(services, event: str, **fields: object) -> None:  # noqa: ANN001
    services.audit.record(AuditEvent(event, actor=_actor(), **fields))


def _username(value: str) -> Username:
    try:
        return Username.parse(value)
    except ValueError as error:
        fail(str(error), 2)


# --- serve -------------------------------------------------------------------------------


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

    from .server.http import CoalescingHttpToolsProtocol
    from .server.logs import log_config
    from .server.transport import plain_http_refusal, tls_problem

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
    services = _services(settings.database_url, settings.environment)
    if demo:
        _create_demo(services)
    if settings.access_token_format == "jwt":
        _check_signing_key(services)
    # Workers are separate processes that read their settings from the environment.
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"MOBPROC_{name.upper()}"] = str(getattr(value, "value", value))
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
    from .storage.accounts import AccountExists
    from .storage.clients import ClientExists

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
    from .domain.signing_keys import SigningKeyUnavailable
    from .storage.database import DatabaseUnavailable

    try:
        key = services.keys.active()
        record = next(record for record in services.keys.records() if record.kid == key.kid)
    except (SigningKeyUnavailable, DatabaseUnavailable) as error:
        fail(f"the signing key cannot be used: {error}")
    if not record.encrypted:
        hint = ("run `mobproc keys rotate` to replace it with an encrypted one"
                if services.settings.key_encryption_secret() else "set MOBPROC_KEY_ENCRYPTION_KEY")
        typer.echo(f"mobproc: warning: the private signing key {key.kid} is stored unencrypted ({hint})", err=True)


# --- clients -----------------------------------------------------------------------------


@client_app.command("add")
def client_add(
    client_id: str,
    grant: Annotated[list[str], typer.Option("--grant", help=f"Allowed grant type, repeatable: {', '.join(GRANT_TYPES)}")],
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Allowed scope, repeatable")] = None,
    default_scope: Annotated[
        list[str] | None, typer.Option("--default-scope", help="Scope granted when none is asked (default: all allowed)")
    ] = None,
    secret_stdin: Annotated[bool, typer.Option("--secret-stdin", help="Import the secret from standard input")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Register a client; without --secret-stdin a secret is generated and printed once."""
    from .storage.clients import ClientExists

    unknown = sorted(set(grant) - set(GRANT_TYPES))
    if unknown:
        fail(f"unknown grant type {unknown[0]!r}; choose from {', '.join(GRANT_TYPES)}", 2)
    scopes = scope or []
    if default_scope and not set(default_scope) <= set(scopes):
        fail("every --default-scope must also be an allowed --scope", 2)
    if not 1 <= len(client_id) <= 255 or not client_id.isprintable() or ":" in client_id:
        fail("a client id is 1 to 255 printable characters, without ':'", 2)
    if secret_stdin:
        secret = read_secret("Client secret", True)
        try:
            check_imported_secret(secret)
        except ValueError as error:
            fail(str(error), 2)
    else:
        secret = generate_secret()
    services = _services(database, environment)
    try:
        services.clients.add_client(client_id, secret, grant, scopes, default_scope)
    except ClientExists:
        fail(f"client {client_id} exists already")
    _record(services, audit.CLIENT_ADDED, client_id=client_id,
            detail=f"grants={','.join(grant)} scopes={','.join(scopes)}")
    typer.echo(f"client {client_id} added")
    if not secret_stdin:
        typer.echo(f"client_secret: {secret}\n(shown once: only its digest is stored)")


@client_app.command("list")
def client_list(
    json_output: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """List the clients of this environment."""
    clients = _services(database, environment).clients.list_clients()
    rows = [
        {
            "client_id": c.client_id,
            "grants": sorted(c.grant_types),
            "scopes": sorted(c.scopes),
            "default_scopes": list(c.default_scopes),
            "enabled": c.enabled,
        }
        for c in clients
    ]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['client_id']}  grants={','.join(row['grants'])}  scopes={','.join(row['scopes'])}")


@client_app.command("remove")
def client_remove(client_id: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Remove a client; every grant and token it holds ends with it."""
    services = _services(database, environment)
    if not services.clients.remove_client(client_id):
        fail(f"no client {client_id}")
    _record(services, audit.CLIENT_REMOVED, client_id=client_id, detail="its grants and tokens removed")
    typer.echo(f"client {client_id} removed")


@client_app.command("disable")
def client_disable(client_id: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Stop a client from authenticating, keeping its registration (and its grants, unusable meanwhile)."""
    _set_enabled(client_id, False, database, environment)


@client_app.command("enable")
def client_enable(client_id: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Let a disabled client authenticate again."""
    _set_enabled(client_id, True, database, environment)


def _set_enabled(client_id: str, enabled: bool, database: str | None, environment: Environment | None) -> None:
    services = _services(database, environment)
    if not services.clients.set_enabled(client_id, enabled):
        fail(f"no client {client_id}")
    _record(services, audit.CLIENT_ENABLED if enabled else audit.CLIENT_DISABLED, client_id=client_id)
    typer.echo(f"client {client_id} {'enabled' if enabled else 'disabled'}")


@client_app.command("rotate-secret")
def client_rotate_secret(
    client_id: str,
    secret_stdin: Annotated[bool, typer.Option("--secret-stdin")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Give a client a new secret; the old one stops working at once."""
    secret = read_secret("Client secret", True) if secret_stdin else generate_secret()
    if secret_stdin:
        try:
            check_imported_secret(secret)
        except ValueError as error:
            fail(str(error), 2)
    services = _services(database, environment)
    if not services.clients.replace_secret(client_id, secret):
        fail(f"no client {client_id}")
    _record(services, audit.CLIENT_SECRET_ROTATED, client_id=client_id)
    typer.echo(f"client {client_id}: secret replaced")
    if not secret_stdin:
        typer.echo(f"client_secret: {secret}\n(shown once: only its digest is stored)")


# --- users -------------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="command://name, rivermine://name, or a bare platform name")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    tenant: Annotated[str | None, typer.Option(help="The account's tenant code")] = None,
    multitenant: Annotated[bool, typer.Option(help="May act for more than one tenant")] = False,
    domain: Annotated[str | None, typer.Option(help="The account's domain")] = None,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Add an account; the password comes from standard input or a prompt."""
    from .storage.accounts import AccountExists

    parsed = _username(username)
    settings = settings_from(database_url=database, environment=environment)
    if parsed.source_system not in settings.source_systems:
        fail(f"source system {parsed.source_system!r} is not enabled (MOBPROC_SOURCE_SYSTEMS)", 2)
    password = read_secret("Password", password_stdin, confirm=True)
    services = _services(database, environment)
    try:
        services.accounts.add_account(
            parsed, services.hasher.hash(password), tenant=tenant, multitenant=multitenant, domain=domain
        )
    except AccountExists:
        fail(f"account {parsed} exists already")
    _record(services, audit.ACCOUNT_ADDED, subject=str(parsed),
            detail=f"tenant={tenant or '-'} multitenant={str(multitenant).lower()}")
    typer.echo(f"account {parsed} added")


@user_app.command("list")
def user_list(
    json_output: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """List the accounts of this environment."""
    accounts = _services(database, environment).accounts.list_accounts()
    rows = [
        {"username": str(Username(a.source_system, a.name)), "tenant": a.tenant, "multitenant": a.multitenant,
         "domain": a.domain, "locked_until": _iso(a.locked_until) if (a.locked_until or 0) > time.time() else None}
        for a in accounts
    ]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        locked = f"  locked until {row['locked_until']}" if row["locked_until"] else ""
        multitenant = str(row["multitenant"]).lower()
        typer.echo(f"{row['username']}  tenant={row['tenant'] or '-'}  multitenant={multitenant}{locked}")


@user_app.command("remove")
def user_remove(username: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Remove an account; every grant and token it holds ends with it."""
    parsed = _username(username)
    services = _services(database, environment)
    if not services.accounts.remove_account(parsed):
        fail(f"no account {parsed}")
    _record(services, audit.ACCOUNT_REMOVED, subject=str(parsed), detail="its grants and tokens removed")
    typer.echo(f"account {parsed} removed")


@user_app.command("set-password")
def user_set_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Set a new password; every grant made with the old one is revoked."""
    parsed = _username(username)
    password = read_secret("Password", password_stdin, confirm=True)
    services = _services(database, environment)
    if not services.accounts.set_password_hash(parsed, services.hasher.hash(password)):
        fail(f"no account {parsed}")
    _record(services, audit.PASSWORD_SET, subject=str(parsed), detail="its grants revoked")
    typer.echo(f"account {parsed}: password set, its grants revoked")


@user_app.command("unlock")
def user_unlock(username: str, database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """End a lockout now and forget the account's failed logins."""
    parsed = _username(username)
    services = _services(database, environment)
    if not services.accounts.unlock(parsed):
        fail(f"no account {parsed}")
    _record(services, audit.ACCOUNT_UNLOCKED, subject=str(parsed))
    typer.echo(f"account {parsed} unlocked")


# --- audit -------------------------------------------------------------------------------


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    subject: Annotated[str | None, typer.Option(help="Only events about this subject (username or client id)")] = None,
    event: Annotated[str | None, typer.Option(help="Only events of this kind (token_issued, login_failed…)")] = None,
    limit: Annotated[int, typer.Option(help="At most this many of the latest events", min=1)] = 1000,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Read the audit trail, oldest first. It holds no secret: tokens appear as digest prefixes."""
    start = _since(since) if since else None
    events = _services(database, environment).audit.events(since=start, subject=subject, event=event, limit=limit)
    if json_output:
        rows = [{"at": _iso(e.at), **{k: v for k, v in asdict(e).items() if k != "at"}} for e in events]
        typer.echo(json.dumps(rows, indent=2))
        return
    for e in events:
        typer.echo(f"{_iso(e.at)} {format_line(e)}")


# --- db ----------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Bring the schema to the current version (the server also does this on start)."""
    _services(database, environment)
    typer.echo("database schema is current")


@db_app.command("cleanup")
def db_cleanup(
    batch: Annotated[int, typer.Option(min=10, max=100_000, help="Rows deleted per transaction")] = 1000,
    pause: Annotated[float, typer.Option(min=0, help="Seconds to wait between batches")] = 0.0,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Delete expired tokens and finished grants in small batches (token traffic goes on)."""
    from .storage.housekeeping import cleanup

    services = _services(database, environment)
    cleaned = cleanup(services.database, batch=batch, pause=pause)
    typer.echo(
        f"deleted {cleaned.access_tokens} access tokens, {cleaned.refresh_tokens} refresh tokens, "
        f"{cleaned.grants} grants"
    )


# --- keys --------------------------------------------------------------------------------


def _key_rows(services) -> list[dict]:  # noqa: ANN001
    import time

    now = time.time()
    rows = []
    for record in services.keys.records():
        if record.retired_at is None:
            state = "active"
        elif record.published_at(now):
            state = "retired"
        else:
            state = "expired"
        rows.append({
            "kid": record.kid,
            "alg": record.alg,
            "state": state,
            "created_at": _iso(record.created_at),
            "published_until": _iso(record.not_after) if record.not_after else None,
            "private_key": "erased" if record.private_key is None else "encrypted" if record.encrypted else "unencrypted",
        })
    return rows


@keys_app.command("list")
def keys_list(
    json_output: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """List the signing keys of this environment: the active one, the retired ones still
    published (until their last token expires), and the expired ones."""
    rows = _key_rows(_services(database, environment))
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no signing key yet (one is made on first start with MOBPROC_ACCESS_TOKEN_FORMAT=jwt)")
    for row in rows:
        until = f"  published until {row['published_until']}" if row["state"] == "retired" else ""
        typer.echo(f"{row['kid']}  {row['alg']}  {row['state']}  created {row['created_at']}{until}"
                   f"  private key {row['private_key']}")


@keys_app.command("rotate")
def keys_rotate(database: DatabaseOption = None, environment: EnvironmentOption = None) -> None:
    """Make a new signing key active at once (MOBPROC_SIGNING_ALGORITHM); the old one keeps
    verifying until every token it signed has expired, then leaves the JWKS."""
    from .domain.signing_keys import SigningKeyUnavailable
    from .storage.database import DatabaseUnavailable

    services = _services(database, environment)
    previous = next((r for r in services.keys.records() if r.retired_at is None), None)
    try:
        new = services.keys.rotate()
    except (SigningKeyUnavailable, DatabaseUnavailable) as error:
        fail(f"rotation failed: {error}")
    typer.echo(f"signing key {new.kid} ({new.alg}) is active")
    if previous is not None:
        retired = next((r for r in services.keys.records() if r.kid == previous.kid), None)
        until = _iso(retired.not_after) if retired and retired.not_after else "its tokens expire"
        typer.echo(f"signing key {previous.kid} is retired: published until {until}, its private key erased")


# --- token (the client side) ------------------------------------------------------------


@app.command()
def token(
    client_id: Annotated[str, typer.Option(help="Your client application's id")],
    username: Annotated[str | None, typer.Option(help="Service account; omit for client_credentials")] = None,
    endpoint: Annotated[
        str, typer.Option(help="production, qa, a token URL or a base URL")
    ] = "http://127.0.0.1:9031",
    scope: Annotated[str | None, typer.Option(help="Scope to ask for")] = "MOBPROC",
    refresh_token_stdin: Annotated[
        bool, typer.Option("--refresh-token-stdin", help="Refresh: read the client secret, then the refresh token")
    ] = False,
) -> None:
    """Request a token as the seed does; the client secret (then the password or refresh
    token) are read from standard input, one a line, or prompted for."""
    from .sdk import TokenClient, TokenError

    interactive = sys.stdin.isatty()
    secret = read_secret("Client secret", not interactive)
    client = TokenClient(endpoint, client_id, secret)
    try:
        if refresh_token_stdin:
            result = client.refresh(read_secret("Refresh token", True), scope=None)
        elif username:
            result = client.password(username, read_secret("Password", not interactive), scope=scope)
        else:
            result = client.client_credentials(scope=scope)
    except TokenError as error:
        fail(str(error))
    except Exception as error:  # noqa: BLE001 - a network failure is a message, not a trace
        fail(f"cannot reach {client.url}: {type(error).__name__}")
    typer.echo(json.dumps(result.as_dict(), indent=1))


def main() -> None:
    app()
