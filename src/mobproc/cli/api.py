"""``mobproc api``: one call of the MOBPROC v1 API for people who use curl today, the token got
and the documented headers set for them, the answer's JSON printed.

Secrets never come from argv: the client secret from MOBPROC_CLIENT_SECRET, the password from
MOBPROC_PASSWORD, else each from standard input (one a line, the secret first) or a hidden
prompt. A body (``--data @-``) is the rest of standard input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from ._common import fail, read_secret
from .token import OK, REFUSED, UNAVAILABLE, UNREACHABLE, USAGE, explain

app = typer.Typer()

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
STDIN = "@-"


@app.command()
def api(
    method: Annotated[str, typer.Argument(help="GET, POST, PUT, PATCH or DELETE", show_default=False)],
    path: Annotated[str, typer.Argument(help="Under the API: /me, '/orders?limit=5', /orders/12/approval",
                                        show_default=False)],
    client_id: Annotated[str, typer.Option(help="Your client application's id (the client_id header too)")],
    tenant: Annotated[str, typer.Option(help="X-TNGO-TENANT: the tenant the call is for")],
    username: Annotated[
        str | None, typer.Option(help="command://name, rivermine://name or a bare name; omit for client credentials")
    ] = None,
    endpoint: Annotated[str, typer.Option(help="production, qa, a base URL or a token URL")] = "http://127.0.0.1:9031",
    api_url: Annotated[str | None, typer.Option(
        help="The API's base URL, where it is not beside the token endpoint (ENDPOINT/mobproc/v1)",
        show_default=False)] = None,
    data: Annotated[str | None, typer.Option(
        "--data", "-d", help="A JSON body: inline, @FILE, or @- (standard input, after the secrets)",
        show_default=False)] = None,
    employee_id: Annotated[str | None, typer.Option(help="X-TNGO-CONTEXT-EMPLOYEEID: act for this employee",
                                                    show_default=False)] = None,
    company_employee_id: Annotated[str | None, typer.Option(
        help="X-TNGO-CONTEXT-COMPANYEMPLOYEEID: act for this employee (the customer's id)",
        show_default=False)] = None,
    activity_id: Annotated[str | None, typer.Option(help="X-TNGO-CONTEXT-ACTIVITYID: a tag for related calls",
                                                    show_default=False)] = None,
    correlation_id: Annotated[str | None, typer.Option(
        help="X-TNGO-CONTEXT-CORRELATIONID: a tag for this call (default: a fresh one)", show_default=False)] = None,
    scope: Annotated[str, typer.Option(help="Scope to ask for")] = "MOBPROC",
    timeout: Annotated[float, typer.Option(help="Seconds one call may take, retries included")] = 10.0,
) -> None:
    """Call the MOBPROC v1 API with a fresh token and its headers (X-TNGO-TENANT, client_id, the context ones) and print the answer's JSON.

    Secrets: MOBPROC_CLIENT_SECRET and MOBPROC_PASSWORD, else one a line on standard input (the client secret first), else a hidden prompt; never arguments, which ps shows.

    Exit codes: 0 done; 1 refused (a 4xx: its body is printed, the error on one line); 2 usage; 3 server unreachable; 4 server unable to answer now (5xx), or not the API.
    """
    from ..sdk import ApiError, Retry, TokenError
    from ..sdk import api_url as api_beside
    from ..sdk import username as checked_username
    from ..sdk._api import ApiEndpoint, ApiSession, Context

    verb = method.upper()
    if verb not in METHODS:
        fail(f"METHOD must be one of {', '.join(METHODS)}, not {method!r}", USAGE)
    body = None if data is None or data == STDIN else _json(data)
    try:  # checked before any secret is asked for
        Context(tenant, employee_id, company_employee_id, None, activity_id, correlation_id)
        ApiEndpoint(api_url or api_beside(endpoint), client_id, timeout).url(path)
        if username is not None:
            checked_username(username)
        secret = read_secret("Client secret", False, env="MOBPROC_CLIENT_SECRET")
        password = read_secret("Password", False, env="MOBPROC_PASSWORD") if username else None
        session = ApiSession(endpoint, client_id, secret, tenant=tenant, username=username, password=password,
                             api_url=api_url, scope=scope, retry=Retry(deadline=timeout), timeout=timeout)
    except ValueError as error:
        fail(str(error), USAGE)
    if data == STDIN:
        body = _json(sys.stdin.read(), "standard input")
    call = session.with_context(employee_id=employee_id, company_employee_id=company_employee_id,
                                activity_id=activity_id, correlation_id=correlation_id)
    try:
        answer = call.request(verb, path, json=body)
    except TokenError as error:
        explain(error, "password" if username else "client_credentials", client_id, session.session.client.url)
    except ApiError as error:
        refused(error)
    finally:
        session.close()
    if answer is not None:
        typer.echo(json.dumps(answer, indent=1))
    raise typer.Exit(OK)


def refused(error: Any) -> NoReturn:
    """The API's error body on standard output, as any answer; one line on standard error."""
    from ..sdk import ApiUnreachable, ServerError, ServiceUnavailable, UnexpectedAnswer

    if error.body is not None:
        typer.echo(json.dumps(error.body, indent=1))
    code = (UNREACHABLE if isinstance(error, ApiUnreachable)
            else UNAVAILABLE if isinstance(error, ServerError | ServiceUnavailable | UnexpectedAnswer) else REFUSED)
    hint = {
        UNREACHABLE: "check --endpoint (or --api-url) and that the server runs",
        UNAVAILABLE: "the API cannot answer now" + (f": retry in {error.retry_after:.0f} s" if error.retry_after else
                                                     ""),
    }.get(code, "")
    if error.status_code == 401:
        hint = "the API refused the token: check that --api-url belongs to the --endpoint that issued it"
    fail(f"{error}" + (f"; {hint}" if hint else ""), code)


def _json(data: str, where: str | None = None) -> Any:
    """``--data``: JSON, or ``@FILE`` holding it."""
    if where is None and data.startswith("@"):
        where = data[1:]
        try:
            data = Path(where).read_text()
        except OSError as error:
            fail(f"--data {data}: {error.strerror or error}", USAGE)
    try:
        return json.loads(data)
    except ValueError as error:
        fail(f"--data is not JSON ({where or 'inline'}: {error})", USAGE)
