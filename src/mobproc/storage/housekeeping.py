"""Deleting what has expired, in small batches, without holding up token traffic.

Each batch is one short write transaction, so a token request waits at most one batch
for the write lock (SQLite) or never (PostgreSQL row locks do not meet).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, or_, select, tuple_, update

from .database import Database, DatabaseUnavailable
from .schema import (access_tokens, authorization_codes, browser_sessions, console_sessions, grants, leases,
                     login_attempts, refresh_tokens)

log = logging.getLogger("mobproc.housekeeping")
CODES_KEPT_SECONDS = 3600


@dataclass
class Cleaned:
    access_tokens: int = 0
    refresh_tokens: int = 0
    grants: int = 0
    login_attempts: int = 0
    authorization_codes: int = 0
    browser_sessions: int = 0
    console_sessions: int = 0

    @property
    def total(self) -> int:
        return (self.access_tokens + self.refresh_tokens + self.grants + self.login_attempts
                + self.authorization_codes + self.browser_sessions + self.console_sessions)


def _delete_batches(database: Database, table, condition, batch: int, pause: float) -> int:  # noqa: ANN001
    key = tuple_(*table.primary_key.columns)
    deleted = 0
    while True:
        with database.transaction(write=True) as transaction:
            keys = select(*table.primary_key.columns).where(condition).limit(batch)
            count = transaction.execute(delete(table).where(key.in_(keys)))
        deleted += count
        if count < batch:
            return deleted
        if pause:
            time.sleep(pause)


def cleanup(database: Database, *, now: float | None = None, batch: int = 1000, pause: float = 0.0) -> Cleaned:
    """Delete expired tokens, then grants with nothing left to refresh.

    A consumed refresh token is kept until it expires: reuse detection needs to recognise
    it. A grant goes when its absolute lifetime has passed, or when it has no token left.
    """
    now = time.time() if now is None else now
    cleaned = Cleaned()
    cleaned.access_tokens = _delete_batches(database, access_tokens, access_tokens.c.expires_at < now, batch, pause)
    cleaned.refresh_tokens = _delete_batches(database, refresh_tokens, refresh_tokens.c.expires_at < now, batch, pause)
    orphaned = and_(
        ~exists().where(access_tokens.c.grant_id == grants.c.id),
        ~exists().where(refresh_tokens.c.grant_id == grants.c.id),
    )
    cleaned.grants = _delete_batches(database, grants, or_(grants.c.expires_at < now, orphaned), batch, pause)
    # Lockout rows that say nothing any more: no streak, no lock in force, no failure this past
    # hour (a row is made for every name typed, known or not).
    quiet = and_(
        login_attempts.c.streak == 0,
        or_(login_attempts.c.locked_until.is_(None), login_attempts.c.locked_until <= now),
        login_attempts.c.window_start < now - 3600,
    )
    cleaned.login_attempts = _delete_batches(database, login_attempts, quiet, batch, pause)
    # A used code is kept an hour past its minute, so that a replay soon after is still
    # recognised (and revokes its grant); browser sessions go once over or ended.
    cleaned.authorization_codes = _delete_batches(
        database, authorization_codes, authorization_codes.c.expires_at < now - CODES_KEPT_SECONDS, batch, pause)
    over = or_(browser_sessions.c.expires_at < now, browser_sessions.c.idle_expires_at < now,
               browser_sessions.c.ended_at.is_not(None))
    cleaned.browser_sessions = _delete_batches(database, browser_sessions, over, batch, pause)
    # The console's sessions whose token has expired (they open nothing any more).
    cleaned.console_sessions = _delete_batches(database, console_sessions, console_sessions.c.expires_at <= now,
                                               batch, pause)
    return cleaned


def take_lease(database: Database, name: str, holder: str, duration: float) -> bool:
    """Hold the lease ``name`` for ``duration`` seconds if it is free (or already ours).

    One conditional UPDATE decides: of several processes on several machines trying at
    once, exactly one moves ``expires_at`` forward.
    """
    now = time.time()
    with database.transaction(write=True) as transaction:
        taken = transaction.execute(
            update(leases)
            .where(leases.c.name == name, or_(leases.c.expires_at <= now, leases.c.holder == holder))
            .values(holder=holder, expires_at=now + duration)
        )
    return taken == 1


class Housekeeper:
    """The server's timer: every ``interval`` seconds, whichever process holds the lease
    deletes what has expired, pausing between batches so token traffic goes first."""

    LEASE = "housekeeping"

    def __init__(self, database: Database, interval: float, *, pause: float = 0.01) -> None:
        self.database, self.interval, self.pause = database, interval, pause
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def run_once(self) -> Cleaned | None:
        try:
            if not take_lease(self.database, self.LEASE, self.holder, self.interval):
                return None
            cleaned = cleanup(self.database, pause=self.pause)
        except DatabaseUnavailable as error:
            log.warning("housekeeping skipped: the database is unavailable (%s)", error)
            return None
        if cleaned.total:
            log.info("housekeeping deleted %d access tokens, %d refresh tokens, %d grants, %d quiet lockout rows, "
                     "%d authorization codes, %d browser sessions, %d console sessions", cleaned.access_tokens,
                     cleaned.refresh_tokens, cleaned.grants, cleaned.login_attempts, cleaned.authorization_codes,
                     cleaned.browser_sessions, cleaned.console_sessions)
        return cleaned
