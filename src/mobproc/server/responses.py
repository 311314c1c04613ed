"""Every answer's JSON, and the one place where errors become HTTP responses."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

from .. import telemetry
from ..domain.identities import SourceUnavailable
from ..domain.passwords import HashingCapacityExceeded
from ..domain.signing_keys import SigningKeyUnavailable
from ..oauth2.errors import OAuth2Error, TemporarilyUnavailableError
from ..storage.database import DatabaseUnavailable

log = logging.getLogger("mobproc.server")

# RFC 6749 §5.1: "The authorization server MUST include the HTTP "Cache-Control" response
# header field with a value of "no-store" in any response containing tokens" (and the
# errors too: a cache must not keep an answer about credentials).
_NO_STORE_JSON = ((b"content-type", b"application/json"), (b"cache-control", b"no-store"), (b"pragma", b"no-cache"))
# Starlette's JSONResponse encoding (compact, UTF-8, no NaN), with one encoder for every answer
# instead of a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


class NoStoreJSONResponse(JSONResponse):
    """A JSON answer that no cache may keep: every token endpoint's answer, errors included.
    Its headers are built directly, not through Response's generic merging (which lowercases
    and searches them on every answer), a measurable part of an introspection (README, Performance)."""

    def __init__(self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.status_code, self.background = status_code, None
        self.body = _encode(content).encode()
        self.raw_headers = [*_NO_STORE_JSON, (b"content-length", str(len(self.body)).encode())]
        if headers:
            self.raw_headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


def json_response(
    body: dict[str, Any], status_code: int = 200, headers: Mapping[str, str] | None = None
) -> NoStoreJSONResponse:
    return NoStoreJSONResponse(body, status_code, headers)


def public_json_response(body: dict[str, Any], max_age: int) -> JSONResponse:
    """A public document (metadata, JWKS): no credential in it, so caches may keep it a while."""
    return JSONResponse(body, headers={"Cache-Control": f"public, max-age={max_age}"})


def error_response(error: BaseException, retry_after: int = 1) -> NoStoreJSONResponse:
    """Map any exception to its JSON answer: an RFC error as the RFC says, a failing database
    (or a signing key that cannot be read) as 503 with Retry-After, and anything else as a 500
    whose details stay in the log."""
    if isinstance(error, DatabaseUnavailable):
        log.warning("database unavailable: %s", error)
        telemetry.DATABASE_ERRORS.inc()
        error = TemporarilyUnavailableError(headers={"Retry-After": str(retry_after)})
    elif isinstance(error, SigningKeyUnavailable):
        log.error("signing key unavailable: %s", error)
        error = TemporarilyUnavailableError(headers={"Retry-After": str(retry_after)})
    elif isinstance(error, SourceUnavailable):
        # CONTRACT §5b: the password was not checked, so it is never called wrong; the
        # client may retry once the directory answers (or its backoff ends).
        log.warning("identity source %s unavailable: %s", error.source_system, error)
        telemetry.labelled(telemetry.SOURCE_UNAVAILABLE, error.source_system or "-", error.kind).inc()
        wait = max(retry_after, math.ceil(error.retry_after or 0))
        error = TemporarilyUnavailableError(
            "The identity source cannot be reached; retry later", headers={"Retry-After": str(wait)}
        )
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
