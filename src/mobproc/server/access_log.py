"""The access log, which never prints a secret.

The seed sends client secrets and passwords in the query string, so a plain access log
would write them to disk. Values are masked by the parameter's name, never by what they look
like: a password may be any word, ``password`` or ``true`` among them. The one value printed is
``grant_type``'s, and only when it names a grant this server serves: a client that swaps its
id and secret, or pastes a token into ``scope`` or ``grant_type``, must not leak it either.
Which client and subject made a request is for the audit trail, after authentication has
said that they are what they claim.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from functools import lru_cache
from urllib.parse import parse_qsl, quote

from starlette.types import Scope

from ..log_lines import TurnLines

log = logging.getLogger("mobproc.access")
LINE = '%s "%s %s" %d %.1fms'
# The one parameter whose value may be printed, when it is one of the grant types served.
SHOWN = "grant_type"
# Names are printed only when known: a stray secret can arrive as a name (``?s3cr3t``).
NAMED = frozenset({
    "grant_type", "scope", "client_id", "token_type_hint", "limit", "offset", "confirm", "employee",
    "client_secret", "username", "password", "refresh_token", "token", "access_token", "code",
})


@lru_cache(maxsize=1024)
def _quoted(path: str) -> str:
    # A handful of paths are nearly every request; quoting one anew was a tenth of its line.
    return quote(path, safe="/:@")


def redacted_target(path: str, query: bytes, grant_types: Collection[str] = ()) -> str:
    """``/as/token.oauth2?grant_type=password&password=***``: every value masked but a
    ``grant_type`` that is one of ``grant_types``."""
    if not query:
        return _quoted(path)
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, max_num_fields=100)
    except ValueError:
        return _quoted(path) + "?<unreadable>"
    shown = "&".join(
        f"{name if name in NAMED else '_'}={value if name == SHOWN and value in grant_types else '***'}"
        for name, value in pairs
    )
    return f"{_quoted(path)}?{shown}"


class AccessLog:
    """An :class:`~.observing.AnswerObserver`: a line per answer, in the order of the answers.
    ``grant_types``: the grant types served, the only query values it prints.

    The lines of the answers the event loop sends in one turn are written together after it
    (:class:`~mobproc.log_lines.TurnLines`), not each as its answer leaves: a line through the
    logging module costs more when it runs once between two requests' code than when that code
    is warm (README, Performance).
    """

    def __init__(self, grant_types: Collection[str] = ()) -> None:
        # uvicorn's own access log prints the query string verbatim, secrets and all.
        logging.getLogger("uvicorn.access").disabled = True
        self._grant_types = frozenset(grant_types)
        self._lines = TurnLines(log)

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        client = scope.get("client") or ("-", 0)
        target = redacted_target(scope["path"], scope.get("query_string", b""), self._grant_types)
        self._lines.add(LINE % (client[0], scope["method"], target, status, seconds * 1000))
