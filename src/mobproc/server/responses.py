"""Every answer's JSON, and the one place where errors become HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import JSONResponse

from ..domain.signing_keys import SigningKeyUnavailable
from ..domain.passwords import HashingCapacityExceeded
from ..oauth2.errors import OAuth2Error, TemporarilyUnavailableError
from ..storage.database import DatabaseUnavailable
from . import metrics

log = logging.getLogger("mobproc.server")

# RFC 6749 §5.1: "The authorization server MUST include the HTTP "Cache-Control" response
# header field with a value of "no-store" in any response containing tokens" (and the
# errors too: a cache must not keep an answer about credentials).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def json_response(body: dict[str, Any], status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers={**NO_STORE, **(headers or {})})


def public_json_response(body: dict[str, Any], max_age: int) -> JSONResponse:
    """A public document (metadata, JWKS): no credential in it, so caches may keep it a while."""
    return JSONResponse(body, headers={"Cache-Control": f"public, max-age={max_age}"})


def error_response(error: BaseException, retry_after: int = 1) -> JSONResponse:
    """Map any exception to its JSON answer: an RFC error as the RFC says, a failing database
    (or a signing key that cannot be read) as 503 with Retry-After, and anything else as a 500
    whose details stay in the log."""
    if isinstance(error, DatabaseUnavailable):
        log.warning("database unavailable: %s", error)
        metrics.DATABASE_ERRORS.inc()
        error = TemporarilyUnavailableError(headers={"Retry-After": str(retry_after)})
    elif isinstance(error, SigningKeyUnavailable):
        log.error("signing key unavailable: %s", error)
        error = TemporarilyUnavailableError(headers={"Retry-After": str(retry_after)})
    elif isinstance(error, HashingCapacityExceeded):
        # Admission control refused to queue more password checks: a fast answer that the
        # client may retry, instead of a slow one for everybody.
        error = TemporarilyUnavailableError(
            "Too many password checks in progress; retry later", headers={"Retry-After": str(retry_after)}
        )
    if isinstance(error, OAuth2Error):
        return json_response(error.body(), error.status_code, error.headers)
    log.error("unexpected error: %s", type(error).__name__, exc_info=error)
    return json_response({"error": "server_error", "error_description": "Internal error"}, 500)
