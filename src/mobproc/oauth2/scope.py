"""RFC 6749 §3.3: access token scope."""

from __future__ import annotations

import re

from ..domain.clients import Client
from .errors import InvalidScopeError

# scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def parse_scope(value: str | None) -> tuple[str, ...]:
    """A space-delimited list, order kept, repeats dropped."""
    if value is None:
        return ()
    tokens = value.split(" ")
    if not all(_SCOPE_TOKEN.fullmatch(token) for token in tokens):
        raise InvalidScopeError("The scope parameter is malformed")
    return tuple(dict.fromkeys(tokens))


def format_scope(scope: tuple[str, ...]) -> str:
    return " ".join(scope)


def requested_scope(value: str | None, client: Client) -> tuple[str, ...]:
    """RFC 6749 §3.3: no scope means the client's default scopes; any scope must be allowed."""
    scope = parse_scope(value) or client.default_scopes
    if not set(scope) <= client.scopes:
        raise InvalidScopeError()
    return scope


def narrowed_scope(value: str | None, granted: tuple[str, ...], client: Client) -> tuple[str, ...]:
    """RFC 6749 §6: a refresh "MUST NOT include any scope not originally granted by the
    resource owner, and if omitted is treated as equal to the scope originally granted"."""
    scope = parse_scope(value) or granted
    if not set(scope) <= set(granted) or not set(scope) <= client.scopes:
        raise InvalidScopeError()
    return scope
