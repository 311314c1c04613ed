"""mobproc.TokenChecker, the resource server's side: JWTs checked locally, opaque tokens by
introspection; every forgery the RFCs warn about is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from conftest import (
    EVERY_GRANT, LiveServer, client_credentials_grant, database_url, mobproc, password_grant, remember, revoke,
)
from mobproc import RejectedToken, TokenChecker, ValidatedToken
from mobproc import resource

pytestmark = pytest.mark.database_agnostic


class Counting(httpx.Client):
    """An httpx client that counts the requests the checker makes."""

    def __init__(self) -> None:
        super().__init__(timeout=10, event_hooks={"request": [self._count]})
        self.requests: list[str] = []

    def _count(self, request: httpx.Request) -> None:
        self.requests.append(request.url.path)


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def parties(jwt_server: LiveServer):  # noqa: ANN201
    client = jwt_server.add_client(grants=EVERY_GRANT)
    user = jwt_server.add_user(tenant="ACME", domain="acme.example")
    return client, user


@pytest.fixture
def fetches() -> Iterator[Counting]:
    with Counting() as http:
        yield http


@pytest.fixture
def checker(jwt_server: LiveServer, fetches: Counting) -> TokenChecker:
    return TokenChecker(jwt_server.url, http=fetches, jwks_min_refresh_seconds=0)


@pytest.fixture
def token(jwt_server: LiveServer, parties) -> str:  # noqa: ANN001
    with jwt_server.client() as http:
        return password_grant(http, parties[0], parties[1]).json()["access_token"]


def signed(jwt_server: LiveServer, claims: dict, **header: str) -> str:
    """A token signed by the server's real active key, with the claims and header given."""
    key = jwt_server.services.keys.active()
    headers = {"typ": "at+jwt", "kid": key.kid, **header}
    value = jwt.encode(claims, key.private.as_pem(private=True), algorithm=key.alg, headers=headers)
    remember(value)
    return value


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_valid_jwt_answers_the_identity(checker: TokenChecker, fetches: Counting, token: str, parties) -> None:  # noqa: ANN001
    client, user = parties
    result = checker.check(token)
    assert isinstance(result, ValidatedToken), result
    assert result.subject == user[0] and result.client_id == client[0]
    assert result.platform == "command" and result.identifier == user[0].removeprefix("command://")
    assert result.tenant == "ACME" and result.multitenant is False and result.domain == "acme.example"
    assert result.has_scope("MOBPROC") and result.expires_at > time.time() + 7000
    # Checked locally: one JWKS fetch, then no call at all.
    assert checker.check(token) == result
    assert fetches.requests == ["/pf/JWKS"]


def test_alg_none_is_refused(checker: TokenChecker, jwt_server: LiveServer, token: str) -> None:
    kid = jwt.get_unverified_header(token)["kid"]
    unsigned = f"{b64({'alg': 'none', 'typ': 'at+jwt', 'kid': kid})}.{b64(claims_of(token))}."
    assert checker.check(unsigned).reason == resource.UNSUPPORTED_ALGORITHM


def test_hs256_signed_with_the_public_key_is_refused(checker: TokenChecker, jwt_server: LiveServer, token: str) -> None:
    kid = jwt.get_unverified_header(token)["kid"]
    public_pem = jwt_server.services.keys.active().private.as_pem(private=False)
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid})}.{b64(claims_of(token))}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert checker.check(f"{signing_input}.{b64(mac)}").reason == resource.UNSUPPORTED_ALGORITHM


def test_an_algorithm_that_is_not_the_keys_is_refused(checker: TokenChecker, token: str) -> None:
    header, claims, signature = token.split(".")
    as_rs256 = {**json.loads(base64.urlsafe_b64decode(header + "==")), "alg": "RS256"}
    assert checker.check(f"{b64(as_rs256)}.{claims}.{signature}").reason == resource.UNSUPPORTED_ALGORITHM


def test_a_wrong_typ_is_refused(checker: TokenChecker, jwt_server: LiveServer, token: str) -> None:
    assert checker.check(signed(jwt_server, claims_of(token), typ="JWT")).reason == resource.WRONG_TYPE
    # The long form of the media type is the same type (RFC 9068 §4).
    assert isinstance(checker.check(signed(jwt_server, claims_of(token), typ="application/AT+JWT")), ValidatedToken)


def test_another_issuer_is_refused(checker: TokenChecker, jwt_server: LiveServer, token: str) -> None:
    forged = signed(jwt_server, {**claims_of(token), "iss": "https://oauthqa.tangoe.com"})
    assert checker.check(forged).reason == resource.WRONG_ISSUER


def test_another_audience_is_refused(checker: TokenChecker, jwt_server: LiveServer, token: str) -> None:
    assert checker.check(signed(jwt_server, {**claims_of(token), "aud": "OTHER"})).reason == resource.WRONG_AUDIENCE
    with Counting() as http:
        other_api = TokenChecker(jwt_server.url, audience="REPORTS", http=http)
        assert other_api.check(token).reason == resource.WRONG_AUDIENCE


def test_an_expired_token_is_refused(checker: TokenChecker, jwt_server: LiveServer, token: str) -> None:
    past = int(time.time()) - 10
    expired = signed(jwt_server, {**claims_of(token), "exp": past, "iat": past - 7200})
    assert checker.check(expired).reason == resource.EXPIRED
    with Counting() as http:  # within the leeway a clock difference allows, it still passes
        assert isinstance(TokenChecker(jwt_server.url, leeway=60, http=http).check(expired), ValidatedToken)


def test_a_tampered_token_is_refused(checker: TokenChecker, token: str) -> None:
    header, _, signature = token.split(".")
    tampered = f"{header}.{b64({**claims_of(token), 'tenant': 'OTHER'})}.{signature}"
    assert checker.check(tampered).reason == resource.BAD_SIGNATURE


def test_an_unknown_kid_refetches_the_jwks_once_then_is_refused(checker: TokenChecker, fetches: Counting,
                                                               jwt_server: LiveServer, token: str) -> None:
    assert isinstance(checker.check(token), ValidatedToken)
    unknown = signed(jwt_server, claims_of(token), kid="no-such-key")
    assert checker.check(unknown).reason == resource.UNKNOWN_KEY
    assert fetches.requests == ["/pf/JWKS", "/pf/JWKS"]  # refreshed, and still not there


def test_made_up_kids_cannot_make_the_checker_hammer_the_jwks(jwt_server: LiveServer, token: str) -> None:
    with Counting() as http:
        checker = TokenChecker(jwt_server.url, http=http, jwks_min_refresh_seconds=60)
        for n in range(20):
            assert checker.check(signed(jwt_server, claims_of(token), kid=f"made-up-{n}")).reason == resource.UNKNOWN_KEY
        assert http.requests == ["/pf/JWKS"]


def test_a_100_kb_header_is_refused_quickly(checker: TokenChecker, fetches: Counting, token: str) -> None:
    huge = f"{b64({'alg': 'ES256', 'typ': 'at+jwt', 'kid': 'k', 'x': 'A' * 100_000})}.{token.split('.', 1)[1]}"
    started = time.perf_counter()
    result = checker.check(huge)
    assert time.perf_counter() - started < 0.01
    assert result.reason == resource.MALFORMED and fetches.requests == []


@pytest.mark.parametrize("garbage", ["", "a.b.c", "..", "eyJ9.e30.x", "x" * 40, "\u00e9.\u00e9.\u00e9"])
def test_garbage_is_refused_without_an_exception(checker: TokenChecker, garbage: str) -> None:
    assert isinstance(checker.check(garbage), RejectedToken)


def test_only_allowed_algorithms_pass(jwt_server: LiveServer, token: str) -> None:
    with Counting() as http:
        assert TokenChecker(jwt_server.url, algorithms=["RS256"], http=http).check(token).reason == \
            resource.UNSUPPORTED_ALGORITHM
    with pytest.raises(ValueError, match="HS256"):
        TokenChecker(jwt_server.url, algorithms=["ES256", "HS256"])


def test_a_token_of_the_new_key_verifies_right_after_a_rotation_now(make_server, tmp_path) -> None:  # noqa: ANN001
    database = tmp_path / "mobproc.db"
    with make_server(database, access_token_format="jwt") as live, live.client() as http, Counting() as fetches:
        client = live.add_client(grants=("client_credentials",))
        # No refetch throttle here: the rotation may come within a second of the first fetch.
        checker = TokenChecker(live.url, http=fetches, jwks_min_refresh_seconds=0)
        before = client_credentials_grant(http, client).json()["access_token"]
        assert isinstance(checker.check(before), ValidatedToken)
        rotated = mobproc("keys", "rotate", "--now", "--database", database_url(database))
        assert rotated.returncode == 0, rotated.stderr
        after = client_credentials_grant(http, client).json()["access_token"]
        assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
        assert isinstance(checker.check(after), ValidatedToken)
        assert isinstance(checker.check(before), ValidatedToken)
        assert fetches.requests == ["/pf/JWKS", "/pf/JWKS"]


# --- opaque tokens: introspection ------------------------------------------------------------


@pytest.fixture
def opaque(server: LiveServer):  # noqa: ANN201
    client = server.add_client(grants=EVERY_GRANT)
    resource_server = server.add_client(grants=("access_token_validation",))
    with server.client() as http, Counting() as fetches:
        tokens = password_grant(http, client, server.add_user(tenant="ACME")).json()
        checker = TokenChecker(server.url, client_id=resource_server[0], client_secret=resource_server[1],
                               http=fetches, cache_seconds=0.5)
        yield checker, tokens, http, client, fetches


def test_an_opaque_token_is_checked_by_introspection_and_cached(opaque) -> None:  # noqa: ANN001
    checker, tokens, http, client, fetches = opaque
    result = checker.check(tokens["access_token"])
    assert isinstance(result, ValidatedToken) and result.tenant == "ACME" and result.client_id == client[0]
    assert checker.check(tokens["access_token"]) == result
    assert fetches.requests == ["/as/introspect.oauth2"]  # the second answer came from the cache
    # A revocation shows once the short cache has let the answer go.
    assert revoke(http, client, tokens["access_token"]).status_code == 200
    time.sleep(0.6)
    assert checker.check(tokens["access_token"]).reason == resource.INACTIVE


def test_a_refresh_token_does_not_open_the_api(opaque) -> None:  # noqa: ANN001
    checker, tokens, _, _, _ = opaque
    assert checker.check(tokens["refresh_token"]).reason == resource.INACTIVE


def test_an_unknown_opaque_token_is_inactive(opaque) -> None:  # noqa: ANN001
    checker, _, _, _, _ = opaque
    assert checker.check("Q" * 28).reason == resource.INACTIVE


def test_without_credentials_or_without_mobproc_the_answer_is_unavailable(server: LiveServer, opaque) -> None:  # noqa: ANN001
    _, tokens, _, _, _ = opaque
    assert TokenChecker(server.url).check(tokens["access_token"]).reason == resource.UNAVAILABLE
    down = TokenChecker("http://127.0.0.1:9", client_id="a", client_secret="b", timeout=2)
    assert down.check(tokens["access_token"]).reason == resource.UNAVAILABLE
    a_jwt = f"{b64({'alg': 'ES256', 'typ': 'at+jwt', 'kid': 'k'})}.{b64({})}.{b64(b'signature')}"
    assert down.check(a_jwt).reason == resource.UNAVAILABLE  # the JWKS cannot be fetched


def test_a_valid_jwt_is_verified_once_then_answered_from_memory_until_it_expires(
        jwt_server: LiveServer, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    verified = []
    real_verify = resource.verify_jwt
    monkeypatch.setattr(resource, "verify_jwt", lambda *a, **k: verified.append(a[0]) or real_verify(*a, **k))
    with Counting() as http:
        checker = TokenChecker(jwt_server.url, http=http)
        first = checker.check(token)
        assert isinstance(first, ValidatedToken)
        assert checker.check(token) == first and verified == [token]
        # A refusal is not kept: the key it lacked may be published next.
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert checker.check(tampered).reason == resource.BAD_SIGNATURE
        assert checker.check(tampered).reason == resource.BAD_SIGNATURE
        assert verified == [token, tampered, tampered]
        # Kept, it still expires on time.
        soon = signed(jwt_server, {**claims_of(token), "exp": int(time.time()) + 2})
        assert isinstance(checker.check(soon), ValidatedToken) and isinstance(checker.check(soon), ValidatedToken)
        assert verified.count(soon) == 1
        time.sleep(max(0.0, claims_of(soon)["exp"] - time.time()) + 0.05)
        assert checker.check(soon).reason == resource.EXPIRED  # it left memory as it expired
    with Counting() as http:  # cache_seconds=0 keeps nothing: every check verifies
        uncached = TokenChecker(jwt_server.url, http=http, cache_seconds=0)
        verified.clear()
        uncached.check(token), uncached.check(token)
        assert verified == [token, token]


# --- the JWKS: exactly the last one fetched, kept on the issuer's terms (issue 19 item 4) ------


def test_mobprocs_jwks_may_be_kept_five_minutes(jwt_server: LiveServer) -> None:
    with jwt_server.client() as http:
        assert http.get("/pf/JWKS").headers["cache-control"] == "public, max-age=300"


def test_a_key_that_left_the_jwks_is_not_trusted_once_the_jwks_is_renewed(make_server, tmp_path) -> None:  # noqa: ANN001
    """The issue's finding: a long-running checker that once saw a key kept it after the key had
    left the JWKS, and accepted a token signed with it (tenant=ANY, multitenant=true) while a
    fresh checker and introspection refused it."""
    database = tmp_path / "mobproc.db"
    # Tokens live 1 s and the JWKS may be kept 1 s, so that a retired key leaves it in seconds.
    with make_server(database, access_token_format="jwt", access_token_lifetime=1,
                     key_publication_delay_seconds=2) as live, live.client() as http, Counting() as fetches:
        client = live.add_client(grants=("client_credentials",))
        checker = TokenChecker(live.url, http=fetches)  # a resource server's, with its defaults
        # Its first check fetches the JWKS, which on a loaded machine took longer than a token
        # of 1 s lives: the check that counts is the next one, of a token issued after it.
        checker.check(client_credentials_grant(http, client).json()["access_token"])
        assert isinstance(checker.check(client_credentials_grant(http, client).json()["access_token"]), ValidatedToken)
        retired = live.services.keys.active()  # its private half, as an old copy of the database holds it
        rotated = mobproc("keys", "rotate", "--now", "--database", database_url(database),
                          env={"MOBPROC_ACCESS_TOKEN_LIFETIME": "1"})
        assert rotated.returncode == 0, rotated.stderr
        deadline = time.monotonic() + 30
        while retired.kid in {key["kid"] for key in http.get("/pf/JWKS").json()["keys"]}:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1.2)  # the JWKS's max-age: a copy fetched before the key left is stale
        now = int(time.time())
        claims = {"iss": live.url, "aud": "MOBPROC", "sub": "command://anyone", "client_id": client[0],
                  "scope": "MOBPROC", "iat": now, "exp": now + 3600, "jti": "forged-with-a-retired-key",
                  "platform": "command", "tenant": "ANY", "multitenant": True}
        forged = jwt.encode(claims, retired.private.as_pem(private=True), algorithm=retired.alg,
                            headers={"typ": "at+jwt", "kid": retired.kid})
        remember(forged)
        assert checker.check(forged).reason == resource.UNKNOWN_KEY
        with Counting() as other:
            assert TokenChecker(live.url, http=other).check(forged).reason == resource.UNKNOWN_KEY


class JwksServer:
    """A JWKS over real HTTP with the Cache-Control it is given, that can be made to fail."""

    def __init__(self, jwks: dict, cache_control: str) -> None:
        import http.server
        import json as _json

        outer = self
        self.jwks, self.cache_control, self.failing, self.fetches = jwks, cache_control, False, 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                outer.fetches += 1
                body = _json.dumps(outer.jwks).encode()
                self.send_response(503 if outer.failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", outer.cache_control)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks"
        import threading

        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def jwks_of(jwt_server: LiveServer):  # noqa: ANN201
    """A JWKS server publishing the jwt_server's keys, closed after the test."""
    made: list[JwksServer] = []

    def make(cache_control: str) -> JwksServer:
        with jwt_server.client() as http:
            made.append(JwksServer(http.get("/pf/JWKS").json(), cache_control))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.mark.parametrize(("cache_control", "checker_max_age", "kept"), [
    ("public, max-age=1", 300, 1),  # the issuer's terms
    ("public, max-age=86400", 1, 1),  # at least every jwks_max_age_seconds, whatever it allows
    ("no-store", 300, 0.5),  # not at all: as often as jwks_min_refresh_seconds lets it
    ("", 1, 1),  # no terms: jwks_max_age_seconds
])
def test_the_jwks_is_fetched_again_on_the_issuers_terms_and_at_least_every_few_minutes(
        jwt_server: LiveServer, token: str, jwks_of, cache_control: str, checker_max_age: float, kept: float) -> None:  # noqa: ANN001
    jwks = jwks_of(cache_control)
    checker = TokenChecker(jwt_server.url, jwks_uri=jwks.url, cache_seconds=0, jwks_min_refresh_seconds=0.5,
                           jwks_max_age_seconds=checker_max_age)
    assert isinstance(checker.check(token), ValidatedToken) and jwks.fetches == 1
    assert isinstance(checker.check(token), ValidatedToken) and jwks.fetches == 1  # kept
    time.sleep(kept + 0.1)
    assert isinstance(checker.check(token), ValidatedToken) and jwks.fetches == 2


def test_while_the_jwks_cannot_be_fetched_the_last_one_serves_one_more_max_age(
        jwt_server: LiveServer, token: str, jwks_of) -> None:  # noqa: ANN001
    jwks = jwks_of("public, max-age=1")
    checker = TokenChecker(jwt_server.url, jwks_uri=jwks.url, cache_seconds=0, jwks_min_refresh_seconds=0.2)
    assert isinstance(checker.check(token), ValidatedToken)
    jwks.failing = True
    time.sleep(1.2)
    assert isinstance(checker.check(token), ValidatedToken)  # stale, and the issuer cannot be asked
    time.sleep(1)
    assert checker.check(token).reason == resource.UNAVAILABLE  # too old to trust: a 503, not a 401
    jwks.failing = False
    time.sleep(0.3)
    assert isinstance(checker.check(token), ValidatedToken)
