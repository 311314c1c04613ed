"""Logging configuration for ``mobproc serve``: plain lines, or one JSON object a line."""

from __future__ import annotations

import json
import logging
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


def log_config(log_format: str = "plain") -> dict[str, Any]:
    formatter = {"()": JsonFormatter} if log_format == "json" else {"()": PlainFormatter}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "mobproc": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            # It prints query strings verbatim, secrets included: mobproc.access replaces it.
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }


def lean_records() -> None:
    """Log records without what neither format prints: thread, process and caller. Two
    lines a token request (access and audit) made these lookups a tenth of its time (the
    logging HOWTO's own "Optimization" list)."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # noqa: SLF001 - the HOWTO's switch for the caller lookup
