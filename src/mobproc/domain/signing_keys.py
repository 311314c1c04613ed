"""The keys that sign JWT access tokens (RFC 7515), published as a JWK Set (RFC 7517 §5).

Each environment has one *active* key, which signs, and keeps every *retired* key published
until the last token it signed has expired: a resource server must be able to verify any
token that has not expired yet. A key is generated on first use and replaced by
``mobproc keys rotate``; its ``kid`` is its RFC 7638 thumbprint.

A private key is stored encrypted when MOBPROC_KEY_ENCRYPTION_KEY is set, and erased when
the key retires: from then on it only verifies, and a copy of the database cannot sign with it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OctKey, RSAKey

from .._jose import AsymmetricKey, import_public_key

log = logging.getLogger("mobproc.keys")

ALGORITHMS = ("ES256", "RS256")
RSA_BITS = 2048
# A retired key stays published this long after its last token's expiry: for a request that
# read the active key just before the rotation, and for small clock differences between hosts.
RETIREMENT_GRACE_SECONDS = 5.0



class SigningKeyUnavailable(Exception):
    """The active key cannot be used (encrypted under another key, or no key to decrypt it)."""


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """A key as storage keeps it. ``private_key`` is a JWK in JSON, a JWE when encrypted at
    rest, or None once the key is retired."""

    kid: str
    alg: str
    public_jwk: dict[str, Any]
    private_key: str | None = field(repr=False)
    created_at: float
    retired_at: float | None = None
    not_after: float | None = None

    @property
    def encrypted(self) -> bool:
        return self.private_key is not None and not self.private_key.lstrip().startswith("{")

    def published_at(self, now: float) -> bool:
        return self.retired_at is None or (self.not_after is not None and now < self.not_after)


class SigningKeyStore(Protocol):
    def active_signing_key(self) -> SigningKeyRecord | None: ...
    def find_signing_key(self, kid: str) -> SigningKeyRecord | None: ...
    def list_signing_keys(self) -> list[SigningKeyRecord]: ...

    def replace_active_signing_key(self, new: SigningKeyRecord, retiring_kid: str | None, not_after: float) -> bool:
        """Retire ``retiring_kid`` (publish it until ``not_after``, erase its private key) and
        make ``new`` the active key, atomically. False when another process changed the active
        key first: there is one active key per environment."""
        ...


class KeyEncryption:
    """Private keys at rest: a JWE (``dir``, A256GCM, RFC 7516) under a 256-bit key derived
    with HKDF-SHA256 (RFC 5869) from MOBPROC_KEY_ENCRYPTION_KEY.

    The JWE's ``kid`` names the encryption key by a fingerprint, so that a key encrypted under
    another secret is reported as such rather than as a corrupt database.
    """

    def __init__(self, secret: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mobproc signing-key encryption v1")
        self._key = OctKey.import_key(derived.derive(secret.encode("utf-8")))
        self.key_id = hashlib.sha256(b"mobproc key-encryption-key id\0" + self._key.raw_value).hexdigest()[:16]

    def encrypt(self, private_jwk: dict[str, Any]) -> str:
        header = {"alg": "dir", "enc": "A256GCM", "kid": self.key_id, "cty": "jwk+json"}
        return jwe.encrypt_compact(header, json.dumps(private_jwk).encode(), self._key, algorithms=["dir", "A256GCM"])

    def decrypt(self, value: str) -> dict[str, Any]:
        try:
            header = json.loads(base64.urlsafe_b64decode(value.split(".")[0] + "=="))
        except ValueError:
            header = {}
        if header.get("kid") != self.key_id:
            raise SigningKeyUnavailable(
                f"the private signing key is encrypted under another MOBPROC_KEY_ENCRYPTION_KEY "
                f"(key id {header.get('kid')}; the one given has key id {self.key_id})"
            )
        try:
            return json.loads(jwe.decrypt_compact(value, self._key, algorithms=["dir", "A256GCM"]).plaintext)
        except (JoseError, ValueError) as error:
            raise SigningKeyUnavailable("the private signing key cannot be decrypted: it was altered") from error


def _generate(alg: str) -> AsymmetricKey:
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True, auto_kid=True)
    return RSAKey.generate_key(RSA_BITS, private=True, auto_kid=True)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The active key, ready to sign."""

    kid: str
    alg: str
    private: AsymmetricKey = field(repr=False)


class SigningKeys:
    """The environment's key ring: which key signs now, which keys verify, and rotation.

    Which key is active is read from the database on every use, so a rotation takes effect at
    once in every server process; parsed (and decrypted) keys are kept per ``kid``, as a key
    never changes.
    """

    def __init__(
        self,
        store: SigningKeyStore,
        *,
        algorithm: str,
        token_lifetime: float,
        encryption: KeyEncryption | None = None,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unsupported signing algorithm {algorithm!r}")
        self._store = store
        self.algorithm = algorithm
        self._token_lifetime = token_lifetime
        self._encryption = encryption
        self._private: dict[str, SigningKey] = {}
        self._public: dict[str, tuple[str, AsymmetricKey]] = {}
        self._lock = threading.Lock()

    def active(self) -> SigningKey:
        """The key that signs now. The first is made on first use, and a key of another
        algorithm than MOBPROC_SIGNING_ALGORITHM is rotated out."""
        record = self._store.active_signing_key()
        if record is None or record.alg != self.algorithm:
            record = self._replace(record)
        return self._signing_key(record)

    def rotate(self) -> SigningKeyRecord:
        """Make a new key active at once; the old one stays published until every token it
        signed has expired (one token lifetime from now, plus a small grace), then leaves the
        JWKS."""
        return self._replace(self._store.active_signing_key())

    def _replace(self, current: SigningKeyRecord | None) -> SigningKeyRecord:
        key = _generate(self.algorithm)
        private_jwk = key.as_dict(private=True)
        now = time.time()
        new = SigningKeyRecord(
            kid=key.kid,
            alg=self.algorithm,
            public_jwk={**key.as_dict(private=False), "alg": self.algorithm, "use": "sig"},
            private_key=self._encryption.encrypt(private_jwk) if self._encryption else json.dumps(private_jwk),
            created_at=now,
        )
        retiring = current.kid if current else None
        if self._store.replace_active_signing_key(new, retiring, now + self._token_lifetime + RETIREMENT_GRACE_SECONDS):
            log.info("signing key %s (%s) is active%s", new.kid, new.alg, f"; {retiring} retired" if retiring else "")
            return new
        # Another process replaced the same key first (several find the first key missing at
        # once): one key wins, and every process signs with it.
        winner = self._store.active_signing_key()
        if winner is None:
            raise SigningKeyUnavailable("no active signing key")
        return winner

    def _signing_key(self, record: SigningKeyRecord) -> SigningKey:
        with self._lock:
            cached = self._private.get(record.kid)
        if cached is not None:
            return cached
        if record.private_key is None:
            raise SigningKeyUnavailable(f"signing key {record.kid} has no private key")
        if record.encrypted:
            if self._encryption is None:
                raise SigningKeyUnavailable(
                    f"signing key {record.kid} is encrypted: set MOBPROC_KEY_ENCRYPTION_KEY to the key it was made with"
                )
            private_jwk = self._encryption.decrypt(record.private_key)
        else:
            private_jwk = json.loads(record.private_key)
        key = (ECKey if record.alg == "ES256" else RSAKey).import_key(private_jwk)
        # The decrypted key must be the one the row publishes: a key swapped between rows
        # (or environments) would sign under a kid that is not its own.
        if key.thumbprint() != record.kid:
            raise SigningKeyUnavailable(f"signing key {record.kid} does not match its stored private key")
        signing = SigningKey(record.kid, record.alg, key)
        with self._lock:
            self._private[record.kid] = signing
        return signing

    def verification_key(self, kid: str) -> tuple[str, AsymmetricKey] | None:
        """The algorithm and public key of a key of this environment, active or retired."""
        with self._lock:
            cached = self._public.get(kid)
        if cached is not None:
            return cached
        record = self._store.find_signing_key(kid)
        if record is None:
            return None
        found = (record.alg, import_public_key(record.public_jwk))
        with self._lock:  # only keys of the database get here: the cache stays small
            self._public[kid] = found
        return found

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """RFC 7517 §5: the public keys of every key that may have signed an unexpired token."""
        now = time.time()
        return {"keys": [record.public_jwk for record in self._store.list_signing_keys() if record.published_at(now)]}

    def records(self) -> list[SigningKeyRecord]:
        """Every key of the environment, newest first (for `mobproc keys list`)."""
        return self._store.list_signing_keys()
