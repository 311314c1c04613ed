"""uvicorn's HTTP/1.1 protocol (httptools), with each answer leaving in one write.

uvicorn writes an answer's status line and headers with one ``transport.write`` and its body
with another, and uvloop sends each at once: two ``send`` calls and two TCP segments (under
HTTPS, two TLS records) for every answer of a few hundred bytes. Here the writes a step of the
event loop makes on one connection are held and leave together once the step is done, so an
answer costs one system call. Parsing, keep-alive, flow control and closing are uvicorn's own;
a close or an abort first sends or drops what is held.

The answers the protocol makes itself, to a request the parser refuses, carry the security
headers every answer of the application carries (:class:`~.headers.SecurityHeaders`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .headers import SecurityHeaders

# What every answer of the protocol's own says besides the security headers: it is about this
# request alone, may be kept by no cache, and ends the connection.
_OWN_ANSWER_HEADERS = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"),
                       (b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close"))


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

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def __getattr__(self, name: str) -> Any:  # get_extra_info, is_closing, pause_reading, ...
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`CoalescingTransport` (``uvicorn.run(http=...)``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def send_400_response(self, msg: str) -> None:
        self.answer_and_close(400, msg)

    def answer_and_close(self, status: int, message: str) -> None:
        """An answer of the protocol's own, in one write, then the close (uvicorn's 400 did
        the same without the security headers)."""
        body = message.encode("ascii")
        headers = [*self.server_state.default_headers, *SecurityHeaders.for_scheme(self.scheme),
                   *_OWN_ANSWER_HEADERS, (b"content-length", str(len(body)).encode("ascii"))]
        self.transport.write(b"".join([STATUS_LINE[status], *(b"%s: %s\r\n" % header for header in headers),
                                       b"\r\n", body]))
        self.transport.close()
