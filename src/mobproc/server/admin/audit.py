"""The audit trail: a query by time, subject, client, event and actor, newest first, a page at a
time behind a cursor; and its live tail (:mod:`..audit_tail`, shared with the console).

The cursor is the (time, row) of the last event of a page, so that a page never repeats or
skips an event however many arrive meanwhile.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ...domain.audit import AuditFilter, cursor_of, parse_cursor
from ...domain.roles import Action
from ...domain.views import event_fields
from ..audit_tail import MAX_TAILS_PER_HOLDER, TAIL_CHECK_SECONDS, TAILS, TailResponse, event_stream
from . import models
from .context import allowed, parts
from .door import Principal
from .errors import AdminError, invalid

router = APIRouter(tags=["audit"])
Reader = Annotated[Principal, Depends(allowed(Action.READ))]
Text = Annotated[str | None, Query(max_length=320, pattern=r"^[^\x00-\x1f\x7f]*$")]
Time = Annotated[str | None, Query(max_length=64, description="ISO 8601 (UTC unless it says), e.g. 2026-05-01T12:00Z")]


def _time(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(name, "not an ISO 8601 time (2026-05-01T12:00:00Z)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _cursor(name: str, value: str) -> tuple[float, int]:
    parsed = parse_cursor(value)
    if parsed is None:
        raise invalid(name, "not a cursor of this API (next_cursor of a page, or an event's id)")
    return parsed


def _filter(since: str | None, until: str | None, subject: str | None, client_id: str | None,
            event: str | None, actor: str | None) -> AuditFilter:
    return AuditFilter(_time("since", since), _time("until", until), subject or None, client_id or None,
                       event or None, actor or None)


@router.get("/audit", response_model=models.AuditPage,
            summary="The audit trail, newest first: by time, subject, client, event and actor, a page at a time")
def query_audit(request: Request, who: Reader, since: Time = None, until: Time = None, subject: Text = None,
                client_id: Text = None, event: Annotated[str | None, Query(max_length=64)] = None,
                actor: Text = None, cursor: Annotated[str | None, Query(max_length=128)] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
    where = _filter(since, until, subject, client_id, event, actor)
    before = _cursor("cursor", cursor) if cursor else None
    rows = parts(request).services.audit.page(where, before=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [event_fields(e) for _, e in rows],
            "next_cursor": cursor_of(rows[-1][1].at, rows[-1][0]) if more else None}


@router.get("/audit/stream", summary="The audit trail's live tail (text/event-stream): each new event as it is "
                                     "recorded, with the same filters; it ends after `seconds` (reconnect with "
                                     "Last-Event-ID)",
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "`event: audit`, `id: <cursor>`, `data: <the event's JSON>`"},
                       429: {"description": "Too many live tails at once, of this holder or in all (Retry-After)"}})
async def tail_audit(request: Request, since: Time = None, subject: Text = None, client_id: Text = None,
                     event: Annotated[str | None, Query(max_length=64)] = None, actor: Text = None,
                     seconds: Annotated[float, Query(gt=0, le=300)] = 60) -> StreamingResponse:
    check = allowed(Action.READ)
    who = await run_in_threadpool(check, request)
    where = _filter(since, None, subject, client_id, event, actor)
    resume = request.headers.get("last-event-id")
    start = _cursor("Last-Event-ID", resume) if resume else None

    async def still_allowed() -> bool:
        try:
            await run_in_threadpool(check, request)
        except AdminError:
            return False
        return True

    if not TAILS.take(who.actor.name):
        raise AdminError(429, "too-many-tails", f"Too many live tails at once (at most {MAX_TAILS_PER_HOLDER} per "
                         "holder): end one, or reconnect later", {"Retry-After": str(int(TAIL_CHECK_SECONDS))})
    return TailResponse(event_stream(request, parts(request).services.audit, where, start, seconds, still_allowed),
                        who.actor.name)
