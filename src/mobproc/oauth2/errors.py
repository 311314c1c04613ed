"""OAuth 2.0 errors, one class per RFC error code.

They are raised anywhere in the protocol and domain layers and turned into the RFC 6749
§5.2 JSON body in exactly one place, :mod:`mobproc.server.responses`.
"""

from __future__ import annotations

import math


class OAuth2Error(Exception):
    """RFC 6749 §5.2: ``{"error": ..., "error_description": ...}``."""

    error: str = "invalid_request"
    status_code: int = 400
    description: str = ""

    def __init__(self, description: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(description or self.description)
        self.description = description or self.description
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


class InvalidRequestError(OAuth2Error):
    """RFC 6749 §5.2 ``invalid_request``: missing, repeated or malformed parameter."""

    error = "invalid_request"


class InvalidClientError(OAuth2Error):
    """RFC 6749 §5.2 ``invalid_client``, always 401 with a Basic challenge.

    RFC 7235 §3.1: "The server generating a 401 response MUST send a WWW-Authenticate header
    field containing at least one challenge applicable to the target resource." RFC 6749 §5.2
    names the scheme the client used when it used the Authorization header; a client that
    posted its credentials, or sent none, is told of the one HTTP authentication scheme the
    endpoint takes (client_secret_basic).
    """

    error = "invalid_client"
    status_code = 401
    description = "Invalid client or client credentials"  # PingFederate's wording
    CHALLENGE = {"WWW-Authenticate": 'Basic realm="mobproc"'}

    def __init__(self) -> None:
        super().__init__(headers=dict(self.CHALLENGE))


class InvalidGrantError(OAuth2Error):
    """RFC 6749 §5.2 ``invalid_grant``: bad resource-owner credentials or refresh token."""

    error = "invalid_grant"


class UnauthorizedClientError(OAuth2Error):
    """RFC 6749 §5.2 ``unauthorized_client``: the client may not use this grant type."""

    error = "unauthorized_client"
    description = "The client is not authorized to use this grant type"


class UnsupportedGrantTypeError(OAuth2Error):
    """RFC 6749 §5.2 ``unsupported_grant_type``."""

    error = "unsupported_grant_type"


class InvalidScopeError(OAuth2Error):
    """RFC 6749 §5.2 ``invalid_scope``."""

    error = "invalid_scope"
    description = "The requested scope(s) must be blank or a subset of the provided scopes."


class TemporarilyUnavailableError(OAuth2Error):
    """The database cannot answer now (RFC 6749 §4.1.2.1's code, served as 503 + Retry-After)."""

    error = "temporarily_unavailable"
    status_code = 503
    description = "The service is temporarily unavailable; retry later"


class SlowDownError(OAuth2Error):
    """Too many failed logins from this client or source address: 429 + Retry-After.

    ``slow_down`` is the token endpoint's registered code for "poll less often" (RFC 8628
    §3.5); it says the same here: this caller, not the server, must back off. (A busy server
    is ``temporarily_unavailable``, 503.)
    """

    error = "slow_down"
    status_code = 429
    description = "Too many failed login attempts; retry later"

    def __init__(self, retry_after: float) -> None:
        super().__init__(headers={"Retry-After": str(max(1, math.ceil(retry_after)))})


class RequestTooLargeError(OAuth2Error):
    error = "invalid_request"
    status_code = 413
    description = "The request body is too large"


class MethodNotAllowedError(OAuth2Error):
    error = "invalid_request"
    status_code = 405

    def __init__(self, allow: str = "POST") -> None:
        super().__init__(f"This endpoint accepts only {allow}", headers={"Allow": allow})
