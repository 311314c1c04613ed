"""Accounts of the built-in identity source, in SQL."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..domain.identities import Account, AccountExists, Username
from .database import Database
from .schema import accounts, authorization_codes, browser_sessions, grants
from .search import prefix_range

# The statements of a login, built once with bound parameters and run in a
# Database.transaction. (Names in ``b_`` are parameters.)
_BY_NAME = (
    (accounts.c.environment == bindparam("b_environment"))
    & (accounts.c.source_system == bindparam("b_source_system"))
    & (accounts.c.name == bindparam("b_name"))
)
_FIND = select(accounts).where(_BY_NAME)
# Conditional on the credential checked: a password set anew (or the account removed) since
# the check leaves the row alone, and the login makes nothing (issue 19, item 3).
_STILL_CHECKED = (accounts.c.id == bindparam("b_id")) & (accounts.c.credential_version == bindparam("b_version"))
_LOGIN = update(accounts).where(_STILL_CHECKED).values(last_login_at=bindparam("b_now"))
# A renewal of the hash with the current argon2 parameters replaces only the hash that was
# checked: of two logins that both renew it, the second finds it renewed already, and its
# login stands (the credential is the same; only its version decides).
_LOGIN_REHASHED = (
    update(accounts)
    .where(_STILL_CHECKED)
    .values(
        last_login_at=bindparam("b_now"),
        password_hash=case(
            (accounts.c.password_hash == bindparam("b_old_hash"), bindparam("b_new_hash")),
            else_=accounts.c.password_hash,
        ),
    )
)


def _account(row: Any) -> Account:
    return Account(
        row.id, row.source_system, row.name, row.password_hash, row.tenant, bool(row.multitenant), row.domain,
        row.credential_version, row.last_login_at, row.version,
    )


class SqlAccountStore:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    def _by_name(self, username: Username) -> dict[str, Any]:
        return {"b_environment": self._environment, "b_source_system": username.source_system, "b_name": username.name}

    def find_account(self, source_system: str, name: str) -> Account | None:
        row = self._db.first(_FIND, self._by_name(Username(source_system, name)))
        return _account(row) if row else None

    def record_login(self, account_id: int, credential_version: int, now: float,
                     rehash: tuple[str, str] | None = None) -> bool:
        params: dict[str, Any] = {"b_id": account_id, "b_version": credential_version, "b_now": now}
        with self._db.transaction(write=True) as transaction:
            if rehash is None:
                return transaction.execute(_LOGIN, params) == 1
            # A rehash with new argon2 parameters: the same password, so the same version.
            return transaction.execute(_LOGIN_REHASHED, {**params, "b_old_hash": rehash[0], "b_new_hash": rehash[1]}) == 1

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
            with self._db.transaction(write=True) as transaction:
                transaction.execute(insert(accounts).values(values))
                return _account(transaction.first(_FIND, self._by_name(username)))
        except IntegrityError:
            raise AccountExists(str(username)) from None

    def list_accounts(self) -> list[Account]:
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(
                select(accounts)
                .where(accounts.c.environment == self._environment)
                .order_by(accounts.c.source_system, accounts.c.name)
            )
        return [_account(row) for row in rows]

    def search_accounts(self, prefix: str, source_system: str | None, offset: int,
                        limit: int) -> tuple[list[Account], int]:
        """By name in code-point order, then source system: the index of 0009_admin answers a
        prefix with or without a source system (README, Admin API: the figures)."""
        conditions = [accounts.c.environment == self._environment]
        if source_system is not None:
            conditions.append(accounts.c.source_system == source_system)
        if prefix:
            conditions.append(prefix_range(accounts.c.name, prefix, self._db.is_sqlite))
        name = accounts.c.name if self._db.is_sqlite else accounts.c.name.collate("C")
        with self._db.transaction(write=False) as transaction:
            total = transaction.scalar(select(func.count()).select_from(accounts).where(*conditions))
            rows = transaction.all(select(accounts).where(*conditions).order_by(name, accounts.c.source_system)
                                   .offset(offset).limit(limit))
        return [_account(row) for row in rows], total

    def remove_account(self, username: Username, if_version: int | None = None) -> bool:
        """Remove the account; its grants and every token go with it (ON DELETE CASCADE)."""
        condition = [_BY_NAME] + ([accounts.c.version == if_version] if if_version is not None else [])
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(delete(accounts).where(*condition), self._by_name(username)) == 1

    def set_password_hash(self, username: Username, password_hash: str, if_version: int | None = None) -> bool:
        """A new password ends every grant the old one made (a reset is often a response to a
        leak), every browser session it signed in and every code not yet redeemed, and every
        login still being checked against the old one (its version moves on)."""
        condition = [_BY_NAME] + ([accounts.c.version == if_version] if if_version is not None else [])
        with self._db.transaction(write=True) as transaction:
            # One statement, so that of two changes made on the same version one wins.
            account_id = transaction.scalar(
                update(accounts)
                .where(*condition)
                .values(password_hash=password_hash, credential_version=accounts.c.credential_version + 1,
                        version=accounts.c.version + 1)
                .returning(accounts.c.id),
                self._by_name(username),
            )
            if account_id is None:
                return False
            now = time.time()
            transaction.execute(
                update(grants)
                .where(grants.c.account_id == account_id, grants.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            transaction.execute(
                update(browser_sessions)
                .where(browser_sessions.c.account_id == account_id, browser_sessions.c.ended_at.is_(None))
                .values(ended_at=now)
            )
            transaction.execute(
                update(authorization_codes)
                .where(authorization_codes.c.account_id == account_id, authorization_codes.c.used_at.is_(None))
                .values(used_at=now)
            )
        return True
