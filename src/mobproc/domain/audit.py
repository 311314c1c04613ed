"""The audit trail: one record per security event, as a table row and a log line.

What it may hold is the point of it. Never a password, secret or token: a token is named by
:func:`mobproc.domain.secrets.short_id` (a digest prefix, enough to find it again in the
trail, useless to present), and a username that matches no account by one too, because
people type their password into the username field. Failure reasons (unknown account,
wrong password, locked) live only here: the client always gets one ``invalid_grant``.

>>> format_line(AuditEvent(TOKEN_ISSUED, client_id="app", subject="command://alice", grant_type="password"))
'event=token_issued client_id=app subject=command://alice grant_type=password'
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from dataclasses import dataclass, field, fields
from typing import Protocol

from ..log_lines import TurnLines
from . import secrets

log = logging.getLogger("mobproc.audit")
# An event's line leaves with the other lines of its turn of the event loop (after its commit,
# which runs there); off the loop (a command, a worker thread), at once.
_LINES = TurnLines(log)

# What happened. Grants:
TOKEN_ISSUED = "token_issued"
TOKEN_REFRESHED = "token_refreshed"
REFRESH_GRACE = "refresh_token_grace"  # a predecessor re-presented within the grace period
REFRESH_REUSE = "refresh_token_reuse"  # RFC 9700 §4.14.2: the grant is revoked with it
CODE_REUSE = "authorization_code_reuse"  # RFC 6749 §4.1.2: the grant the code became is revoked
GRANT_REVOKED = "grant_revoked"  # reason: refresh_token_reuse, or account_gone
ACCOUNT_GONE = "account_gone"  # a recheck on refresh found the account deleted or disabled in its source
TOKEN_REVOKED = "token_revoked"  # RFC 7009, by the client it was issued to
# Logins:
LOGIN_FAILED = "login_failed"  # reason: unknown_account, wrong_password, locked, busy, or a source's own
LOGIN_THROTTLED = "login_throttled"  # reason: client or address (its failure budget is spent)
ACCOUNT_LOCKED = "account_locked"
ACCOUNT_UNLOCKED = "account_unlocked"
# Browser sessions (the login page):
SESSION_STARTED = "session_started"
SESSION_ENDED = "session_ended"  # reason: logout, password_set, account_locked, account_removed
CONSENT_GIVEN = "consent_given"
CONSENT_DENIED = "consent_denied"
CONSENT_REVOKED = "consent_revoked"
# Changes through the command line and the admin API (each with its actor):
CLIENT_ADDED = "client_added"
CLIENT_UPDATED = "client_updated"
CLIENT_REMOVED = "client_removed"
CLIENT_DISABLED = "client_disabled"
CLIENT_ENABLED = "client_enabled"
CLIENT_SECRET_ROTATED = "client_secret_rotated"
ACCOUNT_ADDED = "account_added"
ACCOUNT_REMOVED = "account_removed"
PASSWORD_SET = "password_set"
ROLE_GRANTED = "role_granted"
ROLE_REVOKED = "role_revoked"
SIGNING_KEY_ROTATED = "signing_key_rotated"
SIGNING_KEY_RETIRED = "signing_key_retired"
# grant_revoked (above) with reason "operator": an account's grant ended by an operator.


@dataclass(frozen=True, slots=True)
class AuditEvent:
    event: str
    client_id: str | None = None
    subject: str | None = None
    source_address: str | None = None
    grant_type: str | None = None
    grant_id: int | None = None
    token: str | None = None  # short_id of the access token issued, or of the token presented
    refresh_token: str | None = None  # short_id of the refresh token issued
    reason: str | None = None
    detail: str | None = None
    actor: str | None = None  # who made a change: "cli:<os user>", "account:<username>", "client:<id>"
    at: float = field(default_factory=time.time)

    def for_grant(self, grant_id: int) -> AuditEvent:
        """This event, naming the grant it records (whose id its row's insert gave): what
        ``dataclasses.replace`` makes, without its walk over the fields on every token's path."""
        return AuditEvent(self.event, self.client_id, self.subject, self.source_address, self.grant_type, grant_id,
                          self.token, self.refresh_token, self.reason, self.detail, self.actor, self.at)


def unknown_username(username: str) -> str:
    """How a username that matches no account is named: by digest, since it may be a password."""
    return "#" + secrets.short_id(username)


_LINE_FIELDS = tuple(f.name for f in fields(AuditEvent) if f.name != "at")
_NEEDS_QUOTES = re.compile(r'[ "=\\]')


def format_line(event: AuditEvent) -> str:
    """``key=value`` pairs; values with spaces, quotes or ``=`` are JSON-quoted, so that a
    crafted username cannot forge another pair or line."""
    parts = []
    for name in _LINE_FIELDS:
        value = getattr(event, name)
        if value is None:
            continue
        text = str(value)
        if not text or _NEEDS_QUOTES.search(text) or not text.isprintable():
            text = json.dumps(text)
        parts.append(f"{name}={text}")
    return " ".join(parts)


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None:
        """Keep the event (and log its line); a failure to store it never fails the request."""
        ...


def log_event(event: AuditEvent) -> None:
    """The event's log line (the SQL trail's, after its commit, and :class:`LoggedAuditLog`'s)."""
    _LINES.add(format_line(event))


class LoggedAuditLog:
    """The log line alone: for tests and tools without a database."""

    def record(self, event: AuditEvent) -> None:
        log_event(event)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events: in a time range, about a subject (also under its pseudonym), of a client, of
    a kind, by an actor."""

    since: float | None = None
    until: float | None = None
    subject: str | None = None
    client_id: str | None = None
    event: str | None = None
    actor: str | None = None


class AuditTrail(Protocol):
    """The trail read back, newest first by (time, row), a page at a time behind a cursor, and
    the live tail's look for what came after a row (the admin API's and the console's)."""

    def page(self, where: AuditFilter, *, before: tuple[float, int] | None, limit: int) -> list[tuple[int, AuditEvent]]:
        ...

    def newest_id(self) -> int:
        ...

    def after(self, where: AuditFilter, *, after_id: int, late_since: float | None, floor: int = 0,
              limit: int) -> list[tuple[int, AuditEvent]]:
        ...

    def count_by_event(self, since: float) -> dict[str, int]:
        ...


def cursor_of(at: float, row_id: int) -> str:
    """The cursor after an event: its (time, row), opaque to a client.

    >>> parse_cursor(cursor_of(1767225600.25, 42))
    (1767225600.25, 42)
    """
    return base64.urlsafe_b64encode(f"{at!r}:{row_id}".encode()).decode().rstrip("=")


def parse_cursor(value: str) -> tuple[float, int] | None:
    """The (time, row) a cursor names, or None when it is not one of :func:`cursor_of`'s (a
    row id past the database's integer, or a time that is not one, never reaches a query).

    >>> parse_cursor("bm90IGEgY3Vyc29y") is None
    True
    """
    try:
        at, _, row_id = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode().partition(":")
        parsed = float(at), int(row_id)
    except ValueError:
        return None
    if not (0 <= parsed[0] < 1e11 and 0 <= parsed[1] < 2**63):
        return None
    return parsed
