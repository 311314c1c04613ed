"""The access log, which never prints a secret.

The seed sends client secrets and passwords in the query string, so a plain access log
would write them to disk. Every query value is masked unless its name is known harmless.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl, quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("mobproc.access")
SHOWN = frozenset({"grant_type", "scope", "client_id", "token_type_hint", "limit", "offset", "confirm"})
# Names are printed only when known: a stray secret can arrive as a name (``?s3cr3t``).
NAMED = SHOWN | {"client_secret", "username", "password", "refresh_token", "token", "access_token", "code"}


def redacted_target(path: str, query: bytes) -> str:
    """``/as/token.oauth2?grant_type=password&password=***``"""
    if not query:
        return quote(path, safe="/:@")
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, max_num_fields=100)
    except ValueError:
        return quote(path, safe="/:@") + "?<unreadable>"
    shown = "&".join(
        f"{name if name in NAMED else '_'}={quote(value, safe='') if name in SHOWN else '***'}" for name, value in pairs
    )
    return f"{quote(path, safe='/:@')}?{shown}"


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            client = scope.get("client") or ("-", 0)
            log.info(
                '%s "%s %s" %d %.1fms',
                client[0],
                scope["method"],
                redacted_target(scope["path"], scope.get("query_string", b"")),
                status,
                (time.perf_counter() - started) * 1000,
            )
