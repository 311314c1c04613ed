"""The admin API's endpoints, as an operator or a pipeline uses them: each change made through
the registries the command line uses, answered in the CLI's field names, audited with the actor
and the address it came from; optimistic concurrency (412 on a stale If-Match); validation
errors naming the field; never a 500."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from admin_world import ADMIN, AdminWorld, make_admin_world
from conftest import (
    LiveServer,
    client_credentials_grant,
    introspect,
    password_grant,
    refresh_grant,
    remember,
    unique,
)
from mobproc.domain.views import account_fields, client_fields


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, server_log: Path) -> Iterator[AdminWorld]:
    with LiveServer(tmp_path_factory.mktemp("admin-api") / "mobproc.db") as live:
        yield make_admin_world(live)


def new_client(world: AdminWorld, **fields: object) -> httpx.Response:
    body = {"client_id": unique("app"), "grants": ["client_credentials"], "scopes": ["MOBPROC"], **fields}
    return world.call("POST", "/clients", json=body)


def audited(world: AdminWorld, **where: str) -> list[dict]:
    return world.call("GET", "/audit", params={**where, "limit": 50}).json()["items"]


# --- clients ------------------------------------------------------------------------------------


def test_a_new_client_gets_its_secret_once_a_location_and_an_etag_and_the_secret_works(world: AdminWorld) -> None:
    created = new_client(world)
    assert created.status_code == 201, created.text
    body = created.json()
    client_id, secret = body["client_id"], body["client_secret"]
    assert created.headers["location"] == f"{ADMIN}/clients/{client_id}"
    assert created.headers["etag"].startswith('"c') and created.headers["cache-control"] == "no-store"
    assert {k: v for k, v in body.items() if k != "client_secret"} == {
        "client_id": client_id, "grants": ["client_credentials"], "scopes": ["MOBPROC"],
        "default_scopes": ["MOBPROC"], "enabled": True, "redirect_uris": [], "public": False, "pkce": "required",
        "trusted": False, "access_token_lifetime": None, "id_token_alg": None}
    # Never again: not in the resource, not in the list.
    again = world.call("GET", created.headers["location"].removeprefix(ADMIN))
    assert again.status_code == 200 and "client_secret" not in again.json()
    assert secret not in world.call("GET", "/clients", params={"prefix": client_id}).text
    with httpx.Client(base_url=world.server.url) as http:
        assert client_credentials_grant(http, (client_id, secret)).status_code == 200


def test_the_fields_are_those_of_the_command_lines_json(world: AdminWorld) -> None:
    client_id = new_client(world).json()["client_id"]
    client = world.server.services.client_registry.find(client_id)
    assert world.call("GET", f"/clients/{client_id}").json() == client_fields(client)
    username = world.users["auditor"][0]
    view = world.server.services.account_registry.find(username)
    assert world.call("GET", f"/accounts/{quote(username, safe='')}").json() == account_fields(view)


def test_an_imported_secret_is_taken_and_a_short_one_refused_naming_the_field(world: AdminWorld) -> None:
    secret = "imported-" + "x" * 30
    remember(secret)
    assert new_client(world, client_secret=secret).json()["client_secret"] == secret
    short = new_client(world, client_secret="short")
    assert short.status_code == 400 and short.json()["errors"][0]["field"] == "client_secret"


@pytest.mark.parametrize("fields, field", [
    ({"grants": ["pasword"]}, "grants"),
    ({"grants": []}, "grants"),
    ({"scopes": ["A", "B"]}, "default_scopes"),
    ({"scopes": ["A"], "default_scopes": ["B"]}, "default_scopes"),
    ({"scopes": ["has space"]}, "scopes"),
    ({"client_id": "a:b"}, "client_id"),
    ({"client_id": ""}, "client_id"),
    ({"colour": "blue"}, "colour"),
    ({"enabled": "maybe"}, "enabled"),
])
def test_a_bad_client_is_refused_with_400_naming_the_field(world: AdminWorld, fields: dict, field: str) -> None:
    answer = new_client(world, **fields)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "urn:mobproc:admin:invalid-field" and problem["status"] == 400
    assert field in [error["field"] for error in problem["errors"]], problem
    assert problem["id"] and "Traceback" not in answer.text


def test_a_missing_field_and_a_body_that_is_not_json_are_named(world: AdminWorld) -> None:
    missing = world.call("POST", "/clients", json={"grants": ["password"]})
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "client_id"
    garbled = world.call("POST", "/clients", content=b"{not json", headers={"Content-Type": "application/json"})
    assert garbled.status_code == 400 and garbled.json()["errors"][0]["field"].startswith("body")


def test_a_client_id_taken_is_409(world: AdminWorld) -> None:
    client_id = new_client(world).json()["client_id"]
    again = new_client(world, client_id=client_id)
    assert again.status_code == 409 and again.json()["type"] == "urn:mobproc:admin:exists"


def test_clients_page_on_the_server_and_filter(world: AdminWorld) -> None:
    prefix = unique("page")
    for n in range(5):
        new_client(world, client_id=f"{prefix}-{n}", grants=["password"] if n % 2 else ["client_credentials"])
    world.call("POST", f"/clients/{prefix}-4/disable")
    first = world.call("GET", "/clients", params={"prefix": prefix, "limit": 2}).json()
    assert [c["client_id"] for c in first["items"]] == [f"{prefix}-0", f"{prefix}-1"]
    assert first["total"] == 5 and first["next_offset"] == 2
    last = world.call("GET", "/clients", params={"prefix": prefix, "limit": 2, "offset": 4}).json()
    assert [c["client_id"] for c in last["items"]] == [f"{prefix}-4"] and last["next_offset"] is None
    passwords = world.call("GET", "/clients", params={"prefix": prefix, "grant": "password"}).json()
    assert [c["client_id"] for c in passwords["items"]] == [f"{prefix}-1", f"{prefix}-3"]
    disabled = world.call("GET", "/clients", params={"prefix": prefix, "enabled": "false"}).json()
    assert [c["client_id"] for c in disabled["items"]] == [f"{prefix}-4"]


def test_a_change_on_a_stale_etag_is_412_and_changes_nothing(world: AdminWorld) -> None:
    client_id = new_client(world).json()["client_id"]
    etag = world.call("GET", f"/clients/{client_id}").headers["etag"]
    changed = world.call("PATCH", f"/clients/{client_id}", json={"scopes": ["MOBPROC", "B"]},
                         headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert changed.json()["scopes"] == ["B", "MOBPROC"] and changed.json()["default_scopes"] == ["MOBPROC"]
    assert changed.headers["etag"] != etag
    # Another operator, still holding the first version:
    for method, path, kwargs in [("PATCH", "", {"json": {"grants": ["password"]}}), ("DELETE", "", {}),
                                 ("POST", "/disable", {}), ("POST", "/secret", {})]:
        stale = world.call(method, f"/clients/{client_id}{path}", headers={"If-Match": etag}, **kwargs)
        assert stale.status_code == 412, (method, path, stale.text)
        assert stale.json()["type"] == "urn:mobproc:admin:precondition-failed"
    assert world.call("GET", f"/clients/{client_id}").json() == changed.json()
    # A weak tag never matches (RFC 9110: If-Match compares strongly); * matches any version.
    weak = world.call("POST", f"/clients/{client_id}/disable", headers={"If-Match": "W/" + changed.headers["etag"]})
    assert weak.status_code == 412
    assert world.call("POST", f"/clients/{client_id}/disable", headers={"If-Match": "*"}).status_code == 200


def test_of_two_changes_on_one_version_one_wins(world: AdminWorld) -> None:
    client_id = new_client(world).json()["client_id"]
    etag = world.call("GET", f"/clients/{client_id}").headers["etag"]
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def change(n: int) -> None:
        barrier.wait()
        statuses.append(world.call("PATCH", f"/clients/{client_id}", json={"scopes": [f"S{n}"]},
                                   headers={"If-Match": etag}).status_code)

    threads = [threading.Thread(target=change, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 412, 412, 412]


def test_a_disabled_client_is_refused_by_the_token_endpoint_and_enabled_again_works(world: AdminWorld) -> None:
    created = new_client(world).json()
    credentials = (created["client_id"], created["client_secret"])
    assert world.call("POST", f"/clients/{credentials[0]}/disable").json()["enabled"] is False
    with httpx.Client(base_url=world.server.url) as http:
        time.sleep(world.server.settings.client_cache_seconds)
        refused = client_credentials_grant(http, credentials)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
        assert world.call("POST", f"/clients/{credentials[0]}/enable").json()["enabled"] is True
        time.sleep(world.server.settings.client_cache_seconds)
        assert client_credentials_grant(http, credentials).status_code == 200


def test_a_rotated_secret_replaces_the_old_one(world: AdminWorld) -> None:
    created = new_client(world).json()
    rotated = world.call("POST", f"/clients/{created['client_id']}/secret")
    assert rotated.status_code == 200 and rotated.json()["client_secret"] != created["client_secret"]
    with httpx.Client(base_url=world.server.url) as http:
        time.sleep(world.server.settings.client_cache_seconds)
        assert client_credentials_grant(http, (created["client_id"], created["client_secret"])).status_code == 401
        assert client_credentials_grant(http, (created["client_id"], rotated.json()["client_secret"])).status_code == 200


def test_a_removed_client_is_gone(world: AdminWorld) -> None:
    client_id = new_client(world).json()["client_id"]
    assert world.call("DELETE", f"/clients/{client_id}").status_code == 204
    assert world.call("GET", f"/clients/{client_id}").status_code == 404
    assert world.call("DELETE", f"/clients/{client_id}").status_code == 404


# --- accounts -------------------------------------------------------------------------------------


def test_an_account_is_added_found_by_prefix_and_source_system_and_paged(world: AdminWorld) -> None:
    stem = unique("search")
    for source in ("command", "rivermine"):
        for n in range(3):
            made = world.call("POST", "/accounts", json={"username": f"{source}://{stem}-{n}", "password": "pw-1",
                                                         "tenant": "XYZ"})
            assert made.status_code == 201, made.text
    assert made.headers["location"] == f"{ADMIN}/accounts/{quote(f'rivermine://{stem}-2', safe='')}"
    assert made.json()["username"] == f"rivermine://{stem}-2" and made.json()["tenant"] == "XYZ"
    every = world.call("GET", "/accounts", params={"prefix": stem}).json()
    assert every["total"] == 6
    only = world.call("GET", "/accounts", params={"prefix": stem, "source_system": "rivermine", "limit": 2}).json()
    assert [a["username"] for a in only["items"]] == [f"rivermine://{stem}-0", f"rivermine://{stem}-1"]
    assert only["total"] == 3 and only["next_offset"] == 2
    # A prefix is a prefix: no pattern characters, and a name that merely contains it is not found.
    assert world.call("GET", "/accounts", params={"prefix": stem[1:]}).json()["total"] == 0
    assert world.call("GET", "/accounts", params={"prefix": "%"}).json()["total"] == 0
    unknown = world.call("GET", "/accounts", params={"source_system": "nowhere"})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "source_system"


@pytest.mark.parametrize("body, field", [
    ({"username": "nowhere://x", "password": "p"}, "username"),
    ({"username": "command://x", "password": ""}, "password"),
    ({"username": "command://x", "password": "p", "tenant": ""}, "tenant"),
    ({"username": "command://x"}, "password"),
])
def test_a_bad_account_is_refused_naming_the_field(world: AdminWorld, body: dict, field: str) -> None:
    answer = world.call("POST", "/accounts", json=body)
    assert answer.status_code == 400 and field in [e["field"] for e in answer.json()["errors"]], answer.text


def test_an_account_shows_its_lockout_and_last_login_and_is_unlocked(world: AdminWorld) -> None:
    username, password = world.server.add_user()
    path = f"/accounts/{quote(username, safe='')}"
    with httpx.Client(base_url=world.server.url) as http:
        assert password_grant(http, world.client, (username, password)).status_code == 200
        assert world.call("GET", path).json()["last_login_at"] is not None
        for _ in range(world.server.settings.lockout_threshold):  # wrong passwords lock it
            assert password_grant(http, world.client, (username, "wrong")).status_code == 400
        assert world.call("GET", path).json()["locked_until"] is not None
        assert password_grant(http, world.client, (username, password)).status_code == 400
        assert world.call("POST", f"{path}/unlock", "operator").status_code == 204
        assert world.call("GET", path).json()["locked_until"] is None
        assert password_grant(http, world.client, (username, password)).status_code == 200
    assert audited(world, subject=username, event="account_unlocked")[0]["actor"] == \
        f"account:{world.users['operator'][0]}"


def test_a_password_set_ends_the_old_one_and_its_grants(world: AdminWorld) -> None:
    username, password = world.server.add_user()
    path = f"/accounts/{quote(username, safe='')}"
    with httpx.Client(base_url=world.server.url) as http:
        token = password_grant(http, world.client, (username, password)).json()["access_token"]
        etag = world.call("GET", path).headers["etag"]
        new = "pw-" + unique("new")
        remember(new)
        assert world.call("PUT", f"{path}/password", json={"password": new}, headers={"If-Match": etag}).status_code == 204
        assert world.call("PUT", f"{path}/password", json={"password": new}, headers={"If-Match": etag}).status_code == 412
        assert password_grant(http, world.client, (username, password)).status_code == 400
        assert password_grant(http, world.client, (username, new)).status_code == 200
        assert introspect(http, world.robot_introspector, token).json() == {"active": False}


def test_an_accounts_grant_revoked_introspects_inactive_and_is_audited_with_the_actor(world: AdminWorld) -> None:
    username, password = world.server.add_user()
    path = f"/accounts/{quote(username, safe='')}/grants"
    with httpx.Client(base_url=world.server.url) as http:
        issued = password_grant(http, world.client, (username, password), scope="MOBPROC").json()
        grants = world.call("GET", path).json()["items"]
        assert [(g["client_id"], g["grant_type"], g["scopes"], g["active"]) for g in grants] == \
            [(world.client[0], "password", ["MOBPROC"], True)]
        assert introspect(http, world.robot_introspector, issued["access_token"]).json()["active"] is True
        assert world.call("DELETE", f"{path}/{grants[0]['grant_id']}", "operator").status_code == 204
        assert introspect(http, world.robot_introspector, issued["access_token"]).json() == {"active": False}
        if "refresh_token" in issued:
            assert refresh_grant(http, world.client, issued["refresh_token"]).status_code == 400
    after = world.call("GET", path).json()["items"][0]
    assert after["active"] is False and after["revoked_at"] is not None
    event = audited(world, subject=username, event="grant_revoked")[0]
    assert event["actor"] == f"account:{world.users['operator'][0]}" and event["source_address"] == "127.0.0.1"
    assert event["grant_id"] == grants[0]["grant_id"] and event["reason"] == "operator"
    # Another account's grant is not this account's to revoke.
    other, _ = world.server.add_user()
    assert world.call("DELETE", f"/accounts/{quote(other, safe='')}/grants/{grants[0]['grant_id']}").status_code == 404


def test_a_removed_account_is_gone_with_its_roles(world: AdminWorld) -> None:
    username, _ = world.server.add_user()
    path = f"/accounts/{quote(username, safe='')}"
    assert world.call("PUT", f"{path}/roles/auditor").status_code == 204
    assert world.call("GET", path).json()["roles"] == ["auditor"]
    bad = world.call("PUT", f"{path}/roles/superuser")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "role"
    assert world.call("DELETE", path).status_code == 204
    assert world.call("GET", path).status_code == 404
    assert world.server.services.account_registry.roles_of(username) == ()


def test_a_username_may_be_given_percent_encoded_or_not(world: AdminWorld) -> None:
    username = world.users["admin"][0]
    assert world.call("GET", f"/accounts/{username}").json()["username"] == username
    assert world.call("GET", f"/accounts/{quote(username, safe='')}/grants").status_code == 200


# --- signing keys ---------------------------------------------------------------------------------


def test_keys_rotate_staged_and_a_key_retired_now_is_replaced_at_once(world: AdminWorld) -> None:
    first = world.call("POST", "/signing-keys/rotate").json()  # the first key signs at once
    staged = world.call("POST", "/signing-keys/rotate").json()
    keys = {k["kid"]: k for k in world.call("GET", "/signing-keys").json()["items"]}
    active = [kid for kid, k in keys.items() if k["state"] == "active"]
    assert staged["state"] == "staged" and keys[staged["kid"]]["state"] == "staged" and len(active) == 1
    assert world.call("POST", "/signing-keys/rotate").json()["kid"] == staged["kid"]  # staged already
    replaced = world.call("POST", f"/signing-keys/{active[0]}/retire").json()
    assert replaced["state"] == "active" and replaced["kid"] not in keys
    keys = {k["kid"]: k for k in world.call("GET", "/signing-keys").json()["items"]}
    assert keys[active[0]]["state"] == "retired" and keys[active[0]]["private_key"] == "erased"
    again = world.call("POST", f"/signing-keys/{active[0]}/retire")
    assert again.status_code == 400 and again.json()["errors"][0]["field"] == "kid"
    assert world.call("POST", "/signing-keys/nope/retire").status_code == 404
    assert "private" not in json.dumps([k for k in keys.values() if k["kid"] == first["kid"]]).replace(
        '"private_key"', "")
    events = [e["event"] for e in audited(world, event="signing_key_retired")]
    assert events == ["signing_key_retired"]


# --- the audit trail ------------------------------------------------------------------------------


def test_the_audit_trail_pages_behind_a_cursor_without_repeating_or_skipping(world: AdminWorld) -> None:
    prefix = unique("trail")
    for n in range(7):
        new_client(world, client_id=f"{prefix}-{n}")
    seen, cursor = [], None
    while True:
        page = world.call("GET", "/audit", params={"event": "client_added", "actor": f"account:{world.users['admin'][0]}",
                                                   "limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [e["client_id"] for e in page["items"] if e["client_id"].startswith(prefix)]
        new_client(world)  # newer events meanwhile do not move the pages
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"{prefix}-{n}" for n in reversed(range(7))]
    by_client = world.call("GET", "/audit", params={"client_id": f"{prefix}-3"}).json()["items"]
    assert [(e["event"], e["source_address"]) for e in by_client] == [("client_added", "127.0.0.1")]


def test_the_audit_trail_filters_by_time(world: AdminWorld) -> None:
    client_id = new_client(world).json()["client_id"]
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert world.call("GET", "/audit", params={"client_id": client_id, "since": later}).json()["items"] == []
    assert len(world.call("GET", "/audit", params={"client_id": client_id, "until": later}).json()["items"]) == 1
    for name, value in [("since", "yesterday"), ("cursor", "!!"), ("limit", "0"), ("subject", "a\x00b")]:
        bad = world.call("GET", "/audit", params={name: value})
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == name, bad.text


def test_the_live_tail_sends_each_new_event_with_its_actor_and_resumes_from_last_event_id(world: AdminWorld) -> None:
    prefix = unique("tail")
    received: list[tuple[str, dict]] = []

    def tail(headers: dict[str, str]) -> None:
        with httpx.Client(base_url=world.server.url, timeout=30) as http, http.stream(
                "GET", f"{ADMIN}/audit/stream", params={"event": "client_added", "seconds": 4},
                headers={**world.headers("auditor"), **headers}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            event_id = None
            for line in stream.iter_lines():
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: ") and event_id:
                    received.append((event_id, json.loads(line[6:])))

    listener = threading.Thread(target=tail, args=({},))
    listener.start()
    time.sleep(1.0)
    for n in range(3):
        new_client(world, client_id=f"{prefix}-{n}")
    listener.join()
    mine = [(i, e) for i, e in received if e["client_id"].startswith(prefix)]
    assert [e["client_id"] for _, e in mine] == [f"{prefix}-{n}" for n in range(3)]
    assert all(e["actor"] == f"account:{world.users['admin'][0]}" for _, e in mine)
    # Reconnecting after the first: the two after it, once each.
    received.clear()
    tail({"Last-Event-ID": mine[0][0]})
    assert [e["client_id"] for _, e in received if e["client_id"].startswith(prefix)] == [f"{prefix}-1", f"{prefix}-2"]


def test_every_change_is_audited_with_its_actor_and_source_address(world: AdminWorld) -> None:
    client_id = new_client(world).json()["client_id"]
    world.call("PATCH", f"/clients/{client_id}", json={"grants": ["client_credentials", "refresh_token"]})
    world.call("POST", f"/clients/{client_id}/disable", "operator")
    world.call("POST", f"/clients/{client_id}/secret", "robot")
    world.call("DELETE", f"/clients/{client_id}")
    trail = list(reversed(audited(world, client_id=client_id)))
    admin, operator = (f"account:{world.users[role][0]}" for role in ("admin", "operator"))
    assert [(e["event"], e["actor"], e["source_address"]) for e in trail] == [
        ("client_added", admin, "127.0.0.1"), ("client_updated", admin, "127.0.0.1"),
        ("client_disabled", operator, "127.0.0.1"), ("client_secret_rotated", f"client:{world.robot[0]}", "127.0.0.1"),
        ("client_removed", admin, "127.0.0.1")]


# --- bad input, the description, where it is served ---------------------------------------------------


@pytest.mark.parametrize("method, path, kwargs", [
    ("GET", "/clients?limit=100000", {}),
    ("GET", "/clients?offset=-1", {}),
    ("GET", "/clients?prefix=%00", {}),
    ("GET", "/accounts?prefix=" + "a" * 300, {}),
    ("GET", "/accounts/command%3A%2F%2F%00", {}),
    ("GET", "/accounts/" + "x" * 5000, {}),
    ("DELETE", "/accounts/command%3A%2F%2Fnobody/grants/99999999999999999999", {}),
    ("POST", "/clients", {"content": "[" * 5000, "headers": {"Content-Type": "application/json"}}),
    ("POST", "/clients", {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}}),
    ("PATCH", "/clients/x", {"json": ["not", "an", "object"]}),
    ("PUT", "/clients", {}),
    ("GET", "/clients/%0A", {}),
])
def test_bad_input_is_a_4xx_problem_never_a_500(world: AdminWorld, method: str, path: str, kwargs: dict) -> None:
    answer = world.call(method, path, **kwargs)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json" and "Traceback" not in answer.text


def test_the_description_is_served_and_documents_the_problem_shape(world: AdminWorld) -> None:
    with httpx.Client(base_url=world.server.url) as http:
        document = http.get(f"{ADMIN}/openapi.json").json()
    assert document["servers"] == [{"url": ADMIN}]
    assert "/clients/{client_id}" in document["paths"] and "/audit/stream" in document["paths"]
    patch = document["paths"]["/clients/{client_id}"]["patch"]
    assert "412" in patch["responses"] and "422" not in patch["responses"]
    assert "application/problem+json" in patch["responses"]["400"]["content"]


def test_the_admin_api_may_have_a_listener_of_its_own_or_none(make_server) -> None:  # noqa: ANN001
    with make_server(admin_port="own") as own:
        world = make_admin_world(own)
        assert own.admin_url != own.url
        with httpx.Client(base_url=own.url) as main:
            assert main.get(f"{ADMIN}/me", headers=world.headers()).status_code == 404
        assert world.call("GET", "/me").status_code == 200
        with httpx.Client(base_url=own.admin_url) as admin_only:
            assert admin_only.post("/as/token.oauth2", data={"grant_type": "password"}).status_code == 404
    with make_server(admin_enabled=False) as off, httpx.Client(base_url=off.url) as http:
        assert http.get(f"{ADMIN}/openapi.json").status_code == 404


def test_a_client_people_sign_in_to_is_registered_and_its_redirect_uris_changed_by_the_same_rules(
        world: AdminWorld) -> None:
    made = new_client(world, grants=["authorization_code", "refresh_token"], public=True, trusted=True,
                      redirect_uris=["https://app.example/cb"])
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["client_secret"] is None and body["public"] is True and body["redirect_uris"] == ["https://app.example/cb"]
    path = f"/clients/{body['client_id']}"
    moved = world.call("PATCH", path, json={"redirect_uris": ["https://app.example/cb2"]})
    assert moved.status_code == 200 and moved.json()["redirect_uris"] == ["https://app.example/cb2"]
    for change, field in [({"redirect_uris": []}, "redirect_uris"), ({"redirect_uris": ["not a uri"]}, "redirect_uris"),
                          ({"grants": ["client_credentials"]}, "redirect_uris")]:
        refused = world.call("PATCH", path, json=change)
        assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == field, refused.text
    assert world.call("POST", f"{path}/secret").json()["errors"][0]["field"] == "client_secret"
    assert new_client(world, redirect_uris=["https://app.example/cb"]).json()["errors"][0]["field"] == "redirect_uris"


def test_a_holder_gets_only_a_few_live_tails_at_once(world: AdminWorld) -> None:
    # Each tail queries the database every second for minutes: one token opening hundreds
    # would take the worker threads and connections the token endpoint needs.
    from contextlib import ExitStack

    from mobproc.server.audit_tail import MAX_TAILS_PER_HOLDER

    username, password = world.server.add_user(tenant=None)
    world.server.services.account_registry.grant_role(username, "auditor", actor="cli:test")
    with httpx.Client(base_url=world.server.url) as http:
        token = password_grant(http, world.client, (username, password), scope="mobproc:auditor").json()["access_token"]
    remember(token)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=world.server.url, timeout=30) as http, ExitStack() as tails:
        for _ in range(MAX_TAILS_PER_HOLDER):
            stream = tails.enter_context(http.stream("GET", f"{ADMIN}/audit/stream", params={"seconds": 20},
                                                     headers=headers))
            assert stream.status_code == 200
        refused = http.get(f"{ADMIN}/audit/stream", params={"seconds": 1}, headers=headers)
        assert refused.status_code == 429 and refused.headers["retry-after"]
        assert refused.json()["type"] == "urn:mobproc:admin:too-many-tails"
        # Another holder is not refused for this one's tails.
        other = http.get(f"{ADMIN}/audit/stream", params={"seconds": 0.1}, headers=world.headers("auditor"))
        assert other.status_code == 200
    # Once they end, their slots are given back.
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=world.server.url, timeout=30) as http:
        while (status := http.get(f"{ADMIN}/audit/stream", params={"seconds": 0.1},
                                  headers=headers).status_code) == 429 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert status == 200
