"""A small client application for the browser tests: a real loopback HTTP server (RFC 8252
§7.3: http://127.0.0.1 on a port of its own) that starts the authorization-code flow with PKCE,
takes the code at ``/cb``, checks ``state`` and ``iss``, and redeems the code at mobproc's
token endpoint, as a native or back-end app does. The tokens stay in the app; its pages say
only what happened."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from conftest import remember


class ClientApp:
    def __init__(self, issuer: str, client_id: str, *, scope: str = "MOBPROC", response_type: str = "code") -> None:
        self.issuer, self.client_id, self.scope, self.response_type = issuer, client_id, scope, response_type
        self.pending: dict[str, str] = {}  # state -> code_verifier
        self.tokens: list[dict[str, Any]] = []
        self.errors: list[dict[str, str]] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet: it would print codes
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                query = {name: values[0] for name, values in parse_qs(parts.query).items()}
                if parts.path == "/start":
                    self._send(302, "", {"Location": app.authorization_url(**query)})
                elif parts.path == "/cb":
                    status, text = app.callback(query)
                    self._send(status, text)
                elif parts.path == "/frame":
                    self._send(200, f'<!doctype html><html lang="en"><title>frame</title><iframe title="mobproc" '
                                    f'src="{html.escape(query["src"])}" width="600" height="600"></iframe></html>')
                else:
                    self._send(404, "not found")

            def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.redirect_uri = self.url + "/cb"

    def __enter__(self) -> ClientApp:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def authorization_url(self, **extra: str) -> str:
        state, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
        self.pending[state] = verifier
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {"response_type": self.response_type, "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                  "scope": self.scope, "state": state, **extra}
        if self.response_type == "code":
            params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        return f"{self.issuer}/as/authorization.oauth2?{urlencode(params)}"

    def callback(self, query: dict[str, str]) -> tuple[int, str]:
        if query.get("iss") != self.issuer:  # RFC 9207 §2.4: a response from another server
            return 400, "wrong issuer"
        verifier = self.pending.pop(query.get("state", ""), None)
        if verifier is None:
            return 400, "unknown state"
        if "error" in query:
            self.errors.append(query)
            return 200, f"<h1>Refused: {html.escape(query['error'])}</h1>"
        remember(query.get("code"))
        answer = httpx.post(self.issuer + "/as/token.oauth2", data={
            "grant_type": "authorization_code", "code": query["code"], "redirect_uri": self.redirect_uri,
            "code_verifier": verifier, "client_id": self.client_id}, timeout=30)
        body = answer.json()
        remember(body.get("access_token"), body.get("refresh_token"), body.get("id_token"))
        if answer.status_code != 200:
            self.errors.append(body)
            return 200, f"<h1>Token refused: {html.escape(body.get('error', ''))}</h1>"
        self.tokens.append(body)
        return 200, "<h1>Signed in</h1>"

    def refresh(self) -> httpx.Response:
        answer = httpx.post(self.issuer + "/as/token.oauth2", data={
            "grant_type": "refresh_token", "refresh_token": self.tokens[-1]["refresh_token"],
            "client_id": self.client_id}, timeout=30)
        remember(*(answer.json().get(k) for k in ("access_token", "refresh_token")))
        return answer
