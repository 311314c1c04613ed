"""Failure budgets (token buckets) in SQL, shared by every process and machine."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Float, bindparam, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.throttling import Bucket, Throttled
from .database import Database, Transaction
from .schema import throttle

# Built once with bound parameters, run in a Database.transaction (names in ``b_`` are
# parameters). A bucket's level at ``b_now``: its tokens plus the refill since it was
# last touched, at most its capacity.
_NOW = bindparam("b_now", type_=Float)
_CAPACITY = bindparam("b_capacity", type_=Float)
_REFILLED = throttle.c.tokens + case(
    (throttle.c.updated_at < _NOW, _NOW - throttle.c.updated_at), else_=0.0
) * bindparam("b_per_second", type_=Float)
_LEVEL = case((_REFILLED > _CAPACITY, _CAPACITY), else_=_REFILLED)
_BUCKET = (throttle.c.environment == bindparam("b_environment")) & (throttle.c.bucket == bindparam("b_bucket"))
_TAKE = update(throttle).where(_BUCKET, _LEVEL >= 1).values(tokens=_LEVEL - 1, updated_at=_NOW)
_GIVE_BACK = update(throttle).where(_BUCKET).values(
    tokens=case((_LEVEL + 1 > _CAPACITY, _CAPACITY), else_=_LEVEL + 1), updated_at=_NOW
)
_LEFT = select(_LEVEL).where(_BUCKET)
# A new bucket starts full, less this token. RETURNING, not rowcount, tells whether the row
# was made: psycopg answers -1 for an INSERT's rowcount.
_CREATE = {
    name: dialect.insert(throttle)
    .values(environment=bindparam("b_environment"), bucket=bindparam("b_bucket"),
            tokens=bindparam("b_tokens", type_=Float), updated_at=_NOW)
    .on_conflict_do_nothing()
    .returning(throttle.c.bucket)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_SWEEP = delete(throttle).where(
    throttle.c.environment == bindparam("b_environment"), throttle.c.updated_at < bindparam("b_before")
)


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
        self._create = _CREATE["sqlite" if database.is_sqlite else "postgresql"]

    def _params(self, bucket: Bucket, now: float) -> dict[str, object]:
        return {
            "b_environment": self._environment,
            "b_bucket": bucket.name,
            "b_now": now,
            "b_capacity": float(bucket.capacity),
            "b_per_second": bucket.per_second,
        }

    def take(self, buckets: Sequence[Bucket], now: float) -> None:
        # Throttled, raised out of the transaction, rolls it back: no bucket is spent.
        with self._db.transaction(write=True) as connection:
            for bucket in buckets:
                self._take_one(connection, bucket, now)
            if now >= self._next_sweep:
                self._next_sweep = now + 60
                connection.execute(_SWEEP, {"b_environment": self._environment,
                                            "b_before": now - self._forget_after})

    def _take_one(self, connection: Transaction, bucket: Bucket, now: float) -> None:
        params = self._params(bucket, now)
        if connection.execute(_TAKE, params):
            return
        created = connection.first(self._create, {**params, "b_tokens": bucket.capacity - 1.0})
        if created is not None:
            return
        # Another transaction made the row first (on PostgreSQL this INSERT waited for its
        # commit): the row exists now, and the claim is tried on it once more.
        if connection.execute(_TAKE, params):
            return
        left = connection.scalar(_LEFT, params) or 0.0
        raise Throttled(bucket, max(0.0, 1 - left) / bucket.per_second)

    def give_back(self, buckets: Sequence[Bucket], now: float) -> None:
        with self._db.transaction(write=True) as connection:
            for bucket in buckets:
                connection.execute(_GIVE_BACK, self._params(bucket, now))


def forget_after(*buckets: tuple[int, float]) -> float:
    """Seconds after which an untouched bucket of any of these (burst, per-minute) kinds is full."""
    return max((burst / (per_minute / 60) for burst, per_minute in buckets if burst), default=0.0) + 1
