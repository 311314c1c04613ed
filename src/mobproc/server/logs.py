"""Logging configuration for ``mobproc serve``: plain lines, or one JSON object a line (the
formatters live in :mod:`mobproc.log_lines`, beside the writer of the access and audit lines)."""

from __future__ import annotations

import logging
from typing import Any

from ..log_lines import JsonFormatter, PlainFormatter


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
