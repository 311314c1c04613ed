"""A new grant type is one new module plus one line of wiring (mobproc.services.GRANTS): here
the module is this test file's own, and the line is ``extra_grants``. Also: the layers import
what they may (Starlette only in the HTTP adapters), and the public API needs no server."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import TOKEN_PATH, introspect
from mobproc.domain.clients import Client
from mobproc.domain.tokens import Authorization
from mobproc.oauth2.errors import InvalidRequestError
from mobproc.oauth2.grants.base import bearer_response
from mobproc.oauth2.request import TokenRequest
from mobproc.oauth2.scope import requested_scope

SRC = Path(__file__).resolve().parent.parent / "src" / "mobproc"
TOY = "urn:example:grant-type:toy"


@dataclass(frozen=True)
class _Checked:
    authorization: Authorization
    requested: str | None


class ToyGrant:
    """A made-up grant: a client trades a word (``magic=please``) for an access token of its own."""

    grant_type = TOY
    client_grant = TOY
    runs_on_event_loop = True

    def __init__(self, parts: Any) -> None:
        self._storage, self._tokens = parts.storage, parts.tokens

    def check(self, request: TokenRequest, client: Client) -> _Checked:
        if request.require("magic") != "please":
            raise InvalidRequestError("magic must be please")
        return _Checked(Authorization(client, requested_scope(request.get("scope"), client), TOY), request.get("scope"))

    def respond(self, checked: _Checked) -> dict[str, Any]:
        access = self._tokens.access_token(checked.authorization, time.time())
        self._storage.create_grant(checked.authorization, access, None, access.expires_at)
        return bearer_response(access, None, checked.authorization.scope, checked.requested)


def test_a_grant_from_outside_the_package_is_one_line_of_wiring(make_server) -> None:  # noqa: ANN001
    with make_server(extra_grants=[ToyGrant]) as server, server.client() as http:
        client = server.add_client(grants=(TOY, "access_token_validation"))
        refused = http.post(TOKEN_PATH, auth=client, data={"grant_type": TOY, "magic": "now"})
        issued = http.post(TOKEN_PATH, auth=client, data={"grant_type": TOY, "magic": "please"})
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
        assert issued.status_code == 200 and issued.json()["token_type"] == "Bearer"
        # A token like any other: introspection knows it, with the grant type it came from.
        answer = introspect(http, client, issued.json()["access_token"]).json()
        assert answer["active"] is True and answer["sub"] == client[0]
        other = server.add_client(grants=("password",))
        assert http.post(TOKEN_PATH, auth=other, data={"grant_type": TOY, "magic": "please"}).json()["error"] == \
            "unauthorized_client"


def test_starlette_and_fastapi_are_imported_only_by_the_http_adapters() -> None:
    adapters = {"server", "api", "web"}
    offenders = [
        str(path.relative_to(SRC)) for path in SRC.rglob("*.py")
        if path.relative_to(SRC).parts[0] not in adapters
        and any(line.lstrip().startswith(("import starlette", "from starlette", "import fastapi", "from fastapi"))
                for line in path.read_text().splitlines())
    ]
    assert offenders == []


def _imports(layer: str, of: str) -> list[tuple[str, str]]:
    """(module, module it imports) for every module of ``layer`` that imports from the package
    ``of`` (relative imports resolved, however deep the module)."""
    found = []
    for path in (SRC / layer).rglob("*.py"):
        package = path.relative_to(SRC).parent.parts
        for line in path.read_text().splitlines():
            words = line.strip().split()
            if len(words) < 2 or words[0] != "from" or not words[1].startswith("."):
                continue
            dots = len(words[1]) - len(words[1].lstrip("."))
            name = ".".join((*package[: len(package) - dots + 1], words[1][dots:]))
            if name == of or name.startswith(of + "."):
                found.append((str(path.relative_to(SRC)), name))
    return found


def test_storage_never_imports_the_layers_above_it() -> None:
    assert [found for layer in ("oauth2", "server", "cli", "api", "web") for found in _imports("storage", layer)] == []


def test_the_domain_and_the_protocol_never_import_storage() -> None:
    """The records and protocols are theirs; storage implements them (the sandbox's domain,
    ``procurement/``, too)."""
    assert [found for layer in ("domain", "procurement", "oauth2") for found in _imports(layer, "storage")] == []


def test_the_surfaces_reach_storage_through_the_services() -> None:
    """A surface takes its stores from ``services.py``, the one place that picks them; of
    storage it imports the Database (where a request's code runs, and its one error) and the
    operator's tools (migrations, housekeeping)."""
    allowed = {"storage.database", "storage.migrate", "storage", "storage.housekeeping"}
    found = [(module, imported) for layer in ("server", "api", "web", "cli") for module, imported
             in _imports(layer, "storage") if imported not in allowed]
    assert found == []


def test_the_public_api_imports_without_the_server() -> None:
    """An integrator installs mobproc for the SDK and TokenChecker alone (no ``[server]`` extra):
    importing them must not need a server package."""
    blocked = ["starlette", "uvicorn", "sqlalchemy", "alembic", "argon2", "pydantic_settings", "psycopg",
               "prometheus_client", "fastapi"]
    program = f"""
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
sys.meta_path.insert(0, Missing())
import mobproc
from mobproc import TokenChecker, TokenClient, ValidatedToken, RejectedToken
assert not [name for name in sys.modules if name.split(".")[0] in {blocked!r}]
from typer.testing import CliRunner
from mobproc.cli import app
runner = CliRunner()
assert runner.invoke(app, ["token", "--help"]).exit_code == 0
served = runner.invoke(app, ["serve", "--port", "1"])
assert served.exit_code == 2 and "pip install 'mobproc[server]'" in served.output, served.output
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_the_server_is_an_extra_of_the_package() -> None:
    from importlib.metadata import requires

    needs = requires("mobproc") or []
    plain = {need.split(">")[0].split("[")[0] for need in needs if "extra ==" not in need}
    assert plain == {"httpx", "joserfc", "typer"}
    assert any(need.startswith("starlette") and 'extra == "server"' in need for need in needs)
