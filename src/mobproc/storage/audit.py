"""The audit trail in SQL, and its log line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter

from sqlalchemy import and_, func, insert, or_, select

from ..domain.audit import AuditEvent, AuditFilter, log_event
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


_VALUES = attrgetter(*_FIELDS)
_COLUMNS = ("environment", *_FIELDS)
_CLIPPED = tuple((_COLUMNS.index(name), length) for name, length in _LENGTHS.items() if name in _FIELDS)
_WIDTHS = tuple(_LENGTHS.get(name) if name in _FIELDS else None for name in _COLUMNS)


def _row(environment: str, event: AuditEvent) -> dict[str, object]:
    values: tuple[object, ...] | list[object] = (environment, *_VALUES(event))
    for index, length in _CLIPPED:
        value = values[index]
        if isinstance(value, str) and len(value) > length:  # rarely: then every field is looked at
            values = [_clipped(value, length) for value, length in zip(values, _WIDTHS)]
            break
    return dict(zip(_COLUMNS, values))


def _clipped(value: object, length: int | None) -> object:
    return value[: length - 1] + "…" if isinstance(value, str) and length is not None and len(value) > length else value


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
                transaction.execute(_INSERT, _row(self._environment, event))
                transaction.after_commit(self._said, event)
        except DatabaseUnavailable as error:
            # What happened has happened (a refused login stays refused): failing the request
            # now would only hide it from the client too. The line still tells it.
            log.warning("audit row not stored (%s): %s", error, event.event)
            self._said(event)

    def _said(self, event: AuditEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def _names(self, subject: str | Sequence[str]) -> list[str]:
        names = [subject] if isinstance(subject, str) else list(subject)
        if self._pseudonyms is not None:
            names += [self._pseudonyms.unknown_username(name) for name in names]
        return names

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
            query = query.where(audit_events.c.subject.in_(self._names(subject)))
        if event is not None:
            query = query.where(audit_events.c.event == event)
        query = query.order_by(audit_events.c.at.desc(), audit_events.c.id.desc()).limit(limit)
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(query)
        names = set(AuditEvent.__dataclass_fields__)
        return [AuditEvent(**{k: v for k, v in row._asdict().items() if k in names}) for row in reversed(rows)]

    # --- the admin API's queries: newest first by (at, id), a page at a time, and the live tail

    def _filtered(self, query, where: AuditFilter, subject: str | None = None):  # noqa: ANN001, ANN202
        """``subject``: one spelling of ``where.subject`` (its name or its pseudonym), else both."""
        query = query.where(audit_events.c.environment == self._environment)
        if where.since is not None:
            query = query.where(audit_events.c.at >= where.since)
        if where.until is not None:
            query = query.where(audit_events.c.at < where.until)
        if subject is not None:
            query = query.where(audit_events.c.subject == subject)
        elif where.subject is not None:
            query = query.where(audit_events.c.subject.in_(self._names(where.subject)))
        if where.client_id is not None:
            query = query.where(audit_events.c.client_id == where.client_id)
        if where.event is not None:
            query = query.where(audit_events.c.event == where.event)
        if where.actor is not None:
            query = query.where(audit_events.c.actor == where.actor)
        return query

    def page(self, where: AuditFilter, *, before: tuple[float, int] | None, limit: int) -> list[tuple[int, AuditEvent]]:
        """Up to ``limit`` events, newest first, older than ``before`` (the (at, id) of the last
        event of the page before: a cursor that holds however many events arrive meanwhile).

        A subject is looked up under each of its spellings apart, each in its index's order, and
        the two merged: asked for both at once (``IN``), SQLite walked the whole trail by time."""
        found = []
        with self._db.transaction(write=False) as transaction:
            for subject in self._names(where.subject) if where.subject is not None else [None]:
                query = self._filtered(select(audit_events), where, subject)
                if before is not None:
                    at, row_id = before
                    query = query.where(or_(audit_events.c.at < at,
                                            and_(audit_events.c.at == at, audit_events.c.id < row_id)))
                found += transaction.all(query.order_by(audit_events.c.at.desc(), audit_events.c.id.desc())
                                         .limit(limit))
        found.sort(key=lambda row: (row.at, row.id), reverse=True)
        return [(row.id, _event_of(row)) for row in found[:limit]]

    def newest_id(self) -> int:
        with self._db.transaction(write=False) as transaction:
            return transaction.scalar(select(func.max(audit_events.c.id))) or 0

    def after(self, where: AuditFilter, *, after_id: int, late_since: float | None, floor: int = 0,
              limit: int) -> list[tuple[int, AuditEvent]]:
        """The live tail's next look: the events recorded after row ``after_id``, in row order;
        and (``late_since``) those between rows ``floor`` and ``after_id`` at that time or later,
        whose transaction may have committed after a later row's (PostgreSQL numbers a row at
        its INSERT, not at its commit; SQLite's one writer commits them in order). The caller
        drops what it has sent."""
        query = self._filtered(select(audit_events), where)
        newer = query.where(audit_events.c.id > after_id).order_by(audit_events.c.id).limit(limit)
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(newer)
            if late_since is not None and not self._db.is_sqlite:
                rows = transaction.all(query.where(audit_events.c.id > floor, audit_events.c.id <= after_id,
                                                   audit_events.c.at >= late_since)
                                       .order_by(audit_events.c.id).limit(limit)) + rows
        return [(row.id, _event_of(row)) for row in rows]

    def count_by_event(self, since: float) -> dict[str, int]:
        """How many of each event since then (the console's overview)."""
        query = (select(audit_events.c.event, func.count())
                 .where(audit_events.c.environment == self._environment, audit_events.c.at >= since)
                 .group_by(audit_events.c.event))
        with self._db.transaction(write=False) as transaction:
            return {event: count for event, count in transaction.all(query)}


_EVENT_FIELDS = set(AuditEvent.__dataclass_fields__)


def _event_of(row) -> AuditEvent:  # noqa: ANN001
    return AuditEvent(**{k: v for k, v in row._asdict().items() if k in _EVENT_FIELDS})
