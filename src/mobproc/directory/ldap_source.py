"""An identity source backed by an LDAP directory: search for the name's entry as the
service account, then bind as that entry with the password given (PingFederate's LDAP
password credential validator does the same).

It checks a password and nothing else: lockout, failure budgets, admission control and the
audit trail are the :class:`~mobproc.domain.authentication.Authenticator`'s, as for the
built-in table (CONTRACT §5b).
"""

from __future__ import annotations

import re
import time
import unicodedata
from typing import Any

import ldap
import ldap.filter
from ldap.controls import DecodeControlTuples
from ldap.controls.ppolicy import PasswordPolicyControl

from ..domain.identities import (
    UNKNOWN_ACCOUNT,
    WRONG_PASSWORD,
    AuthenticationFailed,
    Identity,
    SourceUnavailable,
    Username,
    Verified,
)
from ..domain.pacing import Pace
from ..domain.passwords import HashingAdmission
from .configuration import PLACEHOLDER, LdapSource, Mapped
from .connections import Directory, Session

# The directory's own refusals, for the audit trail (the client gets one invalid_grant):
AMBIGUOUS_ACCOUNT = "ambiguous_account"  # several entries match the name
EMPTY_PASSWORD = "empty_password"  # refused before any bind: RFC 4513 §5.1.2
DIRECTORY_LOCKED = "directory_locked"  # the directory's password policy locked the entry
PASSWORD_EXPIRED = "password_expired"
PASSWORD_MUST_CHANGE = "password_must_change"  # reset by an administrator, to be changed first
ACCOUNT_DISABLED = "account_disabled"
ACCOUNT_EXPIRED = "account_expired"
ACCOUNT_RESTRICTED = "account_restricted"  # not at this time, or not from here

# draft-behera-ldap-password-policy §6.2's errors in the bind's response control (OpenLDAP's
# ppolicy overlay and others); 0 passwordExpired, 1 accountLocked, 2 changeAfterReset.
_PPOLICY = {0: PASSWORD_EXPIRED, 1: DIRECTORY_LOCKED, 2: PASSWORD_MUST_CHANGE}
# Active Directory says why a bind failed in its diagnostic message, "… data 775, …"
# (the Win32 error of the logon): learn.microsoft.com, "LDAP bind errors".
_AD_DATA = re.compile(r"\bdata ([0-9a-f]{3,8})\b", re.IGNORECASE)
_ACTIVE_DIRECTORY = {
    "525": UNKNOWN_ACCOUNT, "52e": WRONG_PASSWORD, "530": ACCOUNT_RESTRICTED, "531": ACCOUNT_RESTRICTED,
    "532": PASSWORD_EXPIRED, "533": ACCOUNT_DISABLED, "701": ACCOUNT_EXPIRED, "773": PASSWORD_MUST_CHANGE,
    "775": DIRECTORY_LOCKED,
}
_SCOPES = {"sub": ldap.SCOPE_SUBTREE, "one": ldap.SCOPE_ONELEVEL}
_TRUE = frozenset({"true", "yes", "1", "on"})
# Refusals that say the entry exists (the audit trail may then name it in clear).
_EXISTS = frozenset({WRONG_PASSWORD, DIRECTORY_LOCKED, PASSWORD_EXPIRED, PASSWORD_MUST_CHANGE, ACCOUNT_DISABLED,
                     ACCOUNT_EXPIRED, ACCOUNT_RESTRICTED})


def search_filter(template: str, name: str) -> str:
    """The configured filter with the name in it, escaped as RFC 4515 §3 requires (``*``,
    ``(``, ``)``, ``\\`` and NUL as ``\\XX``), so that no name can widen the search.

    >>> search_filter("(uid={name})", "*)(uid=*")
    '(uid=\\\\2a\\\\29\\\\28uid=\\\\2a)'
    """
    return template.replace(PLACEHOLDER, ldap.filter.escape_filter_chars(name))


def canonical_name(name: str) -> str:
    """The name as the directory matches it, near enough: LDAP's usual matching rules
    (caseIgnoreMatch, RFC 4518's string preparation) ignore case, Unicode compatibility forms
    and extra spaces. Attempts are counted (lockout) and tokens issued under this form, so that
    ``Alice`` and ``alice `` are one subject with one lockout, not each a fresh five guesses.

    >>> canonical_name("  Alice  Smith ")
    'alice smith'
    """
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


class LdapIdentitySource:
    """One source system's accounts in a directory."""

    def __init__(self, source_system: str, config: LdapSource, *, admission: HashingAdmission,
                 directory: Directory | None = None) -> None:
        self.source_system = source_system
        self.config = config
        # The logins of this source wait for its own slots, not for argon2id's: a slow
        # directory cannot stall the built-in accounts (nor they it).
        self.admission = admission
        self.recheck_on_refresh = config.recheck_on_refresh
        self.directory = directory or Directory(source_system, config)
        self._scope = _SCOPES[config.scope]
        self._requested = config.attributes.requested or ["1.1"]  # RFC 4511 §4.5.1.8: no attributes
        # How long recent wrong passwords took to refuse (search and bind): a name that matches
        # no entry is answered no sooner, so that the time tells no one which names exist.
        self._refusals = Pace()

    def canonical_name(self, name: str) -> str:
        return canonical_name(name)

    def verify(self, name: str, password: str) -> Verified:
        if not password:
            # RFC 4513 §5.1.2: a bind with a name and no password is an unauthenticated bind,
            # which servers may answer with success.
            raise AuthenticationFailed(EMPTY_PASSWORD)
        started = time.perf_counter()
        with self.directory.session() as session:
            found = self._search(session, name)
            if len(found) == 1:
                dn, attributes = found[0]
                refused = self.directory.run(session, lambda binder: self._bind(binder, dn, password), on="binder")
                if refused is None:
                    return Verified(self._identity(name, attributes))
        if len(found) == 1:
            if refused == WRONG_PASSWORD:
                self._refusals.record(time.perf_counter() - started)
            raise AuthenticationFailed(refused, exists=refused in _EXISTS)
        self._as_long_as_a_refusal(started, password)
        raise AuthenticationFailed(UNKNOWN_ACCOUNT if not found else AMBIGUOUS_ACCOUNT)

    def confirm(self, verified: Verified, now: float) -> bool:
        # The directory holds the credential; nothing of it in mobproc's database can change.
        return True

    def dummy_check(self, password: str) -> None:
        """What a check costs, with no directory traffic: an attempt refused before its check
        (a locked subject) takes as long as a wrong password."""
        self._as_long_as_a_refusal(time.perf_counter(), password)

    def still_holds(self, identity: Identity) -> bool:
        """``recheck_on_refresh``: whether the entry of a grant's subject is still there (and
        matches ``enabled_filter``), by a search, no bind. :class:`SourceUnavailable` when the
        directory cannot say."""
        template = self.config.filter
        if self.config.enabled_filter:
            template = f"(&{template}{self.config.enabled_filter})"
        with self.directory.session() as session:
            return len(self._search(session, identity.name, template)) == 1

    # --- the two steps

    def _search(self, session: Session, name: str, template: str | None = None) -> list[tuple[str, dict]]:
        """The entries the name finds, at most two (more than one is ambiguous)."""
        query = search_filter(template or self.config.filter, name)

        def search(connection: Any) -> list[tuple[str, dict]]:
            try:
                found = connection.search_ext_s(self.config.base, self._scope, query, self._requested, sizelimit=2)
            except ldap.SIZELIMIT_EXCEEDED:
                return [("", {}), ("", {})]  # more than one
            except ldap.NO_SUCH_OBJECT as error:
                # The base is gone: a misconfiguration, not an unknown name.
                raise SourceUnavailable(f"the search base {self.config.base} does not exist",
                                        source_system=self.source_system) from error
            return [(dn, attributes) for dn, attributes in found if dn]  # not the referrals

        return self.directory.run(session, search)

    def _bind(self, binder: Any, dn: str, password: str) -> str | None:
        """None when the directory accepts the password, else its reason."""
        try:
            _, _, _, controls = binder.simple_bind_s(dn, password, serverctrls=[PasswordPolicyControl()])
        except ldap.INVALID_CREDENTIALS as error:
            detail = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
            return _refusal(detail)
        return next((_PPOLICY[c.error] for c in controls or () if isinstance(c, PasswordPolicyControl)
                     and c.error in _PPOLICY), None)

    def _identity(self, name: str, attributes: dict[str, list[bytes]]) -> Identity:
        mapping = self.config.attributes

        def value(mapped: Mapped | None) -> str | None:
            if mapped is None:
                return None
            if mapped.constant is not None:
                return mapped.constant
            values = next((v for k, v in attributes.items() if k.lower() == str(mapped.attribute).lower()), [])
            return values[0].decode("utf-8", "replace") if values else None

        username = Username(self.source_system, name)
        multitenant = (value(mapping.multitenant) or "").strip().lower() in _TRUE
        return Identity(str(username), self.source_system, name, value(mapping.tenant), multitenant,
                        value(mapping.domain))

    def _as_long_as_a_refusal(self, started: float, password: str) -> None:
        """Wait until a wrong password would have been answered (the median of recent ones).
        Before any, a bind of an entry that does not exist costs the directory's round trip."""
        if self._refusals.known:
            self._refusals.wait_since(started)
            return
        try:
            with self.directory.session() as session:
                dn = f"cn=mobproc-no-such-entry,{self.config.base}"
                self.directory.run(session, lambda binder: self._bind(binder, dn, password or "-"), on="binder")
        except SourceUnavailable:
            pass

    def probe(self) -> str | None:
        return self.directory.probe()

    def close(self) -> None:
        self.directory.close()


def _refusal(detail: dict[str, Any]) -> str:
    """Why the directory refused a bind: its password-policy control, Active Directory's
    diagnostic, or a wrong password."""
    for control in DecodeControlTuples(detail.get("ctrls") or []):
        if isinstance(control, PasswordPolicyControl) and control.error in _PPOLICY:
            return _PPOLICY[control.error]
    info = detail.get("info") or ""
    match = _AD_DATA.search(info.decode(errors="replace") if isinstance(info, bytes) else str(info))
    if match:
        return _ACTIVE_DIRECTORY.get(match.group(1).lower(), WRONG_PASSWORD)
    return WRONG_PASSWORD
