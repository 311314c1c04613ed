"""RFC 9068: JWT access tokens, issued and found again (their verification is
:func:`mobproc._jose.verify_jwt`, shared with resource servers).

A JWT access token is also stored as a row, by a digest of its ``jti``: introspection and
revocation treat it exactly as an opaque token (RFC 9068 §5 leaves revocation to the server).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

from joserfc import jwt

from .._jose import KEY_TYPES, TYPE, JwtRejected, verify_jwt
from . import secrets as _secrets
from .signing_keys import SigningKeys
from .tokens import Authorization, IssuedToken, identity_claims

JTI_LENGTH = 22  # [A-Za-z0-9], 131 bits
VERIFIED_TOKENS = 4096  # JWTs whose signature checked out, remembered (lookup_key)


def jti_lookup(jti: str) -> bytes:
    """The row key of a JWT access token. The prefix keeps it apart from every opaque token's
    digest: a jti is no secret (anyone holding the token reads it), so the bare jti presented
    as an opaque token must not find the row."""
    return _secrets.digest("jwt:" + jti)


class JwtTokenStrategy:
    """RFC 9068 access tokens, signed by the environment's active key (ES256 or RS256)."""

    def __init__(self, keys: SigningKeys, *, issuer: str, audience: str) -> None:
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self._verified: OrderedDict[bytes, bytes] = OrderedDict()
        self._verified_lock = threading.Lock()

    def issue(self, authorization: Authorization, issued_at: float, expires_at: float) -> IssuedToken:
        """RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti REQUIRED; scope (§2.2.3) is
        space-delimited; the account's attributes ride along as private claims."""
        key = self._keys.active()
        jti = _secrets.random_token(JTI_LENGTH)
        # NumericDate in whole seconds; the row keeps the same instants, so that introspection
        # and the token itself agree on when it expires.
        iat, exp = math.floor(issued_at), math.floor(expires_at)
        claims = {
            "iss": self.issuer,
            "sub": authorization.subject,
            "aud": self.audience,
            "exp": exp,
            "iat": iat,
            "jti": jti,
            "client_id": authorization.client.client_id,
            "scope": " ".join(authorization.scope),
            **identity_claims(authorization),
        }
        header = {"typ": TYPE, "alg": key.alg, "kid": key.kid}
        value = jwt.encode(header, claims, key.private, algorithms=[key.alg])
        return IssuedToken(value, jti_lookup(jti), float(iat), float(exp))

    def lookup_key(self, token: str) -> bytes | None:
        """A JWT of this issuer, signed by a key of this environment: the digest of its jti.
        Expiry and revocation are the row's to tell.

        A token that verified is remembered (by its digest, in a bounded LRU): a client sends
        the same token with every call, and its signature, which cannot change, is most of a
        check (README, Performance). Only its row is read again, so a revocation or its expiry
        is seen at once all the same; a refusal is never kept."""
        if token.count(".") != 2:
            return None
        digest = _secrets.digest(token)
        with self._verified_lock:
            known = self._verified.get(digest)
            if known is not None:
                self._verified.move_to_end(digest)
                return known
        try:
            claims = verify_jwt(token, self._keys.verification_key, algorithms=KEY_TYPES.keys())
        except JwtRejected:
            return None
        jti = claims.get("jti")
        if claims.get("iss") != self.issuer or not isinstance(jti, str) or not jti:
            return None
        lookup = jti_lookup(jti)
        with self._verified_lock:
            self._verified[digest] = lookup
            while len(self._verified) > VERIFIED_TOKENS:
                self._verified.popitem(last=False)
        return lookup
