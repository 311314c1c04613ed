"""JOSE for verifying JWT access tokens (RFC 7515, RFC 7517, RFC 9068): the one routine that
the server (:mod:`mobproc.domain.jwt_tokens`) and resource servers (:class:`mobproc.TokenChecker`)
share. A leaf module: joserfc only, nothing of the server, so that a resource server can
install mobproc without it."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Collection
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey, RSAKey

KEY_TYPES = {"ES256": "EC", "RS256": "RSA"}  # an algorithm verifies only with keys of its type
AsymmetricKey = ECKey | RSAKey

# RFC 9068 §2.1: "Resource servers MUST verify that the typ header value is "at+jwt" or
# "application/at+jwt" and reject tokens carrying any other value" (media types: any case).
TYPE = "at+jwt"
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# A token is read only this far: a 100 KB header costs nothing to refuse.
MAX_TOKEN_LENGTH = 8192

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


def import_public_key(jwk: dict[str, Any]) -> AsymmetricKey:
    """A public key from a JWK, refusing private parameters and key types no allowed algorithm uses."""
    kty = jwk.get("kty")
    if kty not in ("EC", "RSA"):
        raise ValueError(f"unsupported key type {kty!r}")
    public = {name: value for name, value in jwk.items() if name not in ("d", "p", "q", "dp", "dq", "qi", "oth")}
    return ECKey.import_key(public) if kty == "EC" else RSAKey.import_key(public)
