"""Grants and their tokens in SQL: the storage behind the grants, introspection and revocation."""

from __future__ import annotations

import time
from collections import namedtuple
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..domain.audit import AuditEvent, AuditLog
from ..domain.clients import ClientRef
from ..domain.identities import Identity, Username
from ..domain.registries import GrantView
from ..domain.tokens import (
    AccessTokenRecord,
    Authorization,
    GrantOwnerGone,
    IssuedToken,
    RefreshTokenRecord,
    StoredAuthorization,
)
from .database import Database, Transaction
from .schema import access_tokens, clients, grants, refresh_tokens

# Every statement of the hot paths is built once, here, with bound parameters, and runs in a
# Database.transaction (a lookup in Database.first), which compiles it once. (Names in ``b_``
# are parameters; unprefixed names in an INSERT's parameters are its columns.)
_INSERT_GRANT = insert(grants).returning(grants.c.id)
_INSERT_ACCESS = insert(access_tokens)
_INSERT_REFRESH = insert(refresh_tokens)

# A token's row with its grant's and the few of its client's a stored token names it by
# (ClientRef), under names that do not collide. The client's whole registration (fourteen
# columns, read, converted and hashed into the cache key below with every token) was 7 % of an
# introspection's instructions, for nothing it answers.
_GRANT_AND_CLIENT = (
    grants.c.id.label("grant_id"),
    grants.c.grant_type,
    grants.c.subject,
    grants.c.scope,
    grants.c.source_system,
    grants.c.tenant,
    grants.c.multitenant,
    grants.c.domain,
    grants.c.account_id,
    grants.c.expires_at.label("grant_expires_at"),
    grants.c.revoked_at.label("grant_revoked_at"),
    clients.c.id,
    clients.c.client_id,
    clients.c.enabled,
)
_FIND_REFRESH = (
    select(
        refresh_tokens.c.id.label("token_id"),
        refresh_tokens.c.generation,
        refresh_tokens.c.issued_at.label("token_issued_at"),
        refresh_tokens.c.expires_at.label("token_expires_at"),
        refresh_tokens.c.consumed_at,
        *_GRANT_AND_CLIENT,
    )
    .join(grants, grants.c.id == refresh_tokens.c.grant_id)
    .join(clients, clients.c.id == grants.c.client_pk)
    .where(refresh_tokens.c.lookup == bindparam("b_lookup"), refresh_tokens.c.environment == bindparam("b_environment"))
)
_FIND_ACCESS = (
    select(
        access_tokens.c.id.label("token_id"),
        access_tokens.c.scope.label("token_scope"),
        access_tokens.c.issued_at.label("token_issued_at"),
        access_tokens.c.expires_at.label("token_expires_at"),
        access_tokens.c.revoked_at.label("token_revoked_at"),
        *_GRANT_AND_CLIENT,
    )
    .join(grants, grants.c.id == access_tokens.c.grant_id)
    .join(clients, clients.c.id == grants.c.client_pk)
    .where(access_tokens.c.lookup == bindparam("b_lookup"), access_tokens.c.environment == bindparam("b_environment"))
)
_GRANT_LIVE = select(grants.c.id).where(grants.c.id == bindparam("b_grant_id"), grants.c.revoked_at.is_(None))
# The conditional update is the whole defence against two concurrent rotations: whichever
# transaction flips consumed_at first wins; the other sees rowcount 0.
_CONSUME = (
    update(refresh_tokens)
    .where(
        refresh_tokens.c.id == bindparam("b_token_id"),
        refresh_tokens.c.consumed_at.is_(None),
        refresh_tokens.c.grant_id.in_(_GRANT_LIVE),
    )
    .values(consumed_at=bindparam("b_now"))
)
_LIVE_SUCCESSOR = select(refresh_tokens.c.id).where(
    refresh_tokens.c.grant_id == bindparam("b_grant_id"),
    refresh_tokens.c.generation == bindparam("b_generation"),
    refresh_tokens.c.consumed_at.is_(None),
    refresh_tokens.c.grant_id.in_(_GRANT_LIVE),
)
_CONSUME_SUCCESSOR = (
    update(refresh_tokens)
    .where(refresh_tokens.c.id == bindparam("b_token_id"), refresh_tokens.c.consumed_at.is_(None))
    .values(consumed_at=bindparam("b_now"))
)
_REVOKE_ACCESS = (
    update(access_tokens)
    .where(access_tokens.c.id == bindparam("b_token_id"), access_tokens.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("b_now"))
)
_REVOKE_GRANT = (
    update(grants)
    .where(grants.c.id == bindparam("b_grant_id"), grants.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("b_now"))
)


def _identity(row: Any) -> Identity | None:
    if row.source_system is None:
        return None
    return Identity(
        subject=row.subject,
        source_system=row.source_system,
        name=Username.parse(row.subject).name,
        tenant=row.tenant,
        multitenant=bool(row.multitenant),  # SQLite answers 0 or 1
        domain=row.domain,
        account_id=row.account_id,
    )


# The columns a StoredAuthorization is made of: its grant's identity and its client's reference.
_AUTHORIZATION_COLUMNS = (
    "grant_type", "subject", "source_system", "tenant", "multitenant", "domain", "account_id",
    "id", "client_id", "enabled",
)
_AuthorizationColumns = namedtuple("_AuthorizationColumns", (*_AUTHORIZATION_COLUMNS, "scope"))
_authorization_columns = attrgetter(*_AUTHORIZATION_COLUMNS)


@lru_cache(maxsize=4096)
def _authorization_of(values: tuple[Any, ...]) -> StoredAuthorization:
    row = _AuthorizationColumns._make(values)
    return StoredAuthorization(
        client=ClientRef(row.id, row.client_id, bool(row.enabled)),  # SQLite answers 0 or 1
        scope=tuple(row.scope.split()),
        grant_type=row.grant_type,
        identity=_identity(row),
    )


def _authorization(row: Any, scope: str) -> StoredAuthorization:
    """The same columns always make the same StoredAuthorization, and it is immutable: so each
    is built once and then shared. Every lookup of a token otherwise made an Identity and an
    authorization anew, parsing the subject each time. The key is every column it is made of,
    so a client disabled makes a new one."""
    return _authorization_of((*_authorization_columns(row), scope))


# How often a grace answer may lose the race for the live token and look again (PostgreSQL).
MAX_GRACE_ATTEMPTS = 16


class SqlTokenStore:
    """A write that issues tokens takes the audit event that says so, and records it in the
    same transaction: the tokens and their record commit together, and the event's log line
    follows the commit."""

    def __init__(self, database: Database, environment: str, audit: AuditLog) -> None:
        self._db = database
        self._environment = environment
        self._audit = audit

    def create_grant(
        self,
        authorization: Authorization,
        access: IssuedToken,
        refresh: IssuedToken | None,
        expires_at: float,
        event: AuditEvent | None = None,
    ) -> int:
        try:
            return self._create_grant(authorization, access, refresh, expires_at, event)
        except IntegrityError:
            # The foreign keys refused: the client or account was deleted after this request
            # looked it up (another process, or a cached client).
            raise GrantOwnerGone() from None

    def _create_grant(
        self,
        authorization: Authorization,
        access: IssuedToken,
        refresh: IssuedToken | None,
        expires_at: float,
        event: AuditEvent | None,
    ) -> int:
        identity = authorization.identity
        with self._db.transaction(write=True) as connection:
            grant_id = connection.scalar(
                _INSERT_GRANT,
                {
                    "environment": self._environment,
                    "client_pk": authorization.client.pk,
                    "account_id": identity.account_id if identity else None,
                    "grant_type": authorization.grant_type,
                    "subject": authorization.subject,
                    "scope": " ".join(authorization.scope),
                    "source_system": identity.source_system if identity else None,
                    "tenant": identity.tenant if identity else None,
                    "multitenant": identity.multitenant if identity else False,
                    "domain": identity.domain if identity else None,
                    "created_at": access.issued_at,
                    "expires_at": expires_at,
                },
            )
            self._insert_tokens(connection, grant_id, authorization.scope, access, refresh, generation=0)
            if event is not None:
                self._audit.record(event.for_grant(grant_id))
        return grant_id

    def _insert_tokens(
        self,
        connection: Transaction,
        grant_id: int,
        scope: tuple[str, ...],
        access: IssuedToken,
        refresh: IssuedToken | None,
        generation: int,
    ) -> None:
        connection.execute(
            _INSERT_ACCESS,
            {
                "lookup": access.lookup,
                "environment": self._environment,
                "grant_id": grant_id,
                "scope": " ".join(scope),
                "issued_at": access.issued_at,
                "expires_at": access.expires_at,
            },
        )
        if refresh is not None:
            connection.execute(
                _INSERT_REFRESH,
                {
                    "lookup": refresh.lookup,
                    "environment": self._environment,
                    "grant_id": grant_id,
                    "generation": generation,
                    "issued_at": refresh.issued_at,
                    "expires_at": refresh.expires_at,
                },
            )

    def find_refresh_token(self, lookup: bytes) -> RefreshTokenRecord | None:
        row = self._db.first(_FIND_REFRESH, {"b_lookup": lookup, "b_environment": self._environment})
        if row is None:
            return None
        return RefreshTokenRecord(
            token_id=row.token_id,
            grant_id=row.grant_id,
            generation=row.generation,
            authorization=_authorization(row, row.scope),
            idle_expires_at=row.token_expires_at,
            grant_expires_at=row.grant_expires_at,
            consumed=row.consumed_at is not None,
            grant_revoked=row.grant_revoked_at is not None,
            issued_at=row.token_issued_at,
            consumed_at=row.consumed_at,
        )

    def find_access_token(self, lookup: bytes) -> AccessTokenRecord | None:
        row = self._db.first(_FIND_ACCESS, {"b_lookup": lookup, "b_environment": self._environment})
        if row is None:
            return None
        return AccessTokenRecord(
            token_id=row.token_id,
            grant_id=row.grant_id,
            authorization=_authorization(row, row.token_scope),
            issued_at=row.token_issued_at,
            expires_at=row.token_expires_at,
            revoked=row.token_revoked_at is not None or row.grant_revoked_at is not None,
        )

    def revoke_access_token(self, token_id: int) -> None:
        with self._db.transaction(write=True) as connection:
            connection.execute(_REVOKE_ACCESS, {"b_token_id": token_id, "b_now": time.time()})

    def rotate_refresh_token(
        self,
        record: RefreshTokenRecord,
        scope: tuple[str, ...],
        access: IssuedToken,
        refresh: IssuedToken,
        event: AuditEvent | None = None,
    ) -> bool:
        with self._db.transaction(write=True) as connection:
            won = connection.execute(
                _CONSUME, {"b_token_id": record.token_id, "b_grant_id": record.grant_id, "b_now": access.issued_at}
            )
            if won != 1:
                return False
            self._insert_tokens(connection, record.grant_id, scope, access, refresh, record.generation + 1)
            if event is not None:
                self._audit.record(event)
        return True

    def replace_successor(
        self,
        record: RefreshTokenRecord,
        scope: tuple[str, ...],
        access: IssuedToken,
        refresh: IssuedToken,
        event: AuditEvent | None = None,
    ) -> bool:
        successor = record.generation + 1
        with self._db.transaction(write=True) as connection:
            # Conditional for the same reason as a rotation: of two concurrent grace answers
            # each replaces the live token of its moment, never both the same one. On
            # PostgreSQL (READ COMMITTED) the loser of that race looks again: each statement
            # sees the newest committed rows, so it finds the winner's token and replaces that.
            # SQLite serialises writers, so there the first look is the last.
            for _ in range(MAX_GRACE_ATTEMPTS):
                live = connection.scalar(
                    _LIVE_SUCCESSOR, {"b_grant_id": record.grant_id, "b_generation": successor}
                )
                if live is None:
                    return False
                won = connection.execute(_CONSUME_SUCCESSOR, {"b_token_id": live, "b_now": access.issued_at})
                if won == 1:
                    break
            else:
                return False
            self._insert_tokens(connection, record.grant_id, scope, access, refresh, successor)
            if event is not None:
                self._audit.record(event)
        return True

    def revoke_grant(self, grant_id: int) -> bool:
        """True when this call revoked it (False: it was revoked already)."""
        with self._db.transaction(write=True) as connection:
            revoked = connection.execute(_REVOKE_GRANT, {"b_grant_id": grant_id, "b_now": time.time()})
        return revoked == 1

    # --- an account's grants, for operators (mobproc.domain.registries.AccountRegistry)

    def grants_of(self, subject: str, account_id: int | None, limit: int) -> list[GrantView]:
        """Newest first. A built-in account's by its row (indexed); a directory's by subject."""
        owner = grants.c.account_id == account_id if account_id is not None else grants.c.subject == subject
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(
                select(grants.c.id, clients.c.client_id, grants.c.grant_type, grants.c.scope, grants.c.created_at,
                       grants.c.expires_at, grants.c.revoked_at)
                .join(clients, clients.c.id == grants.c.client_pk)
                .where(grants.c.environment == self._environment, owner)
                .order_by(grants.c.id.desc())
                .limit(limit)
            )
        return [GrantView(row.id, row.client_id, row.grant_type, tuple(row.scope.split()), row.created_at,
                          row.expires_at, row.revoked_at) for row in rows]

    def revoke_grant_of(self, subject: str, grant_id: int) -> bool | None:
        """True: revoked now; False: it was revoked already; None: the subject has no such grant."""
        with self._db.transaction(write=True) as connection:
            owned = connection.first(
                select(grants.c.revoked_at).where(grants.c.environment == self._environment, grants.c.id == grant_id,
                                                  grants.c.subject == subject))
            if owned is None:
                return None
            return connection.execute(_REVOKE_GRANT, {"b_grant_id": grant_id, "b_now": time.time()}) == 1
