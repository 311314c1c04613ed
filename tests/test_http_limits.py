"""What the HTTP protocol answers itself (server/http.py), before any request reaches the
application: requests it cannot parse, and the bounds on heads, their time and connections.
Its answers carry the security headers of every other answer."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from conftest import ServerProcess
from test_http_protocol import exchange
from test_transport import self_signed

SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"content-security-policy": b"default-src 'none'; frame-ancestors 'none'",
    b"referrer-policy": b"no-referrer",
    b"cache-control": b"no-store",
    b"pragma": b"no-cache",
}
BROKEN = {
    "not HTTP": b"NOT HTTP AT ALL\r\n\r\n",
    "a space in a header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
    "a Content-Length that is no number": b"POST /as/token.oauth2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
    "a chunk size that is no number": (b"POST /as/token.oauth2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                       b"zz\r\n"),
}


def head_of(answer: bytes) -> tuple[bytes, dict[bytes, bytes]]:
    head = answer.partition(b"\r\n\r\n")[0].split(b"\r\n")
    return head[0], {name.lower(): value.strip() for name, _, value in (line.partition(b":") for line in head[1:])}


def carries_the_security_headers(answer: bytes, *, tls: bool = False) -> None:
    _, headers = head_of(answer)
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (name, answer[:600])
    assert (headers.get(b"strict-transport-security") == b"max-age=31536000") is tls


@pytest.mark.parametrize("request_bytes", BROKEN.values(), ids=BROKEN)
def test_a_request_the_parser_refuses_gets_the_security_headers(server, request_bytes: bytes) -> None:  # noqa: ANN001
    (answer,) = exchange(server, request_bytes, until_closed=True)
    status, headers = head_of(answer)
    assert status.startswith(b"HTTP/1.1 400 ")
    assert headers[b"connection"] == b"close"
    carries_the_security_headers(answer)


def test_over_tls_the_parsers_400_carries_hsts_too(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    with ServerProcess(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key), verify=trust) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
                trust.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(BROKEN["not HTTP"])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ")
    carries_the_security_headers(answer, tls=True)
