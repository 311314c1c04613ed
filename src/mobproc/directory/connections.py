"""Connections to one directory: a bounded pool over the configured URLs, with failover to
the next URL and a backoff per URL, so that a directory that goes away costs a fast 503 and
one that comes back is used again within the backoff (at most :data:`MAX_BACKOFF` seconds),
without a restart.

Each pooled :class:`Session` is two connections, both bound as the service account when
opened: one searches and stays bound as the service account; the other binds as the users
whose passwords are checked (search, then bind: the standard pattern, and PingFederate's). On
one connection every login would have to bind back as the service account before the next
search, a third round trip.

python-ldap releases the GIL while it waits for the network, and libldap is thread-safe; a
session is used by one thread at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ldap

from ..domain.identities import SourceUnavailable
from .configuration import LdapSource

log = logging.getLogger("mobproc.directory")

FIRST_BACKOFF, MAX_BACKOFF = 0.1, 2.0
# A connection that failed these ways is gone; anything else the directory answered.
_GONE = (ldap.SERVER_DOWN, ldap.CONNECT_ERROR)
_SLOW = (ldap.TIMEOUT, ldap.TIMELIMIT_EXCEEDED)


def describe(error: ldap.LDAPError) -> str:
    """libldap's description and diagnostic of an error (never a credential: a bind's
    password is not part of either)."""
    detail = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    text = str(detail.get("desc") or type(error).__name__)
    info = detail.get("info")
    if info and isinstance(info, str | bytes):
        info = info.decode(errors="replace") if isinstance(info, bytes) else info
        text += f" ({info.strip()})"
    return text


def _kind(error: ldap.LDAPError) -> str:
    if isinstance(error, _SLOW):
        return "timeout"
    if isinstance(error, _GONE):
        return "unreachable"
    return "error"


def _close(connection: Any) -> None:
    """Unbind (RFC 4511 §4.3) and close, once: python-ldap refuses a second unbind."""
    if getattr(connection, "_l", None) is None:
        return
    try:
        connection.unbind_s()
    except ldap.LDAPError:
        pass


@dataclass
class _Health:
    """One URL's state: after a failure to connect, it is not tried again before ``retry_at``
    (the backoff doubling from FIRST_BACKOFF up to MAX_BACKOFF); a success resets it."""

    failures: int = 0
    retry_at: float = 0.0
    error: str | None = None

    def failed(self, error: str, now: float) -> None:
        self.failures += 1
        self.retry_at = now + min(FIRST_BACKOFF * 2 ** (self.failures - 1), MAX_BACKOFF)
        self.error = error

    def succeeded(self) -> None:
        self.failures, self.retry_at, self.error = 0, 0.0, None


@dataclass
class Session:
    """Two connections to one URL, checked out by one thread (:meth:`Directory.session`)."""

    url: str
    searcher: Any  # ldap.ldapobject.LDAPObject, bound as the service account
    binder: Any  # binds as the users
    reused: bool = False
    broken: bool = field(default=False, repr=False)

    def close(self) -> None:
        for connection in (self.searcher, self.binder):
            _close(connection)


class Directory:
    """The pool of one source's directory. ``on_state(up)`` hears whether it could connect."""

    def __init__(self, source_system: str, config: LdapSource,
                 on_state: Callable[[bool], None] = lambda up: None) -> None:
        self.source_system = source_system
        self._config = config
        self._health = {url: _Health() for url in config.url}
        self._idle: list[Session] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(config.pool_size)
        self._stuck: set[str] = set()  # URLs with a connection attempt given up on, still under way
        self._on_state = on_state

    # --- checking out a session

    @contextmanager
    def session(self, wait: float | None = None) -> Iterator[Session]:
        """A session for one login (or lookup): a pooled one, or one opened now. ``wait``:
        how long to wait for one while ``pool_size`` are in use (the source's ``wait_ms``)."""
        wait = self._config.wait_ms / 1000 if wait is None else wait
        if not self._slots.acquire(timeout=wait):
            raise self._unavailable("every connection is in use", kind="busy")
        try:
            session = self._take() or self._open()
            try:
                yield session
            finally:
                if session.broken:
                    session.close()
                else:
                    session.reused = True
                    with self._lock:
                        self._idle.append(session)
        finally:
            self._slots.release()

    def _take(self) -> Session | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _open(self) -> Session:
        """A new session, on the first URL (in the configured order) not in its backoff."""
        now = time.monotonic()
        ready = [url for url, health in self._health.items() if health.retry_at <= now]
        if not ready:
            retry_after = min(health.retry_at for health in self._health.values()) - now
            raise self._unavailable(self.last_error() or "unreachable", kind="unreachable", retry_after=retry_after)
        errors = []
        for url in ready:
            try:
                session = self._pair(url)
            except SourceUnavailable as error:
                with self._lock:
                    self._health[url].failed(str(error), time.monotonic())
                errors.append(error)
                log.warning("identity source %s: %s", self.source_system, error)
                continue
            with self._lock:
                recovered = self._health[url].failures > 0
                self._health[url].succeeded()
            if recovered:
                log.warning("identity source %s: %s answers again", self.source_system, url)
            self._on_state(True)
            return session
        self._on_state(False)
        # The last failure names the kind: a refused service bind is not an outage.
        raise self._unavailable("; ".join(str(error) for error in errors), kind=errors[-1].kind)

    def _pair(self, url: str) -> Session:
        searcher = self._connect_within_timeout(url)
        try:
            return Session(url, searcher, self._connect_within_timeout(url))
        except SourceUnavailable:
            _close(searcher)
            raise

    def _connect_within_timeout(self, url: str) -> Any:
        """:meth:`_connect` on a thread of its own, waited for ``timeout``. libldap bounds the
        TCP connect (OPT_NETWORK_TIMEOUT) but not the TLS handshake: a server that accepts and
        then answers nothing (hung, or stopped with SIGSTOP) held a login for ever. A handshake
        given up on is left to end by itself, at most one per URL at a time."""
        with self._lock:
            if url in self._stuck:
                raise self._unavailable(f"{url}: an earlier connection attempt has not ended", kind="timeout")
        outcome: list[Any] = []
        finished = threading.Event()
        abandoned = False

        def connect() -> None:
            try:
                outcome.append(self._connect(url))
            except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
                outcome.append(error)
            with self._lock:
                finished.set()
                self._stuck.discard(url)
                too_late = abandoned
            if too_late and not isinstance(outcome[0], BaseException):
                _close(outcome[0])  # nobody waits for it any more

        threading.Thread(target=connect, name=f"mobproc-ldap-connect {url}", daemon=True).start()
        if not finished.wait(self._config.timeout + 0.5):
            with self._lock:
                if not finished.is_set():
                    abandoned = True
                    self._stuck.add(url)
                    raise self._unavailable(f"{url}: no answer within {self._config.timeout:g} s (TLS handshake)",
                                            kind="timeout")
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _connect(self, url: str) -> Any:
        """One connection to ``url``, TLS set up and checked, bound as the service account."""
        config = self._config
        connection = ldap.initialize(url)
        try:
            connection.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
            # A referral would be followed with an anonymous bind; Active Directory sends
            # them for names outside its domain: they are not entries.
            connection.set_option(ldap.OPT_REFERRALS, 0)
            connection.set_option(ldap.OPT_NETWORK_TIMEOUT, config.timeout)  # connecting, TLS handshake included
            connection.set_option(ldap.OPT_TIMEOUT, config.timeout)
            connection.timeout = config.timeout  # python-ldap's synchronous calls wait so long for an answer
            if url.startswith("ldaps:") or config.start_tls:
                # RFC 4513 §3.1.3: the server's identity is checked against its certificate.
                connection.set_option(ldap.OPT_X_TLS_REQUIRE_CERT,
                                      ldap.OPT_X_TLS_DEMAND if config.verify_certificate else ldap.OPT_X_TLS_NEVER)
                if config.ca_file is not None:
                    connection.set_option(ldap.OPT_X_TLS_CACERTFILE, str(config.ca_file))
                connection.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: the context takes the options above
            if config.start_tls:
                connection.start_tls_s()
            connection.simple_bind_s(config.bind_dn, config.bind_password.get_secret_value())
        except ldap.INVALID_CREDENTIALS as error:
            _close(connection)
            raise self._unavailable(f"{url}: the service bind as {config.bind_dn} was refused ({describe(error)})",
                                    kind="service_bind") from None
        except ldap.LDAPError as error:
            _close(connection)
            raise self._unavailable(f"{url}: {describe(error)}", kind=_kind(error)) from None
        return connection

    # --- running operations

    def run(self, session: Session, operation: Callable[[Any], Any], *, on: str = "searcher") -> Any:
        """``operation(connection)`` on the session's searcher (or binder), as an LDAP error
        it raises says: a connection found gone that had been waiting in the pool (the
        directory restarted, or closed it idle) is opened anew and the operation tried once
        more; any other failure breaks the session and is :class:`SourceUnavailable`. Errors
        the caller must judge (a refused bind) are the caller's to catch inside
        ``operation``."""
        while True:
            try:
                return operation(getattr(session, on))
            except _GONE as error:
                session.broken = True
                if not session.reused:
                    raise self._unavailable(f"{session.url}: {describe(error)}", kind="unreachable") from None
                with self._lock:
                    stale, self._idle = self._idle, []  # opened before the same break: gone too
                for other in stale:
                    other.close()
                session.close()
                fresh = self._open()
                session.url, session.searcher, session.binder = fresh.url, fresh.searcher, fresh.binder
                session.reused = session.broken = False
            except ldap.LDAPError as error:
                session.broken = True
                raise self._unavailable(f"{session.url}: {describe(error)}", kind=_kind(error)) from None

    # --- what operators see

    def last_error(self) -> str | None:
        with self._lock:
            errors = [health.error for health in self._health.values() if health.error]
        return "; ".join(errors) if errors else None

    def probe(self) -> str | None:
        """Readiness: None when the directory answers (a Who am I? on a session), else why
        not. Waits for no busy pool: connections in use are connections that work."""
        try:
            with self.session(wait=0.05) as session:
                self.run(session, lambda connection: connection.whoami_s())
        except SourceUnavailable as error:
            return None if error.kind == "busy" else str(error)
        return None

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for session in idle:
            session.close()

    def _unavailable(self, message: str, *, kind: str, retry_after: float | None = None) -> SourceUnavailable:
        return SourceUnavailable(message, source_system=self.source_system, kind=kind, retry_after=retry_after)
