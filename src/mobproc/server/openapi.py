"""The OpenAPI 3.1 description of every endpoint, served at ``GET /openapi.json``.

A plain dict built here, so that API tooling (and the reliability suite's schemathesis run)
can generate requests for each endpoint; it documents the wire contract (CONTRACT §1, §4),
it does not drive the server.
"""

from __future__ import annotations

from typing import Any

from ..web import authorization as web_authorization
from ..web import pages as web_pages
from . import introspection_endpoint, metadata, revocation_endpoint, token_endpoint, userinfo_endpoint

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
        _grant("authorization_code", ["code"], code=_string("from the authorization endpoint's redirect"),
               redirect_uri=_string("as sent to the authorization endpoint"),
               code_verifier=_string("PKCE (RFC 7636): the secret whose S256 was the code_challenge")),
    ]
}

# RFC 6749 §4.1.1, §4.2.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1: the authorization request.
_AUTHORIZATION_REQUEST = {
    "response_type": _string("code, or token for a client registered for the implicit grant", enum=["code", "token"]),
    "client_id": _string(),
    "redirect_uri": _string("one the client registered, exactly (a loopback one on any port)"),
    "scope": _string("space-separated; openid for an ID token"),
    "state": _string("returned exactly"),
    "code_challenge": _string("PKCE: BASE64URL(SHA256(code_verifier))"),
    "code_challenge_method": _string(enum=["S256"]),
    "nonce": _string("returned in the ID token"),
    "login_hint": _string("the username to offer"),
    "prompt": _string("none, or login (ask for the password again), consent"),
    "max_age": _string("seconds: ask for the password again if the sign-in is older"),
}
_HTML = {"text/html": {"schema": {"type": "string"}}}
_LOGOUT_REQUEST = {"client_id": "the client asking", "post_logout_redirect_uri": "one of its registered redirect URIs",
                   "state": "returned exactly"}
_PAGE_ANSWERS = {
    "200": {"description": "the login or consent page", "content": _HTML},
    "302": {"description": "back to the redirect URI with code (or token), state, iss; or an error"},
    "303": {"description": "the same, after a form"},
    "400": {"description": "the client or redirect URI is not genuine: an error page, never a redirect",
            "content": _HTML},
    "403": {"description": "a form without its CSRF token", "content": _HTML},
    "429": {"description": "too many failed sign-ins (Retry-After)", "content": _HTML},
    "503": {"description": "unavailable (Retry-After)", "content": _HTML},
}
_AUTHORIZATION_PARAMETERS = [{"name": name, "in": "query", "required": name in ("response_type", "client_id"),
                              "schema": schema} for name, schema in _AUTHORIZATION_REQUEST.items()]
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


_USERINFO = _json("the account's claims (OpenID Connect Core §5.3)", {
    "type": "object", "properties": {"sub": _string(), "preferred_username": _string(), "platform": _string(),
                                     "tenant": _string(), "multitenant": {"type": "boolean"}, "domain": _string()},
    "required": ["sub"]}, _NO_STORE)
_BEARER_ERRORS = {"401": _json("no token, or not active (RFC 6750 §3.1 invalid_token)", {"$ref": "#/components/schemas/Error"}),
                  "403": _json("the token lacks the openid scope (insufficient_scope)", {"$ref": "#/components/schemas/Error"})}


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
        web_authorization.PATH: {
            "get": {"summary": "The authorization endpoint (RFC 6749 §3.1), with its login and consent pages",
                    "parameters": _AUTHORIZATION_PARAMETERS, "responses": _PAGE_ANSWERS},
            "post": {"summary": "The same request as a form; the pages' own forms post here",
                     "requestBody": {"required": True, "content": {_FORM: {"schema": {
                         "type": "object", "properties": {**_AUTHORIZATION_REQUEST, "csrf_token": _string(),
                                                          "username": _string(), "password": _string(),
                                                          "source_system": _string(),
                                                          "action": _string(enum=["login", "allow", "deny"])}}}}},
                     "responses": _PAGE_ANSWERS},
        },
        web_authorization.LOGOUT_PATH: {
            "get": {"summary": "The sign-out page (OpenID Connect RP-Initiated Logout's end_session_endpoint)",
                    "parameters": [{"name": name, "in": "query", "schema": _string(description)}
                                   for name, description in _LOGOUT_REQUEST.items()],
                    "responses": {"200": {"description": "the page", "content": _HTML}}},
            "post": {"summary": "Sign out: ends the browser session (the page's CSRF token required)",
                     "requestBody": {"required": True, "content": {_FORM: {"schema": {
                         "type": "object", "properties": {"csrf_token": _string(pattern="^[0-9a-f]{64}$"),
                                                          **{name: _string(description) for name, description
                                                             in _LOGOUT_REQUEST.items()}},
                         "required": ["csrf_token"]}}}},
                     "responses": {"200": {"description": "signed out", "content": _HTML},
                                   "303": {"description": "signed out, back to the client's registered "
                                                          "post_logout_redirect_uri with state"},
                                   "403": {"description": "no CSRF token", "content": _HTML}}},
        },
        web_pages.ASSETS_PATH + "/mobproc.css": {"get": {"summary": "The sign-in pages' stylesheet", "responses": {
            "200": {"description": "the stylesheet", "content": {"text/css": {"schema": {"type": "string"}}}}}}},
        userinfo_endpoint.PATH: {
            "get": {"summary": "OpenID Connect userinfo (a bearer token with the openid scope)",
                    "security": [{"bearer": []}], "responses": {"200": _USERINFO, **_BEARER_ERRORS}},
            "post": {"summary": "The same, the token in the form (RFC 6750 §2.2)", "security": [{"bearer": []}, {}],
                     "requestBody": {"content": {_FORM: {"schema": {"type": "object",
                                                                    "properties": {"access_token": _string()}}}}},
                     "responses": {"200": _USERINFO, **_BEARER_ERRORS}},
        },
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
        "securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                            "bearer": {"type": "http", "scheme": "bearer"}},
    },
}


def document() -> dict[str, Any]:
    return DOCUMENT
