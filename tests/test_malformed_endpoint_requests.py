"""CONTRACT §7 for introspection, revocation, the JWKS and the metadata: no request, however
malformed, gets a 5xx; every answer is JSON."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EVERY_GRANT, INTROSPECT_PATH, JWKS_PATH, REVOKE_PATH, LiveServer
from test_malformed_requests import authorization_headers, encoded_pairs

pytestmark = pytest.mark.database_agnostic

PATHS = [INTROSPECT_PATH, REVOKE_PATH, JWKS_PATH, "/.well-known/oauth-authorization-server", "/as/token.oauth2"]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory, server_log):  # noqa: ANN001, ANN201
    database = tmp_path_factory.mktemp("fuzz-endpoints") / "mobproc.db"
    with LiveServer(database, access_token_format="jwt", argon2_memory_kib=64, argon2_time_cost=1) as live:
        # The valid client may introspect, so that requests get past authentication.
        live.valid_client = live.add_client(grants=EVERY_GRANT)
        live.valid_user = live.add_user()
        with live.client() as http:
            live.http = http
            yield live


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_generated_malformed_requests_to_the_other_endpoints_never_get_a_5xx(fuzz_server: LiveServer,
                                                                             data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(PATHS))
    method = data.draw(st.sampled_from(["POST"] * 4 + ["GET", "HEAD", "PUT", "DELETE"]))
    query = data.draw(encoded_pairs(fuzz_server))
    body = data.draw(st.one_of(encoded_pairs(fuzz_server).map(str.encode), st.binary(max_size=200), st.just(b"")))
    # Token-shaped values: JWT-like triples of random base64url, huge segments, dots.
    segment = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", max_size=60)
    jwt_like = st.tuples(segment, segment, segment).map(".".join)
    token = data.draw(st.one_of(jwt_like, st.just("eyJhbGciOiJub25lIn0." + "A" * 20_000 + ".")))
    if data.draw(st.booleans()):
        body = body + b"&token=" + token.encode()
    headers = {"Content-Type": data.draw(st.sampled_from(["application/x-www-form-urlencoded", "application/json", ""]))}
    authorization = data.draw(authorization_headers())
    if authorization is not None:
        headers["Authorization"] = authorization.strip().encode("latin-1")
    target = f"{path}?{query}" if query else path
    response = fuzz_server.http.request(method, target, content=body, headers=headers)
    assert response.status_code < 500, response.text
    if method != "HEAD":
        assert response.headers["content-type"] == "application/json"
        assert isinstance(response.json(), dict)
