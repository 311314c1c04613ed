"""The web console (``/admin/console``): server-rendered pages over the same registries as the
admin API and the command line, for whoever is on call.

It is a first-party client of this mobproc (``mobproc-console``: public, trusted, PKCE), signed
in through the authorization endpoint like any other, and a backend-for-frontend (OAuth 2.0 for
Browser-Based Apps §6.1): the code is redeemed here, the access token stays here (sealed,
:mod:`.console_sessions`), and the browser holds one ``HttpOnly``, ``SameSite=Lax`` cookie
(``Secure`` over HTTPS). Every page checks the token again and acts in the role it speaks for
(:mod:`mobproc.domain.operators`): a revoked token or a role taken away ends what the console
can do at once.

Every change is a form posted with the session's CSRF token, from this origin (``Origin`` and
``Sec-Fetch-Site`` say so when the browser sends them). A destructive one is confirmed on a page
of its own, and asks for the password again when the login is older than
MOBPROC_CONSOLE_REAUTH_SECONDS (``prompt=login``, ``max_age=0``).
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..config import Settings
from ..domain import operators
from ..domain.audit import AuditFilter, cursor_of, parse_cursor
from ..domain.clients import GRANT_TYPES
from ..domain.operators import Principal
from ..domain.registries import (
    AlreadyExists,
    ClientFilter,
    ClientRegistration,
    InvalidChange,
    NotFound,
    Stale,
)
from ..domain.roles import ADMIN_SCOPES, Action
from ..domain.signing_keys import SigningKeyUnavailable
from ..domain.views import account_fields, client_fields, consent_fields, event_fields, grant_fields, key_fields
from ..oauth2.errors import OAuth2Error
from ..oauth2.request import TokenRequest
from ..resource import RejectedToken
from ..server.audit_tail import TAIL_CHECK_SECONDS, TAILS, TailResponse, event_stream
from ..services import Services
from ..storage.database import DatabaseUnavailable
from . import pages
from .console_sessions import ConsoleSession, ConsoleSessions, challenge

log = logging.getLogger("mobproc.console")
PATH = "/admin/console"
CLIENT_ID = "mobproc-console"
SCOPE = " ".join(("openid", *ADMIN_SCOPES))
SESSION_COOKIE = "mobproc_console"
LOGIN_COOKIE = "mobproc_console_login"
MAX_FORM_BYTES = 16 * 1024
PAGE_SIZE = 25
OVERVIEW_EVENTS = (("token_issued", "Tokens issued"), ("login_failed", "Failed logins"),
                   ("account_locked", "Lockouts"), ("login_throttled", "Throttled logins"))


@dataclass(frozen=True)
class Change:
    """A change the console makes: the role it needs, whether it is destructive (confirmed, and
    with a fresh login), what the confirmation page says."""

    action: Action
    destructive: bool
    title: str
    consequence: str


CHANGES = {
    "client.disable": Change(Action.OPERATE, True, "Disable client {target}",
                             "It can no longer get tokens, and the tokens it holds stop working until it is enabled."),
    "client.enable": Change(Action.OPERATE, False, "Enable client {target}", ""),
    "client.rotate": Change(Action.OPERATE, True, "Give client {target} a new secret",
                            "Its current secret stops working at once: whatever uses it must be given the new one."),
    "client.remove": Change(Action.ADMINISTER, True, "Remove client {target}",
                            "It is removed with every grant and token it holds. This cannot be undone."),
    "account.unlock": Change(Action.OPERATE, False, "Unlock {target}", ""),
    "account.remove": Change(Action.ADMINISTER, True, "Remove account {target}",
                             "It is removed with its grants, tokens, sessions, consents and roles. This cannot be undone."),
    "grant.revoke": Change(Action.OPERATE, True, "Revoke grant {extra} of {target}",
                           "Its refresh token and every access token issued from it stop working at once."),
    "consent.revoke": Change(Action.OPERATE, True, "Withdraw the consent of {target} to {extra}",
                             "Their next sign-in to that client asks for consent again."),
    "key.rotate": Change(Action.OPERATE, False, "Stage a new signing key", ""),
    "key.retire": Change(Action.ADMINISTER, True, "Retire signing key {target} now",
                         "A new key signs at once; resource servers that cached the key set refuse the new tokens "
                         "until they fetch it again."),
}
DONE = {
    "client.disable": "The client is disabled.", "client.enable": "The client is enabled.",
    "client.remove": "The client is removed.", "account.unlock": "The account is unlocked.",
    "account.remove": "The account is removed.", "grant.revoke": "The grant is revoked.",
    "consent.revoke": "The consent is withdrawn.", "key.rotate": "A new signing key is staged.",
    "key.retire": "The key is retired; a new one signs.",
}


class Refused(Exception):
    """A page answered with an error page: ``status``, ``title``, ``message``."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def _b64json(part: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def ensure_console_client(services: Services, redirect_uri: str) -> None:
    """The console's client, registered on first use (and its redirect URI kept to the console's
    URL): public (it is this process: no secret to keep), trusted (no consent page), PKCE."""
    registry = services.client_registry
    try:
        client = registry.find(CLIENT_ID)
    except NotFound:
        try:
            registry.register(ClientRegistration(CLIENT_ID, ("authorization_code",), tuple(SCOPE.split()),
                                                 ("mobproc:auditor",), (redirect_uri,), public=True, trusted=True),
                              actor="mobproc:console")
        except AlreadyExists:
            pass  # another process registered it first
        return
    if client.redirect_uris != (redirect_uri,):
        registry.update(CLIENT_ID, actor="mobproc:console", redirect_uris=(redirect_uri,))


class Console:
    def __init__(self, services: Services, settings: Settings, *, address_of: Callable[[dict], str]) -> None:
        self.services = services
        self.settings = settings
        self.address_of = address_of
        self.base = settings.console_base_url
        self.redirect_uri = self.base + "/callback"
        self.environment = settings.environment.value
        self._login_key: bytes | None = None

        def login_key() -> bytes:
            if self._login_key is None:
                self._login_key = services.deployment_secrets.get_or_create("console")
            return self._login_key

        self.sessions = ConsoleSessions(services.console_sessions, login_key)
        self._client_ready = False
        self._secure = self.base.startswith("https://")

    # --- cookies: HttpOnly, SameSite=Lax, Secure and __Host- over HTTPS

    def _cookie_name(self, base: str) -> str:
        return f"__Host-{base}" if self._secure else base

    def _set_cookie(self, response: Response, base: str, value: str, max_age: int | None, samesite: str) -> None:
        response.set_cookie(self._cookie_name(base), value, max_age=max_age, path="/", secure=self._secure,
                            httponly=True, samesite=samesite)  # type: ignore[arg-type]

    def _clear_cookie(self, response: Response, base: str) -> None:
        response.delete_cookie(self._cookie_name(base), path="/", secure=self._secure, httponly=True)

    # --- the routes

    def routes(self) -> list[Route]:
        page = self._page
        return [
            Route("/", page(self.overview)),
            Route("/clients", page(self.clients)),
            Route("/clients/new", page(self.new_client), methods=["GET", "POST"]),
            Route("/clients/{client_id:path}", page(self.client)),
            Route("/accounts", page(self.accounts)),
            Route("/accounts/{username:path}", page(self.account)),
            Route("/keys", page(self.keys)),
            Route("/audit", page(self.audit)),
            Route("/audit/stream", self.audit_stream),
            Route("/confirm", page(self.confirm)),
            Route("/act", page(self.act), methods=["POST"]),
            Route("/login", self.login),
            Route("/callback", self.callback),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/assets/console.css", self._asset("console.css", "text/css")),
            Route("/assets/mobproc.css", self._asset(None, "text/css")),
            Route("/assets/console.js", self._asset("console.js", "text/javascript")),
        ]

    def _asset(self, name: str | None, media_type: str):  # noqa: ANN202
        from importlib import resources

        body = pages.STYLESHEET if name is None else (resources.files("mobproc.web") / "assets" / name).read_bytes()

        async def serve(request: Request) -> Response:
            return Response(body, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})

        return serve

    def _page(self, handler: Callable[..., Any]):  # noqa: ANN202
        """A page behind the session: the login when there is none, an error page for a refusal."""

        async def endpoint(request: Request) -> Response:
            try:
                session, who = await self._signed_in(request)
                if session is None:
                    return self._to_login(request)
                if request.method == "POST":
                    form = await self._form(request)
                    self._check_post(request, session, form)
                else:
                    form = {}
                return await handler(request, session, who, form)
            except Refused as refused:
                return self._error(request, refused)
            except DatabaseUnavailable:
                return self._error(request, Refused(503, "Unavailable", "The database cannot answer now; retry."),
                                   headers={"Retry-After": str(self.settings.retry_after_seconds)})

        return endpoint

    async def _principal_of(self, token: str, address: str | None) -> Principal | RejectedToken:
        """Whom a console session's token speaks for, as the admin API's door says it
        (:func:`mobproc.domain.operators.principal_of`; raises its ``NoRole``)."""
        services = self.services
        return await run_in_threadpool(operators.principal_of, services.verifier, services.account_registry,
                                       services.clients, token, address)

    async def _signed_in(self, request: Request) -> tuple[ConsoleSession | None, Principal | None]:
        cookie = request.cookies.get(self._cookie_name(SESSION_COOKIE))
        if not cookie:
            return None, None
        session = await run_in_threadpool(self.sessions.find, cookie)
        if session is None:
            return None, None
        try:
            found = await self._principal_of(session.access_token, self.address_of(request.scope))
        except operators.NoRole:
            raise Refused(403, "No role", "Your account holds no role of the console (admin, operator or "
                                          "auditor): an admin grants one (mobproc user grant-role).") from None
        if isinstance(found, RejectedToken):  # expired or revoked: sign in again
            await run_in_threadpool(self.sessions.close, cookie)
            return None, None
        return session, found

    def _to_login(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = PATH + "/"
        return RedirectResponse(f"{PATH}/login?{urlencode({'return_to': target})}", 303)

    async def _form(self, request: Request) -> dict[str, str]:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise Refused(413, "Too large", "The form is larger than this console takes.")
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100))
        except (UnicodeDecodeError, ValueError):
            raise Refused(400, "Not a form", "The form could not be read.") from None

    def _check_post(self, request: Request, session: ConsoleSession, form: dict[str, str]) -> None:
        """CSRF: the session's token in the form, and nothing that says another site sent it
        (``Origin`` is ``null`` from these pages, whose referrer policy is ``no-referrer``;
        ``Sec-Fetch-Site`` says where the form was, whatever the policy)."""
        origin = request.headers.get("origin")
        fetch_site = request.headers.get("sec-fetch-site")
        own = f"{request.url.scheme}://{request.url.netloc}"
        if (origin not in (None, "null", own)) or (fetch_site is not None and fetch_site not in ("same-origin", "none")):
            raise Refused(403, "Refused", "This form was sent from another site.")
        if not hmac.compare_digest(form.get("csrf_token", ""), session.csrf):
            raise Refused(403, "Refused", "This form is not one of this console's, or its page is too old: "
                                          "reload the page and try again.")

    def _context(self, request: Request, session: ConsoleSession, who: Principal, **extra: Any) -> dict[str, Any]:
        return {"console": PATH, "environment": self.environment, "who": who, "csrf_token": session.csrf,
                "may": {action.name.lower(): who.role.may(action) for action in Action},
                "path": request.url.path, "done": DONE.get(request.query_params.get("done", "")), **extra}

    def _render(self, template: str, context: dict[str, Any], status: int = 200) -> Response:
        return pages.render(template, context, status=status, scripts=True)

    def _error(self, request: Request, refused: Refused, headers: dict[str, str] | None = None) -> Response:
        response = pages.render("console/error.html", {"console": PATH, "environment": self.environment, "who": None,
                                                       "title": refused.title, "message": refused.message},
                                status=refused.status, scripts=True, headers=headers)
        return response

    def _run(self, call: Callable[..., Any], *args: Any, **kwargs: Any):  # noqa: ANN202
        """A registry's call on a worker thread, its refusals as pages."""

        def guarded() -> Any:
            try:
                return call(*args, **kwargs)
            except NotFound as error:
                raise Refused(404, "Not found", str(error)) from None
            except (InvalidChange, AlreadyExists, Stale, SigningKeyUnavailable) as error:
                raise Refused(409 if isinstance(error, AlreadyExists) else 400, "Refused", str(error)) from None

        return run_in_threadpool(guarded)

    # --- signing in

    async def login(self, request: Request) -> Response:
        return_to = request.query_params.get("return_to", PATH + "/")
        if not return_to.startswith(PATH + "/") or "//" in return_to[len(PATH):] or "\\" in return_to:
            return_to = PATH + "/"  # never an open redirector: only a page of the console
        fresh = request.query_params.get("fresh") == "1"
        try:
            if not self._client_ready:
                await run_in_threadpool(ensure_console_client, self.services, self.redirect_uri)
                self._client_ready = True
            cookie, login = await run_in_threadpool(self.sessions.start_login, return_to, fresh)
        except DatabaseUnavailable:
            return self._error(request, Refused(503, "Unavailable", "The database cannot answer now; retry."))
        params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": self.redirect_uri, "scope": SCOPE,
                  "state": login["state"], "nonce": login["nonce"], "code_challenge": challenge(login["verifier"]),
                  "code_challenge_method": "S256"}
        if fresh:
            params.update(prompt="login", max_age="0")
        response = RedirectResponse(f"{self.settings.issuer_url}/as/authorization.oauth2?{urlencode(params)}", 303)
        self._set_cookie(response, LOGIN_COOKIE, cookie, 600, "lax")
        return response

    async def callback(self, request: Request) -> Response:
        login = self.sessions.login_of(request.cookies.get(self._cookie_name(LOGIN_COOKIE)))
        query = request.query_params
        if login is None or not hmac.compare_digest(query.get("state", ""), login["state"]):
            return self._error(request, Refused(400, "Cannot sign in", "This sign-in was not started here, or took "
                                                                      "too long: start again."))
        if "error" in query or "code" not in query:
            return self._error(request, Refused(403, "Not signed in", f"The sign-in ended: {query.get('error', '?')}."))
        params = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": self.redirect_uri,
                  "code_verifier": login["verifier"], "client_id": CLIENT_ID}
        address = self.address_of(request.scope)
        try:
            answer = await run_in_threadpool(self.services.token_endpoint.handle,
                                             TokenRequest(params=params, source_address=address))
            # Straight from the token endpoint, in process: the ID token needs no signature check
            # here (OpenID Connect Core §3.1.3.7), its nonce and audience do.
            claims = _b64json(answer["id_token"].split(".")[1])
            if claims.get("nonce") != login["nonce"] or claims.get("aud") not in (CLIENT_ID, [CLIENT_ID]):
                raise Refused(400, "Cannot sign in", "The sign-in's answer does not match it: start again.")
            found = await self._principal_of(answer["access_token"], address)
            if isinstance(found, RejectedToken):
                raise Refused(400, "Cannot sign in", "The token just issued is not active.")
        except OAuth2Error as error:
            return self._error(request, Refused(400, "Cannot sign in", f"The sign-in was refused ({error.error})."))
        except operators.NoRole:
            return self._error(request, Refused(403, "No role", "Your account holds no role of the console (admin, "
                                                               "operator or auditor): an admin grants one."))
        except Refused as refused:
            return self._error(request, refused)
        except DatabaseUnavailable:
            return self._error(request, Refused(503, "Unavailable", "The database cannot answer now; retry."))
        except SigningKeyUnavailable as error:
            log.error("signing key unavailable: %s", error)
            return self._error(request, Refused(503, "Unavailable", "Tokens cannot be signed now; retry."),
                               headers={"Retry-After": str(self.settings.retry_after_seconds)})
        auth_time = float(claims.get("auth_time") or time.time())
        expires_at = time.time() + int(answer.get("expires_in", 0))
        response = RedirectResponse(login["return_to"], 303)
        existing = await run_in_threadpool(self.sessions.find, request.cookies.get(self._cookie_name(SESSION_COOKIE)))
        if existing is not None and existing.subject == found.subject:
            await run_in_threadpool(self.sessions.renew, existing, answer["access_token"], auth_time, expires_at)
        else:
            if existing is not None:
                await run_in_threadpool(self.sessions.close, existing.cookie)
            cookie = await run_in_threadpool(self.sessions.open, found.subject, answer["access_token"], auth_time,
                                             expires_at)
            # Lax, not Strict: a link to the console from another site (a chat, a ticket) is a
            # cross-site navigation, and the whole sign-in's redirect chain with it; under Strict
            # the cookie set at its end is not sent in it, and the browser loops back to sign in.
            # A cross-site POST carries no Lax cookie; the CSRF token guards the rest.
            self._set_cookie(response, SESSION_COOKIE, cookie, None, "lax")
        self._clear_cookie(response, LOGIN_COOKIE)
        return response

    async def logout(self, request: Request) -> Response:
        cookie = request.cookies.get(self._cookie_name(SESSION_COOKIE))
        session = await run_in_threadpool(self.sessions.find, cookie) if cookie else None
        if session is not None:
            try:
                self._check_post(request, session, await self._form(request))
            except Refused as refused:
                return self._error(request, refused)
            await run_in_threadpool(self.sessions.close, cookie)
        response = pages.render("console/signed_out.html", {"console": PATH, "environment": self.environment,
                                                            "who": None}, scripts=True)
        self._clear_cookie(response, SESSION_COOKIE)
        return response

    # --- pages

    async def overview(self, request: Request, session: ConsoleSession, who: Principal, form: dict) -> Response:
        audit = self.services.audit
        counts = await run_in_threadpool(audit.count_by_event, time.time() - 3600)
        recent = await run_in_threadpool(audit.page, AuditFilter(), before=None, limit=10)
        return self._render("console/overview.html", self._context(
            request, session, who, counts=[(label, counts.get(event, 0)) for event, label in OVERVIEW_EVENTS],
            events=[event_fields(e) for _, e in recent]))

    async def clients(self, request: Request, session: ConsoleSession, who: Principal, form: dict) -> Response:
        prefix = request.query_params.get("prefix", "")[:255]
        offset = _offset(request)
        found, total = await self._run(self.services.client_registry.page, ClientFilter(prefix or None),
                                       offset=offset, limit=PAGE_SIZE)
        return self._render("console/clients.html", self._context(
            request, session, who, clients=[client_fields(c) for c in found], total=total, prefix=prefix,
            pages=_pages(request, offset, total)))

    async def client(self, request: Request, session: ConsoleSession, who: Principal, form: dict) -> Response:
        found = await self._run(self.services.client_registry.find, request.path_params["client_id"])
        return self._render("console/client.html", self._context(request, session, who, client=client_fields(found)))

    async def new_client(self, request: Request, session: ConsoleSession, who: Principal, form: dict) -> Response:
        if not who.role.may(Action.ADMINISTER):
            raise Refused(403, "Not allowed", f"The role {who.role.value} may not register clients.")
        values = {"client_id": "", "grants": [], "scopes": "", "default_scopes": "", "redirect_uris": ""}
        error = field = None
        if request.method == "POST":
            grants = [name for name in GRANT_TYPES if form.get(f"grant_{name}")]
            values = {"client_id": form.get("client_id", "").strip(), "grants": grants,
                      "scopes": form.get("scopes", ""), "default_scopes": form.get("default_scopes", ""),
                      "redirect_uris": form.get("redirect_uris", "")}
            registration = ClientRegistration(values["client_id"], tuple(grants), tuple(values["scopes"].split()),
                                              tuple(values["default_scopes"].split()) or None,
                                              tuple(values["redirect_uris"].split()))
            try:
                created = await run_in_threadpool(self.services.client_registry.register, registration,
                                                  actor=who.actor)
            except InvalidChange as invalid:
                error, field = str(invalid), invalid.field
            except AlreadyExists as exists:
                error, field = str(exists), "client_id"
            else:
                return self._render("console/secret.html", self._context(
                    request, session, who, client=client_fields(created.client), secret=created.secret,
                    heading=f"Client {created.client.client_id} registered"))
        return self._render("console/new_client.html", self._context(
            request, session, who, values=values, grant_types=GRANT_TYPES, error=error, field=field),
            status=400 if error else 200)

    async def accounts(self, request: Request, session: ConsoleSession, who: Principal, form: dict) -> Response:
        prefix = request.query_params.get("prefix", "")[:255]
        source = request.query_params.get("source_system", "") or None
        offset = _offset(request)
        registry = self.services.account_registry
        if source is not None and source not in registry.source_systems:
            source = None
        found, total = await self._run(registry.search, prefix, source, offset=offset, limit=PAGE_SIZE)
        return self._render("console/accounts.html", self._context(
            request, session, who, accounts=[account_fields(v) for v in found], total=total, prefix=prefix,
            source_system=source or "", source_systems=registry.source_systems, pages=_pages(request, offset, total)))

    async def account(self, request: Request, session: ConsoleSession, who: Principal, form: dict) -> Response:
        registry = self.services.account_registry
        username = request.path_params["username"]
        view = await self._run(registry.find, username)
        grants = await self._run(registry.grants, username, limit=50)
        consents = await self._run(registry.consents, username)
        return self._render("console/account.html", self._context(
            request, session, who, account=account_fields(view), grants=[grant_fields(g) for g in grants],
            consents=[consent_fields(c) for c in consents]))

    async def keys(self, request: Request, session: ConsoleSession, who: Principal, form: dict) -> Response:
        records = await self._run(self.services.key_registry.list)
        now = time.time()
        return self._render("console/keys.html", self._context(request, session, who,
                                                               keys=[key_fields(r, now) for r in records]))

    async def audit(self, request: Request, session: ConsoleSession, who: Principal, form: dict) -> Response:
        query = request.query_params
        filters = {name: query.get(name, "")[:320] for name in ("subject", "client_id", "event", "actor")}
        if not all(value.isprintable() for value in filters.values()):
            raise Refused(400, "Not a filter", "A filter is printable text.")
        where = AuditFilter(**{name: value or None for name, value in filters.items()})
        before = None
        if query.get("cursor"):
            before = parse_cursor(query["cursor"][:128])
            if before is None:
                raise Refused(400, "Not a page", "That page of the audit trail does not exist.")
        rows = await run_in_threadpool(self.services.audit.page, where, before=before, limit=PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        older = None
        if more:
            older = f"{PATH}/audit?" + urlencode({**{k: v for k, v in filters.items() if v},
                                                 "cursor": cursor_of(rows[-1][1].at, rows[-1][0])})
        stream = f"{PATH}/audit/stream?" + urlencode({k: v for k, v in filters.items() if v})
        return self._render("console/audit.html", self._context(
            request, session, who, filters=filters, events=[event_fields(e) for _, e in rows], older=older,
            stream=stream))

    async def audit_stream(self, request: Request) -> Response:
        """The live tail of the audit page, behind the session (the page's script reads it)."""
        try:
            session, who = await self._signed_in(request)
        except Refused:
            return Response(status_code=403)
        if session is None:
            return Response(status_code=401)
        query = request.query_params
        filters = {name: query.get(name, "")[:320] for name in ("subject", "client_id", "event", "actor")}
        if not all(value.isprintable() for value in filters.values()):
            return Response(status_code=400)
        where = AuditFilter(**{name: value or None for name, value in filters.items()})
        cookie = session.cookie

        async def still_allowed() -> bool:
            current = await run_in_threadpool(self.sessions.find, cookie)
            if current is None:
                return False
            try:
                found = await self._principal_of(current.access_token, None)
            except operators.NoRole:
                return False
            return not isinstance(found, RejectedToken)

        holder = "account:" + session.subject
        if not TAILS.take(holder):  # the admin API's bound, shared: the database serves both
            return Response(status_code=429, headers={"Retry-After": str(int(TAIL_CHECK_SECONDS))})
        return TailResponse(event_stream(request, self.services.audit, where, None, 60, still_allowed), holder)

    # --- changes

    def _change(self, form_or_query: Any, who: Principal) -> tuple[str, Change, str, str]:
        name = form_or_query.get("action", "")
        change = CHANGES.get(name)
        if change is None:
            raise Refused(400, "Unknown change", "The console does not know that change.")
        if not who.role.may(change.action):
            raise Refused(403, "Not allowed", f"The role {who.role.value} may not do this.")
        return name, change, form_or_query.get("target", "")[:400], form_or_query.get("extra", "")[:400]

    def _fresh(self, session: ConsoleSession) -> bool:
        return time.time() - session.auth_time <= self.settings.console_reauth_seconds

    async def confirm(self, request: Request, session: ConsoleSession, who: Principal, form: dict) -> Response:
        name, change, target, extra = self._change(request.query_params, who)
        if change.destructive and not self._fresh(session):
            return_to = request.url.path + "?" + request.url.query
            return RedirectResponse(f"{PATH}/login?{urlencode({'return_to': return_to, 'fresh': '1'})}", 303)
        return self._render("console/confirm.html", self._context(
            request, session, who, action=name, target=target, extra=extra,
            title=change.title.format(target=target, extra=extra), consequence=change.consequence,
            back=_back(name, target)))

    async def act(self, request: Request, session: ConsoleSession, who: Principal, form: dict) -> Response:
        name, change, target, extra = self._change(form, who)
        if change.destructive and (form.get("confirmed") != "yes" or not self._fresh(session)):
            return RedirectResponse(f"{PATH}/confirm?" + urlencode({"action": name, "target": target, "extra": extra}),
                                    303)
        services, actor = self.services, who.actor
        if name == "client.rotate":
            client = await self._run(services.client_registry.find, target)
            if not operators.may_learn_secret(who, client):
                raise Refused(403, "Not allowed", f"The role {who.role.value} may not be told the secret of a client "
                                                  "whose own tokens act in a stronger role.")
            rotated = await self._run(services.client_registry.rotate_secret, target, actor=actor)
            return self._render("console/secret.html", self._context(
                request, session, who, client=client_fields(rotated.client), secret=rotated.secret,
                heading=f"Client {target} has a new secret"))
        calls: dict[str, Callable[[], Any]] = {
            "client.disable": lambda: services.client_registry.set_enabled(target, False, actor=actor),
            "client.enable": lambda: services.client_registry.set_enabled(target, True, actor=actor),
            "client.remove": lambda: services.client_registry.remove(target, actor=actor),
            "account.unlock": lambda: services.account_registry.unlock(target, actor=actor),
            "account.remove": lambda: services.account_registry.remove(target, actor=actor),
            "grant.revoke": lambda: services.account_registry.revoke_grant(target, _grant_id(extra), actor=actor),
            "consent.revoke": lambda: services.account_registry.revoke_consent(target, extra, actor=actor),
            "key.rotate": lambda: services.key_registry.rotate(actor=actor),
            "key.retire": lambda: services.key_registry.retire(target, actor=actor),
        }
        await self._run(calls[name])
        back = _back(name, target) if not name.endswith(".remove") else f"{PATH}/{name.split('.')[0]}s"
        return RedirectResponse(f"{back}{'&' if '?' in back else '?'}done={name}", 303)


def _grant_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise Refused(400, "Not a grant", "That is not a grant of this account.")
    return int(text)


def _back(name: str, target: str) -> str:
    kind = name.split(".")[0]
    if kind == "client":
        return f"{PATH}/clients/{quote(target, safe='')}"
    if kind in ("account", "grant", "consent"):
        return f"{PATH}/accounts/{quote(target, safe='')}"
    return f"{PATH}/keys"


def _offset(request: Request) -> int:
    text = request.query_params.get("offset", "0")
    return min(int(text), 10**9) if text.isdigit() and len(text) < 10 else 0


def _pages(request: Request, offset: int, total: int) -> dict[str, str | None]:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "done")]

    def link(at: int) -> str:
        return request.url.path + "?" + urlencode([*kept, ("offset", str(at))])

    return {"previous": link(max(0, offset - PAGE_SIZE)) if offset else None,
            "next": link(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
            "first": offset + 1 if total else 0, "last": min(total, offset + PAGE_SIZE)}


def console_routes(services: Services, settings: Settings, *, address_of: Callable[[dict], str]) -> list[Route]:
    return Console(services, settings, address_of=address_of).routes()


__all__ = ["CLIENT_ID", "PATH", "Console", "console_routes", "ensure_console_client"]
