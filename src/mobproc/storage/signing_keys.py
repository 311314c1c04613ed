"""Signing keys in SQL: the storage behind :class:`mobproc.domain.signing_keys.SigningKeys`."""

from __future__ import annotations

import json

from sqlalchemy import insert, or_, select, update
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
        signs_from=row.created_at if row.signs_from is None else row.signs_from,
        retired_at=row.retired_at,
        not_after=row.not_after,
    )


class _Superseded(Exception):
    """Another process replaced the newest key first; the transaction rolls back."""


class SqlSigningKeyStore:
    def __init__(self, database: Database, environment: str, ring: str = "access") -> None:
        """``ring``: "access" (the access tokens' keys) or "id_token" (ID tokens' RS256 keys);
        each ring is rotated on its own."""
        self._db = database
        self._environment = environment
        self._ring = ring

    def _mine(self):  # noqa: ANN202
        return (signing_keys.c.environment == self._environment) & (signing_keys.c.ring == self._ring)

    def current_signing_keys(self, now: float) -> list[SigningKeyRecord]:
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(
                select(signing_keys).where(
                    self._mine(),
                    or_(signing_keys.c.retired_at.is_(None), signing_keys.c.retired_at > now,
                        signing_keys.c.private_key.is_not(None)),
                )
            )
        return [_record(row) for row in rows]

    def find_signing_key(self, kid: str) -> SigningKeyRecord | None:
        row = self._db.first(
            select(signing_keys).where(self._mine(), signing_keys.c.kid == kid), {}
        )
        return _record(row) if row else None

    def list_signing_keys(self) -> list[SigningKeyRecord]:
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(
                select(signing_keys)
                .where(self._mine())
                .order_by(signing_keys.c.created_at.desc())
            )
        return [_record(row) for row in rows]

    def add_newest_signing_key(self, new: SigningKeyRecord, replacing_kid: str | None, not_after: float) -> bool:
        switch = new.signs_from
        immediate = switch <= new.created_at
        # The private key goes once a key no longer signs: a retired key only verifies.
        erased = {"private_key": None} if immediate else {}
        mine = self._mine()
        try:
            # Alone: a refused INSERT is an answer here (another process won), not a failure.
            with self._db.transaction(write=True, join=False) as connection:
                if replacing_kid is not None:
                    replaced = connection.execute(
                        update(signing_keys)
                        .where(mine, signing_keys.c.kid == replacing_kid, signing_keys.c.retired_at.is_(None))
                        .values(retired_at=switch, not_after=not_after, **erased)
                    )
                    if replaced != 1:
                        raise _Superseded()
                if immediate:
                    # A key that was to sign a while longer (the one a staged key replaces) stops now too.
                    connection.execute(
                        update(signing_keys)
                        .where(mine, signing_keys.c.retired_at > switch)
                        .values(retired_at=switch, not_after=not_after, private_key=None)
                    )
                # The partial unique index (one newest key per environment and ring) refuses a second
                # key made concurrently by another process.
                connection.execute(
                    insert(signing_keys).values(
                        environment=self._environment,
                        ring=self._ring,
                        kid=new.kid,
                        alg=new.alg,
                        public_jwk=json.dumps(new.public_jwk),
                        private_key=new.private_key,
                        created_at=new.created_at,
                        signs_from=switch,
                    )
                )
        except (IntegrityError, _Superseded):
            return False
        return True

    def erase_retired_private_keys(self, now: float) -> None:
        with self._db.transaction(write=True) as connection:
            connection.execute(
                update(signing_keys)
                .where(self._mine(), signing_keys.c.retired_at <= now,
                       signing_keys.c.private_key.is_not(None))
                .values(private_key=None)
            )
