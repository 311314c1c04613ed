"""Names for what must not be written down: usernames that match no account, and the key of
a subject's login attempts.

People type their password into the username field. A username that matches no account is
therefore never stored or logged as typed, and not as a plain digest either: an unsalted
SHA-256 of a short string is reversed by a dictionary (issue 19, item 6: ``Tr0ub4dor&3`` fell
in 457 guesses from a 12-hex-digit prefix). It is named by an HMAC under a secret of the
deployment, so that whoever reads the audit trail or the logs, without that secret, has
nothing to run a dictionary against.

The secret is ``MOBPROC_AUDIT_KEY`` (or ``MOBPROC_AUDIT_KEY_FILE``); without it, one is made at
random on first use and kept in the database, which keeps the logs and any copy of the audit
trail outside the database safe, though not the database itself.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable


class Pseudonyms:
    """HMAC-SHA256 under the deployment's secret, one derived key per purpose.

    >>> names = Pseudonyms(lambda: b"k" * 32)
    >>> names.unknown_username("Tr0ub4dor&3")
    '#b7e764d16d12'
    >>> len(names.attempts_key("command://alice"))
    32
    """

    def __init__(self, secret: Callable[[], bytes]) -> None:
        self._secret = secret
        self._keys: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    def _key(self, purpose: bytes) -> bytes:
        key = self._keys.get(purpose)
        if key is None:
            with self._lock:
                key = self._keys.get(purpose) or hmac.new(self._secret(), purpose, hashlib.sha256).digest()
                self._keys[purpose] = key
        return key

    def unknown_username(self, username: str) -> str:
        """How a username that matches no account is named in the audit trail and the logs."""
        mac = hmac.new(self._key(b"mobproc audit: unknown username"), username.encode("utf-8", "surrogatepass"),
                       hashlib.sha256)
        return "#" + mac.hexdigest()[:12]

    def attempts_key(self, subject: str) -> bytes:
        """The row key of a subject's login attempts (:mod:`mobproc.domain.lockout`): known or
        not, every name typed gets one, so that lockout itself tells no one which names exist."""
        return hmac.new(self._key(b"mobproc lockout: subject"), subject.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).digest()
