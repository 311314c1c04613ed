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

import asyncio
import logging
import time
from collections.abc import Collection
from functools import lru_cache
from urllib.parse import parse_qsl, quote

from starlette.types import Scope

from .logs import JsonFormatter, PlainFormatter

log = logging.getLogger("mobproc.access")
LINE = '%s "%s %s" %d %.1fms'
LINE_FORMATTERS = (PlainFormatter, JsonFormatter)
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

    The lines of the answers the event loop sends in one turn are written together, from a
    callback queued behind them, not each as its answer leaves: a line through the logging
    module costs more when it runs once between two requests' code than when that code is warm
    (README, Performance). Under mobproc's own log set-up they bypass the module's
    records and leave in one write (:meth:`write`). A line is late by at most that turn of
    the loop (a few milliseconds), and so is its time; a process killed with SIGKILL loses at
    most that turn's lines, and a process stopped as usual writes them all.
    """

    def __init__(self, grant_types: Collection[str] = ()) -> None:
        # uvicorn's own access log prints the query string verbatim, secrets and all.
        logging.getLogger("uvicorn.access").disabled = True
        self._grant_types = frozenset(grant_types)
        self._pending: list[tuple[str, str, str, int, float]] = []

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        client = scope.get("client") or ("-", 0)
        target = redacted_target(scope["path"], scope.get("query_string", b""), self._grant_types)
        self._pending.append((client[0], scope["method"], target, status, seconds * 1000))
        if len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.write)
            except RuntimeError:  # not on an event loop: no turn to wait for
                self.write()

    def write(self) -> None:
        """Log the lines waiting for the end of the turn."""
        lines, self._pending = self._pending, []
        if not log.isEnabledFor(logging.INFO):
            return
        handler = _sole_handler()
        if handler is None:
            for line in lines:
                log.info(LINE, *line)
            return
        # mobproc's own set-up (logs.log_config): the formatter makes each line as it would of
        # a record, and the turn's lines leave in one write (through the logging module a line
        # was a measurable part of an introspection: README, Performance).
        created, name, formatter = time.time(), log.name, handler.formatter
        text = "".join(formatter.line(created, "INFO", name, LINE % line) + "\n" for line in lines)
        handler.acquire()
        try:
            handler.stream.write(text)
            handler.stream.flush()
        except Exception:  # as Handler.emit does: report it, never raise into the loop
            handler.handleError(logging.makeLogRecord({"name": name, "msg": "access log lines"}))
        finally:
            handler.release()


def _sole_handler() -> logging.StreamHandler | None:
    """The one stream handler with one of mobproc's formatters that every access line reaches,
    with no filter on the way; None for any other logging set-up, which gets records."""
    found, logger = None, log
    while logger is not None:
        if logger.filters or logger.disabled:
            return None
        for handler in logger.handlers:
            if found is not None or handler.filters or handler.level > logging.INFO:
                return None
            if not isinstance(handler, logging.StreamHandler) or not isinstance(handler.formatter, LINE_FORMATTERS):
                return None
            found = handler
        logger = logger.parent if logger.propagate else None
    return found
