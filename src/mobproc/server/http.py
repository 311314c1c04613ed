"""uvicorn's HTTP/1.1 protocol (httptools), with each answer leaving in one write.

uvicorn writes an answer's status line and headers with one ``transport.write`` and its body
with another, and uvloop sends each at once: two ``send`` calls and two TCP segments (under
HTTPS, two TLS records) for every answer of a few hundred bytes. Here the writes a step of the
event loop makes on one connection are held and leave together once the step is done, so an
answer costs one system call. Parsing, keep-alive, flow control and closing are uvicorn's own;
a close or an abort first sends or drops what is held.

It also bounds what a client can make a process hold (:class:`HttpLimits`), which uvicorn
leaves open: the parser gathers a header's value in memory however long it grows, a request
that arrives a byte at a time keeps its connection for ever (each byte restarts uvicorn's
keep-alive timer, and a new connection has none), and connections are accepted until the
process runs out of file descriptors. Five attackers sending never-ending headers took a
server from 108 to 292 MiB in 5 s, and /healthz waited 4.2 s for the event loop meanwhile.

The answers the protocol makes itself (400 to a request the parser refuses, 431, 408, 503 at
the connection limit) carry the security headers every answer of the application carries
(:class:`~.headers.SecurityHeaders`), and are JSON in RFC 6749's error shape as theirs are.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..config import Settings, load_settings
from .headers import SecurityHeaders

# What every answer of the protocol's own says besides the security headers: it is about this
# request alone, may be kept by no cache, and ends the connection.
_OWN_ANSWER_HEADERS = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"),
                       (b"content-type", b"application/json"), (b"connection", b"close"))


class CoalescingTransport:
    """A transport whose writes within one step of the loop go out as one."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)

    def flush(self) -> None:
        if not self._held:
            return
        data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held.clear()
        self._transport.abort()

    def is_closing(self) -> bool:  # asked on every read: not through __getattr__
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def __getattr__(self, name: str) -> Any:  # get_extra_info, is_closing, pause_reading, ...
        return getattr(self._transport, name)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one process holds for its clients, at most (MOBPROC_MAX_HEADER_BYTES,
    MOBPROC_READ_TIMEOUT_SECONDS, MOBPROC_MAX_CONNECTIONS)."""

    max_header_bytes: int  # a request head: its request line and headers
    read_timeout: float  # seconds for a request, head and body, from its first byte
    max_connections: int
    retry_after: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(settings.max_header_bytes, settings.read_timeout_seconds, settings.max_connections,
                   settings.retry_after_seconds)


@cache
def _this_process() -> HttpLimits:
    # uvicorn makes the protocol, in each worker process, from the class alone: its settings
    # are read where the application's are, from MOBPROC_* (``mobproc serve`` exports its flags).
    return HttpLimits.from_settings(load_settings())


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`CoalescingTransport` (``uvicorn.run(http=...)``),
    within :class:`HttpLimits`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = _this_process()
        self._reading_head = True  # until the head being received (or the next one) is complete
        self._head_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        if len(self.connections) > self.limits.max_connections:
            # Refused at once, before a byte is read: the client may retry (elsewhere).
            self.answer_and_close(503, "Too many connections; retry later.",
                                  (b"retry-after", str(self.limits.retry_after).encode("ascii")))
            return
        # A new connection's first request must arrive in time, even if it never begins.
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """The parser gathers a head's header values in memory until the head ends, so a head
        is fed to it no further than ``max_header_bytes``: beyond that the answer is 431
        (RFC 6585 §5) and the rest is never read. (Bytes that arrive in the same read as the
        end of a request may begin a pipelined one unseen: one read more at most.)"""
        if self._reading_head and len(data) <= self.limits.max_header_bytes - self._head_bytes:
            # Nearly every read: a whole request, or its head, within the bound.
            self._head_bytes += len(data)
            super().data_received(data)
            return
        while data and self._reading_head:
            room = self.limits.max_header_bytes - self._head_bytes
            if room <= 0:
                self._refuse(431, "Request header fields too large.")
                return
            part, data = data[:room], data[room:]
            self._head_bytes += len(part)
            super().data_received(part)
            if self.transport.is_closing():
                return
        if data:
            super().data_received(data)

    # Parser callbacks: a request's head begins, ends, and the whole request has arrived.

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a request after the first on this connection
            self._arm_deadline()

    def on_headers_complete(self) -> None:
        self._reading_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True
        self._disarm_deadline()

    def _arm_deadline(self) -> None:
        self._deadline = self.loop.call_later(self.limits.read_timeout, self._too_slow)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        """Slow-loris: a request still arriving when its time is up ends its connection, with a
        408 if any of it came (a connection that never sent a byte is just closed, as an idle
        one is)."""
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._head_bytes or not self._reading_head:
            self._refuse(408, "The request took too long to arrive.")
        else:
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer, unless an answer to an earlier request is still being written on this
        connection (pipelining): then the connection just ends, for one must not cut into it."""
        cycle = self.cycle
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            self.transport.close()
        else:
            self.answer_and_close(status, message)

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, msg)

    def answer_and_close(self, status: int, message: str, *extra: tuple[bytes, bytes]) -> None:
        """An answer of the protocol's own, in one write, then the close (uvicorn's 400 did
        the same without the security headers)."""
        # JSON in RFC 6749's error shape, as every answer of the endpoints behind it: a client
        # that reads the body of a refusal finds the same members whoever refused.
        error = "temporarily_unavailable" if status == 503 else "invalid_request"
        body = json.dumps({"error": error, "error_description": message}).encode("ascii")
        headers = [*self.server_state.default_headers, *SecurityHeaders.for_scheme(self.scheme),
                   *_OWN_ANSWER_HEADERS, *extra, (b"content-length", str(len(body)).encode("ascii"))]
        self.transport.write(b"".join([STATUS_LINE[status], *(b"%s: %s\r\n" % header for header in headers),
                                       b"\r\n", body]))
        self.transport.close()
