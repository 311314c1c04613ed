"""What the MOBPROC v1 API answers instead of what was asked, as typed errors: its documented
error body, one class per documented status.

    {"errorCode": "400-region-required", "id": "k3f9q2xv7m", "message": "...", "status": 400}

``id`` is the occurrence's own id, which the server's log line of it carries too: quote it (and
the call's correlation id) when you report a problem. A rejected order is ``400`` with
``"status": "ERROR"`` and one such body per problem, each naming its ``field``
(:class:`OrderRejected`).

>>> try:                                                    # doctest: +SKIP
...     client.order("999999")
... except NotFound as error:
...     print(error.status_code, error.error_code, error.id)
404 404-order-not-found k3f9q2xv7m
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ._errors import MobprocError, _printable


class ApiError(MobprocError):
    """The API refused or failed a call: ``status_code`` (``None`` when no answer came),
    ``error_code`` (``"404-order-not-found"``), ``id`` (the occurrence id, in the server's log
    too), ``message`` (what to fix), ``correlation_id`` (the call's
    ``X-TNGO-CONTEXT-CORRELATIONID``), ``retry_after`` (429, 503) and ``body`` (the answer's
    JSON, when there was some). Catch this class for every refusal of the API; the subclasses
    say which."""

    status: ClassVar[int | None] = None

    def __init__(
        self, status_code: int | None, error_code: str = "", message: str = "", *, id: str | None = None,  # noqa: A002
        correlation_id: str | None = None, retry_after: float | None = None, body: Any = None,
    ) -> None:
        super().__init__(status_code, error_code, message)
        self.status_code, self.error_code, self.message = status_code, _printable(error_code), _printable(message)
        self.id = None if id is None else _printable(id)
        self.correlation_id, self.retry_after, self.body = correlation_id, retry_after, body

    def __str__(self) -> str:
        head = " ".join(str(part) for part in (self.status_code, self.error_code) if part)
        tail = ", ".join(f"{name} {value}" for name, value in (("id", self.id), ("correlation", self.correlation_id))
                         if value)
        return f"{head}: {self.message}" + (f" ({tail})" if tail else "")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_code!r}, {self.error_code!r}, {self.message!r}, id={self.id!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.status_code, self.error_code, self.message), dict(self.__dict__))


class BadRequest(ApiError):
    """400: a header, parameter or body the API cannot take (``message`` names the field)."""

    status = 400


class Unauthorized(ApiError):
    """401: the access token was refused, and a fresh one too (RFC 6750 §3.1)."""

    status = 401


class Forbidden(ApiError):
    """403: the tenant, the ``client_id``, the context employee, a missing scope, or an
    action only an approver may take."""

    status = 403


class NotFound(ApiError):
    """404: no such record here, or not one the account may see."""

    status = 404


class ServerError(ApiError):
    """500 (or another 5xx): the call failed on the server; report the ``id``."""

    status = 500


class ServiceUnavailable(ApiError):
    """503 or 429: the API cannot answer now (``retry_after``), or a gateway's 502 or 504."""

    status = 503


class UnexpectedAnswer(ApiError):
    """An answer that is not the API's: not JSON (a proxy's page), not in the documented error
    body, or a shape the models do not know (``body`` has it)."""

    def __init__(self, status_code: int | None, error_code: str = "unexpected-answer", message: str = "",
                 **known: Any) -> None:
        super().__init__(status_code, error_code, message, **known)


class ApiUnreachable(ApiError):
    """No answer came: the connection failed or timed out, or the deadline passed first.
    ``status_code`` is ``None``; the httpx error is the ``__cause__``."""


@dataclass(frozen=True)
class Problem:
    """One reason an order was rejected, in the documented error body, with its ``field``."""

    field: str
    error_code: str
    id: str
    message: str


class OrderRejected(BadRequest):
    """400 with ``"status": "ERROR"``: the order cannot be accepted. ``problems`` lists every
    reason at once, each naming its field; ``id`` is the first one's."""

    def __init__(self, status_code: int | None, error_code: str = "400-order-rejected", message: str = "", *,
                 problems: tuple[Problem, ...] = (), **known: Any) -> None:
        first = problems[0].id if problems else None
        message = message or "; ".join(f"{problem.field}: {problem.message}" for problem in problems)
        super().__init__(status_code, error_code, message, **{"id": first, **known})
        self.problems = problems


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 429: ServiceUnavailable,
    500: ServerError, 502: ServiceUnavailable, 503: ServiceUnavailable, 504: ServiceUnavailable,
}


def error_of(status_code: int, body: Any, *, correlation_id: str | None, retry_after: float | None,
             content_type: str) -> ApiError:
    """The error a refusal's answer names: the documented body, or the orders' ``ERROR`` list."""
    known: dict[str, Any] = {"correlation_id": correlation_id, "retry_after": retry_after, "body": body}
    if isinstance(body, Mapping) and body.get("status") == "ERROR" and isinstance(body.get("errors"), list):
        problems = tuple(Problem(*(_printable(str(each.get(name, ""))) for name in ("field", "errorCode", "id", "message")))
                         for each in body["errors"] if isinstance(each, Mapping))
        return OrderRejected(status_code, problems=problems, **known)
    kind = _BY_STATUS.get(status_code, ServerError if status_code >= 500 else ApiError)
    if isinstance(body, Mapping) and isinstance(body.get("errorCode"), str):
        return kind(status_code, body["errorCode"], str(body.get("message", "")), id=str(body.get("id", "")) or None,
                    **known)
    # No documented body (a gateway's or a proxy's page, RFC 6750's bare 401): the status says what it can.
    said = f"no error body from the API ({content_type or 'no content type'})"
    if kind is ApiError:
        return UnexpectedAnswer(status_code, message=said, **known)
    return kind(status_code, "", said, **known)
