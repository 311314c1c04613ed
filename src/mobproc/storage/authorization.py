"""Authorization codes and consents in SQL: the storage behind
:mod:`mobproc.domain.authorization`."""

from __future__ import annotations

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.authorization import AuthorizationCodeRecord, CodeGrant, Consent
from .clients import _client
from .database import Database
from .schema import authorization_codes, clients, consents
from .sessions import identity_columns, identity_of

_FIND_CODE = (
    select(authorization_codes.c.id.label("code_id"), authorization_codes.c.subject, authorization_codes.c.source_system,
           authorization_codes.c.tenant, authorization_codes.c.multitenant, authorization_codes.c.domain,
           authorization_codes.c.account_id, authorization_codes.c.scope, authorization_codes.c.redirect_uri,
           authorization_codes.c.code_challenge, authorization_codes.c.nonce, authorization_codes.c.auth_time,
           authorization_codes.c.expires_at.label("code_expires_at"), authorization_codes.c.used_at,
           authorization_codes.c.grant_id, clients)
    .join(clients, clients.c.id == authorization_codes.c.client_pk)
    .where(authorization_codes.c.lookup == bindparam("b_lookup"),
           authorization_codes.c.environment == bindparam("b_environment"))
)
# Used once: of two redemptions at once, the one whose UPDATE flips used_at wins.
_CONSUME = (
    update(authorization_codes)
    .where(authorization_codes.c.id == bindparam("b_code_id"), authorization_codes.c.used_at.is_(None),
           authorization_codes.c.expires_at > bindparam("b_now"))
    .values(used_at=bindparam("b_now"))
)


class SqlAuthorizationCodeStore:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    def create_code(self, lookup: bytes, grant: CodeGrant, created_at: float, expires_at: float) -> None:
        with self._db.transaction(write=True) as transaction:
            transaction.execute(insert(authorization_codes), {
                "environment": self._environment, "lookup": lookup, "client_pk": grant.client.pk,
                **identity_columns(grant.identity), "scope": " ".join(grant.scope), "redirect_uri": grant.redirect_uri,
                "code_challenge": grant.code_challenge, "nonce": grant.nonce, "auth_time": grant.auth_time,
                "created_at": created_at, "expires_at": expires_at,
            })

    def find_code(self, lookup: bytes) -> AuthorizationCodeRecord | None:
        row = self._db.first(_FIND_CODE, {"b_lookup": lookup, "b_environment": self._environment})
        if row is None:
            return None
        client = _client(row)
        grant = CodeGrant(client, identity_of(row), tuple(row.scope.split()), row.redirect_uri, row.code_challenge,
                          row.nonce, row.auth_time)
        return AuthorizationCodeRecord(lookup, row.code_id, client.pk, grant, row.code_expires_at, row.used_at is not None,
                                       row.grant_id)

    def consume_code(self, code_id: int, now: float) -> bool:
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(_CONSUME, {"b_code_id": code_id, "b_now": now}) == 1

    def set_code_grant(self, code_id: int, grant_id: int) -> None:
        with self._db.transaction(write=True) as transaction:
            transaction.execute(update(authorization_codes).where(authorization_codes.c.id == code_id)
                                .values(grant_id=grant_id))


class SqlConsentStore:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment
        dialect = sqlite if database.is_sqlite else postgresql
        self._upsert = dialect.insert(consents)

    def _mine(self, subject: str):  # noqa: ANN202
        return and_(consents.c.environment == self._environment, consents.c.subject == subject)

    def find_consent(self, subject: str, client_pk: int) -> tuple[str, ...] | None:
        row = self._db.first(select(consents.c.scope).where(self._mine(subject), consents.c.client_pk == client_pk), {})
        return tuple(row.scope.split()) if row is not None else None

    def save_consent(self, subject: str, account_id: int | None, client_pk: int, scope: tuple[str, ...],
                     now: float) -> None:
        with self._db.transaction(write=True) as transaction:
            row = transaction.first(select(consents.c.scope).where(self._mine(subject), consents.c.client_pk == client_pk))
            merged = " ".join(dict.fromkeys([*(row.scope.split() if row is not None else ()), *scope]))
            statement = self._upsert.values(
                environment=self._environment, subject=subject, account_id=account_id, client_pk=client_pk,
                scope=merged, granted_at=now,
            )
            transaction.execute(statement.on_conflict_do_update(
                index_elements=[consents.c.environment, consents.c.subject, consents.c.client_pk],
                set_={"scope": merged, "granted_at": now},
            ))

    def list_consents(self, subject: str) -> list[Consent]:
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(
                select(clients.c.client_id, consents.c.scope, consents.c.granted_at)
                .join(clients, clients.c.id == consents.c.client_pk)
                .where(self._mine(subject)).order_by(clients.c.client_id)
            )
        return [Consent(row.client_id, tuple(row.scope.split()), row.granted_at) for row in rows]

    def remove_consent(self, subject: str, client_id: str | None) -> int:
        where = [self._mine(subject)]
        if client_id is not None:
            where.append(consents.c.client_pk.in_(
                select(clients.c.id).where(clients.c.environment == self._environment, clients.c.client_id == client_id)))
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(delete(consents).where(*where))
