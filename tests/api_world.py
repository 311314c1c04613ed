"""What the MOBPROC v1 API's tests share: a tenant's data (the demo tenant's, under a code of
its own, with the tests' accounts), and a world of real accounts and real tokens from the token
endpoint around one API, in process or served alone."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import yaml

from conftest import TOKEN_PATH, Provisioning, password_grant, remember, unique
from mobproc.cli.data import load_file

API = "/mobproc/v1"
DEMO = yaml.safe_load((files("mobproc.procurement") / "demo_tenant.yaml").read_text())["tenants"][0]
# The demo tenant's people: Robin (the boss's employee), Sam (an active and a device), Ana (a
# suspended service).
ROBIN, SAM, ANA = "40001", "40002", "40003"
SAM_SERVICE, ANA_SERVICE = "500201", "500301"


def tenant_data(code: str, accounts: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    """The demo tenant under ``code``, with these accounts instead of the seed's."""
    tenant = copy.deepcopy(DEMO)
    tenant.update(code=code, name=f"Test tenant {code}", accounts=accounts, **changes)
    return tenant


def other_tenant(code: str, accounts: list[dict[str, Any]]) -> dict[str, Any]:
    """A second tenant, with one employee of its own (``90001``) and no catalog."""
    return {"code": code, "name": f"Other tenant {code}", "accounts": accounts,
            "employees": [{"id": "90001", "companyEmployeeId": "lee@other.example", "firstName": "Lee",
                           "lastName": "Other"}]}


def write_data(path: Path, *tenants: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"tenants": list(tenants)}, sort_keys=False))
    return path


@dataclass
class World:
    """One API (``api``: its base URL) and the token service whose tokens it takes
    (``issuer``), with a client, accounts by role and the tenants' codes.

    Roles: ``boss`` (tenant ``code``, may act for everyone, approves), ``clerk`` (the same
    tenant, may act for Sam only), ``outsider`` (tenant ``other``), ``multi`` (tenant
    ``code``, multitenant, an account of ``other`` too)."""

    issuer: Provisioning
    api: str
    code: str
    other: str
    client: tuple[str, str]
    users: dict[str, tuple[str, str]] = field(default_factory=dict)

    def token(self, role: str = "boss", scope: str = "MOBPROC") -> str:
        with httpx.Client(base_url=self.issuer.url, timeout=30) as http:
            response = password_grant(http, self.client, self.users[role], scope=scope)
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        remember(token, response.json().get("refresh_token"))
        return token

    def headers(self, role: str = "boss", *, token: str | None = None, tenant: str | None = None,
                **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token(role)}", "X-TNGO-TENANT": tenant or self.code,
                "client_id": self.client[0], **extra}

    def call(self, method: str, path: str, role: str = "boss", *, headers: dict[str, str] | None = None,
             **kwargs: Any) -> httpx.Response:
        with httpx.Client(base_url=self.api, timeout=60) as http:
            return http.request(method, API + path, headers=headers if headers is not None else self.headers(role),
                                **kwargs)

    def get(self, path: str, role: str = "boss", **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, role, **kwargs)

    def post(self, path: str, role: str = "boss", **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, role, **kwargs)


def make_world(issuer: Provisioning, api: str, data_services, workdir: Path, **tenant_changes: Any) -> World:  # noqa: ANN001
    """Accounts and a client at ``issuer``, and the tenants' data loaded where ``api`` reads it."""
    code, other = unique("T"), unique("O")
    client = issuer.add_client(grants=("password", "refresh_token", "access_token_validation"),
                               scopes=("MOBPROC", "OTHER"), default_scopes=("MOBPROC",))
    users = {
        "boss": issuer.add_user(tenant=code),
        "clerk": issuer.add_user(tenant=code),
        "outsider": issuer.add_user(tenant=other),
        "multi": issuer.add_user(tenant=code, multitenant=True),
    }
    accounts = [
        {"username": users["boss"][0], "employee": ROBIN, "actsFor": ["*"], "approver": True},
        {"username": users["clerk"][0], "employee": ANA, "actsFor": [SAM]},
        {"username": users["multi"][0], "employee": SAM},
    ]
    others = [{"username": users["outsider"][0], "employee": "90001"},
              {"username": users["multi"][0], "employee": "90001"}]
    path = write_data(workdir / f"{code}.yaml", tenant_data(code, accounts, **tenant_changes), other_tenant(other, others))
    load_file(data_services, path)
    return World(issuer, api, code, other, client, users)


def order(number: str | None = None, **fields: Any) -> dict[str, Any]:
    """A NEW_ACTIVATION request the demo catalog accepts, with ``fields`` replaced."""
    request = {
        "externalOrderNumber": number or unique("EXT-"),
        "transactionType": "NEW_ACTIVATION",
        "regionId": "5100",
        "postalCode": "06477",
        "shoppingCart": {"deviceId": "880101", "planId": "660101", "optionalFeatureIds": ["31"],
                         "accessoryIds": ["990101", "990102"]},
        "properties": [{"groupId": "MISCELLANEOUS", "fields": [
            {"id": "CONTACT_NUMBER", "type": "TEXT", "text": "2035550101"},
            {"id": "Reason", "type": "CHOICE", "choice": {"id": "9", "otherText": "Second line for travel"}},
        ]}],
        "shipTo": {"name": "Robin Okafor", "regionId": "5100", "expedite": True, "address": [
            {"id": "LINE_1", "value": "1 Harbor Road"}, {"id": "CITY", "value": "Orange"},
            {"id": "STATE", "value": "CT"}, {"id": "POSTAL_CODE", "value": "06477"}]},
    }
    request.update(fields)
    return {"orderRequest": {k: v for k, v in request.items() if v is not None}}


def contact(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"groupId": "MISCELLANEOUS", "fields": [{"id": "CONTACT_NUMBER", "type": "TEXT", "text": "2035550101"},
                                                    *extra]}]


__all__ = ["API", "TOKEN_PATH", "World", "make_world", "order", "tenant_data", "write_data"]
