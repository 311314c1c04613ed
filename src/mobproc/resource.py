"""The resource server's side: check a bearer token issued by mobproc (or by a PingFederate
that issues the same tokens), from any Python service.

>>> checker = TokenChecker("https://oauth.example.com", client_id="api", client_secret=secret)  # doctest: +SKIP
>>> result = checker.check(token)                                                               # doctest: +SKIP
>>> if isinstance(result, RejectedToken):                                                       # doctest: +SKIP
...     return 401, result.reason         # RFC 6750 invalid_token (503 when result.reason == UNAVAILABLE)
>>> result.tenant, result.has_scope("MOBPROC")                                                  # doctest: +SKIP

A JWT access token (RFC 9068) is checked locally, with the keys of the issuer's JWKS: no
call to mobproc per request. The keys are exactly those of the last JWKS fetched, fetched again
when its Cache-Control max-age runs out (and at least every ``jwks_max_age_seconds``), and when
a token names a key it lacks (a rotation), at most once a second. An opaque token is checked by RFC 7662
introspection, which needs the credentials of a client allowed ``access_token_validation``.
Either way a token that passed is answered from memory for a short while (never past its
expiry): a client sends the same token with every call.

A JWT stays valid where it is checked locally until it expires, even if it was revoked at
mobproc: that is the price of not calling mobproc. Keep access-token lifetimes short, or
check opaque tokens.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._jose import (
    BAD_SIGNATURE,
    KEY_TYPES,
    MALFORMED,
    MAX_TOKEN_LENGTH,
    UNKNOWN_KEY,
    UNSUPPORTED_ALGORITHM,
    WRONG_ISSUER,
    WRONG_TYPE,
    AsymmetricKey,
    JwtRejected,
    import_public_key,
    verify_jwt,
)

JWKS_PATH = "/pf/JWKS"
INTROSPECTION_PATH = "/as/introspect.oauth2"
DEFAULT_AUDIENCE = "MOBPROC"

# Why a token was refused (:attr:`RejectedToken.reason`); all are RFC 6750 ``invalid_token``
# but UNAVAILABLE, which means that the answer is not known now (a 503, not a 401).
WRONG_AUDIENCE = "wrong_audience"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
INACTIVE = "inactive"
UNAVAILABLE = "unavailable"
__all__ = [
    "BAD_SIGNATURE", "EXPIRED", "INACTIVE", "MALFORMED", "NOT_YET_VALID", "UNAVAILABLE", "UNKNOWN_KEY",
    "UNSUPPORTED_ALGORITHM", "WRONG_AUDIENCE", "WRONG_ISSUER", "WRONG_TYPE",
    "RejectedToken", "TokenChecker", "ValidatedToken",
]


@dataclass(frozen=True, slots=True)
class ValidatedToken:
    """Who a valid access token speaks for. ``platform`` is the account's source system
    (``command``, ``rivermine``, ``platform``) and ``identifier`` its name; a token a client
    got for itself (client credentials) has neither, and its subject is the client id."""

    subject: str
    client_id: str
    scope: tuple[str, ...]
    issuer: str
    expires_at: float
    platform: str | None = None
    identifier: str | None = None
    tenant: str | None = None
    multitenant: bool = False
    domain: str | None = None
    token_id: str | None = None  # the jti of a JWT
    claims: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope


@dataclass(frozen=True, slots=True)
class RejectedToken:
    reason: str
    description: str


Checked = ValidatedToken | RejectedToken


class _TtlCache:
    """A small LRU of answers, each kept for its own number of seconds."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[bytes, tuple[float, Checked]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes, now: float) -> Checked | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or now >= item[0]:
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: bytes, value: Checked, until: float) -> None:
        with self._lock:
            self._items[key] = (until, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class TokenChecker:
    """Checks bearer tokens of one issuer for one audience.

    ``issuer`` is the authorization server's issuer URL (its metadata's ``issuer``, every
    token's ``iss``); the JWKS and introspection URLs default to PingFederate's paths under
    it. ``client_id``/``client_secret`` are needed only for opaque tokens. ``algorithms`` is
    the allow-list for JWT signatures; ``leeway`` the seconds of clock difference tolerated.
    The JWKS is kept as long as its Cache-Control max-age says, but at least
    ``jwks_min_refresh_seconds`` and at most ``jwks_max_age_seconds``.
    """

    def __init__(
        self,
        issuer: str,
        *,
        audience: str = DEFAULT_AUDIENCE,
        client_id: str | None = None,
        client_secret: str | None = None,
        jwks_uri: str | None = None,
        introspection_endpoint: str | None = None,
        algorithms: Collection[str] = ("ES256", "RS256"),
        leeway: float = 0,
        cache_seconds: float = 30,
        cache_size: int = 4096,
        jwks_min_refresh_seconds: float = 1,
        jwks_max_age_seconds: float = 300,
        http: httpx.Client | None = None,
        timeout: float = 5,
    ) -> None:
        unknown = set(algorithms) - set(KEY_TYPES)
        if unknown:
            raise ValueError(f"unsupported algorithms {sorted(unknown)}: choose from {sorted(KEY_TYPES)}")
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.jwks_uri = jwks_uri or self.issuer + JWKS_PATH
        self.introspection_endpoint = introspection_endpoint or self.issuer + INTROSPECTION_PATH
        self.algorithms = frozenset(algorithms)
        self.leeway = leeway
        self._client = (client_id, client_secret) if client_id and client_secret else None
        self._cache_seconds = cache_seconds
        self._cache = _TtlCache(cache_size)
        self._jwks_min_refresh = jwks_min_refresh_seconds
        self._jwks_max_age = max(jwks_max_age_seconds, jwks_min_refresh_seconds)
        self._http = http or httpx.Client(timeout=timeout)
        self._keys: dict[str, tuple[str | None, AsymmetricKey]] = {}
        self._keys_asked_at = -math.inf  # the last fetch tried, whatever came of it
        self._keys_fresh_until = -math.inf
        self._keys_usable_until = -math.inf
        self._keys_lock = threading.Lock()

    def check(self, token: str) -> Checked:
        """The validated identity, or why the token is refused. Never raises for a bad token."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return RejectedToken(MALFORMED, "The token is empty or too long")
        if token.count(".") == 2:
            # A JWT's refusal is not kept: the key it lacked may be published next.
            return self._kept(token, self._check_jwt, keep_refusals=False)
        return self._kept(token, self._introspect, keep_refusals=True)

    def _kept(self, token: str, check: Callable[[str], Checked], *, keep_refusals: bool) -> Checked:
        """``check(token)``, or its answer of less than ``cache_seconds`` ago, never past the
        token's expiry: a client sends the same token with every call until it expires. For
        a JWT the signature is most of a check (README, Performance: the JWT case), for an
        opaque token the call to mobproc; a kept answer costs a digest and a lookup."""
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = time.time()
        cached = self._cache.get(key, now)
        if cached is not None:
            if isinstance(cached, ValidatedToken) and now >= cached.expires_at + self.leeway:
                return RejectedToken(EXPIRED, "The token has expired")
            return cached
        checked = check(token)
        if isinstance(checked, ValidatedToken):
            self._cache.put(key, checked, min(now + self._cache_seconds, checked.expires_at + self.leeway))
        elif keep_refusals and checked.reason != UNAVAILABLE:
            self._cache.put(key, checked, now + self._cache_seconds)
        return checked

    # --- JWT: local -----------------------------------------------------------------------

    def _check_jwt(self, token: str) -> Checked:
        try:
            claims = verify_jwt(token, self._key, algorithms=self.algorithms)
        except JwtRejected as rejected:
            return RejectedToken(rejected.reason, rejected.description)
        return self._validate_claims(claims)

    def _validate_claims(self, claims: dict[str, Any]) -> Checked:
        """RFC 9068 §4: iss must be the issuer, aud must contain this resource server, exp
        must be in the future (RFC 7519 §4.1.4), with ``leeway`` for clock differences."""
        if claims.get("iss") != self.issuer:
            return RejectedToken(WRONG_ISSUER, "The token is of another issuer")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.audience not in audiences:
            return RejectedToken(WRONG_AUDIENCE, "The token is not meant for this resource server")
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not _is_number(exp) or now >= exp + self.leeway:
            return RejectedToken(EXPIRED, "The token has expired")
        if nbf is not None and (not _is_number(nbf) or now < nbf - self.leeway):
            return RejectedToken(NOT_YET_VALID, "The token is not valid yet")
        subject, client_id, scope = claims.get("sub"), claims.get("client_id"), claims.get("scope", "")
        if not isinstance(subject, str) or not isinstance(client_id, str) or not isinstance(scope, str):
            return RejectedToken(MALFORMED, "The token lacks sub, client_id or scope")
        return _validated(claims, self.issuer, float(exp), token_id=claims.get("jti"))

    def _key(self, kid: str) -> tuple[str | None, AsymmetricKey] | None:
        """The key named ``kid``, from the last JWKS fetched.

        The JWKS is fetched again once it is older than its max-age, so that a key that left it
        (a retired key, whose private half an old copy of the database may hold) stops being
        trusted within that time; and when a token names a key it lacks (a rotation), but not
        more than once per ``jwks_min_refresh_seconds``, so that tokens naming made-up keys
        cannot make this server hammer the issuer. While the JWKS cannot be fetched, the last
        one serves one more max-age; then tokens are refused as ``unavailable``, never checked
        against keys of unknown age."""
        with self._keys_lock:
            now = time.monotonic()
            wanted = now >= self._keys_fresh_until or kid not in self._keys
            if wanted and now - self._keys_asked_at >= self._jwks_min_refresh:
                self._keys_asked_at = now
                try:
                    self._keys, max_age = self._fetch_jwks()
                except (httpx.HTTPError, ValueError):
                    pass  # the last JWKS serves while it may
                else:
                    keep = min(max(max_age, self._jwks_min_refresh), self._jwks_max_age)
                    self._keys_fresh_until, self._keys_usable_until = now + keep, now + 2 * keep
            if now >= self._keys_usable_until:
                self._keys = {}
                raise JwtRejected(UNAVAILABLE, "The JWKS could not be fetched")
            return self._keys.get(kid)

    def _fetch_jwks(self) -> tuple[dict[str, tuple[str | None, AsymmetricKey]], float]:
        """The JWKS's keys, and how long it may be kept (RFC 9111 §5.2.2.1 max-age; no-store or
        no-cache: not at all; nothing said: ``jwks_max_age_seconds``)."""
        response = self._http.get(self.jwks_uri, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        keys: dict[str, tuple[str | None, AsymmetricKey]] = {}
        for jwk in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or jwk.get("use", "sig") != "sig":
                continue
            try:
                keys[jwk["kid"]] = (jwk.get("alg"), import_public_key(jwk))
            except Exception:  # noqa: BLE001 - a key this checker cannot use is skipped, not fatal
                continue
        return keys, _max_age(response.headers.get("cache-control", ""), self._jwks_max_age)

    # --- opaque: introspection ------------------------------------------------------------

    def _introspect(self, token: str) -> Checked:
        """RFC 7662 §2.1, authenticating with HTTP Basic (RFC 6749 §2.3.1)."""
        if self._client is None:
            return RejectedToken(UNAVAILABLE, "Opaque tokens need client credentials for introspection")
        try:
            response = self._http.post(
                self.introspection_endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                auth=self._client,
                headers={"Accept": "application/json"},
            )
            body = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("active"), bool):
            return RejectedToken(UNAVAILABLE, "The introspection endpoint did not answer")
        if not body["active"]:
            return RejectedToken(INACTIVE, "The token is not active")
        # A refresh token is active too: only an access token opens the API.
        if str(body.get("token_type", "")).lower() != "bearer":
            return RejectedToken(INACTIVE, "The token is not an access token")
        # iss and aud are OPTIONAL in an introspection answer (RFC 7662 §2.2); given, they count.
        return self._validate_claims({"iss": self.issuer, "aud": self.audience, **body})


def _max_age(cache_control: str, default: float) -> float:
    directives = {name.strip().lower(): value.strip().strip('"')
                  for name, _, value in (part.partition("=") for part in cache_control.split(","))}
    if "no-store" in directives or "no-cache" in directives:
        return 0
    try:
        return max(0, int(directives["max-age"]))
    except (KeyError, ValueError):
        return default


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _validated(claims: dict[str, Any], issuer: str, expires_at: float, token_id: object = None) -> ValidatedToken:
    platform = claims.get("platform") if isinstance(claims.get("platform"), str) else None
    subject = claims["sub"]
    identifier = None
    if platform is not None:
        identifier = subject.partition("://")[2] if "://" in subject else subject
    return ValidatedToken(
        subject=subject,
        client_id=claims["client_id"],
        scope=tuple(claims.get("scope", "").split()),
        issuer=issuer,
        expires_at=expires_at,
        platform=platform,
        identifier=identifier,
        tenant=claims.get("tenant") if isinstance(claims.get("tenant"), str) else None,
        multitenant=claims.get("multitenant") is True,
        domain=claims.get("domain") if isinstance(claims.get("domain"), str) else None,
        token_id=token_id if isinstance(token_id, str) else None,
        claims=dict(claims),
    )
