"""The audit trail's live tail as Server-Sent Events, the admin API's (``/admin/v1/audit/stream``,
``curl -N``) and the console's behind its session: each new event once, its cursor as the
event's ``id``, so that a client that reconnects (a browser's EventSource does by itself) sends
it back as ``Last-Event-ID`` and goes on from there; and the bound on how many a process serves."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ..domain.audit import AuditFilter, AuditTrail, cursor_of
from ..domain.views import event_fields

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
