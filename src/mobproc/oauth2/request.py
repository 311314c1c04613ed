"""The token request: parameters from the query string, the form body, or both.

The seed sends everything in the query string; RFC 6749 §3.2 wants a form body. Both are
accepted and merged; a parameter given twice with different values is refused, because
which one a server (or a proxy before it) would pick is exactly what an attacker probes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus

from .errors import InvalidClientError, InvalidRequestError

MAX_PARAMETERS = 64
FORM_TYPE = "application/x-www-form-urlencoded"


def parse_form(data: str, *, where: str) -> list[tuple[str, str]]:
    """RFC 6749 Appendix B: ``application/x-www-form-urlencoded`` in UTF-8."""
    if not data:
        return []  # the usual query string
    try:
        return parse_qsl(data, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_PARAMETERS)
    except UnicodeDecodeError:
        raise InvalidRequestError(f"The {where} is not valid UTF-8") from None
    except ValueError:
        raise InvalidRequestError(f"The {where} has too many parameters") from None


def merge_parameters(*sources: list[tuple[str, str]]) -> dict[str, str]:
    """RFC 6749 §3.1, §3.2: "Parameters sent without a value MUST be treated as if they were
    omitted from the request" and "Request and response parameters MUST NOT be included
    more than once" (an identical repeat is harmless and tolerated)."""
    merged: dict[str, str] = {}
    for pairs in sources:
        for name, value in pairs:
            if "\x00" in name or "\x00" in value:
                raise InvalidRequestError("Parameters must not contain NUL characters")
            if value == "":
                continue
            if merged.setdefault(name, value) != value:
                raise InvalidRequestError(f"The {name} parameter is repeated with different values")
    return merged


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """The client id and secret of an HTTP Basic header, in both readings (:meth:`readings`)."""

    sent_client_id: str
    sent_client_secret: str = field(repr=False)

    def readings(self) -> Iterator[tuple[str, str]]:
        """RFC 6749 §2.3.1: "The client identifier is encoded using the
        "application/x-www-form-urlencoded" encoding algorithm [...] and the encoded value is
        used as the username; the client password is encoded using the same algorithm and
        used as the password." That reading comes first. But curl -u, requests, httpx,
        Authlib and requests-oauth2client all send the id and secret as they are, and a
        secret such as `openssl rand -base64 32` prints holds '+', which form-decoding turns
        into a space: for them the credentials as sent are the second reading, tried only
        when it differs. Either must match a stored digest, so the second costs a lookup and
        a digest, and it widens no guess: it is the same bytes read the one other way."""
        decoded = (unquote_plus(self.sent_client_id), unquote_plus(self.sent_client_secret))
        yield decoded
        if decoded != (self.sent_client_id, self.sent_client_secret):
            yield self.sent_client_id, self.sent_client_secret


def parse_basic(authorization: str | None) -> BasicCredentials | None:
    """RFC 7617 HTTP Basic: base64 of ``id:secret`` (form-encoded first, as RFC 6749 §2.3.1 asks,
    or not: :meth:`BasicCredentials.readings`).

    Another scheme (a Bearer token sent by mistake) is not client authentication and is
    ignored; a broken Basic header is a failed authentication.
    """
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidClientError() from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id or "\x00" in decoded:
        raise InvalidClientError()
    return BasicCredentials(client_id, secret)


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """One request to the token endpoint, as the protocol layer sees it (no HTTP types)."""

    params: Mapping[str, str] = field(repr=False)
    basic: BasicCredentials | None = None
    query_names: frozenset[str] = frozenset()
    source_address: str = ""

    @classmethod
    def from_http(
        cls,
        query: str,
        body: bytes,
        content_type: str | None,
        authorization: str | None,
        source_address: str = "",
    ) -> TokenRequest:
        query_pairs = parse_form(query, where="query string")
        body_pairs: list[tuple[str, str]] = []
        if body.strip():
            media_type = (content_type or "").split(";")[0].strip().lower()
            if media_type != FORM_TYPE:
                raise InvalidRequestError(f"The request body must be {FORM_TYPE}")
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidRequestError("The request body is not valid UTF-8") from None
            body_pairs = parse_form(text, where="request body")
        return cls(
            params=merge_parameters(query_pairs, body_pairs),
            basic=parse_basic(authorization),
            query_names=frozenset(name for name, value in query_pairs if value),
            source_address=source_address,
        )

    def get(self, name: str) -> str | None:
        return self.params.get(name)

    def require(self, name: str) -> str:
        value = self.params.get(name)
        if value is None:
            raise InvalidRequestError(f"{name} is required")
        return value
