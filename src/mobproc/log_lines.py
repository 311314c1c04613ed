"""Log lines: mobproc's two formats, and the lines an event loop's turn makes written together.

A line through the logging module costs a record, its formatting and a write of its own, and
more when it runs once between two requests' code than when that code is warm (README,
Performance: the access line, the audit line). :class:`TurnLines` gathers the lines a turn of
the event loop makes and writes them after it: under mobproc's own set-up (one stream handler
with one of these formatters) each is made by the formatter's :meth:`line` without a record,
and the turn's lines leave in one write; under any other set-up (a test's capture, an
operator's dictConfig) they go through the logging module as records.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any

# The attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class _SecondsText:
    """A time's text by ``strftime``, made once a second instead of once a line (strftime was a
    fifth of an access line's cost). One attribute: threads swap it whole."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, created: float) -> str:
        second = int(created)
        cached, text = self._second
        if cached != second:
            text = time.strftime(self.fmt, logging.Formatter.converter(second))
            self._second = (second, text)
        return text


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._time = _SecondsText("%Y-%m-%dT%H:%M:%S%z")

    def format(self, record: logging.LogRecord) -> str:
        entry = self._entry(record.created, record.levelname, record.name, record.getMessage())
        entry.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)

    def line(self, created: float, level: str, name: str, message: str) -> str:
        """What :meth:`format` makes of a record with these fields and nothing else."""
        return json.dumps(self._entry(created, level, name, message))

    def _entry(self, created: float, level: str, name: str, message: str) -> dict[str, Any]:
        return {"time": self._time(created), "level": level.lower(), "logger": name, "message": message}


class PlainFormatter(logging.Formatter):
    """``2026-12-01 04:25:22,123 INFO mobproc.access: ...``: the default formatter's line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._time = _SecondsText(self.default_time_format)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return self.default_msec_format % (self._time(record.created), record.msecs)

    def line(self, created: float, level: str, name: str, message: str) -> str:
        """What :meth:`format` makes of a record with these fields and nothing else."""
        msecs = int((created - int(created)) * 1000) + 0.0  # as LogRecord computes it
        return f"{self.default_msec_format % (self._time(created), msecs)} {level} {name}: {message}"


LINE_FORMATTERS = (PlainFormatter, JsonFormatter)


class TurnLines:
    """INFO lines of ``logger``, written together once the event loop's turn that made them is
    done. A line is late by at most that turn (a few milliseconds), and so is its time; a
    process killed with SIGKILL loses at most that turn's lines, and a process stopped as usual
    writes them all. Off an event loop (a worker thread, a command) a line is written at once.
    Each thread keeps its own lines: a loop's are never taken by another thread's write."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._local = threading.local()

    def add(self, message: str) -> None:
        local = self._local
        pending = getattr(local, "pending", None)
        if pending is not None:
            if not local.loop.is_closed():  # the turn's write is queued already
                pending.append(message)
                return
            self.write()  # a loop closed before its write ran: its lines are not lost with it
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop: no turn to wait for
            self._write([message])
            return
        local.pending, local.loop = [message], loop
        loop.call_soon(self.write)

    def write(self) -> None:
        """Write the lines waiting for the end of this thread's turn."""
        lines, self._local.pending = getattr(self._local, "pending", None), None
        if lines:
            self._write(lines)

    def _write(self, lines: list[str]) -> None:
        log = self._log
        if not log.isEnabledFor(logging.INFO):
            return
        found = _sole_handler(log)
        if found is None:
            for line in lines:
                log.info("%s", line)
            return
        handler, formatter = found
        created, name = time.time(), log.name
        text = "".join(formatter.line(created, "INFO", name, line) + "\n" for line in lines)
        handler.acquire()
        try:
            handler.stream.write(text)
            handler.stream.flush()
        except Exception:  # as Handler.emit does: report it, never raise into the loop
            handler.handleError(logging.makeLogRecord({"name": name, "msg": "log lines"}))
        finally:
            handler.release()


def _sole_handler(logger: logging.Logger) -> tuple[logging.StreamHandler[Any], PlainFormatter | JsonFormatter] | None:
    """The one stream handler with one of mobproc's formatters that every line of ``logger``
    reaches, with no filter on the way, and its formatter; None for any other logging set-up,
    which gets records."""
    found: tuple[logging.StreamHandler[Any], PlainFormatter | JsonFormatter] | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return None
        for handler in current.handlers:
            if found is not None or handler.filters or handler.level > logging.INFO:
                return None
            formatter = handler.formatter
            if not isinstance(handler, logging.StreamHandler) or not isinstance(formatter, LINE_FORMATTERS):
                return None
            found = handler, formatter
        current = current.parent if current.propagate else None
    return found
