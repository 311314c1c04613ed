"""The console's sessions in SQL (mobproc.web.console_sessions seals what they hold)."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from .database import Database
from .schema import console_sessions


class SqlConsoleSessions:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    def _mine(self, id_digest: bytes):  # noqa: ANN202
        return (console_sessions.c.environment == self._environment) & (console_sessions.c.id_digest == id_digest)

    def create(self, id_digest: bytes, subject: str, sealed: str, auth_time: float, now: float,
               expires_at: float) -> None:
        with self._db.transaction(write=True) as transaction:
            transaction.execute(insert(console_sessions).values(
                environment=self._environment, id_digest=id_digest, subject=subject[:320], sealed=sealed,
                auth_time=auth_time, created_at=now, expires_at=expires_at))

    def find(self, id_digest: bytes, now: float):  # noqa: ANN201 - the row
        with self._db.transaction(write=False) as transaction:
            return transaction.first(select(console_sessions).where(self._mine(id_digest),
                                                                    console_sessions.c.expires_at > now))

    def replace(self, id_digest: bytes, sealed: str, auth_time: float, expires_at: float) -> None:
        """A login again (re-authentication): the new token, its time."""
        with self._db.transaction(write=True) as transaction:
            transaction.execute(update(console_sessions).where(self._mine(id_digest))
                                .values(sealed=sealed, auth_time=auth_time, expires_at=expires_at))

    def delete(self, id_digest: bytes) -> None:
        with self._db.transaction(write=True) as transaction:
            transaction.execute(delete(console_sessions).where(self._mine(id_digest)))

    def delete_expired(self, now: float) -> int:
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(delete(console_sessions).where(console_sessions.c.expires_at <= now))
