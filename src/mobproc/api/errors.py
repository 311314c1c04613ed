"""The API's errors, in the documented body, mapped to HTTP in this one place.

    {"errorCode": "400-region-required", "id": "k3f9q2xv7m", "message": "...", "status": 400}

``id`` is a fresh occurrence id, written to the log line that records the error, so that a
caller's report leads to it. No answer ever carries a stack trace: an unexpected failure is a
500 in the same shape, its trace in the log under the same id.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping

from ..procurement.orders import OrderRejected

log = logging.getLogger("mobproc.api")
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def occurrence_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(10))


class ApiError(Exception):
    """An answer other than 200: ``kind`` completes the errorCode (``400-<kind>``)."""

    def __init__(self, status: int, kind: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.headers = status, kind, message, dict(headers or {})


def bad_request(kind: str, message: str) -> ApiError:
    return ApiError(400, kind, message)


def forbidden(kind: str, message: str) -> ApiError:
    return ApiError(403, kind, message)


def not_found(what: str, key: str) -> ApiError:
    return ApiError(404, f"{what}-not-found", f"No {what} {key!r} here")


def error_body(error: ApiError) -> dict:
    """The documented body; the occurrence is logged with the same id."""
    body = {"errorCode": f"{error.status}-{error.kind}", "id": occurrence_id(), "message": error.message,
            "status": error.status}
    level = logging.ERROR if error.status >= 500 else logging.INFO
    log.log(level, "error %s %s: %s", body["id"], body["errorCode"], error.message)
    return body


def rejected_order_body(rejected: OrderRejected) -> dict:
    """The orders tutorial's "status": "ERROR", with one documented error per problem."""
    errors = []
    for problem in rejected.problems:
        body = {"errorCode": f"400-{problem.kind}", "id": occurrence_id(), "message": problem.message,
                "status": 400, "field": problem.field}
        log.info("error %s %s: %s: %s", body["id"], body["errorCode"], problem.field, problem.message)
        errors.append(body)
    return {"errors": errors, "status": "ERROR"}
