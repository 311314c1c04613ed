"""The HTTP edge of the authorization endpoint, ``GET``/``POST /as/authorization.oauth2``
(PingFederate's path), with its login and consent pages, and ``/as/logout``.

A thin adapter: it reads the request (parameters, cookies, the form), checks the form's CSRF
token, and hands the rest to :class:`mobproc.oauth2.sign_in.SignIn` on a thread; then it
renders what comes next or redirects. The password check's admission slot is taken here, on
the event loop, before the thread hop, as the token endpoint does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..domain import redirect_uris
from ..domain.authentication import LoginRefused
from ..domain.identities import SourceUnavailable
from ..domain.passwords import HashingCapacityExceeded
from ..domain.sessions import BrowserSession
from ..domain.signing_keys import SigningKeyUnavailable
from ..domain.throttling import Throttled
from ..oauth2.authorization import (
    AuthorizationPageError,
    AuthorizationRedirectError,
    AuthorizationRequest,
    read_parameters,
)
from ..oauth2.request import FORM_TYPE, MAX_PARAMETERS
from ..oauth2.sign_in import CONSENT, LOGIN, Step, typed_username
from ..server.forwarded import source_address
from ..services import Services
from ..storage.database import DatabaseUnavailable
from . import cookies
from .pages import error_page, render

log = logging.getLogger("mobproc.web")

PATH = "/as/authorization.oauth2"
LOGOUT_PATH = "/as/logout"
# What the forms post beside the authorization request's own parameters.
FORM_FIELDS = frozenset({"action", "csrf_token", "username", "password", "source_system"})
# OpenID Connect RP-Initiated Logout 1.0 §2: what the logout page carries on to its form.
LOGOUT_PARAMETERS = ("client_id", "post_logout_redirect_uri", "state")
# One message for every refusal, as the password grant's one invalid_grant: no page tells
# whether an account exists, is locked, or the password was wrong.
LOGIN_REFUSED = "The username or password is incorrect, or the account cannot sign in now."
SCOPE_DESCRIPTIONS = {
    "MOBPROC": "use the Mobile Procurement API as you",
    "openid": "know who you are (your username)",
    "profile": "see your tenant and domain",
    # The roles of the admin API (mobproc.domain.roles): what the client may do in your name there.
    "mobproc:admin": "administer mobproc as you: clients, accounts, passwords, roles and signing keys",
    "mobproc:operator": "operate mobproc as you: unlock accounts, disable clients, revoke grants, rotate secrets",
    "mobproc:auditor": "read mobproc's clients, accounts and audit trail as you",
}


@dataclass(frozen=True, slots=True)
class Call:
    """One request to the endpoint, as the sign-in flow needs it."""

    params: dict[str, str]
    repeated: frozenset[str]
    session_cookie: str | None
    transaction: str | None  # the login transaction's id (its cookie), if any
    source_address: str
    posted: bool


@dataclass(frozen=True, slots=True)
class Next:
    """What the flow said, for the page or the redirect to answer."""

    request: AuthorizationRequest
    step: Step
    session: BrowserSession | None = None


class AuthorizationPages:
    def __init__(self, services: Services, *, max_body_bytes: int, retry_after: int) -> None:
        self._sign_in = services.sign_in
        self._transactions = services.login_transactions
        self._database = services.database
        self._cookies = cookies.Cookies(services.settings.issuer_url)
        self._trusted_proxies = services.settings.trusted_proxies
        self._max_body_bytes = max_body_bytes
        self._retry_after = retry_after

    # --- GET/POST /as/authorization.oauth2 -------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        try:
            call = await self._read(request)
            action = call.params.get("action") if call.posted else None
            if action in ("login", "allow", "deny"):
                form = "login" if action == "login" else "consent"
                # Nothing of a form is read before its token: a page of another site (or of
                # another browser's transaction) cannot post in this browser's name.
                if not self._transactions.check(call.transaction, form, call.params.get("csrf_token")):
                    return error_page("Sign-in expired", "This form has expired or was not sent from this site's "
                                      "page.", 403)
            if action == "login":
                return await self._login(request, call)
            return self._respond(request, call, await self._database.run(self._step, (call, action)))
        except Exception as error:  # noqa: BLE001 - every failure is a page, never a trace
            return self._failure(error, posted=request.method == "POST")

    async def _read(self, request: Request) -> Call:
        if request.method in ("GET", "HEAD"):
            pairs = parse_qsl(request.url.query, keep_blank_values=True, max_num_fields=MAX_PARAMETERS * 2)
            posted = False
        elif request.method == "POST":
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            body = await self._body(request)
            if media_type != FORM_TYPE:
                raise AuthorizationPageError("The request must be a form (application/x-www-form-urlencoded).")
            pairs = parse_qsl(body.decode("utf-8", "strict"), keep_blank_values=True,
                              max_num_fields=MAX_PARAMETERS * 2)
            posted = True
        else:
            raise _MethodNotAllowed()
        params, repeated = read_parameters(pairs)
        peer = request.client.host if request.client else ""
        forwarded = request.headers.getlist("x-forwarded-for")
        return Call(params, repeated - FORM_FIELDS, self._cookies.get(request, cookies.SESSION),
                    self._cookies.get(request, cookies.LOGIN), source_address(peer, forwarded, self._trusted_proxies),
                    posted)

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._max_body_bytes):
            raise AuthorizationPageError("The form is too large.")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > self._max_body_bytes:
                raise AuthorizationPageError("The form is too large.")
        return body

    def _step(self, argument: tuple[Call, str | None]) -> Next:
        """On a thread: validate the request, find the session, and take the next step."""
        call, action = argument
        sign_in = self._sign_in
        authorization = sign_in.endpoint.validate(call.params, call.repeated)
        session = sign_in.session(call.session_cookie)
        if action in ("allow", "deny"):
            if session is None:  # signed out in another tab meanwhile: sign in again
                return Next(authorization, Step(page=LOGIN))
            return Next(authorization, Step(url=sign_in.consent(authorization, session, action == "allow",
                                                                call.source_address)))
        return Next(authorization, sign_in.next_step(authorization, session, source_address=call.source_address),
                    session)

    async def _login(self, request: Request, call: Call) -> Response:
        username = typed_username(call.params.get("username", ""), call.params.get("source_system"))
        password = call.params.get("password", "")
        authorization = await self._database.run(self._validate, call)
        if not username or not password:
            return self._page(request, call, authorization, LOGIN, error=LOGIN_REFUSED)
        try:
            async with self._sign_in.admission(username).slot():
                cookie, session = await self._database.run(self._sign_in_thread, (
                    authorization, username, password, call.source_address, call.session_cookie))
        except LoginRefused:
            return self._page(request, call, authorization, LOGIN, error=LOGIN_REFUSED)
        except Throttled as throttled:
            wait = max(1, math.ceil(throttled.retry_after))
            return self._page(request, call, authorization, LOGIN, status=429, headers={"Retry-After": str(wait)},
                              error=f"Too many failed sign-ins. Try again in {wait} seconds.")
        step = await self._database.run(self._after_login, (authorization, session, call.source_address))
        response = self._respond(request, call, Next(authorization, step, session))
        self._cookies.set(request, response, cookies.SESSION, cookie, None)
        return response

    def _validate(self, call: Call) -> AuthorizationRequest:
        return self._sign_in.endpoint.validate(call.params, call.repeated)

    def _sign_in_thread(self, argument: tuple[AuthorizationRequest, str, str, str, str | None],
                        ) -> tuple[str, BrowserSession]:
        return self._sign_in.sign_in(*argument)

    def _after_login(self, argument: tuple[AuthorizationRequest, BrowserSession, str]) -> Step:
        authorization, session, address = argument
        return self._sign_in.next_step(authorization, session, fresh=True, source_address=address)

    def _respond(self, request: Request, call: Call, answer: Next) -> Response:
        if answer.step.url is not None:
            return self._redirect(answer.step.url, call.posted)
        return self._page(request, call, answer.request, answer.step.page or LOGIN, session=answer.session)

    def _page(self, request: Request, call: Call, authorization: AuthorizationRequest, page: str, *,
              error: str | None = None, status: int = 200, headers: Mapping[str, str] | None = None,
              session: BrowserSession | None = None) -> Response:
        transaction = self._transaction_id(call)
        hidden = sorted(authorization.parameters.items())
        context: dict[str, Any] = {"action": PATH, "hidden": hidden, "client_id": authorization.client.client_id}
        if page == CONSENT and session is not None:
            template = "consent.html"
            context |= {"csrf_token": self._transactions.csrf_token(transaction, "consent"),
                        "subject": session.identity.subject,
                        "scopes": [(scope, SCOPE_DESCRIPTIONS.get(scope, "the access this scope names"))
                                   for scope in authorization.scope]}
        else:
            template = "login.html"
            typed = call.params.get("username") if call.posted else authorization.login_hint
            context |= {"csrf_token": self._transactions.csrf_token(transaction, "login"), "error": error,
                        "username": typed or "", "source_system": call.params.get("source_system", ""),
                        "source_systems": self._sign_in.source_systems}
        response = render(template, context, status=status, headers=headers,
                          form_targets=[redirect_uris.origin(authorization.target.redirect_uri)])
        if transaction != call.transaction:
            self._cookies.set(request, response, cookies.LOGIN, transaction, cookies.LOGIN_MAX_AGE)
        return response

    # --- GET/POST /as/logout -----------------------------------------------------------------

    async def logout(self, request: Request) -> Response:
        """``GET``: a page with a sign-out button; ``POST`` (CSRF-protected: a page of another
        site must not sign a person out): the session ends, its cookie is cleared."""
        try:
            if request.method not in ("GET", "HEAD", "POST"):
                raise _MethodNotAllowed()
            call = await self._read(request)
            if not call.posted:
                session = await self._database.run(self._sign_in.session, call.session_cookie)
                return self._logout_page(request, call, session)
            if not self._transactions.check(call.transaction, "logout", call.params.get("csrf_token")):
                return error_page("Sign-out expired", "This form has expired or was not sent from this site's page.",
                                  403)
            back = await self._database.run(self._sign_out, call)
            response = self._redirect(back, True) if back else render("logout.html", {"signed_in": False})
            self._cookies.clear(request, response, cookies.SESSION)
            return response
        except Exception as error:  # noqa: BLE001 - every failure is a page, never a trace
            return self._failure(error, posted=request.method == "POST")

    def _sign_out(self, call: Call) -> str | None:
        """End the session; where the browser goes next, if the client asked and may."""
        self._sign_in.sign_out(call.session_cookie, call.source_address)
        return self._sign_in.endpoint.after_logout(call.params)

    def _logout_page(self, request: Request, call: Call, session: BrowserSession | None) -> Response:
        transaction = self._transaction_id(call)
        back = self._sign_in.endpoint.after_logout(call.params) if session is not None else None
        hidden = sorted((name, call.params[name]) for name in LOGOUT_PARAMETERS if name in call.params) if back else []
        context = {"signed_in": session is not None, "action": LOGOUT_PATH, "hidden": hidden,
                   "subject": session.identity.subject if session is not None else None,
                   "csrf_token": self._transactions.csrf_token(transaction, "logout")}
        response = render("logout.html", context, form_targets=[redirect_uris.origin(back)] if back else ())
        if transaction != call.transaction:
            self._cookies.set(request, response, cookies.LOGIN, transaction, cookies.LOGIN_MAX_AGE)
        return response

    def _transaction_id(self, call: Call) -> str:
        """The browser's login transaction, or a new one (its cookie is set with the page)."""
        if call.transaction is not None and self._transactions.valid_id(call.transaction):
            return call.transaction
        return self._transactions.new_id()

    @staticmethod
    def _redirect(url: str, posted: bool) -> Response:
        # RFC 9700 §4.12: 303 after a form, so that no browser re-posts the password there.
        return RedirectResponse(url, 303 if posted else 302, headers={"Cache-Control": "no-store",
                                                                      "Pragma": "no-cache"})

    def _failure(self, error: Exception, *, posted: bool) -> Response:
        """Every failure as a page or a redirect; nothing is a stack trace."""
        if isinstance(error, AuthorizationRedirectError):
            return self._redirect(error.url(self._sign_in.endpoint.issuer), posted)
        if isinstance(error, AuthorizationPageError):
            return error_page("Cannot sign in", error.message, 400)
        if isinstance(error, _MethodNotAllowed):
            response = error_page("Not allowed", "Use GET or POST.", 405)
            response.headers["Allow"] = "GET, HEAD, POST"
            return response
        if isinstance(error, UnicodeDecodeError | ValueError):
            return error_page("Cannot sign in", "The request could not be read.", 400)
        if isinstance(error, HashingCapacityExceeded):
            return error_page("Busy", "Too many sign-ins are being checked right now.", 503,
                              retry_after=self._retry_after)
        if isinstance(error, SourceUnavailable):
            wait = max(self._retry_after, math.ceil(error.retry_after or 0))
            log.warning("identity source %s unavailable: %s", error.source_system, error)
            return error_page("Unavailable", "The accounts of this source system cannot be checked right now.", 503,
                              retry_after=wait)
        if isinstance(error, SigningKeyUnavailable):
            log.error("signing key unavailable: %s", error)
            return error_page("Unavailable", "The service cannot sign tokens right now.", 503,
                              retry_after=self._retry_after)
        if isinstance(error, DatabaseUnavailable):
            log.warning("database unavailable: %s", error)
            return error_page("Unavailable", "The service is unavailable right now.", 503,
                              retry_after=self._retry_after)
        log.error("unexpected error: %s", type(error).__name__, exc_info=error)
        return error_page("Error", "Something went wrong; the error was logged.", 500)


class _MethodNotAllowed(Exception):
    pass
