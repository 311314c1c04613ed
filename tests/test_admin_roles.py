"""Who may call the admin API: each role against each action, allowed or 403 (RFC 6750's
insufficient_scope); a token without a role, or asking a role its account does not hold, gets
nothing; a role revoked ends what the tokens already issued could do, at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from admin_world import AdminWorld, make_admin_world
from conftest import LiveServer, client_credentials_grant, password_grant, remember, unique
from mobproc.domain.registries import ClientRegistration

READ, OPERATE, ADMINISTER = "read", "operate", "administer"
MAY = {"admin": {READ, OPERATE, ADMINISTER}, "robot": {READ, OPERATE, ADMINISTER}, "operator": {READ, OPERATE},
       "auditor": {READ}, "nobody": set()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, server_log: Path) -> Iterator[AdminWorld]:
    with LiveServer(tmp_path_factory.mktemp("admin-roles") / "mobproc.db") as live:
        yield make_admin_world(live)


def _client(world: AdminWorld) -> str:
    return world.server.add_client(grants=("client_credentials",), scopes=("A",))[0]


def _account(world: AdminWorld) -> str:
    return quote(world.server.add_user()[0], safe="")


def _grant(world: AdminWorld) -> str:
    username, password = world.server.add_user()
    with httpx.Client(base_url=world.server.url) as http:
        assert password_grant(http, world.client, (username, password)).status_code == 200
    grant_id = world.call("GET", f"/accounts/{quote(username, safe='')}/grants").json()["items"][0]["grant_id"]
    return f"/accounts/{quote(username, safe='')}/grants/{grant_id}"


def _active_key(world: AdminWorld) -> str:
    keys = world.call("GET", "/signing-keys").json()["items"]
    active = [key["kid"] for key in keys if key["state"] == "active"]
    return active[0] if active else world.call("POST", "/signing-keys/rotate").json()["kid"]


# Each action: what it needs made first, then (method, path, keyword arguments of the request).
Action = Callable[[AdminWorld], tuple[str, str, dict]]
ACTIONS: dict[str, tuple[str, Action]] = {
    "list clients": (READ, lambda w: ("GET", "/clients", {})),
    "get a client": (READ, lambda w: ("GET", f"/clients/{_client(w)}", {})),
    "search accounts": (READ, lambda w: ("GET", "/accounts?prefix=user", {})),
    "get an account": (READ, lambda w: ("GET", f"/accounts/{_account(w)}", {})),
    "list an account's grants": (READ, lambda w: ("GET", f"/accounts/{_account(w)}/grants", {})),
    "list signing keys": (READ, lambda w: ("GET", "/signing-keys", {})),
    "query the audit trail": (READ, lambda w: ("GET", "/audit?limit=5", {})),
    "tail the audit trail": (READ, lambda w: ("GET", "/audit/stream?seconds=0.1", {})),
    "say who I am": (READ, lambda w: ("GET", "/me", {})),
    "disable a client": (OPERATE, lambda w: ("POST", f"/clients/{_client(w)}/disable", {})),
    "enable a client": (OPERATE, lambda w: ("POST", f"/clients/{_client(w)}/enable", {})),
    "rotate a client's secret": (OPERATE, lambda w: ("POST", f"/clients/{_client(w)}/secret", {})),
    "unlock an account": (OPERATE, lambda w: ("POST", f"/accounts/{_account(w)}/unlock", {})),
    "revoke a grant": (OPERATE, lambda w: ("DELETE", _grant(w), {})),
    "stage a signing key": (OPERATE, lambda w: ("POST", "/signing-keys/rotate", {})),
    "register a client": (ADMINISTER, lambda w: ("POST", "/clients", {"json": {
        "client_id": unique("new"), "grants": ["client_credentials"], "scopes": ["A"]}})),
    "change a client": (ADMINISTER, lambda w: ("PATCH", f"/clients/{_client(w)}", {"json": {"scopes": ["B"]}})),
    "remove a client": (ADMINISTER, lambda w: ("DELETE", f"/clients/{_client(w)}", {})),
    "add an account": (ADMINISTER, lambda w: ("POST", "/accounts", {"json": {
        "username": f"command://{unique('new')}", "password": "pw-" + unique("p")}})),
    "set a password": (ADMINISTER, lambda w: ("PUT", f"/accounts/{_account(w)}/password", {"json": {
        "password": "pw-" + unique("p")}})),
    "remove an account": (ADMINISTER, lambda w: ("DELETE", f"/accounts/{_account(w)}", {})),
    "grant a role": (ADMINISTER, lambda w: ("PUT", f"/accounts/{_account(w)}/roles/auditor", {})),
    "revoke a role": (ADMINISTER, lambda w: ("DELETE", f"/accounts/{quote(w.users['auditor'][0], safe='')}"
                                                      "/roles/operator", {})),
    "rotate the signing key now": (ADMINISTER, lambda w: ("POST", "/signing-keys/rotate", {"json": {"now": True}})),
    "retire a signing key": (ADMINISTER, lambda w: ("POST", f"/signing-keys/{_active_key(w)}/retire", {})),
}


@pytest.mark.parametrize("role", list(MAY))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_role_may_do_what_its_role_allows_and_gets_403_otherwise(world: AdminWorld, role: str,
                                                                      action: str) -> None:
    kind, make = ACTIONS[action]
    method, path, kwargs = make(world)
    answer = world.call(method, path, role, **kwargs)
    if kind in MAY[role]:
        # Revoking a role the account does not hold is the one allowed action that finds nothing.
        assert answer.status_code < 300 or (action == "revoke a role" and answer.status_code == 404), answer.text
    else:
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "urn:mobproc:admin:forbidden"
        assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]


def test_a_call_without_a_token_or_with_a_bad_one_is_401(world: AdminWorld) -> None:
    with httpx.Client(base_url=world.server.url) as http:
        missing = http.get("/admin/v1/clients")
        bad = http.get("/admin/v1/clients", headers={"Authorization": "Bearer not-a-token"})
        basic = http.get("/admin/v1/clients", auth=world.client)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="mobproc-admin"'
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert basic.status_code == 401
    assert missing.json()["type"] == "urn:mobproc:admin:unauthorized"


def test_a_token_without_an_admin_scope_is_403_even_for_an_admin(world: AdminWorld) -> None:
    token = world.token("admin", "MOBPROC")
    answer = world.call("GET", "/clients", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403


def test_an_account_acts_in_the_strongest_role_it_holds_and_its_token_carries(world: AdminWorld) -> None:
    # The operator's token asking for the admin scope acts as an operator, not as an admin.
    token = world.token("operator", "mobproc:admin mobproc:operator")
    me = world.call("GET", "/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "operator" and me["actor"] == f"account:{world.users['operator'][0]}"
    # An admin whose token carries only the auditor scope reads and changes nothing.
    token = world.token("admin", "mobproc:auditor")
    headers = {"Authorization": f"Bearer {token}"}
    assert world.call("GET", "/me", headers=headers).json()["role"] == "auditor"
    assert world.call("POST", f"/clients/{_client(world)}/disable", headers=headers).status_code == 403


def test_a_role_revoked_ends_at_once_what_its_tokens_could_do(world: AdminWorld) -> None:
    username, password = world.server.add_user()
    world.server.services.account_registry.grant_role(username, "operator", actor="cli:test")
    with httpx.Client(base_url=world.server.url) as http:
        token = password_grant(http, world.client, (username, password), scope="mobproc:operator").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert world.call("GET", "/clients", headers=headers).status_code == 200
    assert world.call("DELETE", f"/accounts/{quote(username, safe='')}/roles/operator").status_code == 204
    assert world.call("GET", "/clients", headers=headers).status_code == 403


def test_the_robot_acts_as_its_client(world: AdminWorld) -> None:
    me = world.call("GET", "/me", "robot").json()
    assert me == {"subject": world.robot[0], "client_id": world.robot[0], "role": "admin",
                  "actor": f"client:{world.robot[0]}", "environment": "dev"}


def _admin_robot(world: AdminWorld) -> str:
    """A new automation client whose own tokens act as admin (client credentials, mobproc:admin)."""
    robot_id = unique("robot")
    secret = world.server.services.client_registry.register(
        ClientRegistration(robot_id, ("client_credentials",), ("mobproc:admin",)), actor="cli:test").secret
    remember(secret)
    return robot_id


def test_an_operator_cannot_be_told_the_secret_of_a_client_that_acts_as_admin(world: AdminWorld) -> None:
    # The new secret of an admin automation client is an admin token for the asking: an operator
    # who could rotate it would act as admin (client credentials) from then on.
    robot_id = _admin_robot(world)
    refused = world.call("POST", f"/clients/{robot_id}/secret", "operator")
    assert refused.status_code == 403, refused.text
    assert "client_secret" not in refused.text
    assert 'scope="mobproc:admin"' in refused.headers["www-authenticate"]
    # The secret did not change, and an admin may still rotate it.
    assert world.call("POST", f"/clients/{robot_id}/secret", "admin").status_code == 200


def test_a_client_token_acts_only_in_the_roles_its_client_is_registered_with_now(world: AdminWorld) -> None:
    # As an account's role revoked, an admin scope taken from an automation client ends at once
    # what the tokens it already holds can do.
    robot_id = _admin_robot(world)
    robot = (robot_id, world.call("POST", f"/clients/{robot_id}/secret").json()["client_secret"])
    with httpx.Client(base_url=world.server.url) as http:
        token = client_credentials_grant(http, robot, scope="mobproc:admin").json()["access_token"]
    remember(token)
    headers = {"Authorization": f"Bearer {token}"}
    assert world.call("GET", "/me", headers=headers).json()["role"] == "admin"
    assert world.call("PATCH", f"/clients/{robot_id}", json={"scopes": ["mobproc:auditor"]}).status_code == 200
    assert world.call("GET", "/me", headers=headers).status_code == 403
    assert world.call("POST", "/clients", headers=headers, json={
        "client_id": unique("new"), "grants": ["client_credentials"], "scopes": ["A"]}).status_code == 403
