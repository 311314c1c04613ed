"""Clients in SQL."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..domain import secrets
from ..domain.clients import Client, ClientExists
from .database import Database
from .schema import clients


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

    def remove_client(self, client_id: str) -> bool:
        """Remove the client; its grants and every token go with it (ON DELETE CASCADE)."""
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(delete(clients).where(self._where(), clients.c.client_id == client_id)) == 1

    def set_enabled(self, client_id: str, enabled: bool) -> bool:
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(
                update(clients).where(self._where(), clients.c.client_id == client_id).values(enabled=enabled)
            ) == 1

    def replace_secret(self, client_id: str, secret: str) -> bool:
        with self._db.transaction(write=True) as transaction:
            return transaction.execute(
                update(clients)
                .where(self._where(), clients.c.client_id == client_id)
                .values(secret_digest=secrets.digest(secret))
            ) == 1
