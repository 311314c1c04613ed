"""Failure budgets (token buckets) in SQL, shared by every process and machine."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.throttling import Bucket
from .database import Database
from .schema import throttle


class _Empty(Exception):
    def __init__(self, bucket: Bucket, wait: float) -> None:
        self.bucket, self.wait = bucket, wait


class SqlFailureBudget:
    """A bucket is a row holding its tokens at ``updated_at``; the refill since then is
    computed inside the claiming UPDATE, so the check and the spend are one atomic statement.
    A row untouched for ``forget_after`` seconds is full again, the same as no row: such rows
    are deleted now and then, which bounds the table by the addresses that failed lately.
    """

    def __init__(self, database: Database, environment: str, *, forget_after: float) -> None:
        self._db = database
        self._environment = environment
        self._forget_after = forget_after
        self._next_sweep = 0.0

    def _level(self, bucket: Bucket, now: float):  # noqa: ANN202
        elapsed = case((throttle.c.updated_at < now, now - throttle.c.updated_at), else_=0.0)
        refilled = throttle.c.tokens + elapsed * bucket.per_second
        return case((refilled > bucket.capacity, float(bucket.capacity)), else_=refilled)

    def _where(self, bucket: Bucket):  # noqa: ANN202
        return (throttle.c.environment == self._environment) & (throttle.c.bucket == bucket.name)

    def take(self, buckets: Sequence[Bucket], now: float) -> tuple[Bucket, float] | None:
        try:
            with self._db.write() as connection:
                for bucket in buckets:
                    self._take_one(connection, bucket, now)
                if now >= self._next_sweep:
                    self._next_sweep = now + 60
                    connection.execute(
                        delete(throttle).where(
                            throttle.c.environment == self._environment,
                            throttle.c.updated_at < now - self._forget_after,
                        )
                    )
        except _Empty as empty:  # the transaction rolled back: no bucket was spent
            return empty.bucket, empty.wait
        return None

    def _take_one(self, connection: Connection, bucket: Bucket, now: float) -> None:
        level = self._level(bucket, now)
        taken = connection.execute(
            update(throttle).where(self._where(bucket), level >= 1).values(tokens=level - 1, updated_at=now)
        ).rowcount
        if taken:
            return
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        # A new bucket starts full, less this token. RETURNING, not rowcount, tells whether
        # the row was made: psycopg answers -1 for an INSERT's rowcount.
        created = connection.execute(
            dialect.insert(throttle)
            .values(environment=self._environment, bucket=bucket.name, tokens=bucket.capacity - 1.0, updated_at=now)
            .on_conflict_do_nothing()
            .returning(throttle.c.bucket)
        ).first()
        if created is not None:
            return
        left = connection.execute(select(level).where(self._where(bucket))).scalar() or 0.0
        raise _Empty(bucket, max(0.0, 1 - left) / bucket.per_second)

    def give_back(self, buckets: Sequence[Bucket], now: float) -> None:
        with self._db.write() as connection:
            for bucket in buckets:
                level = self._level(bucket, now)
                connection.execute(
                    update(throttle)
                    .where(self._where(bucket))
                    .values(tokens=case((level + 1 > bucket.capacity, float(bucket.capacity)), else_=level + 1),
                            updated_at=now)
                )


def forget_after(*buckets: tuple[int, float]) -> float:
    """Seconds after which an untouched bucket of any of these (burst, per-minute) kinds is full."""
    return max((burst / (per_minute / 60) for burst, per_minute in buckets if burst), default=0.0) + 1
