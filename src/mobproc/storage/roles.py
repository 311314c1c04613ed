"""The admin API's roles in SQL, by subject (mobproc.domain.roles)."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from .database import Database
from .schema import account_roles


class SqlRoleStore:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    def roles_of(self, subjects: list[str]) -> dict[str, tuple[str, ...]]:
        if not subjects:
            return {}
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(
                select(account_roles.c.subject, account_roles.c.role)
                .where(account_roles.c.environment == self._environment, account_roles.c.subject.in_(subjects))
                .order_by(account_roles.c.subject, account_roles.c.role)
            )
        found: dict[str, tuple[str, ...]] = {}
        for subject, role in rows:
            found[subject] = (*found.get(subject, ()), role)
        return found

    def grant_role(self, subject: str, role: str, granted_by: str, now: float) -> bool:
        try:
            with self._db.transaction(write=True, join=False) as transaction:
                transaction.execute(insert(account_roles).values(
                    environment=self._environment, subject=subject, role=role, granted_at=now,
                    granted_by=granted_by[:255],
                ))
        except IntegrityError:
            return False  # held already
        return True

    def revoke_role(self, subject: str, role: str) -> bool:
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(delete(account_roles).where(
                account_roles.c.environment == self._environment, account_roles.c.subject == subject,
                account_roles.c.role == role,
            )) == 1

    def revoke_roles(self, subject: str) -> None:
        with self._db.transaction(write=True) as transaction:
            transaction.execute(delete(account_roles).where(
                account_roles.c.environment == self._environment, account_roles.c.subject == subject))
