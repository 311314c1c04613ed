"""Grants and their tokens in SQL: the storage behind the grants, introspection and revocation."""

from __future__ import annotations

import time

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from ..domain.identities import Identity, Username
from ..domain.tokens import Authorization, IssuedToken
from ..oauth2.grants.storage import AccessTokenRecord, GrantOwnerGone, RefreshTokenRecord
from .clients import _client
from .database import Database
from .schema import access_tokens, clients, grants, refresh_tokens


def _identity(row: Row) -> Identity | None:
    if row.source_system is None:
        return None
    return Identity(
        subject=row.subject,
        source_system=row.source_system,
        name=Username.parse(row.subject).name,
        tenant=row.tenant,
        multitenant=row.multitenant,
        domain=row.domain,
        account_id=row.account_id,
    )


# How often a grace answer may lose the race for the live token and look again (PostgreSQL).
MAX_GRACE_ATTEMPTS = 16


class SqlTokenStore:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    def create_grant(
        self, authorization: Authorization, access: IssuedToken, refresh: IssuedToken | None, expires_at: float
    ) -> int:
        try:
            return self._create_grant(authorization, access, refresh, expires_at)
        except IntegrityError:
            # The foreign keys refused: the client or account was deleted after this request
            # looked it up (another process, or a cached client).
            raise GrantOwnerGone() from None

    def _create_grant(
        self, authorization: Authorization, access: IssuedToken, refresh: IssuedToken | None, expires_at: float
    ) -> int:
        identity = authorization.identity
        with self._db.write() as connection:
            grant_id = connection.execute(
                insert(grants)
                .values(
                    environment=self._environment,
                    client_pk=authorization.client.id,
                    account_id=identity.account_id if identity else None,
                    grant_type=authorization.grant_type,
                    subject=authorization.subject,
                    scope=" ".join(authorization.scope),
                    source_system=identity.source_system if identity else None,
                    tenant=identity.tenant if identity else None,
                    multitenant=identity.multitenant if identity else False,
                    domain=identity.domain if identity else None,
                    created_at=access.issued_at,
                    expires_at=expires_at,
                )
                .returning(grants.c.id)
            ).scalar_one()
            self._insert_tokens(connection, grant_id, authorization.scope, access, refresh, generation=0)
        return grant_id

    def _insert_tokens(
        self,
        connection: Connection,
        grant_id: int,
        scope: tuple[str, ...],
        access: IssuedToken,
        refresh: IssuedToken | None,
        generation: int,
    ) -> None:
        connection.execute(
            insert(access_tokens).values(
                lookup=access.lookup,
                environment=self._environment,
                grant_id=grant_id,
                scope=" ".join(scope),
                issued_at=access.issued_at,
                expires_at=access.expires_at,
            )
        )
        if refresh is not None:
            connection.execute(
                insert(refresh_tokens).values(
                    lookup=refresh.lookup,
                    environment=self._environment,
                    grant_id=grant_id,
                    generation=generation,
                    issued_at=refresh.issued_at,
                    expires_at=refresh.expires_at,
                )
            )

    def find_refresh_token(self, lookup: bytes) -> RefreshTokenRecord | None:
        query = (
            select(
                refresh_tokens.c.id.label("token_id"),
                refresh_tokens.c.generation,
                refresh_tokens.c.issued_at.label("token_issued_at"),
                refresh_tokens.c.expires_at.label("token_expires_at"),
                refresh_tokens.c.consumed_at,
                grants,
                clients,
            )
            .join(grants, grants.c.id == refresh_tokens.c.grant_id)
            .join(clients, clients.c.id == grants.c.client_pk)
            .where(refresh_tokens.c.lookup == lookup, refresh_tokens.c.environment == self._environment)
        )
        with self._db.read() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        grant_row = row._mapping
        return RefreshTokenRecord(
            token_id=row.token_id,
            grant_id=grant_row[grants.c.id],
            generation=row.generation,
            authorization=_authorization(grant_row, grant_row[grants.c.scope]),
            idle_expires_at=row.token_expires_at,
            grant_expires_at=grant_row[grants.c.expires_at],
            consumed=row.consumed_at is not None,
            grant_revoked=grant_row[grants.c.revoked_at] is not None,
            issued_at=row.token_issued_at,
            consumed_at=row.consumed_at,
        )

    def find_access_token(self, lookup: bytes) -> AccessTokenRecord | None:
        query = (
            select(
                access_tokens.c.id.label("token_id"),
                access_tokens.c.scope.label("token_scope"),
                access_tokens.c.issued_at.label("token_issued_at"),
                access_tokens.c.expires_at.label("token_expires_at"),
                access_tokens.c.revoked_at.label("token_revoked_at"),
                grants,
                clients,
            )
            .join(grants, grants.c.id == access_tokens.c.grant_id)
            .join(clients, clients.c.id == grants.c.client_pk)
            .where(access_tokens.c.lookup == lookup, access_tokens.c.environment == self._environment)
        )
        with self._db.read() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        grant_row = row._mapping
        return AccessTokenRecord(
            token_id=row.token_id,
            grant_id=grant_row[grants.c.id],
            authorization=_authorization(grant_row, row.token_scope),
            issued_at=row.token_issued_at,
            expires_at=row.token_expires_at,
            revoked=row.token_revoked_at is not None or grant_row[grants.c.revoked_at] is not None,
        )

    def revoke_access_token(self, token_id: int) -> None:
        with self._db.write() as connection:
            connection.execute(
                update(access_tokens)
                .where(access_tokens.c.id == token_id, access_tokens.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )

    def rotate_refresh_token(
        self, record: RefreshTokenRecord, scope: tuple[str, ...], access: IssuedToken, refresh: IssuedToken
    ) -> bool:
        with self._db.write() as connection:
            # The conditional update is the whole defence against two concurrent rotations:
            # whichever transaction flips consumed_at first wins; the other sees rowcount 0.
            won = connection.execute(
                update(refresh_tokens)
                .where(
                    refresh_tokens.c.id == record.token_id,
                    refresh_tokens.c.consumed_at.is_(None),
                    refresh_tokens.c.grant_id.in_(
                        select(grants.c.id).where(grants.c.id == record.grant_id, grants.c.revoked_at.is_(None))
                    ),
                )
                .values(consumed_at=access.issued_at)
            ).rowcount
            if won != 1:
                return False
            self._insert_tokens(connection, record.grant_id, scope, access, refresh, record.generation + 1)
        return True

    def replace_successor(
        self, record: RefreshTokenRecord, scope: tuple[str, ...], access: IssuedToken, refresh: IssuedToken
    ) -> bool:
        successor = record.generation + 1
        live_successor = select(refresh_tokens.c.id).where(
            refresh_tokens.c.grant_id == record.grant_id,
            refresh_tokens.c.generation == successor,
            refresh_tokens.c.consumed_at.is_(None),
            refresh_tokens.c.grant_id.in_(
                select(grants.c.id).where(grants.c.id == record.grant_id, grants.c.revoked_at.is_(None))
            ),
        )
        with self._db.write() as connection:
            # Conditional for the same reason as a rotation: of two concurrent grace answers
            # each replaces the live token of its moment, never both the same one. On
            # PostgreSQL (READ COMMITTED) the loser of that race looks again: each statement
            # sees the newest committed rows, so it finds the winner's token and replaces that.
            # SQLite serialises writers, so there the first look is the last.
            for _ in range(MAX_GRACE_ATTEMPTS):
                live = connection.execute(live_successor).scalar()
                if live is None:
                    return False
                won = connection.execute(
                    update(refresh_tokens)
                    .where(refresh_tokens.c.id == live, refresh_tokens.c.consumed_at.is_(None))
                    .values(consumed_at=access.issued_at)
                ).rowcount
                if won == 1:
                    self._insert_tokens(connection, record.grant_id, scope, access, refresh, successor)
                    return True
        return False

    def revoke_grant(self, grant_id: int) -> bool:
        """True when this call revoked it (False: it was revoked already)."""
        with self._db.write() as connection:
            revoked = connection.execute(
                update(grants)
                .where(grants.c.id == grant_id, grants.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            ).rowcount
        return revoked == 1


def _authorization(grant_row, scope: str) -> Authorization:  # noqa: ANN001
    # The joined columns share names (id, environment, ...): read each table's by position.
    return Authorization(
        client=_client(_Prefixed(grant_row, clients)),
        scope=tuple(scope.split()),
        grant_type=grant_row[grants.c.grant_type],
        identity=_identity(_Prefixed(grant_row, grants)),
    )


class _Prefixed:
    """Attribute access to one table's columns of a joined row."""

    def __init__(self, mapping, table) -> None:  # noqa: ANN001
        self._mapping, self._table = mapping, table

    def __getattr__(self, name: str):  # noqa: ANN204
        return self._mapping[self._table.c[name]]
