"""Signing keys in SQL: the storage behind :class:`mobproc.domain.signing_keys.SigningKeys`."""

from __future__ import annotations

import json

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from ..domain.signing_keys import SigningKeyRecord
from .database import Database
from .schema import signing_keys


def _record(row: Row) -> SigningKeyRecord:
    return SigningKeyRecord(
        kid=row.kid,
        alg=row.alg,
        public_jwk=json.loads(row.public_jwk),
        private_key=row.private_key,
        created_at=row.created_at,
        retired_at=row.retired_at,
        not_after=row.not_after,
    )


class _Superseded(Exception):
    """Another process retired the key first; the transaction rolls back."""


class SqlSigningKeyStore:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    def active_signing_key(self) -> SigningKeyRecord | None:
        row = self._db.first(
            select(signing_keys).where(signing_keys.c.environment == self._environment, signing_keys.c.retired_at.is_(None)),
            {},
        )
        return _record(row) if row else None

    def find_signing_key(self, kid: str) -> SigningKeyRecord | None:
        row = self._db.first(
            select(signing_keys).where(signing_keys.c.environment == self._environment, signing_keys.c.kid == kid), {}
        )
        return _record(row) if row else None

    def list_signing_keys(self) -> list[SigningKeyRecord]:
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(
                select(signing_keys)
                .where(signing_keys.c.environment == self._environment)
                .order_by(signing_keys.c.created_at.desc())
            )
        return [_record(row) for row in rows]

    def replace_active_signing_key(self, new: SigningKeyRecord, retiring_kid: str | None, not_after: float) -> bool:
        try:
            # Alone: a refused INSERT is an answer here (another process won), not a failure.
            with self._db.transaction(write=True, join=False) as transaction:
                if retiring_kid is not None:
                    retired = transaction.execute(
                        update(signing_keys)
                        .where(
                            signing_keys.c.environment == self._environment,
                            signing_keys.c.kid == retiring_kid,
                            signing_keys.c.retired_at.is_(None),
                        )
                        # The private key goes with retirement: a retired key only verifies.
                        .values(retired_at=new.created_at, not_after=not_after, private_key=None)
                    )
                    if retired != 1:
                        raise _Superseded()
                # The partial unique index (one active key per environment) refuses a second
                # key made concurrently by another process.
                transaction.execute(
                    insert(signing_keys).values(
                        environment=self._environment,
                        kid=new.kid,
                        alg=new.alg,
                        public_jwk=json.dumps(new.public_jwk),
                        private_key=new.private_key,
                        created_at=new.created_at,
                    )
                )
        except (IntegrityError, _Superseded):
            return False
        return True
