"""Browser sessions in SQL: the storage behind :class:`mobproc.domain.sessions.BrowserSessions`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select, update

from ..domain.identities import Identity, Username
from ..domain.sessions import BrowserSession
from .database import Database
from .schema import browser_sessions

_FIND = select(browser_sessions).where(
    browser_sessions.c.lookup == bindparam("b_lookup"),
    browser_sessions.c.environment == bindparam("b_environment"),
    browser_sessions.c.ended_at.is_(None),
    browser_sessions.c.expires_at > bindparam("b_now"),
    browser_sessions.c.idle_expires_at > bindparam("b_now"),
)


def identity_of(row: Any) -> Identity:
    """The identity a session or code row carries (its subject, and the account's attributes)."""
    return Identity(
        subject=row.subject, source_system=row.source_system, name=Username.parse(row.subject).name,
        tenant=row.tenant, multitenant=bool(row.multitenant), domain=row.domain, account_id=row.account_id,
    )


def identity_columns(identity: Identity) -> dict[str, Any]:
    return {"account_id": identity.account_id, "subject": identity.subject, "source_system": identity.source_system,
            "tenant": identity.tenant, "multitenant": identity.multitenant, "domain": identity.domain}


class SqlSessionStore:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    def create_session(self, lookup: bytes, identity: Identity, auth_time: float, idle_expires_at: float,
                       expires_at: float) -> int:
        with self._db.transaction(write=True) as transaction:
            return transaction.scalar(insert(browser_sessions).returning(browser_sessions.c.id), {
                "environment": self._environment, "lookup": lookup, **identity_columns(identity),
                "auth_time": auth_time, "idle_expires_at": idle_expires_at, "expires_at": expires_at,
            })

    def find_session(self, lookup: bytes, now: float) -> BrowserSession | None:
        row = self._db.first(_FIND, {"b_lookup": lookup, "b_environment": self._environment, "b_now": now})
        if row is None:
            return None
        return BrowserSession(row.id, identity_of(row), row.auth_time, row.idle_expires_at, row.expires_at)

    def touch_session(self, session_id: int, idle_expires_at: float) -> None:
        with self._db.transaction(write=True) as transaction:
            transaction.execute(update(browser_sessions).where(browser_sessions.c.id == session_id)
                                .values(idle_expires_at=idle_expires_at))

    def end_session(self, lookup: bytes, now: float) -> bool:
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(
                update(browser_sessions)
                .where(browser_sessions.c.lookup == lookup, browser_sessions.c.environment == self._environment,
                       browser_sessions.c.ended_at.is_(None))
                .values(ended_at=now)
            ) == 1

    def end_sessions_of(self, subject: str, now: float) -> int:
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(
                update(browser_sessions)
                .where(browser_sessions.c.environment == self._environment, browser_sessions.c.subject == subject,
                       browser_sessions.c.ended_at.is_(None))
                .values(ended_at=now)
            )
