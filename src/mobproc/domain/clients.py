"""Client applications (RFC 6749 §2): who may ask for tokens, with which grants and scopes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from . import secrets as _secrets

# The grant types a client can be allowed. The validation grant is PingFederate's name for
# a resource server's right to check tokens; the MOBPROC documentation uses it.
GRANT_TYPES = (
    "password",
    "refresh_token",
    "client_credentials",
    "access_token_validation",
)
SECRET_LENGTH = 32  # 32 of [A-Za-z0-9] is 190 bits, the seed's secret's length
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True, slots=True)
class Client:
    id: int
    client_id: str
    secret_digest: bytes
    grant_types: frozenset[str]
    scopes: frozenset[str]
    default_scopes: tuple[str, ...]
    enabled: bool = True

    def check_secret(self, secret: str) -> bool:
        # A client secret is machine-made and high-entropy, so a SHA-256 digest compared in
        # constant time is enough: authentication costs microseconds, not a password hash.
        return _secrets.matches(secret, self.secret_digest)


class ClientStore(Protocol):
    def find_client(self, client_id: str) -> Client | None: ...


def generate_secret() -> str:
    return _secrets.random_token(SECRET_LENGTH)


def check_imported_secret(secret: str) -> None:
    """Refuse an imported secret too short to resist guessing."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"a client secret must be at least {MIN_SECRET_LENGTH} characters (got {len(secret)})")
    if not secret.isprintable() or secret.strip() != secret:
        raise ValueError("a client secret must be printable, without surrounding white space")
