"""OpenID Connect ID tokens (OpenID Connect Core 1.0 §2, §3.1.3.6).

Signed RS256 by default, by a key ring of their own (``signing_keys.ring = 'id_token'``), with
the access tokens' staged rotation: OpenID Connect Discovery §3 requires RS256 among
``id_token_signing_alg_values_supported``, and a relying party that registered nothing
expects it (Dynamic Client Registration §2, ``id_token_signed_response_alg``). A client
registered with ES256 gets ID tokens signed by the environment's ES256 key (the access
tokens' ring, when MOBPROC_SIGNING_ALGORITHM is ES256). Both rings are published at /pf/JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import math
from typing import Any

from joserfc import jwt

from .clients import Client
from .identities import Identity
from .signing_keys import SigningKeys, SigningKeyUnavailable
from .tokens import account_claims


def at_hash(access_token: str) -> str:
    """OpenID Connect Core §3.1.3.6: the base64url of the left half of the SHA-256 of the
    access token's ASCII (both algorithms offered hash with SHA-256).

    >>> at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y")  # Core §A.4's token and hash
    '77QmUPtjPfzWtF2AnpK9RQ'
    """
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def userinfo_claims(identity: Identity) -> dict[str, Any]:
    """What the userinfo endpoint says of an account (and an ID token does not repeat): the
    seed's attributes (CONTRACT §2) and the name the person signs in with."""
    return {"sub": identity.subject, "preferred_username": identity.subject, **account_claims(identity)}


class IdTokens:
    def __init__(self, rings: dict[str, SigningKeys], *, issuer: str, lifetime: float) -> None:
        """``rings``: the key ring of each algorithm offered ("RS256" always)."""
        self._rings = rings
        self.issuer = issuer
        self.lifetime = lifetime

    def ring(self, alg: str = "RS256") -> SigningKeys:
        """The key ring that signs ID tokens of ``alg`` (`mobproc keys --ring id_token`)."""
        return self._rings[alg]

    @property
    def algorithms(self) -> list[str]:
        return sorted(self._rings, key=lambda alg: alg != "RS256")

    def issue(self, client: Client, identity: Identity, *, auth_time: float, nonce: str | None, access_token: str,
              now: float) -> str:
        """Core §2: iss, sub, aud, exp, iat REQUIRED; auth_time since the person was asked for
        max_age or signed in; nonce as the authorization request sent it; at_hash (§3.1.3.6)."""
        alg = client.id_token_alg if client.id_token_alg in self._rings else "RS256"
        key = self._rings[alg].active()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": identity.subject,
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": math.floor(now),
            "exp": math.floor(now + self.lifetime),
            "auth_time": math.floor(auth_time),
            "at_hash": at_hash(access_token),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode({"typ": "JWT", "alg": key.alg, "kid": key.kid}, claims, key.private, algorithms=[key.alg])

    def publish_first_key(self) -> None:
        """Make the RS256 ring's first key if there is none yet. A relying party reads the JWKS
        right after the discovery document, and some keep that copy (requests-oauth2client): the
        key must be there before the first ID token it signs. (Made on discovery, not on every
        JWKS read: a resource server reading the JWKS for access tokens waits for no RSA key.)"""
        try:
            self._rings["RS256"].active()
        except SigningKeyUnavailable:
            pass  # the document is served all the same; signing will say why it cannot

    def jwks(self) -> list[dict[str, Any]]:
        """The public keys of every ring, once each."""
        seen: dict[str, dict[str, Any]] = {}
        for ring in {id(ring): ring for ring in self._rings.values()}.values():
            for key in ring.jwks()["keys"]:
                seen.setdefault(key["kid"], key)
        return list(seen.values())
