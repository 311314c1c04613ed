"""Accounts of the built-in identity source, in SQL."""

from __future__ import annotations

import time

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from ..domain.identities import Account, Username
from .database import Database
from .schema import accounts, grants


class AccountExists(Exception):
    pass


_NO_LOCKOUT = {"failed_logins": 0, "lockouts": 0, "locked_until": None}


def _account(row: Row) -> Account:
    return Account(
        row.id, row.source_system, row.name, row.password_hash, row.tenant, row.multitenant, row.domain,
        row.failed_logins, row.lockouts, row.locked_until,
    )


class SqlAccountStore:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    def _where(self, username: Username):  # noqa: ANN202
        return (
            (accounts.c.environment == self._environment)
            & (accounts.c.source_system == username.source_system)
            & (accounts.c.name == username.name)
        )

    def find_account(self, source_system: str, name: str) -> Account | None:
        with self._db.read() as connection:
            row = connection.execute(select(accounts).where(self._where(Username(source_system, name)))).first()
        return _account(row) if row else None

    def replace_password_hash(self, account_id: int, old_hash: str, new_hash: str) -> None:
        """A rehash with new argon2 parameters; conditional, so a concurrent password change wins."""
        with self._db.write() as connection:
            connection.execute(
                update(accounts)
                .where(accounts.c.id == account_id, accounts.c.password_hash == old_hash)
                .values(password_hash=new_hash)
            )

    def claim_attempt(self, source_system: str, name: str, limit: int, now: float) -> tuple[Account | None, bool]:
        where = self._where(Username(source_system, name))
        with self._db.write() as connection:
            # One conditional UPDATE is the whole lockout check: the database serializes it on
            # the row, so however many processes race, at most `limit` attempts pass
            # between two lockouts. Counting before the check (not after) is what makes it so.
            row = connection.execute(
                update(accounts)
                .where(
                    where,
                    accounts.c.failed_logins < limit,
                    or_(accounts.c.locked_until.is_(None), accounts.c.locked_until <= now),
                )
                .values(failed_logins=accounts.c.failed_logins + 1)
                .returning(*accounts.c)
            ).first()
            if row is not None:
                return _account(row), True
            # Refused: why, in the same transaction, so that an unknown or locked account
            # costs the same time as a claim (no second round trip to tell them apart).
            row = connection.execute(select(accounts).where(where)).first()
        return (_account(row) if row else None), False

    def release_attempt(self, account_id: int) -> None:
        with self._db.write() as connection:
            connection.execute(
                update(accounts)
                .where(accounts.c.id == account_id, accounts.c.failed_logins > 0)
                .values(failed_logins=accounts.c.failed_logins - 1)
            )

    def lock_account(self, account_id: int, limit: int, until: float) -> bool:
        with self._db.write() as connection:
            locked = connection.execute(
                update(accounts)
                .where(accounts.c.id == account_id, accounts.c.failed_logins >= limit)
                .values(locked_until=until, lockouts=accounts.c.lockouts + 1, failed_logins=0)
            ).rowcount
        return locked == 1

    def record_success(self, account_id: int) -> None:
        with self._db.write() as connection:
            connection.execute(update(accounts).where(accounts.c.id == account_id).values(**_NO_LOCKOUT))

    def unlock(self, username: Username) -> bool:
        """``mobproc user unlock``: end a lockout and forget the failure streak."""
        with self._db.write() as connection:
            result = connection.execute(
                update(accounts).where(self._where(username)).values(**_NO_LOCKOUT)
            )
        return result.rowcount == 1

    def add_account(
        self,
        username: Username,
        password_hash: str,
        *,
        tenant: str | None = None,
        multitenant: bool = False,
        domain: str | None = None,
    ) -> Account:
        values = {
            "environment": self._environment,
            "source_system": username.source_system,
            "name": username.name,
            "password_hash": password_hash,
            "tenant": tenant,
            "multitenant": multitenant,
            "domain": domain,
            "created_at": time.time(),
        }
        try:
            with self._db.write() as connection:
                connection.execute(insert(accounts).values(values))
        except IntegrityError:
            raise AccountExists(str(username)) from None
        account = self.find_account(username.source_system, username.name)
        assert account is not None
        return account

    def list_accounts(self) -> list[Account]:
        with self._db.read() as connection:
            rows = connection.execute(
                select(accounts)
                .where(accounts.c.environment == self._environment)
                .order_by(accounts.c.source_system, accounts.c.name)
            ).all()
        return [_account(row) for row in rows]

    def remove_account(self, username: Username) -> bool:
        """Remove the account; its grants and every token go with it (ON DELETE CASCADE)."""
        with self._db.write() as connection:
            result = connection.execute(delete(accounts).where(self._where(username)))
        return result.rowcount == 1

    def set_password_hash(self, username: Username, password_hash: str) -> bool:
        """A new password ends every grant the old one made (a reset is often a response to a leak)."""
        with self._db.write() as connection:
            account_id = connection.execute(select(accounts.c.id).where(self._where(username))).scalar()
            if account_id is None:
                return False
            connection.execute(update(accounts).where(accounts.c.id == account_id).values(password_hash=password_hash))
            connection.execute(
                update(grants)
                .where(grants.c.account_id == account_id, grants.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return True
