"""A browser without a browser, for the sign-in tests that need no rendering: an httpx client
with a cookie jar that reads the pages' forms and posts them as a person would (the tests
that drive Chromium are tests/test_sign_in_browser.py)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from conftest import LiveServer, remember

AUTHORIZE_PATH = "/as/authorization.oauth2"
REDIRECT_URI = "http://127.0.0.1:8000/cb"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class Form(HTMLParser):
    """The first form of a page: its action and its fields (hidden ones with their values)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.buttons: list[tuple[str, str]] = []
        self._done = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {name: value or "" for name, value in attrs}
        if self._done:
            return
        if tag == "form" and self.action is None:
            self.action = named.get("action", "")
        elif tag == "input" and "name" in named:
            self.fields[named["name"]] = named.get("value", "")
        elif tag == "button" and "name" in named:
            self.buttons.append((named["name"], named.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.action is not None:
            self._done = True


def query_of(location: str) -> dict[str, str]:
    parts = urlsplit(location)
    return {name: values[0] for name, values in parse_qs(parts.fragment or parts.query).items()}


class Browser:
    """Cookies kept, redirects not followed (each test reads where it is sent)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def authorize(self, **params: str | None) -> httpx.Response:
        return self.http.get(AUTHORIZE_PATH + "?" + urlencode({k: v for k, v in params.items() if v is not None}))

    def submit(self, page: httpx.Response, button: str | None = None, **fields: str) -> httpx.Response:
        form = Form(page.text)
        assert form.action is not None, page.text
        data = {**form.fields, **fields}
        if button is not None:
            data["action"] = button
        elif form.buttons:
            data.setdefault(*form.buttons[0])
        return self.http.post(form.action, data=data)

    def login(self, page: httpx.Response, user: tuple[str, str], **fields: str) -> httpx.Response:
        return self.submit(page, username=user[0], password=user[1], **fields)


def code_flow_params(client_id: str, challenge: str | None, redirect_uri: str = REDIRECT_URI, **extra: str | None,
                     ) -> dict[str, str | None]:
    return {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "MOBPROC",
            "state": secrets.token_urlsafe(12), "code_challenge": challenge,
            "code_challenge_method": "S256" if challenge else None, **extra}


def redeem(http: httpx.Client, client: tuple[str, str | None], code: str, verifier: str | None,
           redirect_uri: str = REDIRECT_URI, **extra: str | None) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier,
            "client_id": client[0], "client_secret": client[1], **extra}
    response = http.post("/as/token.oauth2", data={k: v for k, v in form.items() if v is not None})
    remember(code)
    return response


def add_web_client(server: LiveServer, *, public: bool = True, trusted: bool = True,
                   grants: tuple[str, ...] = ("authorization_code", "refresh_token"),
                   redirect_uris: tuple[str, ...] = (REDIRECT_URI,), scopes: tuple[str, ...] = ("MOBPROC",),
                   pkce_required: bool = True, **extra: object) -> tuple[str, str | None]:
    """A client people sign in to: (client_id, secret), the secret None for a public one."""
    from conftest import unique

    client_id = unique("web")
    secret = None if public else secrets.token_hex(16)
    server.services.clients.add_client(client_id, secret or secrets.token_hex(16), grants, scopes,
                                       redirect_uris=redirect_uris, public=public, trusted=trusted,
                                       pkce_required=pkce_required, **extra)
    remember(secret)
    return client_id, secret
