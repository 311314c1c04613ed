"""Deleting what has expired, in small batches, without holding up token traffic.

Each batch is one short write transaction, so a token request waits at most one batch
for the write lock (SQLite) or never (PostgreSQL row locks do not meet).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, or_, select

from .database import Database
from .schema import access_tokens, grants, refresh_tokens


@dataclass
class Cleaned:
    access_tokens: int = 0
    refresh_tokens: int = 0
    grants: int = 0

    @property
    def total(self) -> int:
        return self.access_tokens + self.refresh_tokens + self.grants


def _delete_batches(database: Database, table, condition, batch: int, pause: float) -> int:  # noqa: ANN001
    deleted = 0
    while True:
        with database.write() as connection:
            ids = select(table.c.id).where(condition).limit(batch).scalar_subquery()
            count = connection.execute(delete(table).where(table.c.id.in_(ids))).rowcount
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
    return cleaned
