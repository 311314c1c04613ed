"""Resource owners: accounts of a source system, and the protocol that authenticates them.

A username is ``<source_system>://<name>`` for an account of another system
(``command://alice``, ``rivermine://alice``) and a bare ``alice`` for the platform's own
(CONTRACT §2). Each source system is its own identity store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .passwords import PasswordHasher

PLATFORM = "platform"
MAX_NAME_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Username:
    source_system: str
    name: str

    @classmethod
    def parse(cls, username: str) -> Username:
        """Split ``command://alice`` into its source system and name; a bare name is the platform's.

        >>> Username.parse("rivermine://alice")
        Username(source_system='rivermine', name='alice')
        """
        system, sep, name = username.partition("://")
        if not sep:
            system, name = PLATFORM, username
        if not system or not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
            raise ValueError(f"not a username: {username!r}")
        return cls(system.lower(), name)

    def __str__(self) -> str:
        """The token's subject: the full form, or the bare name for a platform account."""
        return self.name if self.source_system == PLATFORM else f"{self.source_system}://{self.name}"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a token speaks for, with what the MOBPROC API needs to authorize it."""

    subject: str
    source_system: str
    name: str
    tenant: str | None = None
    multitenant: bool = False
    domain: str | None = None
    account_id: int | None = None


class IdentitySource(Protocol):
    """One source system's identity store (the built-in table, or LDAP later)."""

    def authenticate(self, name: str, password: str) -> Identity | None: ...


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    source_system: str
    name: str
    password_hash: str
    tenant: str | None
    multitenant: bool
    domain: str | None

    def identity(self) -> Identity:
        subject = str(Username(self.source_system, self.name))
        return Identity(subject, self.source_system, self.name, self.tenant, self.multitenant, self.domain, self.id)


class AccountStore(Protocol):
    def find_account(self, source_system: str, name: str) -> Account | None: ...
    def replace_password_hash(self, account_id: int, old_hash: str, new_hash: str) -> None: ...


class StoredIdentitySource:
    """The built-in identity source: accounts in mobproc's own database, argon2id passwords."""

    def __init__(self, source_system: str, accounts: AccountStore, hasher: PasswordHasher) -> None:
        self.source_system = source_system
        self._accounts = accounts
        self._hasher = hasher

    def authenticate(self, name: str, password: str) -> Identity | None:
        account = self._accounts.find_account(self.source_system, name)
        # An unknown account is checked against the dummy hash: same answer, same time.
        if not self._hasher.verify(account.password_hash if account else None, password):
            return None
        assert account is not None
        if self._hasher.needs_rehash(account.password_hash):
            self._accounts.replace_password_hash(account.id, account.password_hash, self._hasher.hash(password))
        return account.identity()
