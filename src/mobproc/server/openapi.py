"""The OpenAPI 3.1 description of every endpoint, served at ``GET /openapi.json``.

A plain dict built here, so that API tooling (and the reliability suite's schemathesis run)
can generate requests for each endpoint; it documents the wire contract (CONTRACT §1, §4),
it does not drive the server.
"""

from __future__ import annotations

from typing import Any

from . import introspection_endpoint, metadata, revocation_endpoint, token_endpoint

PATH = "/openapi.json"
VALIDATE_BEARER = "urn:pingidentity.com:oauth2:grant_type:validate_bearer"

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"


def _string(description: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": "string", **({"description": description} if description else {}), **extra}


# RFC 6749 §2.3.1: the id and secret as form parameters (or HTTP Basic, the security scheme).
_CLIENT_FIELDS = {
    "client_id": _string("client_secret_post authentication (or HTTP Basic)"),
    "client_secret": _string("client_secret_post authentication (or HTTP Basic)"),
}


def _grant(grant_type: str, required: list[str], **fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "title": grant_type,
        "properties": {"grant_type": {"const": grant_type}, **fields, **_CLIENT_FIELDS},
        "required": ["grant_type", *required],
    }


# CONTRACT §1: one form per grant type, each with the parameters the table there lists.
_TOKEN_REQUEST = {
    "oneOf": [
        _grant("password", ["username", "password"], username=_string("`source://name` or a bare platform name"),
               password=_string(), scope=_string("space-separated")),
        _grant("refresh_token", ["refresh_token"], refresh_token=_string(),
               scope=_string("a subset of the original scope")),
        _grant("client_credentials", [], scope=_string("space-separated")),
        _grant(VALIDATE_BEARER, ["token"], token=_string("the access token to check")),
    ]
}

_TOKEN_CHECK_REQUEST = {  # RFC 7662 §2.1 and RFC 7009 §2.1 share their parameters
    "type": "object",
    "properties": {
        "token": _string(),
        "token_type_hint": _string(enum=["access_token", "refresh_token"]),
        **_CLIENT_FIELDS,
    },
    "required": ["token"],
}

_ERROR = {
    "type": "object",
    "properties": {"error": _string(), "error_description": _string()},
    "required": ["error"],
}

_TOKEN = {
    "type": "object",
    "properties": {
        "token_type": {"const": "Bearer"},
        "expires_in": {"type": "integer"},
        "access_token": _string(),
        "refresh_token": _string(),
        "scope": _string(),
    },
    "required": ["token_type", "expires_in", "access_token"],
}

_NO_STORE = {
    "Cache-Control": {"schema": {"const": "no-store"}},
    "Pragma": {"schema": {"const": "no-cache"}},
}


def _json(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}, **({"headers": headers} if headers else {})}


def _errors(*codes: str) -> dict[str, Any]:
    described = {
        "400": "invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope",
        "401": "invalid_client (with WWW-Authenticate: Basic when Basic was used)",
        "413": "the body is too large",
        "503": "the database is unavailable, or too many password checks wait (Retry-After)",
    }
    return {code: _json(described[code], {"$ref": "#/components/schemas/Error"}, _NO_STORE) for code in codes}


def _form_operation(summary: str, schema: dict[str, Any], ok: dict[str, Any], *, errors: tuple[str, ...]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"basic": []}, {}],
            "requestBody": {"required": True, "content": {_FORM: {"schema": schema}}},
            "responses": {"200": ok, **_errors(*errors)},
        }
    }


def _document(summary: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": {"200": _json("the document", schema or {"type": "object"})}}}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "mobproc",
        "version": "1",
        "description": "OAuth 2.0 token service with the PingFederate wire contract of the MOBPROC v1 API.",
    },
    "paths": {
        token_endpoint.PATH: _form_operation(
            "Issue or check a token (RFC 6749 §4.3, §6, §4.4; PingFederate's validate_bearer)",
            _TOKEN_REQUEST,
            _json("the token (RFC 6749 §5.1), or validate_bearer's attributes of the token checked",
                  {"anyOf": [{"$ref": "#/components/schemas/Token"}, {"type": "object"}]}, _NO_STORE),
            errors=("400", "401", "413", "503"),
        ),
        introspection_endpoint.PATH: _form_operation(
            "Token introspection (RFC 7662); the caller needs the access_token_validation grant",
            _TOKEN_CHECK_REQUEST,
            _json("the token's state", {"type": "object", "properties": {"active": {"type": "boolean"}},
                                        "required": ["active"]}, _NO_STORE),
            errors=("400", "401", "413", "503"),
        ),
        revocation_endpoint.PATH: _form_operation(
            "Token revocation (RFC 7009)",
            _TOKEN_CHECK_REQUEST,
            _json("revoked, or was never valid (RFC 7009 §2.2)", {"type": "object"}, _NO_STORE),
            errors=("400", "401", "413", "503"),
        ),
        metadata.JWKS_PATH: _document("The JWK Set of the token-signing keys (RFC 7517 §5)",
                                      {"type": "object", "properties": {"keys": {"type": "array"}},
                                       "required": ["keys"]}),
        **{path: _document("Authorization server metadata (RFC 8414)") for path in metadata.METADATA_PATHS},
        "/healthz": _document("Liveness: the process answers"),
        "/readyz": {"get": {"summary": "Readiness: the database answers and its schema is current (why not, and "
                                       "the metrics, on the operations listener)", "responses": {
            "200": _json("ready", {"type": "object"}),
            "503": _json("not ready", {"type": "object"}),
        }}},
        PATH: _document("This document"),
    },
    "components": {
        "schemas": {"Token": _TOKEN, "Error": _ERROR},
        "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
    },
}


def document() -> dict[str, Any]:
    return DOCUMENT
