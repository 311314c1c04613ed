"""Where tokens come from and where the MOBPROC v1 API answers (the hosted endpoints or any
mobproc), and usernames as they are sent."""

from __future__ import annotations

from urllib.parse import urlsplit

PRODUCTION = "https://oauth.tangoe.com/as/token.oauth2"
QA = "https://oauthqa.tangoe.com/as/token.oauth2"
TOKEN_PATH = "/as/token.oauth2"
INTROSPECTION_PATH = "/as/introspect.oauth2"  # PingFederate's, as mobproc serves it
ENDPOINTS = {"production": PRODUCTION, "qa": QA}
API_PATH = "/mobproc/v1"
# The public documentation names no host of the API per environment: its examples' links show
# tngo-mobproc.cloudhub.io (no environment said) and, in an older tutorial,
# api.tangoe.com/mobileprocurement/v1. So the hosted endpoints' API is taken beside their token
# endpoints, as mobproc serves both: pass the API's URL (Client(api_url=...)) where Tangoe names another.
PRODUCTION_API = "https://oauth.tangoe.com" + API_PATH
QA_API = "https://oauthqa.tangoe.com" + API_PATH
PLATFORM = "platform"
MAX_NAME_LENGTH = 255


def token_url(endpoint: str) -> str:
    """The token endpoint's URL: ``production``, ``qa``, a base URL such as
    ``http://127.0.0.1:9031`` (PingFederate's path is added), or a full token URL.

    >>> token_url("qa")
    'https://oauthqa.tangoe.com/as/token.oauth2'
    >>> token_url("http://127.0.0.1:9031/")
    'http://127.0.0.1:9031/as/token.oauth2'
    """
    if endpoint.lower() in ENDPOINTS:
        return ENDPOINTS[endpoint.lower()]
    base = http_url(endpoint, "endpoint must be production, qa or")
    return base if base.endswith(TOKEN_PATH) else base + TOKEN_PATH


def api_url(endpoint: str) -> str:
    """The MOBPROC v1 API's base URL beside a token endpoint (``endpoint`` as
    :func:`token_url` takes it): mobproc serves it at ``/mobproc/v1``.

    >>> api_url("production")
    'https://oauth.tangoe.com/mobproc/v1'
    >>> api_url("http://127.0.0.1:9031/as/token.oauth2")
    'http://127.0.0.1:9031/mobproc/v1'
    """
    return token_url(endpoint).removesuffix(TOKEN_PATH) + API_PATH


def http_url(url: str, what: str) -> str:
    """``url`` without its trailing slash, if it is an http(s) URL with a host and without a
    query, a fragment or credentials; else ``ValueError`` starting with ``what``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"{what} an http(s) URL without a query, not {url!r}")
    if parts.username or parts.password:
        raise ValueError("the URL must not carry credentials: pass client_id and client_secret")
    return url.rstrip("/")


def introspection_url(token_endpoint: str) -> str:
    """RFC 7662 introspection beside the token endpoint, at PingFederate's path."""
    base = token_endpoint[: -len(TOKEN_PATH)] if token_endpoint.endswith(TOKEN_PATH) else token_endpoint.rstrip("/")
    return base + INTROSPECTION_PATH


def username(source_system_or_name: str, name: str | None = None) -> str:
    """A username as the token endpoint takes it: ``<source_system>://<name>`` for an account
    of another Tangoe system, a bare name for the platform's own (CONTRACT §2).

    >>> username("command", "alice")
    'command://alice'
    >>> username("alice")
    'alice'
    >>> username("rivermine://bob")
    'rivermine://bob'
    """
    if name is None:
        system, sep, name = source_system_or_name.partition("://")
        if not sep:
            system, name = PLATFORM, source_system_or_name
    else:
        system = source_system_or_name
    if not system or not system.replace("-", "").replace("_", "").isalnum() or not system.isascii():
        raise ValueError(f"not a source system: {system!r} (e.g. command, rivermine)")
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable() or "://" in name:
        # Not echoed: people type passwords into the username field.
        raise ValueError("not an account name: empty, over 255 characters, not printable, or with '://'")
    system = system.lower()
    return name if system == PLATFORM else f"{system}://{name}"
