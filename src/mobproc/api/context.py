"""Each call's context, as FastAPI dependencies: the door's checks (:mod:`.door`), the actor in
the tenant's data, and the troubleshooting tags every log line of the call carries."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ..procurement.records import ProcurementStore
from ..procurement.views import View
from ..storage.database import Database
from .door import (
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
    database: Database
    verify_on_event_loop: bool  # the in-process verifier only reads: on SQLite it opts in (Database.run)
    store: ProcurementStore
    retry_after: int
    node: str


def parts(request: Request) -> ApiParts:
    return request.app.state.parts


async def caller(request: Request) -> Caller:
    """The door, as a FastAPI dependency (:func:`door`)."""
    return await door(parts(request), request.headers)


async def door(api: ApiParts, headers: Mapping[str, str]) -> Caller:
    """The door: the token first (401/403 by RFC 6750), then the tenant and client headers, read
    from the request itself so that a call without a token is a 401 whatever else it lacks.
    (They are described in the OpenAPI document by :func:`~.app.describe`, not declared as
    FastAPI parameters: parsing eight optional headers per call was half of a /ping's time.)
    ``headers``: case-insensitive."""
    token = bearer_token(headers.get("authorization"))
    if not token:
        raise unauthorized("An access token is required (Authorization: Bearer)")
    validated = check_token(
        await api.database.run(api.verifier.verify, token, on_event_loop=api.verify_on_event_loop), api.retry_after
    )
    return check_headers(validated, headers)


def echo(api: ApiParts, echo_text: str) -> dict[str, str]:
    """``/ping``'s answer: the text echoed, and the node (host and process) that answered."""
    return {"echoText": echo_text, "node": api.node, "status": "SUCCESS"}


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
