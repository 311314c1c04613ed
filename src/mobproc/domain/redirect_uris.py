"""Redirect URIs: which may be registered, and when a presented one is the registered one.

RFC 9700 §4.1.3: "authorization servers MUST utilize exact string matching" of redirect URIs,
"except for port numbers in localhost redirection URIs of native apps" (RFC 8252 §7.3: "The
authorization server MUST allow any port to be specified at the time of the request for
loopback IP redirect URIs, to accommodate clients that obtain an available ephemeral port
from the operating system at the time of the request"). Nothing is normalised: a different
case, a trailing slash, an encoded character or a dot segment is another URI, refused.

>>> matches("https://app.example/cb", ("https://app.example/cb",))
True
>>> matches("https://app.example/cb/", ("https://app.example/cb",))
False
>>> matches("http://127.0.0.1:51004/cb", ("http://127.0.0.1/cb",))
True
>>> matches("http://127.0.0.1:51004@evil.example/cb", ("http://127.0.0.1/cb",))
False
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

MAX_LENGTH = 2000
# A loopback IP literal (RFC 8252 §7.3), an optional port, then the rest of the URI, which must
# match exactly. The rest starts with "/", "?" or nothing: "127.0.0.1:80@evil" matches no part.
_LOOPBACK = re.compile(r"http://(127\.0\.0\.1|\[::1\])(?::([0-9]{1,5}))?([/?][^#]*)?")
# RFC 8252 §7.1: a private-use scheme is a reverse domain name ("com.example.app:/cb").
_PRIVATE_USE_SCHEME = re.compile(r"[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+")


def check(uri: str) -> None:
    """Raise ValueError unless ``uri`` may be registered: absolute, without a fragment (RFC
    6749 §3.1.2), https, http on a loopback address only (RFC 9700 §2.6, RFC 8252 §7.3), or
    a native app's private-use scheme (RFC 8252 §7.1); no userinfo, no white space."""
    if not uri or len(uri) > MAX_LENGTH or not uri.isprintable() or any(c.isspace() for c in uri):
        raise ValueError(f"{uri!r} is not a redirect URI: an absolute URI without spaces, at most {MAX_LENGTH} characters")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(f"{uri!r} is not a URI") from None
    if "#" in uri:
        raise ValueError(f"{uri!r}: a redirect URI must not have a fragment (RFC 6749 §3.1.2)")
    scheme = parts.scheme
    if scheme == "https":
        if not parts.hostname or "@" in parts.netloc:
            raise ValueError(f"{uri!r}: an https redirect URI needs a host, and no user information")
    elif scheme == "http":
        if not _LOOPBACK.fullmatch(uri) and not (parts.hostname == "localhost" and "@" not in parts.netloc):
            raise ValueError(f"{uri!r}: plain http only for a loopback address (http://127.0.0.1/… or "
                             "http://[::1]/…, RFC 8252 §7.3); use https")
    elif not _PRIVATE_USE_SCHEME.fullmatch(scheme):
        raise ValueError(f"{uri!r}: use https, http on a loopback address, or a private-use scheme "
                         "named after a domain you own (com.example.app:/callback, RFC 8252 §7.1)")


def matches(presented: str, registered: Iterable[str]) -> bool:
    """Whether ``presented`` is one of the ``registered`` URIs: equal as strings, or, for a
    loopback IP redirect URI, equal but for the port."""
    loopback = _LOOPBACK.fullmatch(presented)
    for candidate in registered:
        if presented == candidate:
            return True
        if loopback is not None:
            registered_loopback = _LOOPBACK.fullmatch(candidate)
            if (registered_loopback is not None and registered_loopback.group(1) == loopback.group(1)
                    and (registered_loopback.group(3) or "") == (loopback.group(3) or "")):
                return True
    return False


def origin(uri: str) -> str:
    """Where a browser is sent, as a Content-Security-Policy source (``form-action``): the
    scheme and authority, or the scheme alone for a private-use scheme."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"
