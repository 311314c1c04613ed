"""What the admin API's tests share: a server, a client that people sign in with for each role
(password grant, as a script would; the console signs in through the authorization endpoint),
an account per role, and an automation client holding an admin scope itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from conftest import Provisioning, client_credentials_grant, password_grant, remember, unique
from mobproc.domain.registries import ClientRegistration

ADMIN = "/admin/v1"
ROLES = ("admin", "operator", "auditor")
ROLE_SCOPES = ("mobproc:admin", "mobproc:operator", "mobproc:auditor")


@dataclass
class AdminWorld:
    server: Provisioning
    client: tuple[str, str]  # allowed the password grant and every admin scope
    robot: tuple[str, str]  # client credentials, holding mobproc:admin itself
    robot_introspector: tuple[str, str] = ("", "")  # a resource server's client: access_token_validation
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # role -> (username, password)
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, role: str, scope: str | None = None) -> str:
        """A fresh token of ``role``'s account (``robot``: the automation client's own)."""
        with httpx.Client(base_url=self.server.url, timeout=30) as http:
            if role == "robot":
                answer = client_credentials_grant(http, self.robot, scope=scope or "mobproc:admin")
            else:
                # "nobody" holds no role: its token asks for the admin scope all the same.
                wanted = scope or ("mobproc:admin" if role == "nobody" else f"mobproc:{role}")
                answer = password_grant(http, self.client, self.users[role], scope=wanted)
        assert answer.status_code == 200, answer.text
        remember(answer.json()["access_token"])
        return answer.json()["access_token"]

    def headers(self, role: str = "admin", **extra: str) -> dict[str, str]:
        if role not in self._tokens:
            self._tokens[role] = self.token(role)
        return {"Authorization": f"Bearer {self._tokens[role]}", **extra}

    def call(self, method: str, path: str, role: str = "admin", *, headers: dict[str, str] | None = None,
             **kwargs: Any) -> httpx.Response:
        with httpx.Client(base_url=getattr(self.server, "admin_url", self.server.url), timeout=60) as http:
            answer = http.request(method, ADMIN + path, headers={**self.headers(role), **(headers or {})}, **kwargs)
        if answer.headers.get("content-type", "").startswith("application/json"):
            body = answer.json()
            if isinstance(body, dict) and isinstance(body.get("client_secret"), str):
                remember(body["client_secret"])
        return answer


def make_admin_world(server: Provisioning) -> AdminWorld:
    services = server.services
    client_id = unique("console")
    secret = services.client_registry.register(
        ClientRegistration(client_id, ("password",), (*ROLE_SCOPES, "MOBPROC"), ("MOBPROC",)), actor="cli:test").secret
    robot_id = unique("robot")
    robot = services.client_registry.register(
        ClientRegistration(robot_id, ("client_credentials",), ("mobproc:admin",)), actor="cli:test").secret
    remember(secret, robot)
    world = AdminWorld(server, (client_id, secret), (robot_id, robot),
                       server.add_client(grants=("access_token_validation",), scopes=()))
    for role in (*ROLES, "nobody"):
        username, password = server.add_user(tenant=None)
        if role != "nobody":
            services.account_registry.grant_role(username, role, actor="cli:test")
        world.users[role] = (username, password)
    return world
