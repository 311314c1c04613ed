"""Password hashing: argon2id through argon2-cffi."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError

from ..config import Settings


class PasswordHasher:
    """argon2id with the configured cost, plus a dummy hash for unknown accounts.

    An unknown account is checked against :attr:`dummy_hash` so that it costs the same time
    as a wrong password on a known one: the answer time must not tell which accounts exist.
    """

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._argon2 = _Argon2(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        self.dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        return cls(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._argon2.verify(stored_hash or self.dummy_hash, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters: it is replaced on the next login."""
        try:
            return self._argon2.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
