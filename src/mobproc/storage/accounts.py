"""Accounts of the built-in identity source, in SQL."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..domain.identities import Account, Username
from .database import Database
from .schema import accounts, grants


class AccountExists(Exception):
    pass


_NO_LOCKOUT = {"failed_logins": 0, "lockouts": 0, "locked_until": None}

# The statements of a login, built once with bound parameters and run in a
# Database.transaction: building them per call cost more Python than the argon2id hash
# leaves to spare. (Names in ``b_`` are parameters.)
_BY_NAME = (
    (accounts.c.environment == bindparam("b_environment"))
    & (accounts.c.source_system == bindparam("b_source_system"))
    & (accounts.c.name == bindparam("b_name"))
)
_FIND = select(accounts).where(_BY_NAME)
# One conditional UPDATE is the whole lockout check: the database serializes it on the row,
# so however many processes race, at most `limit` attempts pass between two lockouts.
# Counting before the check (not after) is what makes it so.
_CLAIM = (
    update(accounts)
    .where(
        _BY_NAME,
        accounts.c.failed_logins < bindparam("b_limit"),
        or_(accounts.c.locked_until.is_(None), accounts.c.locked_until <= bindparam("b_now")),
    )
    .values(failed_logins=accounts.c.failed_logins + 1)
    .returning(*accounts.c)
)
_RELEASE = (
    update(accounts)
    .where(accounts.c.id == bindparam("b_id"), accounts.c.failed_logins > 0)
    .values(failed_logins=accounts.c.failed_logins - 1)
)
_LOCK = (
    update(accounts)
    .where(accounts.c.id == bindparam("b_id"), accounts.c.failed_logins >= bindparam("b_limit"))
    .values(locked_until=bindparam("b_until"), lockouts=accounts.c.lockouts + 1, failed_logins=0)
)
_SUCCESS = update(accounts).where(accounts.c.id == bindparam("b_id")).values(**_NO_LOCKOUT)


def _account(row: Any) -> Account:
    return Account(
        row.id, row.source_system, row.name, row.password_hash, row.tenant, bool(row.multitenant), row.domain,
        row.failed_logins, row.lockouts, row.locked_until,
    )


class SqlAccountStore:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    def _by_name(self, source_system: str, name: str) -> dict[str, Any]:
        return {"b_environment": self._environment, "b_source_system": source_system, "b_name": name}

    def find_account(self, source_system: str, name: str) -> Account | None:
        row = self._db.first(_FIND, self._by_name(source_system, name))
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
        by_name = self._by_name(source_system, name)
        with self._db.transaction(write=True) as connection:
            row = connection.first(_CLAIM, {**by_name, "b_limit": limit, "b_now": now})
            if row is not None:
                return _account(row), True
            # Refused: why, in the same transaction, so that an unknown or locked account
            # costs the same time as a claim (no second round trip to tell them apart).
            row = connection.first(_FIND, by_name)
        return (_account(row) if row else None), False

    def release_attempt(self, account_id: int) -> None:
        with self._db.transaction(write=True) as connection:
            connection.execute(_RELEASE, {"b_id": account_id})

    def lock_account(self, account_id: int, limit: int, until: float) -> bool:
        with self._db.transaction(write=True) as connection:
            return connection.execute(_LOCK, {"b_id": account_id, "b_limit": limit, "b_until": until}) == 1

    def record_success(self, account_id: int) -> None:
        with self._db.transaction(write=True) as connection:
            connection.execute(_SUCCESS, {"b_id": account_id})

    def unlock(self, username: Username) -> bool:
        """``mobproc user unlock``: end a lockout and forget the failure streak."""
        with self._db.write() as connection:
            result = connection.execute(
                update(accounts).where(_BY_NAME).values(**_NO_LOCKOUT),
                self._by_name(username.source_system, username.name),
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
            result = connection.execute(
                delete(accounts).where(_BY_NAME), self._by_name(username.source_system, username.name)
            )
        return result.rowcount == 1

    def set_password_hash(self, username: Username, password_hash: str) -> bool:
        """A new password ends every grant the old one made (a reset is often a response to a leak)."""
        with self._db.write() as connection:
            account_id = connection.execute(
                select(accounts.c.id).where(_BY_NAME), self._by_name(username.source_system, username.name)
            ).scalar()
            if account_id is None:
                return False
            connection.execute(update(accounts).where(accounts.c.id == account_id).values(password_hash=password_hash))
            connection.execute(
                update(grants)
                .where(grants.c.account_id == account_id, grants.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return True
