"""A person signing in through the authorization endpoint, step by step, without HTTP: which
page comes next (the login page, the consent page) or where the browser goes (the client's
redirect URI), and the sign-in itself through the very same
:class:`~mobproc.domain.authentication.Authenticator` as the password grant, so that lockout,
failure budgets, admission control, the audit trail and one answer for every failure are the
same on both ways in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..domain import audit
from ..domain.audit import AuditEvent, AuditLog
from ..domain.authentication import Attempt, Authenticator
from ..domain.authorization import Consents
from ..domain.identities import PLATFORM, Identity
from ..domain.passwords import HashingAdmission
from ..domain.sessions import BrowserSession, BrowserSessions
from .authorization import AuthorizationEndpoint, AuthorizationRequest

LOGIN = "login"
CONSENT = "consent"


@dataclass(frozen=True, slots=True)
class Step:
    """What comes next: a page (``page`` is "login" or "consent"), or the redirect ``url``."""

    page: str | None = None
    url: str | None = None


def typed_username(username: str, source_system: str | None) -> str:
    """The username as the seed's accounts are named: typed in full (``command://alice``, or a
    bare platform name), or a name with its source system chosen from a list.

    >>> typed_username("alice", "command"), typed_username("command://alice", "rivermine")
    ('command://alice', 'command://alice')
    >>> typed_username("alice", "platform"), typed_username("alice", None)
    ('alice', 'alice')
    """
    if not source_system or "://" in username or source_system == PLATFORM:
        return username
    return f"{source_system}://{username}"


class SignIn:
    def __init__(self, endpoint: AuthorizationEndpoint, authenticator: Authenticator, sessions: BrowserSessions,
                 consents: Consents, audit_log: AuditLog) -> None:
        self.endpoint = endpoint
        self._authenticator = authenticator
        self._sessions = sessions
        self._consents = consents
        self._audit = audit_log

    @property
    def source_systems(self) -> tuple[str, ...]:
        return self._authenticator.source_systems

    def admission(self, username: str) -> HashingAdmission:
        """The slots the password check of ``username`` takes (taken before the thread hop)."""
        return self._authenticator.admission_for(username)

    def session(self, cookie: str | None) -> BrowserSession | None:
        return self._sessions.find(cookie, time.time())

    def next_step(self, request: AuthorizationRequest, session: BrowserSession | None, *, fresh: bool = False,
                  source_address: str = "") -> Step:
        """OpenID Connect Core §3.1.2.3: a new sign-in unless the session may serve (none, or
        ``prompt=login``, or older than ``max_age``; a sign-in just made serves any); then
        consent unless given before, or the client is first-party; then the response.
        ``prompt=none`` turns a page into the error the client asked for instead."""
        now = time.time()
        needs_login = session is None or (not fresh and (
            "login" in request.prompt or (request.max_age is not None and session.older_than(request.max_age, now))))
        if needs_login:
            if "none" in request.prompt:
                raise request.error("login_required", "the person must sign in")
            return Step(page=LOGIN)
        assert session is not None
        if (self._consents.needed(request.client, session.identity, request.scope)
                or ("consent" in request.prompt and not request.client.trusted and not fresh)):
            if "none" in request.prompt:
                raise request.error("consent_required", "the person must consent")
            return Step(page=CONSENT)
        return Step(url=self.endpoint.respond(request, session.identity, session.auth_time, source_address))

    def sign_in(self, request: AuthorizationRequest, username: str, password: str,
                source_address: str, replacing: str | None = None) -> tuple[str, BrowserSession]:
        """Check the password with every defence and start a session in the transaction that
        confirms it: the cookie's value and the session. The browser's session before
        (``replacing``, its cookie) ends with it: a sign-in always gets a new id, so an id fixed
        in the browser beforehand signs no one in. Raises what
        :meth:`Authenticator.authenticate` raises (:class:`LoginRefused`, :class:`Throttled`,
        :class:`SourceUnavailable`)."""
        login = self._authenticator.authenticate(username, password,
                                                 Attempt(request.client, source_address, request.grant_type))

        def start_session(identity: Identity) -> tuple[str, BrowserSession]:
            now = time.time()
            self._sessions.end(replacing, now)
            cookie, session = self._sessions.start(identity, now)
            self._audit.record(AuditEvent(audit.SESSION_STARTED, client_id=request.client.client_id,
                                          subject=identity.subject, source_address=source_address or None,
                                          grant_type=request.grant_type))
            return cookie, session

        return login.confirm(start_session)

    def consent(self, request: AuthorizationRequest, session: BrowserSession, allowed: bool,
                source_address: str = "") -> str:
        """The person's answer on the consent page: remembered and the response, or
        ``access_denied`` (RFC 6749 §4.1.2.1: "The resource owner ... denied the request")."""
        identity = session.identity
        event: dict[str, Any] = {"client_id": request.client.client_id, "subject": identity.subject,
                 "source_address": source_address or None, "detail": "scope=" + ",".join(request.scope)}
        if not allowed:
            self._audit.record(AuditEvent(audit.CONSENT_DENIED, **event))
            raise request.error("access_denied", "the person denied the request")
        self._consents.give(request.client, identity, request.scope, time.time())
        self._audit.record(AuditEvent(audit.CONSENT_GIVEN, **event))
        return self.endpoint.respond(request, identity, session.auth_time, source_address)

    def sign_out(self, cookie: str | None, source_address: str = "") -> BrowserSession | None:
        """End the session this cookie names (logout); the session it was, if any."""
        session = self.session(cookie)
        if session is not None and self._sessions.end(cookie, time.time()):
            self._audit.record(AuditEvent(audit.SESSION_ENDED, subject=session.identity.subject,
                                          source_address=source_address or None, reason="logout"))
        return session
