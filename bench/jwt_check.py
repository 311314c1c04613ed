"""The JWT case: one checker validating one JWT access token (RFC 9068, ES256) in a loop, in
this process, on whatever core it is pinned to. Prints one JSON line: checks per second, the
p50 and p99 of one check, and how many checks did not accept the token (errors).

    taskset -c 0 python jwt_check.py CHECKER --token T --issuer I --audience A --jwks-uri URL

CHECKER is one of
  ceiling  the bare ES256 signature verification with cryptography (OpenSSL), nothing else:
           the limit for any checker on this core
  mobproc  mobproc.TokenChecker keeping no answer (cache_seconds=0): every check verifies the
           signature, as for a token it has not seen before (mobproc's venv)
  mobproc-kept  mobproc.TokenChecker as shipped: the token was seen before, and its answer is kept
  pyjwt    PyJWT's jwt.decode with the issuer, audience and expiry checked (the peers' venv)
  joserfc  joserfc's jwt.decode and claims registry, the same checks (the peers' venv; Authlib's
           own JOSE module is deprecated for it)
"""

import argparse
import base64
import json
from collections.abc import Callable

import httpx

import timed_loop

ap = argparse.ArgumentParser()
ap.add_argument("checker", choices=("ceiling", "mobproc", "mobproc-kept", "pyjwt", "joserfc"))
ap.add_argument("--token", required=True)
ap.add_argument("--issuer", required=True)
ap.add_argument("--audience", required=True)
ap.add_argument("--jwks-uri", required=True)
ap.add_argument("--seconds", type=float, default=10.0)
ap.add_argument("--warmup", type=float, default=1.0)
args = ap.parse_args()


def b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def the_key() -> dict:
    """The token's key from the issuer's JWKS, fetched once, before the clock starts."""
    kid = json.loads(b64(args.token.split(".")[0]))["kid"]
    return next(k for k in httpx.get(args.jwks_uri).json()["keys"] if k["kid"] == kid)


def ceiling() -> Callable[[], bool]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from cryptography.hazmat.primitives.hashes import SHA256

    jwk = the_key()
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64(jwk["x"])), int.from_bytes(b64(jwk["y"])), ec.SECP256R1()).public_key()
    signing_input, _, signature = args.token.rpartition(".")
    raw = b64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    message, algorithm = signing_input.encode(), ec.ECDSA(SHA256())

    def check() -> bool:
        try:
            public.verify(der, message, algorithm)
        except InvalidSignature:
            return False
        return True

    return check


def mobproc(keep: bool = False) -> Callable[[], bool]:
    from mobproc import TokenChecker, ValidatedToken

    checker = TokenChecker(args.issuer, audience=args.audience, jwks_uri=args.jwks_uri, algorithms=("ES256",),
                           **({} if keep else {"cache_seconds": 0}))
    return lambda: isinstance(checker.check(args.token), ValidatedToken)


def pyjwt() -> Callable[[], bool]:
    import jwt

    key = jwt.PyJWK(the_key()).key

    def check() -> bool:
        try:
            jwt.decode(args.token, key, algorithms=["ES256"], audience=args.audience, issuer=args.issuer,
                       options={"require": ["exp", "iss", "aud"]})
        except jwt.InvalidTokenError:
            return False
        return True

    return check


def joserfc() -> Callable[[], bool]:
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey

    key = ECKey.import_key(the_key())
    claims = jwt.JWTClaimsRegistry(iss={"essential": True, "value": args.issuer},
                                   aud={"essential": True, "value": args.audience}, exp={"essential": True})

    def check() -> bool:
        try:
            claims.validate(jwt.decode(args.token, key, algorithms=["ES256"]).claims)
        except JoseError:
            return False
        return True

    return check


check = {"ceiling": ceiling, "mobproc": mobproc, "mobproc-kept": lambda: mobproc(keep=True), "pyjwt": pyjwt,
         "joserfc": joserfc}[args.checker]()
if not check():
    raise SystemExit(f"{args.checker} does not accept the token")
timed_loop.run(check, args.seconds, args.warmup)
