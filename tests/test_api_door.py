"""The MOBPROC v1 API's door, rule by rule, with real tokens from the token endpoint: in the
token service's own process (opaque tokens and JWTs, checked by its verifier) and served alone
with ``mobproc serve --api-only`` (JWTs checked locally, opaque tokens by introspection)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api_world import ANA, SAM, World, make_world
from conftest import LiveServer, ServerProcess, revoke
from mobproc.api import resources
from mobproc.storage.database import DatabaseUnavailable

# Tokens of these worlds live 4 s, so that the expiry test waits for a real one; every other
# test gets its tokens just before its call.
LIFETIME = 4
MODES = [("in-process", "opaque"), ("in-process", "jwt"), ("api-only", "opaque"), ("api-only", "jwt")]


@pytest.fixture(scope="module", params=MODES, ids=[f"{place}-{kind}" for place, kind in MODES])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, server_log: Path) -> Iterator[World]:
    place, kind = request.param
    workdir = tmp_path_factory.mktemp(f"door-{place}-{kind}")
    with LiveServer(workdir / "issuer.db", access_token_format=kind, access_token_lifetime=LIFETIME) as issuer:
        if place == "in-process":
            built = make_world(issuer, issuer.url, issuer.services, workdir)
            built.revocation_seen = True
            built.log = server_log
            yield built
            return
        (workdir / "api").mkdir()
        introspector = issuer.add_client(grants=("access_token_validation",))
        env = {"MOBPROC_INTROSPECTION_CLIENT_ID": introspector[0], "MOBPROC_INTROSPECTION_CLIENT_SECRET": introspector[1]}
        with ServerProcess(workdir / "api", "--api-only", "--issuer", issuer.url, env=env) as api:
            built = make_world(issuer, api.url, api.services, workdir)
            # A JWT checked locally stays valid where it is checked until it expires (resource.py).
            built.revocation_seen = kind == "opaque"
            built.log = api.log_path
            yield built


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errorCode"] == code and body["status"] == status, body
    assert len(body["id"]) == 10 and body["message"]
    return body


def test_a_valid_token_with_the_headers_opens_the_api(world: World) -> None:
    response = world.get("/ping", params={"echoText": "hello"})
    assert response.status_code == 200, response.text
    assert response.json()["echoText"] == "hello" and response.json()["status"] == "SUCCESS"
    assert response.json()["node"]
    assert response.headers["cache-control"] == "no-store"


def test_no_token_is_a_401_without_an_error_code(world: World) -> None:
    headers = world.headers()
    del headers["Authorization"]
    response = world.get("/me", headers=headers)
    error_of(response, 401, "401-unauthorized")
    # RFC 6750 §3.1: no error attribute when the request carried no token.
    assert response.headers["www-authenticate"] == 'Bearer realm="MOBPROC"'
    basic = world.get("/me", headers={**headers, "Authorization": "Basic dXNlcjpwdw=="})
    assert basic.headers["www-authenticate"] == 'Bearer realm="MOBPROC"'


def test_an_unknown_token_is_invalid_token(world: World) -> None:
    response = world.get("/me", headers=world.headers(token="NotATokenOfThisServer1234567"))
    error_of(response, 401, "401-unauthorized")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_an_expired_token_is_invalid_token(world: World) -> None:
    headers = world.headers()
    assert world.get("/me", headers=headers).status_code == 200
    time.sleep(LIFETIME + 1)
    response = world.get("/me", headers=headers)
    error_of(response, 401, "401-unauthorized")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_revoked_token_is_refused_at_once_where_the_row_is_read(world: World) -> None:
    token = world.token()
    headers = world.headers(token=token)
    assert world.get("/me", headers=headers).status_code == 200
    with httpx.Client(base_url=world.issuer.url) as http:
        assert revoke(http, world.client, token).status_code == 200
    response = world.get("/me", headers=headers)
    if world.revocation_seen:
        error_of(response, 401, "401-unauthorized")
    else:  # a JWT checked by its signature alone: valid until it expires (README)
        assert response.status_code == 200


def test_a_token_without_the_mobproc_scope_is_insufficient_scope(world: World) -> None:
    response = world.get("/me", headers=world.headers(token=world.token(scope="OTHER")))
    error_of(response, 403, "403-insufficient-scope")
    assert response.headers["www-authenticate"] == 'Bearer realm="MOBPROC", error="insufficient_scope", scope="MOBPROC"'


def test_the_tenant_and_client_id_headers_are_required(world: World) -> None:
    token = world.token()
    for missing, code in (("X-TNGO-TENANT", "400-tenant-required"), ("client_id", "400-client-id-required")):
        headers = world.headers(token=token)
        del headers[missing]
        error_of(world.get("/me", headers=headers), 400, code)


def test_another_tenant_is_forbidden_unless_the_account_is_multitenant(world: World) -> None:
    error_of(world.get("/me", headers=world.headers(tenant=world.other)), 403, "403-tenant-forbidden")
    error_of(world.get("/me", headers=world.headers("outsider", tenant=world.code)), 403, "403-tenant-forbidden")
    # A multitenant account acts in another tenant where that tenant knows it.
    response = world.get("/me", headers=world.headers("multi", tenant=world.other))
    assert response.status_code == 200, response.text
    assert response.json()["authenticatedUser"]["id"] == "90001"
    assert world.get("/me", "multi").json()["authenticatedUser"]["id"] == SAM


def test_a_client_id_header_other_than_the_tokens_client_is_forbidden(world: World) -> None:
    headers = world.headers(client_id="some-other-client")
    error_of(world.get("/me", headers=headers), 403, "403-client-id-mismatch")


def test_the_context_switches_the_actor_to_an_employee_the_account_may_act_for(world: World) -> None:
    me = world.get("/me", headers=world.headers("clerk", **{"X-TNGO-CONTEXT-EMPLOYEEID": SAM})).json()
    assert me["authenticatedUser"]["id"] == ANA and me["actor"]["id"] == SAM
    by_company = world.get("/me", headers=world.headers("clerk", **{"X-TNGO-CONTEXT-COMPANYEMPLOYEEID": "sam.lindqvist@xyz.example"}))
    assert by_company.json()["actor"]["id"] == SAM
    # The employee id wins over the company employee id.
    both = world.headers("boss", **{"X-TNGO-CONTEXT-EMPLOYEEID": ANA,
                                    "X-TNGO-CONTEXT-COMPANYEMPLOYEEID": "sam.lindqvist@xyz.example"})
    assert world.get("/me", headers=both).json()["actor"]["id"] == ANA


def test_the_context_cannot_be_an_employee_out_of_reach_or_of_another_tenant(world: World) -> None:
    for header, value in (("X-TNGO-CONTEXT-EMPLOYEEID", "40001"),  # the boss: not the clerk's to act for
                          ("X-TNGO-CONTEXT-EMPLOYEEID", "90001"),  # the other tenant's employee
                          ("X-TNGO-CONTEXT-COMPANYEMPLOYEEID", "lee@other.example"),
                          ("X-TNGO-CONTEXT-EMPLOYEEID", "no-such-employee")):
        error_of(world.get("/me", headers=world.headers("clerk", **{header: value})), 403, "403-context-forbidden")
        error_of(world.get("/ping", headers=world.headers("clerk", **{header: value})), 403, "403-context-forbidden")


def test_the_api_never_answers_what_the_account_may_not_see(world: World) -> None:
    context = {"X-TNGO-CONTEXT-EMPLOYEEID": SAM}
    employees = world.get("/employees", headers=world.headers("clerk", **context)).json()
    assert sorted(e["id"] for e in employees["employees"]) == sorted([ANA, SAM])
    assert employees["_meta"]["totalCount"] == 2
    assert world.get("/employees/40001", "clerk").status_code == 404
    error_of(world.get("/assets/services", "clerk", params={"employee": "40001"}), 403, "403-employee-forbidden")
    services = world.get("/assets/services", "clerk").json()["services"]
    assert {s["id"] for s in services} == {"500201", "500301"}  # Sam's and the clerk's own (Ana's)
    assert len(world.get("/employees", "boss").json()["employees"]) == 3


def test_troubleshooting_ids_are_echoed_and_on_every_log_line_of_the_call(world: World) -> None:
    tags = {"X-TNGO-CONTEXT-ACTIVITYID": "activity-7f3a", "X-TNGO-CONTEXT-CORRELATIONID": "call-0042"}
    response = world.get("/employees/nobody", headers=world.headers(**tags))
    body = error_of(response, 404, "404-employee-not-found")
    assert response.headers["x-tngo-context-activityid"] == "activity-7f3a"
    assert response.headers["x-tngo-context-correlationid"] == "call-0042"
    deadline = time.monotonic() + 5
    while body["id"] not in world.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [line for line in world.log.read_text().splitlines() if body["id"] in line]
    assert lines and all("activity=activity-7f3a" in line and "correlation=call-0042" in line for line in lines)


def test_unknown_paths_and_methods_answer_the_documented_body(world: World) -> None:
    error_of(world.get("/no/such/resource"), 404, "404-not-found")
    error_of(world.call("DELETE", "/employees"), 405, "405-method-not-allowed")
    bad = world.get("/employees", params={"limit": "many"})
    assert "limit" in error_of(bad, 400, "400-invalid-field")["message"]


def test_ping_keeps_every_rule_of_the_door(world: World) -> None:
    """A GET of /ping is answered outside FastAPI in the token service's process
    (mobproc.api.ping): the same answers as a route behind the door, rule by rule."""
    good = world.headers()
    cases = {
        "no token": {k: v for k, v in good.items() if k != "Authorization"},
        "unknown token": world.headers(token="NotATokenOfThisServer1234567"),
        "no tenant": {k: v for k, v in good.items() if k != "X-TNGO-TENANT"},
        "other tenant": world.headers(tenant="SOMEONE-ELSE"),
        "other client": {**good, "client_id": "not-the-tokens-client"},
        "other scope": world.headers(token=world.token(scope="OTHER")),
    }
    for case, headers in cases.items():
        ping, me = world.get("/ping", headers=headers), world.get("/me", headers=headers)
        assert (ping.status_code, ping.json()["errorCode"]) == (me.status_code, me.json()["errorCode"]), case
        assert ping.headers.get("www-authenticate") == me.headers.get("www-authenticate"), case
        assert ping.headers["cache-control"] == "no-store" and "content-security-policy" in ping.headers
    too_long = world.get("/ping", params={"echoText": "x" * 1001})
    assert too_long.status_code == 400 and too_long.json()["errorCode"] == "400-invalid-field"
    assert "echoText" in too_long.json()["message"]
    assert world.post("/ping").status_code == 405  # every other method: the described route's answer


@pytest.mark.parametrize(("failure", "status", "code"), [
    (RuntimeError("a bug"), 500, "500-internal"),
    (DatabaseUnavailable("the database is down"), 503, "503-unavailable"),
])
def test_a_failure_on_the_server_is_answered_in_the_documented_body_with_its_id_in_the_log(
        tmp_path: Path, server: LiveServer, server_log: Path, monkeypatch: pytest.MonkeyPatch,
        failure: Exception, status: int, code: str) -> None:
    """Issue 21, item 3: "an unexpected failure is a 500 in that shape with its id", never a
    stack trace; a database that cannot answer, a 503 with Retry-After. The id is the one in
    the log line that records it (with the trace, for the 500)."""
    world = make_world(server, server.url, server.services, tmp_path)
    headers = world.headers()

    def fails(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(resources, "_me_user", fails)
    response = world.get("/me", headers=headers)
    body = error_of(response, status, code)
    assert set(body) == {"errorCode", "id", "message", "status"}
    assert "Traceback" not in response.text and "a bug" not in response.text
    if status == 503:
        assert int(response.headers["Retry-After"]) >= 1
    deadline = time.monotonic() + 5
    while body["id"] not in server_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = [line for line in server_log.read_text().splitlines() if body["id"] in line]
    assert logged, body
    if status == 500:
        assert "Traceback" in server_log.read_text().split(body["id"], 1)[1][:5000]
