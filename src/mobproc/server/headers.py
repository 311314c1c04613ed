"""The headers every answer carries, the application's and the HTTP protocol's own alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.types import Scope

Headers = tuple[tuple[bytes, bytes], ...]


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

    @classmethod
    def for_pages(cls, pages: Mapping[str, str]) -> Callable[[Scope], Headers]:
        """:meth:`for_request`, but a path under one of ``pages``' prefixes is a page for a
        browser, with that prefix's Content-Security-Policy (never framed, never sniffed, no
        Referer, as every answer). An empty policy: the page says its own (the sign-in pages,
        whose forms may be sent on to a client's redirect URI)."""
        policies = [(prefix, ((b"content-security-policy", policy.encode()), *cls.HEADERS[::2]) if policy
                     else cls.HEADERS[::2]) for prefix, policy in pages.items()]
        tls = cls.OVER_TLS[-1]
        prefixes = tuple(pages)

        def for_request(scope: Scope) -> Headers:
            path = scope["path"]
            if path.startswith(prefixes):  # one call for the token endpoint's answers, which are no page
                for prefix, headers in policies:
                    if path.startswith(prefix):
                        return (*headers, tls) if scope.get("scheme") == "https" else headers
            return cls.OVER_TLS if scope.get("scheme") == "https" else cls.HEADERS

        return for_request
