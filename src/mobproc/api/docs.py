"""``/docs``: a browsable page of the API's OpenAPI description, Swagger UI's, whose script and
style are served from here (the swagger-ui-py package ships them): no CDN, since there may be
no internet where the sandbox runs. The page runs no inline script, so its Content-Security-
Policy can allow scripts of this origin alone."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from .errors import not_found

PREFIX = "/docs"
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
# Swagger UI sets style attributes and shows images given as data: URLs.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'")
router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>MOBPROC v1 API (mobproc)</title>
<link rel="stylesheet" href="{root}/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{root}/docs/swagger-ui-bundle.js"></script>
<script src="{root}/docs/start.js"></script>
</body>
</html>
"""

_START = """window.ui = SwaggerUIBundle({url: "%s/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  persistAuthorization: false, tryItOutEnabled: false});
"""


@cache
def _asset(name: str) -> bytes:
    import swagger_ui

    return (Path(swagger_ui.__file__).parent / "static" / name).read_bytes()


def _root(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


@router.get(PREFIX)
def page(request: Request) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(root=_root(request)), headers={"Content-Security-Policy": PAGE_POLICY})


@router.get(PREFIX + "/start.js")
def start(request: Request) -> Response:
    return Response(_START % _root(request), media_type="text/javascript")


@router.get(PREFIX + "/{name}")
def asset(name: str) -> Response:
    if name not in ASSETS:
        raise not_found("document", name)
    return Response(_asset(name), media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})
