"""The audit trail in SQL, and its log line."""

from __future__ import annotations

import logging

from sqlalchemy import insert, select

from ..domain.audit import AuditEvent, format_line
from ..domain.audit import log as audit_log
from .database import Database, DatabaseUnavailable, Transaction
from .schema import audit_events

log = logging.getLogger("mobproc.server")

# Built once, compiled once by Database.transaction.
_INSERT = insert(audit_events)
_FIELDS = tuple(AuditEvent.__dataclass_fields__)


def store_event(connection: Transaction, environment: str, event: AuditEvent) -> None:
    """The event's row, in the caller's transaction: a token write and its audit row commit
    together or not at all (and cost one transaction, not two). Log its line with
    :func:`log_event` once that transaction has committed."""
    # Not dataclasses.asdict, which deep-copies every value: these are all str, int or float.
    connection.execute(_INSERT, {"environment": environment, **{name: getattr(event, name) for name in _FIELDS}})


def log_event(event: AuditEvent) -> None:
    audit_log.info("%s", format_line(event))


class SqlAuditLog:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    def record(self, event: AuditEvent) -> None:
        # The line first: if the database cannot take the row, the event is still on record.
        # (So a rerun of the request would log it twice: no rerun after this.)
        self._db.end_optimism()
        log_event(event)
        try:
            with self._db.transaction(write=True) as connection:
                store_event(connection, self._environment, event)
        except DatabaseUnavailable as error:
            # What happened has happened (tokens issued stay issued); failing the request
            # now would only hide it from the client too.
            log.warning("audit row not stored (%s): %s", error, event.event)

    def events(
        self, *, since: float | None = None, subject: str | None = None, event: str | None = None, limit: int = 1000
    ) -> list[AuditEvent]:
        """The latest ``limit`` events, oldest first."""
        query = select(audit_events).where(audit_events.c.environment == self._environment)
        if since is not None:
            query = query.where(audit_events.c.at >= since)
        if subject is not None:
            query = query.where(audit_events.c.subject == subject)
        if event is not None:
            query = query.where(audit_events.c.event == event)
        query = query.order_by(audit_events.c.at.desc(), audit_events.c.id.desc()).limit(limit)
        with self._db.read() as connection:
            rows = connection.execute(query).all()
        names = set(AuditEvent.__dataclass_fields__)
        return [AuditEvent(**{k: v for k, v in row._mapping.items() if k in names}) for row in reversed(rows)]
