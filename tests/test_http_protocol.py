"""The HTTP/1.1 protocol mobproc serves with (server/http.py): uvicorn's, with each answer
handed to the socket in one write, and nothing else changed: interim 100 Continue answers,
Connection: close and uvicorn's own 400 for a broken request still reach the client whole."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from conftest import TOKEN_PATH, LiveServer
from mobproc.server.http import CoalescingHttpToolsProtocol

pytestmark = pytest.mark.database_agnostic

METADATA_PATH = "/.well-known/oauth-authorization-server"


class RecordingTransport:
    """Beneath the protocol: every write that reaches the event loop's transport."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport, self.writes = transport, writes

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


def recording(protocol: type, writes: list[bytes]) -> type:
    class Recording(protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(RecordingTransport(transport, writes))

    return Recording


@pytest.mark.parametrize(("protocol", "writes_per_answer"), [
    (HttpToolsProtocol, 2),  # uvicorn's as shipped: the head, then the body
    (CoalescingHttpToolsProtocol, 1),
])
def test_an_answer_reaches_the_socket_in_one_write(tmp_path: Path, protocol: type, writes_per_answer: int) -> None:
    writes: list[bytes] = []
    with LiveServer(tmp_path / "mobproc.db", http=recording(protocol, writes)) as server, server.client() as http:
        answers = [http.get(METADATA_PATH), http.get("/nowhere"),
                   http.post(TOKEN_PATH, data={"grant_type": "client_credentials", "client_id": "nobody",
                                               "client_secret": "wrong"})]
    assert [a.status_code for a in answers] == [200, 404, 401]
    assert len(writes) == writes_per_answer * len(answers)
    sent = b"".join(writes)
    for answer in answers:
        assert answer.content in sent


def exchange(server: LiveServer, *parts: bytes, until_closed: bool = False) -> list[bytes]:
    """Sends each part on one connection and reads what comes back after it: one answer
    (as far as its Content-Length), or everything until the server closes the connection."""
    received = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for part in parts:
            sock.sendall(part)
            received.append(read_answer(sock, until_closed and part is parts[-1]))
    return received


def read_answer(sock: socket.socket, until_closed: bool) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        data += chunk
        if not chunk:
            return data
        head, separator, body = data.partition(b"\r\n\r\n")
        if until_closed or not separator:
            continue
        if len(body) >= content_length(head):
            return data


def content_length(head: bytes) -> int:
    """An answer head's Content-Length, 0 when it has none (a 100 Continue)."""
    return next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")), 0)


def test_a_client_that_expects_100_continue_gets_it_before_it_sends_the_form(server: LiveServer) -> None:
    form = b"grant_type=client_credentials&client_id=nobody&client_secret=wrong"
    head = (f"POST {TOKEN_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(form)}\r\nExpect: 100-continue\r\n\r\n").encode()
    interim, final = exchange(server, head, form)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.startswith(b"HTTP/1.1 401 ")
    assert b'"error":"invalid_client"' in final.partition(b"\r\n\r\n")[2]


def test_connection_close_gets_the_whole_answer_before_the_close(server: LiveServer) -> None:
    (answer,) = exchange(server, f"GET {METADATA_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                         .encode(), until_closed=True)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert len(body) == content_length(head) > 0
    assert body.startswith(b"{") and body.endswith(b"}")


def test_a_request_http_cannot_parse_gets_uvicorns_400_then_the_close(server: LiveServer) -> None:
    (answer,) = exchange(server, b"NOT HTTP AT ALL\r\n\r\n", until_closed=True)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    # uvicorn's words, in the JSON every endpoint answers with (RFC 6749's error shape).
    assert json.loads(body) == {"error": "invalid_request", "error_description": "Invalid HTTP request received."}
