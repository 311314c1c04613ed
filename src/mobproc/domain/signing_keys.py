"""The keys that sign JWT access tokens (RFC 7515), published as a JWK Set (RFC 7517 §5).

A key is published in the JWKS as soon as it is made, and signs only from a later moment: a
resource server refreshes its copy of the JWKS now and then (PyJWT's PyJWKClient every 5
minutes, jwks-rsa every 10, Microsoft.IdentityModel every 12 hours), and a token signed by a
key it has not seen yet fails there. So ``mobproc keys rotate`` *stages* the next key: it is
published at once and signs after the publication delay (MOBPROC_KEY_PUBLICATION_DELAY_SECONDS),
when every resource server has had time to fetch it; ``keys rotate --now`` is for a key that
must stop signing at once (compromised). MOBPROC_KEY_ROTATION_DAYS stages one on a schedule.

Each key signs from ``signs_from`` until the next key takes over (``retired_at``), and stays
published until the last token it signed has expired (``not_after``). Its private key is
erased once it no longer signs: from then on it only verifies, and a copy of the database
cannot sign with it. A key's ``kid`` is its RFC 7638 thumbprint; the first key is made on first
use and signs at once (no token exists yet that a resource server could fail on).

A private key is stored encrypted when MOBPROC_KEY_ENCRYPTION_KEY is set.
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
# How long a staged key is published before it signs, by default: a day, twice the longest
# refresh interval among the common JWKS caches (Microsoft.IdentityModel's 12 hours; PyJWT's
# PyJWKClient keeps a JWKS 5 minutes, node's jwks-rsa 10), so that each has fetched the key
# before a token it signed arrives, without relying on a refetch for an unknown kid, which
# some rate-limit (PyJWKClient: once per 30 s) and some do not do.
PUBLICATION_DELAY_SECONDS = 86400.0
# The JWKS may be cached at most this long (and at most half the publication delay, so that a
# cache that honours it fetches a staged key before it signs): a key that left the JWKS is
# trusted no longer than this by a resource server that refreshes on the JWKS's terms.
JWKS_MAX_AGE_SECONDS = 300



class SigningKeyUnavailable(Exception):
    """The active key cannot be used (encrypted under another key, or no key to decrypt it)."""


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """A key as storage keeps it. ``private_key`` is a JWK in JSON, a JWE when encrypted at
    rest, or None once the key no longer signs. It is published from ``created_at``, signs from
    ``signs_from`` until ``retired_at`` (None: the newest key, which signs until the next one
    takes over), and stays published until ``not_after``."""

    kid: str
    alg: str
    public_jwk: dict[str, Any]
    private_key: str | None = field(repr=False)
    created_at: float
    signs_from: float
    retired_at: float | None = None
    not_after: float | None = None

    @property
    def encrypted(self) -> bool:
        return self.private_key is not None and not self.private_key.lstrip().startswith("{")

    def published_at(self, now: float) -> bool:
        return self.retired_at is None or (self.not_after is not None and now < self.not_after)

    def signs_at(self, now: float) -> bool:
        return self.signs_from <= now and (self.retired_at is None or now < self.retired_at)

    def state(self, now: float) -> str:
        """``staged`` (published, not signing yet), ``active`` (signing), ``retired`` (published,
        signing no more) or ``expired``."""
        if self.signs_at(now):
            return "active"
        if now < self.signs_from and self.retired_at is None:
            return "staged"
        return "retired" if self.published_at(now) else "expired"


class SigningKeyStore(Protocol):
    def current_signing_keys(self, now: float) -> list[SigningKeyRecord]:
        """The newest key, the keys still signing at ``now``, and any that still hold a private key."""
        ...

    def find_signing_key(self, kid: str) -> SigningKeyRecord | None: ...
    def list_signing_keys(self) -> list[SigningKeyRecord]: ...

    def add_newest_signing_key(self, new: SigningKeyRecord, replacing_kid: str | None, not_after: float) -> bool:
        """Make ``new`` the newest key, atomically: ``replacing_kid`` (the newest until now) signs
        until ``new.signs_from`` and is published until ``not_after``. When ``new`` signs at
        once, every other key stops signing now and loses its private key. False when another
        process changed the newest key first: there is one newest key per environment."""
        ...

    def erase_retired_private_keys(self, now: float) -> None:
        """Erase the private keys of the keys that no longer sign at ``now``."""
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
    """The environment's key ring: which key signs now, which keys are published, and rotation.

    Which key signs is read from the database on every use, so a rotation takes effect in every
    server process at the same moment (their clocks allowing); parsed (and decrypted) keys are
    kept per ``kid``, as a key never changes. Any process may stage a key when one is due (a
    scheduled rotation, a change of algorithm); one wins, by a conditional update.
    """

    def __init__(
        self,
        store: SigningKeyStore,
        *,
        algorithm: str,
        token_lifetime: float,
        encryption: KeyEncryption | None = None,
        publication_delay: float = PUBLICATION_DELAY_SECONDS,
        rotation_days: float = 0,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unsupported signing algorithm {algorithm!r}")
        self._store = store
        self.algorithm = algorithm
        self._token_lifetime = token_lifetime
        self._encryption = encryption
        self.publication_delay = publication_delay
        self._rotation_period = rotation_days * 86400
        self._private: dict[str, SigningKey] = {}
        self._public: dict[str, tuple[str, AsymmetricKey]] = {}
        self._lock = threading.Lock()

    @property
    def jwks_max_age(self) -> int:
        """The Cache-Control max-age of the JWKS (:data:`JWKS_MAX_AGE_SECONDS`)."""
        return int(min(JWKS_MAX_AGE_SECONDS, self.publication_delay / 2))

    def active(self) -> SigningKey:
        """The key that signs now. The first is made on first use; a new one is staged when
        MOBPROC_KEY_ROTATION_DAYS says so, or when the newest is not of MOBPROC_SIGNING_ALGORITHM."""
        now = time.time()
        records = self._store.current_signing_keys(now)
        newest = _newest(records)
        switch = now if newest is None else self._due(newest, now)
        if switch is not None:
            self._add(newest, now, switch)
            records = self._store.current_signing_keys(now)
        self._erase_retired(records, now)
        return self._signing_key(_signing(records, now))

    def rotate(self, *, now: bool = False) -> SigningKeyRecord:
        """Stage a new key: published at once, signing after the publication delay; the key
        signing now signs until then. ``now``: the new key signs at once, every other key stops
        (a compromised key). Either way the keys before stay published until every token they
        signed has expired, then leave the JWKS. A key already staged is answered as it is,
        unless ``now``."""
        moment = time.time()
        newest = _newest(self._store.current_signing_keys(moment))
        if not now and newest is not None and newest.state(moment) == "staged":
            return newest
        return self._add(newest, moment, moment if now or newest is None else moment + self.publication_delay)

    def _due(self, newest: SigningKeyRecord, now: float) -> float | None:
        """When a key staged now should take over, if one is due: a key of another algorithm
        is replaced after the publication delay; a scheduled rotation stages the next key so
        that it signs when the newest key's period is over (later, if no process asked in time)."""
        if newest.alg != self.algorithm:
            return now + self.publication_delay
        if self._rotation_period and newest.signs_at(now):
            period_over = newest.signs_from + self._rotation_period
            if now >= period_over - self.publication_delay:
                return max(now + self.publication_delay, period_over)
        return None

    def _add(self, current: SigningKeyRecord | None, now: float, signs_from: float) -> SigningKeyRecord:
        key = _generate(self.algorithm)
        private_jwk = key.as_dict(private=True)
        new = SigningKeyRecord(
            kid=key.kid,
            alg=self.algorithm,
            public_jwk={**key.as_dict(private=False), "alg": self.algorithm, "use": "sig"},
            private_key=self._encryption.encrypt(private_jwk) if self._encryption else json.dumps(private_jwk),
            created_at=now,
            signs_from=signs_from,
        )
        replacing = current.kid if current else None
        not_after = signs_from + self._token_lifetime + RETIREMENT_GRACE_SECONDS
        if self._store.add_newest_signing_key(new, replacing, not_after):
            when = "signs now" if signs_from <= now else f"is published, and signs in {signs_from - now:.0f} s"
            log.info("signing key %s (%s) %s%s", new.kid, new.alg, when,
                     f"; {replacing} signs until then" if replacing else "")
            return new
        # Another process replaced the same key first (several find the first key missing at
        # once, or a rotation due): one key wins, and every process uses it.
        winner = _newest(self._store.current_signing_keys(now))
        if winner is None:
            raise SigningKeyUnavailable("no signing key")
        return winner

    def _erase_retired(self, records: list[SigningKeyRecord], now: float) -> None:
        """A key whose time to sign is over loses its private key (once, by whichever process
        notices first)."""
        if any(r.private_key is not None and r.retired_at is not None and r.retired_at <= now for r in records):
            self._store.erase_retired_private_keys(now)

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
        """The algorithm and public key of a key of this environment, staged, active or retired."""
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
        """RFC 7517 §5: the public keys of every key that may have signed an unexpired token, and
        of the staged one, which will."""
        now = time.time()
        records = self._store.list_signing_keys()
        self._erase_retired(records, now)
        return {"keys": [record.public_jwk for record in records if record.published_at(now)]}

    def records(self) -> list[SigningKeyRecord]:
        """Every key of the environment, newest first (for `mobproc keys list`)."""
        return self._store.list_signing_keys()


def _newest(records: list[SigningKeyRecord]) -> SigningKeyRecord | None:
    return next((record for record in records if record.retired_at is None), None)


def _signing(records: list[SigningKeyRecord], now: float) -> SigningKeyRecord:
    """The key that signs at ``now``: of those that still hold their private key, the one whose
    time it is. Another host's clock may run ahead and have erased the key that this clock says
    still signs; then the next one, already published, signs here a little early."""
    usable = sorted((r for r in records if r.private_key is not None), key=lambda r: r.signs_from)
    if not usable:
        raise SigningKeyUnavailable("no signing key holds its private key")
    current = [r for r in usable if r.signs_at(now)]
    return current[-1] if current else usable[-1]
