"""The ASGI middleware every HTTP answer passes through once, on its way out: it adds the
headers every answer carries, and tells the observers (the access log, the request
metrics) each answer's status and time. One layer, not one per concern: each layer wraps
``send`` again, and on a fast request a layer costs as much as a database lookup."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.passwords import HashingAdmission

Headers = Sequence[tuple[bytes, bytes]]


class AnswerObserver(Protocol):
    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """Called once per HTTP request, after the answer (500 if none started)."""


class AnswerEdge:
    def __init__(
        self, app: ASGIApp, *, headers: Callable[[Scope], Headers], observers: Sequence[AnswerObserver] = ()
    ) -> None:
        self.app = app
        self.headers = headers
        self.observers = [observer.observe for observer in observers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status, extra = time.perf_counter(), 500, self.headers(scope)

        async def send_answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_answer)
        finally:
            seconds = time.perf_counter() - started
            for observe in self.observers:
                observe(scope, status, seconds)


class HashingLoad:
    """Tells admission control of each answer (:meth:`HashingAdmission.answered`), so that it
    knows when requests that hash nothing are being answered and spares them a core."""

    def __init__(self, admission: HashingAdmission) -> None:
        self._answered = admission.answered

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        self._answered()
