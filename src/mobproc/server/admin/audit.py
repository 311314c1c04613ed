"""The audit trail: a query by time, subject, client, event and actor, newest first, a page at a
time behind a cursor; and its live tail as Server-Sent Events (the console's, or ``curl -N``).

The cursor is the (time, row) of the last event of a page, so that a page never repeats or
skips an event however many arrive meanwhile. The tail sends each event once, with its cursor
as the event's ``id``: a client that reconnects (a browser's EventSource does by itself) sends
it back as ``Last-Event-ID`` and goes on from there.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from ...domain.audit import AuditFilter, AuditTrail, cursor_of, parse_cursor
from ...domain.roles import Action
from ...domain.views import event_fields
from . import models
from .context import allowed, parts
from .door import Principal
from .errors import AdminError, invalid

router = APIRouter(tags=["audit"])
Reader = Annotated[Principal, Depends(allowed(Action.READ))]
Text = Annotated[str | None, Query(max_length=320, pattern=r"^[^\x00-\x1f\x7f]*$")]
Time = Annotated[str | None, Query(max_length=64, description="ISO 8601 (UTC unless it says), e.g. 2026-05-01T12:00Z")]
# How far back the tail looks again for an event whose transaction committed after a later
# one's: a write transaction lasts well under this.
COMMIT_LAG_SECONDS = 5.0
TAIL_POLL_SECONDS = 1.0
TAIL_CHECK_SECONDS = 15.0  # the token checked again (revoked, expired, role taken away: the tail ends)
# Each tail queries the database every TAIL_POLL_SECONDS for up to five minutes, on the worker
# threads and connections the token endpoint needs: a process serves this many at once, and
# this many to one holder (a few tabs, and a browser's reconnect before the old tail noticed).
MAX_TAILS = 32
MAX_TAILS_PER_HOLDER = 4


class TailSlots:
    """How many live tails this process serves, in all and per holder (a token's subject)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}

    def take(self, holder: str) -> bool:
        with self._lock:
            if sum(self._held.values()) >= MAX_TAILS or self._held.get(holder, 0) >= MAX_TAILS_PER_HOLDER:
                return False
            self._held[holder] = self._held.get(holder, 0) + 1
            return True

    def give_back(self, holder: str) -> None:
        with self._lock:
            left = self._held.get(holder, 0) - 1
            if left > 0:
                self._held[holder] = left
            else:
                self._held.pop(holder, None)


TAILS = TailSlots()


class TailResponse(StreamingResponse):
    """A tail's answer, its slot given back however it ends (even when the client went before
    the stream began: an async generator never started runs no ``finally``)."""

    def __init__(self, content: AsyncIterator[bytes], holder: str) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self._holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            TAILS.give_back(self._holder)


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


async def event_stream(request: Request, audit: AuditTrail, where: AuditFilter, start: tuple[float, int] | None,
                       seconds: float, still_allowed: Callable[[], Awaitable[bool]]) -> AsyncIterator[bytes]:
    """The live tail's Server-Sent Events (the admin API's, and the console's behind its session):
    from the event ``start`` names (a cursor), or from the first at or after ``where.since``, or
    from now; until ``seconds`` are over, the client goes, or ``still_allowed()`` says no (asked
    every TAIL_CHECK_SECONDS)."""
    if start is not None:
        last_id = start[1]
    elif where.since is not None:
        older = await run_in_threadpool(audit.page, AuditFilter(until=where.since), before=None, limit=1)
        last_id = older[0][0] if older else 0
    else:
        last_id = await run_in_threadpool(audit.newest_id)
    floor = last_id  # nothing at or before it is sent (it was, or was there before the tail)
    sent: dict[int, float] = {}  # what was sent lately, which a look for late commits finds again
    ends, checked = time.monotonic() + seconds, time.monotonic()
    yield b"retry: 1000\n: the audit trail, live\n\n"
    while time.monotonic() < ends:
        if await request.is_disconnected():
            return
        if time.monotonic() - checked > TAIL_CHECK_SECONDS:
            checked = time.monotonic()
            if not await still_allowed():
                yield b"event: end\ndata: the session or token no longer allows this\n\n"
                return
        now = time.time()
        rows = await run_in_threadpool(audit.after, where, after_id=last_id, floor=floor,
                                       late_since=now - COMMIT_LAG_SECONDS, limit=1000)
        chunks = []
        for row_id, found in rows:
            if row_id in sent:
                continue
            sent[row_id] = now
            last_id = max(last_id, row_id)
            data = json.dumps(event_fields(found), separators=(",", ":"))
            chunks.append(f"event: audit\nid: {cursor_of(found.at, row_id)}\ndata: {data}\n\n")
        for row_id in [i for i, when in sent.items() if when < now - 2 * COMMIT_LAG_SECONDS]:
            del sent[row_id]
        yield ("".join(chunks) or ": keep-alive\n\n").encode()
        await asyncio.sleep(TAIL_POLL_SECONDS)
