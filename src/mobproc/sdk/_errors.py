"""What a token endpoint can answer instead of a token: one class per RFC 6749 §5.2 error code.

    "The authorization server responds with an HTTP 400 (Bad Request) status code (unless
    specified otherwise) and includes the following parameters with the response: error
    REQUIRED. A single ASCII error code from the following: invalid_request, invalid_client,
    invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope"
    (RFC 6749 §5.2)

plus ``slow_down`` and ``temporarily_unavailable`` (429 and 503 with ``Retry-After``, as
mobproc and PingFederate send them), an answer that is not a token endpoint's at all, and a
token endpoint that could not be reached.

>>> try:                                                    # doctest: +SKIP
...     session.access_token()
... except InvalidClient as error:
...     print(error.status_code, error.error, error.description)
401 invalid_client Invalid client or client credentials
"""

from __future__ import annotations

from typing import ClassVar

# A description is the server's text: kept short and printable, so that a confused or
# hostile server cannot flood a log line or forge another one through it.
_MAX_DESCRIPTION = 200


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:_MAX_DESCRIPTION])


class MobprocError(Exception):
    """Every failure the SDK raises: :class:`TokenError` (no token) or
    :class:`~mobproc.ApiError` (the MOBPROC API refused or failed a call). ``retry_after``:
    the seconds the server asked to wait (429, 503), if it did."""

    retry_after: float | None = None


class TokenError(MobprocError):
    """No token: ``error`` is the RFC 6749 §5.2 code (or ``invalid_response``,
    ``unreachable``), ``description`` the server's ``error_description``, ``status_code`` the
    HTTP status (``None`` when no answer came), ``retry_after`` the seconds the server asked
    for (429, 503). Catch this class for every failure; the subclasses say which."""

    code: ClassVar[str | None] = None

    def __init__(
        self, status_code: int | None, error: str | None = None, description: str = "", *, retry_after: float | None = None
    ) -> None:
        error = error or self.code or "invalid_response"
        super().__init__(status_code, error, description)
        self.status_code, self.error, self.description = status_code, error, _printable(description)
        self.retry_after = retry_after

    def __str__(self) -> str:
        head = f"{self.status_code} {self.error}" if self.status_code is not None else self.error
        return f"{head}: {self.description}" if self.description else head

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_code!r}, {self.error!r}, {self.description!r})"

    def __reduce__(self) -> tuple[object, ...]:
        # copy.copy() and pickle: one failed flight is raised to every caller that waited for it.
        return (type(self), (self.status_code, self.error, self.description), {"retry_after": self.retry_after})


class InvalidRequest(TokenError):
    """A parameter is missing, malformed or repeated (RFC 6749 §5.2): a bug in the caller."""

    code = "invalid_request"


class InvalidClient(TokenError):
    """Client authentication failed: unknown client, wrong secret, or client disabled."""

    code = "invalid_client"


class InvalidGrant(TokenError):
    """Wrong username or password, locked account, or a refresh token that is expired,
    revoked or already used."""

    code = "invalid_grant"


class UnauthorizedClient(TokenError):
    """The client is not allowed this grant type (register it with the grant)."""

    code = "unauthorized_client"


class UnsupportedGrantType(TokenError):
    """The server does not offer this grant type (its metadata lists those it does)."""

    code = "unsupported_grant_type"


class InvalidScope(TokenError):
    """A scope the client may not ask for, or a refresh asking for more than the login got."""

    code = "invalid_scope"


class SlowDown(TokenError):
    """429: the client's (or the address's) budget of failed logins is spent; ``retry_after``."""

    code = "slow_down"


class TemporarilyUnavailable(TokenError):
    """503: the server cannot serve now (database down, password checks at capacity);
    ``retry_after``. The request was not carried out."""

    code = "temporarily_unavailable"


class InvalidResponse(TokenError):
    """An answer that is not a token endpoint's (a proxy's HTML page, a 502, no JSON)."""

    code = "invalid_response"


class EndpointUnreachable(TokenError):
    """No answer came: the connection failed or timed out, or the deadline passed first.
    ``status_code`` is ``None``; ``description`` names the last transport error."""

    code = "unreachable"


class TokenStoreLocked(TokenError):
    """The shared token store stayed locked by another session past the deadline."""

    code = "store_locked"


ERRORS: dict[str, type[TokenError]] = {
    cls.code: cls
    for cls in (
        InvalidRequest, InvalidClient, InvalidGrant, UnauthorizedClient, UnsupportedGrantType, InvalidScope,
        SlowDown, TemporarilyUnavailable, InvalidResponse, EndpointUnreachable,
    )
    if cls.code
}


def error_for(status_code: int | None, error: str, description: str = "", *, retry_after: float | None = None) -> TokenError:
    """The class named after ``error``; an unknown code is the base :class:`TokenError`."""
    return ERRORS.get(error, TokenError)(status_code, error, description, retry_after=retry_after)
