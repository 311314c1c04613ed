"""The audit trail in SQL, and its log line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import insert, select

from ..domain.audit import AuditEvent, format_line
from ..domain.audit import log as audit_log
from ..domain.pseudonyms import Pseudonyms
from .database import Database, DatabaseUnavailable
from .schema import audit_events

log = logging.getLogger("mobproc.server")

# Built once, compiled once by Database.transaction.
_INSERT = insert(audit_events)
_FIELDS = tuple(AuditEvent.__dataclass_fields__)
# Each field fits its column, whatever a client sent: a row is never lost to a value's length
# (PostgreSQL refuses what SQLite would store), and the line keeps the whole value.
_LENGTHS = {
    column.name: column.type.length for column in audit_events.c if getattr(column.type, "length", None)
}


def _row(event: AuditEvent) -> dict[str, object]:
    values = {name: getattr(event, name) for name in _FIELDS}
    for name, length in _LENGTHS.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > length:
            values[name] = value[: length - 1] + "…"
    return values


def log_event(event: AuditEvent) -> None:
    audit_log.info("%s", format_line(event))


class SqlAuditLog:
    """Each event is a row, written in the transaction open when it is recorded (so that tokens
    and the record of their issue commit together or not at all, in one transaction instead of
    two), and a log line once that transaction has committed; ``listeners`` (the metrics) hear
    of it then too. A rerun of a request that wrote nothing yet repeats neither."""

    def __init__(
        self,
        database: Database,
        environment: str,
        listeners: Iterable[Callable[[AuditEvent], None]] = (),
        *,
        pseudonyms: Pseudonyms | None = None,
    ) -> None:
        self._db = database
        self._environment = environment
        self._listeners = (log_event, *listeners)
        self._pseudonyms = pseudonyms

    def record(self, event: AuditEvent) -> None:
        try:
            with self._db.transaction(write=True) as transaction:
                transaction.execute(_INSERT, {"environment": self._environment, **_row(event)})
                transaction.after_commit(self._said, event)
        except DatabaseUnavailable as error:
            # What happened has happened (a refused login stays refused): failing the request
            # now would only hide it from the client too. The line still tells it.
            log.warning("audit row not stored (%s): %s", error, event.event)
            self._said(event)

    def _said(self, event: AuditEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def events(
        self,
        *,
        since: float | None = None,
        subject: str | Sequence[str] | None = None,
        event: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """The latest ``limit`` events, oldest first. ``subject`` (one name or several) finds a
        name also where the trail names it by its pseudonym: an attempt refused before any
        source said that the account exists (a locked one, a throttled one)."""
        query = select(audit_events).where(audit_events.c.environment == self._environment)
        if since is not None:
            query = query.where(audit_events.c.at >= since)
        if subject is not None:
            names = [subject] if isinstance(subject, str) else list(subject)
            if self._pseudonyms is not None:
                names += [self._pseudonyms.unknown_username(name) for name in names]
            query = query.where(audit_events.c.subject.in_(names))
        if event is not None:
            query = query.where(audit_events.c.event == event)
        query = query.order_by(audit_events.c.at.desc(), audit_events.c.id.desc()).limit(limit)
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(query)
        names = set(AuditEvent.__dataclass_fields__)
        return [AuditEvent(**{k: v for k, v in row._asdict().items() if k in names}) for row in reversed(rows)]
