"""Secrets a deployment makes for itself on first use, kept in the database."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from .database import Database
from .schema import deployment_secrets

_FIND = select(deployment_secrets.c.value).where(
    deployment_secrets.c.environment == bindparam("b_environment"), deployment_secrets.c.name == bindparam("b_name")
)
_CREATE = {
    name: dialect.insert(deployment_secrets).on_conflict_do_nothing()
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


class SqlDeploymentSecrets:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment
        self._create = _CREATE["sqlite" if database.is_sqlite else "postgresql"]

    def get_or_create(self, name: str, size: int = 32) -> bytes:
        """The secret ``name``, made at random the first time it is asked for. Of several
        processes making it at once, one row wins and every process reads that one."""
        where = {"b_environment": self._environment, "b_name": name}
        with self._db.transaction(write=True) as transaction:
            transaction.execute(self._create, {"environment": self._environment, "name": name,
                                               "value": secrets.token_bytes(size), "created_at": time.time()})
            return bytes(transaction.scalar(_FIND, where))
