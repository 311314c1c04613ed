"""Clients in SQL."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..domain import secrets
from ..domain.clients import Client, ClientExists
from ..domain.registries import ClientFilter
from .database import Database
from .schema import clients
from .search import prefix_range


def _words(values: Iterable[str]) -> str:
    return " ".join(dict.fromkeys(values))


def _client(row: Any) -> Client:
    return Client(
        pk=row.id,
        client_id=row.client_id,
        secret_digest=row.secret_digest,
        grant_types=frozenset(row.grant_types.split()),
        scopes=frozenset(row.scopes.split()),
        default_scopes=tuple(row.default_scopes.split()),
        enabled=bool(row.enabled),  # SQLite answers 0 or 1
        redirect_uris=tuple(row.redirect_uris.split()),
        public=bool(row.public),
        pkce_required=row.pkce != "optional",
        trusted=bool(row.trusted),
        access_token_lifetime=row.access_token_lifetime,
        id_token_alg=row.id_token_alg,
        version=row.version,
    )


class SqlClientStore:
    def __init__(self, database: Database, environment: str) -> None:
        self._db = database
        self._environment = environment

    def _where(self):  # noqa: ANN202
        return clients.c.environment == self._environment

    def find_client(self, client_id: str) -> Client | None:
        row = self._db.first(select(clients).where(self._where(), clients.c.client_id == client_id), {})
        return _client(row) if row else None

    def add_client(
        self,
        client_id: str,
        secret: str,
        grant_types: Iterable[str],
        scopes: Iterable[str],
        default_scopes: Iterable[str] | None = None,
        *,
        redirect_uris: Iterable[str] = (),
        public: bool = False,
        pkce_required: bool = True,
        trusted: bool = False,
        access_token_lifetime: float | None = None,
        id_token_alg: str | None = None,
    ) -> Client:
        """``secret`` of a public client is one no one is told: it never authenticates."""
        scopes = list(scopes)
        values = {
            "environment": self._environment,
            "client_id": client_id,
            # Credentials must not be stored as given: a copy of the database must not
            # authenticate anyone.
            "secret_digest": secrets.digest(secret),
            "grant_types": _words(grant_types),
            "scopes": _words(scopes),
            "default_scopes": _words(scopes if default_scopes is None else default_scopes),
            "enabled": True,
            "created_at": time.time(),
            "redirect_uris": _words(redirect_uris),
            "public": public,
            "pkce": "required" if pkce_required else "optional",
            "trusted": trusted,
            "access_token_lifetime": access_token_lifetime,
            "id_token_alg": id_token_alg,
        }
        try:
            with self._db.transaction(write=True) as transaction:
                transaction.execute(insert(clients).values(values))
        except IntegrityError:
            raise ClientExists(client_id) from None
        client = self.find_client(client_id)
        assert client is not None
        return client

    def list_clients(self) -> list[Client]:
        with self._db.transaction(write=False) as transaction:
            rows = transaction.all(select(clients).where(self._where()).order_by(clients.c.client_id))
        return [_client(row) for row in rows]

    def page_clients(self, where: ClientFilter, offset: int, limit: int) -> tuple[list[Client], int]:
        conditions = [self._where()]
        if where.prefix:
            conditions.append(prefix_range(clients.c.client_id, where.prefix, self._db.is_sqlite))
        if where.enabled is not None:
            conditions.append(clients.c.enabled == where.enabled)
        if where.grant:
            # grant_types is a space-separated list: a word of it, bounded by spaces.
            conditions.append((" " + clients.c.grant_types + " ").contains(f" {where.grant} ", autoescape=True))
        with self._db.transaction(write=False) as transaction:
            total = transaction.scalar(select(func.count()).select_from(clients).where(*conditions))
            rows = transaction.all(select(clients).where(*conditions).order_by(clients.c.client_id)
                                   .offset(offset).limit(limit))
        return [_client(row) for row in rows], total

    def _change(self, client_id: str, if_version: int | None, **values: object) -> bool:
        """One client's row changed, its version moved; only on ``if_version`` when given."""
        condition = [self._where(), clients.c.client_id == client_id]
        if if_version is not None:
            condition.append(clients.c.version == if_version)
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(
                update(clients).where(*condition).values(version=clients.c.version + 1, **values)
            ) == 1

    def remove_client(self, client_id: str, if_version: int | None = None) -> bool:
        """Remove the client; its grants and every token go with it (ON DELETE CASCADE)."""
        condition = [self._where(), clients.c.client_id == client_id]
        if if_version is not None:
            condition.append(clients.c.version == if_version)
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(delete(clients).where(*condition)) == 1

    def set_enabled(self, client_id: str, enabled: bool, if_version: int | None = None) -> bool:
        return self._change(client_id, if_version, enabled=enabled)

    def replace_secret(self, client_id: str, secret: str, if_version: int | None = None) -> bool:
        return self._change(client_id, if_version, secret_digest=secrets.digest(secret))

    def update_client(self, client_id: str, grant_types: Iterable[str], scopes: Iterable[str],
                      default_scopes: Iterable[str] | None, redirect_uris: Iterable[str], if_version: int) -> bool:
        scopes = list(scopes)
        return self._change(client_id, if_version, grant_types=_words(grant_types), scopes=_words(scopes),
                            default_scopes=_words(scopes if default_scopes is None else default_scopes),
                            redirect_uris=_words(redirect_uris))
