"""The admin API's errors: one shape, RFC 9457's problem details (answered by :mod:`.app`).

    HTTP/1.1 400 Bad Request
    Content-Type: application/problem+json

    {"type": "urn:mobproc:admin:invalid-field", "title": "Bad Request", "status": 400,
     "detail": "grants: unknown grant type 'pasword'; …", "id": "k3f9q2xv7m",
     "errors": [{"field": "grants", "message": "unknown grant type 'pasword'; …"}]}

``type`` says what went wrong, for programs (the last part: ``invalid-field``, ``unauthorized``,
``forbidden``, ``not-found``, ``exists``, ``precondition-failed``, ``method-not-allowed``,
``unavailable``, ``internal``); ``errors`` names each field of a request that broke a rule;
``id`` is written to the log line of the answer, so that a report leads to it. Never a stack
trace: an unexpected failure is a 500 in the same shape, its trace in the log under its id.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

log = logging.getLogger("mobproc.admin")
PROBLEM = "application/problem+json"
TYPE_PREFIX = "urn:mobproc:admin:"
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


class AdminError(Exception):
    """An answer other than 2xx. ``kind`` completes the problem's type; ``fields``: (field, message)."""

    def __init__(self, status: int, kind: str, detail: str, headers: Mapping[str, str] | None = None,
                 fields: list[tuple[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail
        self.headers, self.fields = dict(headers or {}), fields or []


def problem_body(error: AdminError) -> dict[str, Any]:
    """The problem's body; its occurrence logged with the same id."""
    occurrence = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    body: dict[str, Any] = {"type": TYPE_PREFIX + error.kind, "title": HTTPStatus(error.status).phrase,
                            "status": error.status, "detail": error.detail, "id": occurrence}
    if error.fields:
        body["errors"] = [{"field": name, "message": message} for name, message in error.fields]
    log.log(logging.ERROR if error.status >= 500 else logging.INFO, "problem %s %s %s: %s", occurrence,
            error.status, error.kind, error.detail)
    return body


def invalid(field: str, message: str) -> AdminError:
    return AdminError(400, "invalid-field", f"{field}: {message}", fields=[(field, message)])


def not_found(detail: str) -> AdminError:
    return AdminError(404, "not-found", detail)


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "id"],
    "properties": {
        "type": {"type": "string", "description": "urn:mobproc:admin:<kind>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "id": {"type": "string", "description": "the occurrence, as the server's log names it"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
    },
}
