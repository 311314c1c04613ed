"""The headers every answer carries, the application's and the HTTP protocol's own alike."""

from __future__ import annotations

from starlette.types import Scope


class SecurityHeaders:
    """Headers on every answer, errors included. Every answer is for programs: none is to be
    sniffed as HTML (nosniff), run as a page or framed (the CSP), or leak its URL, which may
    hold the seed's query-string credentials, as a Referer. Over TLS, HSTS keeps the client
    from ever falling back to plain HTTP. (Cache-Control: no-store is set with every JSON
    body, in responses.py, and with the protocol's own answers, in http.py.)"""

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
        (b"referrer-policy", b"no-referrer"),
    )
    OVER_TLS = (*HEADERS, (b"strict-transport-security", b"max-age=31536000"))

    @classmethod
    def for_scheme(cls, scheme: str | None) -> tuple[tuple[bytes, bytes], ...]:
        return cls.OVER_TLS if scheme == "https" else cls.HEADERS

    @classmethod
    def for_request(cls, scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
        return cls.for_scheme(scope.get("scheme"))
