"""Random tokens and their digests.

Tokens are drawn from :mod:`secrets` and only their SHA-256 digest is stored, so a copy
of the database issues nothing. A token carries at least 166 bits, so a fast unsalted
digest cannot be reversed by search; a slow hash would only cost every request time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

ALPHABET = (string.ascii_letters + string.digits).encode()  # [A-Za-z0-9], 62 symbols

# One byte maps to one symbol; bytes >= 248 (= 4 * 62) are dropped so that every symbol
# keeps probability 1/62 exactly (rejection sampling, no modulo bias). bytes.translate
# does this in C, where secrets.choice per character is Python (README, Performance).
_KEEP = 4 * len(ALPHABET)
_TABLE = bytes(ALPHABET[b % len(ALPHABET)] if b < _KEEP else 0 for b in range(256))
_DROP = bytes(range(_KEEP, 256))


def random_token(length: int) -> str:
    """A uniformly random string of ``length`` characters of [A-Za-z0-9].

    >>> len(random_token(28))
    28
    """
    out = b""
    while len(out) < length:
        out += secrets.token_bytes(length - len(out) + 8).translate(_TABLE, _DROP)
    return out[:length].decode()


def digest(value: str) -> bytes:
    """The SHA-256 of a token or client secret: what the database keeps instead of it."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def matches(value: str, expected_digest: bytes) -> bool:
    """Constant-time check of a presented secret against a stored digest."""
    return hmac.compare_digest(digest(value), expected_digest)


def short_id(value: str) -> str:
    """A short digest prefix that names a token in logs and the audit trail, never the token."""
    return digest(value).hex()[:12]
