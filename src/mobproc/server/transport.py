"""Transport: TLS, or a reason to refuse plain HTTP.

RFC 6749 §3.2: requests to the token endpoint carry clear-text credentials, so "the
authorization server MUST require the use of TLS". mobproc serves HTTPS itself
(``--tls-cert``/``--tls-key``) or behind a proxy that ends TLS (``--behind-proxy``). Plain
HTTP is fine on loopback (development, or a proxy on the same host) and in dev.
"""

from __future__ import annotations

import ipaddress
import ssl

from ..config import Environment, Settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def plain_http_refusal(settings: Settings) -> str | None:
    """Why this server must not start as configured, or None.

    >>> from mobproc.config import load_settings
    >>> plain_http_refusal(load_settings(environment="production", host="0.0.0.0")) is not None
    True
    >>> plain_http_refusal(load_settings(environment="production", host="0.0.0.0", behind_proxy=True))
    """
    if settings.tls_cert or settings.behind_proxy or settings.environment is Environment.DEV:
        return None
    if is_loopback(settings.host):
        return None
    return (
        f"plain HTTP on {settings.host} is refused in {settings.environment.value}: the token endpoint carries "
        "passwords and secrets (RFC 6749 §3.2). Serve HTTPS with --tls-cert and --tls-key, or say with "
        "--behind-proxy that a proxy in front ends TLS"
    )


def tls_problem(settings: Settings) -> str | None:
    """A certificate and key that cannot be loaded, said in one line before any worker starts."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as error:
        return f"cannot load the TLS certificate and key: {error}"
    return None
