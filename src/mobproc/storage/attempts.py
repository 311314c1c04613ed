"""Login attempts by subject in SQL (:mod:`mobproc.domain.lockout`), shared by every process
and machine: each decision is one conditional statement on the subject's row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, bindparam, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.lockout import AttemptState
from .database import Database
from .schema import login_attempts

_NOW = bindparam("b_now", type_=Float)
_ROW = (login_attempts.c.environment == bindparam("b_environment")) & (login_attempts.c.subject_key == bindparam("b_key"))
_STATE = (
    login_attempts.c.streak,
    login_attempts.c.lockouts,
    login_attempts.c.locked_until,
    login_attempts.c.window_start,
    login_attempts.c.window_failures,
    login_attempts.c.known,
)
_NOT_LOCKED = or_(login_attempts.c.locked_until.is_(None), login_attempts.c.locked_until <= _NOW)
# The whole lockout check is this one statement: it makes the row of a name never seen,
# claimed, or counts one more attempt on an existing row only while its streak is under
# `b_limit` and it is not locked. The database serialises it on the row, so however many
# processes race, at most `limit` attempts pass between two lockouts; counting before the
# password is checked (not after) is what makes it so. One statement whether the name is new
# or not: an unknown name costs what a known one costs. RETURNING, not rowcount, tells whether
# it claimed (psycopg answers -1 for an INSERT's rowcount).
def _claim(dialect):  # noqa: ANN001, ANN202
    new = dialect.insert(login_attempts).values(
        environment=bindparam("b_environment"), subject_key=bindparam("b_key"), streak=1, lockouts=0,
        locked_until=None, window_start=_NOW, window_failures=0, known=False, updated_at=_NOW,
    )
    return new.on_conflict_do_update(
        index_elements=[login_attempts.c.environment, login_attempts.c.subject_key],
        set_={"streak": login_attempts.c.streak + 1, "updated_at": new.excluded.updated_at},
        where=(login_attempts.c.streak < bindparam("b_limit")) & _NOT_LOCKED,
    ).returning(*_STATE)


_CLAIM = {"sqlite": _claim(sqlite), "postgresql": _claim(postgresql)}
_PEEK = select(*_STATE).where(_ROW)
_RELEASE = (
    update(login_attempts)
    .where(_ROW, login_attempts.c.streak > 0)
    .values(streak=login_attempts.c.streak - 1)
)
_IN_WINDOW = login_attempts.c.window_start > _NOW - bindparam("b_window", type_=Float)
_COUNT_FAILURE = (
    update(login_attempts)
    .where(_ROW)
    .values(
        window_failures=case((_IN_WINDOW, login_attempts.c.window_failures + 1), else_=1),
        window_start=case((_IN_WINDOW, login_attempts.c.window_start), else_=_NOW),
        known=login_attempts.c.known | bindparam("b_known"),
        updated_at=_NOW,
    )
    .returning(*_STATE)
)
_UNTIL = bindparam("b_until", type_=Float)
_LONGER = or_(login_attempts.c.locked_until.is_(None), login_attempts.c.locked_until < _UNTIL)
_LOCK_STREAK = (
    update(login_attempts)
    .where(_ROW, login_attempts.c.streak >= bindparam("b_streak"), _LONGER)
    .values(locked_until=_UNTIL, lockouts=login_attempts.c.lockouts + 1, streak=0)
)
_LOCK = update(login_attempts).where(_ROW, _LONGER).values(locked_until=_UNTIL)
_SUCCESS = update(login_attempts).where(_ROW, _NOT_LOCKED).values(streak=0, lockouts=0, known=True, updated_at=_NOW)
_UNLOCK = update(login_attempts).where(_ROW).values(streak=0, locked_until=None)


def _state(row: Any) -> AttemptState:
    return AttemptState(row.streak, row.lockouts, row.locked_until, row.window_start, row.window_failures,
                        bool(row.known))


class SqlLoginAttempts:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment
        self._claim = _CLAIM["sqlite" if database.is_sqlite else "postgresql"]

    def _row(self, key: bytes) -> dict[str, Any]:
        return {"b_environment": self._environment, "b_key": key}

    def claim(self, key: bytes, limit: int, now: float) -> tuple[bool, AttemptState | None]:
        row = self._row(key)
        with self._db.transaction(write=True) as transaction:
            claimed = transaction.first(self._claim, {**row, "b_limit": limit, "b_now": now})
            if claimed is not None:
                return True, _state(claimed)
            # Refused: why, in the same transaction, so that a refusal costs what a claim costs.
            current = transaction.first(_PEEK, row)
        return False, _state(current) if current is not None else None

    def peek(self, key: bytes) -> AttemptState | None:
        row = self._db.first(_PEEK, self._row(key))
        return _state(row) if row is not None else None

    def release(self, key: bytes) -> None:
        with self._db.transaction(write=True) as transaction:
            transaction.execute(_RELEASE, self._row(key))

    def count_failure(self, key: bytes, now: float, window: float, *, known: bool) -> AttemptState:
        with self._db.transaction(write=True) as transaction:
            row = transaction.first(_COUNT_FAILURE, {**self._row(key), "b_now": now, "b_window": window,
                                                     "b_known": known})
        if row is None:  # unlocked and swept between the claim and now: count from here
            return AttemptState(1, 0, None, now, 1, known)
        return _state(row)

    def lock(self, key: bytes, until: float, *, streak_at_least: int | None) -> bool:
        with self._db.transaction(write=True) as transaction:
            if streak_at_least is None:
                return transaction.execute(_LOCK, {**self._row(key), "b_until": until}) == 1
            return transaction.execute(_LOCK_STREAK, {**self._row(key), "b_until": until, "b_streak": streak_at_least}) == 1

    def succeeded(self, key: bytes, now: float) -> bool:
        with self._db.transaction(write=True) as transaction:
            if transaction.execute(_SUCCESS, {**self._row(key), "b_now": now}) == 1:
                return True
            # Not updated: locked meanwhile, or the row is gone (unlocked, then swept).
            return transaction.first(_PEEK, self._row(key)) is None

    def unlock(self, key: bytes) -> bool:
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(_UNLOCK, self._row(key)) == 1

    def locked_until(self, keys: list[bytes], now: float) -> dict[bytes, float]:
        """The lockouts in force among ``keys`` (for ``mobproc user list``)."""
        query = select(login_attempts.c.subject_key, login_attempts.c.locked_until).where(
            login_attempts.c.environment == self._environment,
            login_attempts.c.subject_key.in_(keys),
            login_attempts.c.locked_until > now,
        )
        with self._db.transaction(write=False) as transaction:
            return {bytes(row.subject_key): row.locked_until for row in transaction.all(query)} if keys else {}
