"""GET /openapi.json: an OpenAPI 3.1 description of every endpoint the server answers."""

from __future__ import annotations

import httpx
import pytest

from conftest import LiveServer

pytestmark = pytest.mark.database_agnostic


def test_openapi_json_describes_every_endpoint_the_server_routes(server: LiveServer, http: httpx.Client) -> None:
    response = http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["openapi"].startswith("3.1")
    from starlette.routing import Route

    from mobproc.server.app import create_app

    # The MOBPROC v1 API mounted at /mobproc/v1 describes itself (/mobproc/v1/openapi.json).
    routed = {route.path for route in create_app(server.settings).routes if isinstance(route, Route)}
    assert set(document["paths"]) == routed


def test_openapi_json_lists_each_grant_of_the_token_endpoint(http: httpx.Client) -> None:
    token = http.get("/openapi.json").json()["paths"]["/as/token.oauth2"]["post"]
    forms = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["oneOf"]
    assert {form["properties"]["grant_type"]["const"] for form in forms} == {
        "password", "refresh_token", "client_credentials", "urn:pingidentity.com:oauth2:grant_type:validate_bearer",
        "authorization_code"}
