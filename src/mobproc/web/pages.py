"""Server-rendered pages: Jinja2 templates (autoescaped), one stylesheet, no script.

Every page says its own Content-Security-Policy: nothing but this origin's stylesheet, never
framed (``frame-ancestors 'none'``, clickjacking), forms posted only here and, since a form's
answer may redirect to the client, to that client's redirect URI (browsers check
``form-action`` along the redirects that follow a form).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

ASSETS_PATH = "/as/assets"
_TEMPLATES = Environment(
    loader=FileSystemLoader(str(resources.files("mobproc.web") / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
STYLESHEET = (resources.files("mobproc.web") / "assets" / "mobproc.css").read_bytes()
# A form's answer may redirect to the client's redirect URI: its origin is added per page.
_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'; "
           "form-action 'self'")


def page_policy(form_targets: Iterable[str] = (), *, scripts: bool = False) -> str:
    """``scripts``: the console's pages, which run this origin's script and read its event
    streams (never inline script, never another origin's)."""
    policy = " ".join([_POLICY, *form_targets])
    return policy + "; script-src 'self'; connect-src 'self'" if scripts else policy


# Never cached (a page holds a CSRF token), never framed by a browser that predates CSP 2.
PAGE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache", "X-Frame-Options": "DENY"}


def render(template: str, context: Mapping[str, Any], *, status: int = 200, form_targets: Iterable[str] = (),
           headers: Mapping[str, str] | None = None, scripts: bool = False) -> HTMLResponse:
    body = _TEMPLATES.get_template(template).render(assets=ASSETS_PATH, **context)
    policy = page_policy(form_targets, scripts=scripts)
    return HTMLResponse(body, status, headers={**PAGE_HEADERS, "Content-Security-Policy": policy, **(headers or {})})


def error_page(title: str, message: str, status: int, *, retry_after: int | None = None) -> HTMLResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return render("error.html", {"title": title, "message": message, "retry_after": retry_after}, status=status,
                  headers=headers)


async def stylesheet(request: Request) -> Response:
    if request.method not in ("GET", "HEAD"):
        return error_page("Not allowed", "This address only serves a stylesheet.", 405)
    return Response(STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=86400"})
