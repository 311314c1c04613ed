"""RFC 9068: JWT access tokens, and the one verification routine that mobproc and resource
servers (:class:`mobproc.TokenChecker`) share.

A JWT access token is also stored as a row, by a digest of its ``jti``: introspection and
revocation treat it exactly as an opaque token (RFC 9068 §5 leaves revocation to the server).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Collection
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError

from . import secrets as _secrets
from .signing_keys import KEY_TYPES, AsymmetricKey, SigningKeys
from .tokens import Authorization, IssuedToken, identity_claims

# RFC 9068 §2.1: "Resource servers MUST verify that the typ header value is "at+jwt" or
# "application/at+jwt" and reject tokens carrying any other value" (media types: any case).
TYPE = "at+jwt"
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# A token is read only this far: a 100 KB header costs nothing to refuse.
MAX_TOKEN_LENGTH = 8192
JTI_LENGTH = 22  # [A-Za-z0-9], 131 bits

# Why a JWT was refused; :class:`mobproc.RejectedToken` reports the same words.
MALFORMED = "malformed"
UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
WRONG_TYPE = "wrong_type"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
WRONG_ISSUER = "wrong_issuer"

KeyLookup = Callable[[str], "tuple[str | None, AsymmetricKey] | None"]


class JwtRejected(Exception):
    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason, self.description = reason, description


def jti_lookup(jti: str) -> bytes:
    """The row key of a JWT access token. The prefix keeps it apart from every opaque token's
    digest: a jti is no secret (anyone holding the token reads it), so the bare jti presented
    as an opaque token must not find the row."""
    return _secrets.digest("jwt:" + jti)


def _json_segment(segment: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):
        raise JwtRejected(MALFORMED, "The token is not a JWT") from None


def verify_jwt(token: str, key_for: KeyLookup, *, algorithms: Collection[str]) -> dict[str, Any]:
    """Check a JWT access token's header and signature; answer its claims, or raise
    :class:`JwtRejected`.

    RFC 8725 §3.1: the algorithm is checked against an explicit allow-list before anything
    else, and must be the one of the key (§2.1: ``alg: none``, and HS256 "signed" with a public
    key, are refused here). Claims (``iss``, ``aud``, ``exp``) are the caller's to check.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise JwtRejected(MALFORMED, "The token is too long")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise JwtRejected(MALFORMED, "The token is not a JWT")
    header = _json_segment(parts[0])
    if not isinstance(header, dict):
        raise JwtRejected(MALFORMED, "The token is not a JWT")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in KEY_TYPES:
        raise JwtRejected(UNSUPPORTED_ALGORITHM, "The token's signing algorithm is not allowed")
    if not isinstance(header.get("typ"), str) or header["typ"].lower() not in ACCEPTED_TYPES:
        raise JwtRejected(WRONG_TYPE, "The token is not a JWT access token (typ at+jwt)")
    if "crit" in header:  # RFC 7515 §4.1.11: no extension is understood, so none may be critical
        raise JwtRejected(MALFORMED, "The token has critical header parameters")
    kid = header.get("kid")
    found = key_for(kid) if isinstance(kid, str) and 0 < len(kid) <= 256 else None
    if found is None:
        raise JwtRejected(UNKNOWN_KEY, "The token's signing key is unknown")
    key_alg, key = found
    if (key_alg is not None and key_alg != alg) or key.key_type != KEY_TYPES[alg]:
        raise JwtRejected(UNSUPPORTED_ALGORITHM, "The token's algorithm is not its key's")
    try:
        claims = jwt.decode(token, key, algorithms=[alg]).claims
    except BadSignatureError:
        raise JwtRejected(BAD_SIGNATURE, "The token's signature is invalid") from None
    except (JoseError, ValueError, TypeError):
        raise JwtRejected(MALFORMED, "The token is not a JWT") from None
    if not isinstance(claims, dict):
        raise JwtRejected(MALFORMED, "The token's claims are not a JSON object")
    return claims


class JwtTokenStrategy:
    """RFC 9068 access tokens, signed by the environment's active key (ES256 or RS256)."""

    def __init__(self, keys: SigningKeys, *, issuer: str, audience: str) -> None:
        self._keys = keys
        self.issuer = issuer
        self.audience = audience

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
        Expiry and revocation are the row's to tell."""
        if token.count(".") != 2:
            return None
        try:
            claims = verify_jwt(token, self._keys.verification_key, algorithms=KEY_TYPES.keys())
        except JwtRejected:
            return None
        jti = claims.get("jti")
        if claims.get("iss") != self.issuer or not isinstance(jti, str) or not jti:
            return None
        return jti_lookup(jti)
