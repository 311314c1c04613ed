"""Each call's context, as FastAPI dependencies: the door's checks (:mod:`.door`), the actor in
the tenant's data, and the troubleshooting tags every log line of the call carries."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPBearer

from ..procurement.views import View
from ..server.token_endpoint import HandlerPlacement
from ..storage.procurement import SqlProcurementStore
from .door import (
    ACTIVITY_HEADER,
    COMPANY_EMPLOYEE_HEADER,
    CORRELATION_HEADER,
    EMPLOYEE_HEADER,
    HIERARCHY_HEADER,
    Actor,
    Caller,
    TokenVerifier,
    bearer_token,
    check_headers,
    check_token,
    resolve_actor,
    unauthorized,
)

# The documented troubleshooting headers, as this call's tags (set by the API's edge).
ACTIVITY: ContextVar[str | None] = ContextVar("mobproc_api_activity", default=None)
CORRELATION: ContextVar[str | None] = ContextVar("mobproc_api_correlation", default=None)


class CallTags(logging.Filter):
    """Adds the call's activity and correlation ids to every line of the ``mobproc.api`` log:
    at the end of the message (plain lines) and as fields (JSON lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        activity, correlation = ACTIVITY.get(), CORRELATION.get()
        if activity or correlation:
            record.activity_id, record.correlation_id = activity, correlation
            tags = " ".join(f"{name}={value}" for name, value in (("activity", activity), ("correlation", correlation))
                            if value)
            record.msg, record.args = f"{record.getMessage()} [{tags}]", None
        return True


def tag(value: str | None) -> str | None:
    """A caller's tag as it may be logged and echoed: printable ASCII, at most 128 characters."""
    if not value:
        return None
    cleaned = "".join(c for c in value[:128] if " " <= c <= "~")
    return cleaned or None


@dataclass
class ApiParts:
    """What the API's calls need, handed to :func:`~mobproc.api.create_api`."""

    verifier: TokenVerifier
    placement: HandlerPlacement
    store: SqlProcurementStore
    retry_after: int
    node: str


def parts(request: Request) -> ApiParts:
    return request.app.state.parts


_bearer = HTTPBearer(auto_error=False, description="An access token of scope MOBPROC from /as/token.oauth2")


async def caller(
    request: Request,
    _bearer_scheme: Annotated[Any, Depends(_bearer)],
    tenant: Annotated[str | None, Header(alias="X-TNGO-TENANT", description="the tenant (customer) code")] = None,
    client_id: Annotated[str | None, Header(alias="client_id", convert_underscores=False,
                                            description="the client application the token was issued to")] = None,
    employee: Annotated[str | None, Header(alias=EMPLOYEE_HEADER, description="act for this employee id")] = None,
    company_employee: Annotated[str | None, Header(alias=COMPANY_EMPLOYEE_HEADER,
                                                   description="act for this company employee id")] = None,
    hierarchy: Annotated[str | None, Header(alias=HIERARCHY_HEADER, description="accepted, not used")] = None,
    activity: Annotated[str | None, Header(alias=ACTIVITY_HEADER, description="a tag for related calls")] = None,
    correlation: Annotated[str | None, Header(alias=CORRELATION_HEADER, description="a tag for this call")] = None,
) -> Caller:
    """The door: the token first (401/403 by RFC 6750), then the tenant and client headers.
    (The headers are read from the request itself, so that a call without a token is a 401
    whatever else it lacks; they are declared here for the OpenAPI description.)"""
    api = parts(request)
    token = bearer_token(request.headers.get("authorization"))
    if not token:
        raise unauthorized("An access token is required (Authorization: Bearer)")
    validated = check_token(await api.placement.run(api.verifier.verify, token), api.retry_after)
    return check_headers(validated, request.headers)


def actor(request: Request, call: Annotated[Caller, Depends(caller)]) -> Actor:
    """The authenticated account in the tenant's data, and the actor (a sync dependency:
    FastAPI runs it on a worker thread, as the database wants)."""
    return resolve_actor(parts(request).store, call)


def view_of(request: Request, who: Actor) -> View:
    return View(parts(request).store, who.caller.tenant, who.tenant.get("currency", "USD"))


def base_url(request: Request) -> str:
    """The API's root as the caller reached it (``http://host:9031/mobproc/v1``): the links of
    every answer start with it."""
    return str(request.base_url).rstrip("/") + request.scope.get("root_path", "").rstrip("/")
