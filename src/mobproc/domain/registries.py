"""Changes to clients, accounts, roles and signing keys: validated, stored and audited in one
place, whoever asks (the command line, the admin API and its console, with the same rules).

Every change names its *actor*, which the audit trail keeps with it: ``cli:<os user>`` from
the command line, ``account:<username>`` or ``client:<client_id>`` from the admin API, with the
address the call came from (:class:`Actor`).

A change of an existing client or account may name the version it was made against
(``if_version``, the admin API's ``If-Match``): when the record has changed since, nothing is
written and :class:`Stale` says so. The condition is part of the write itself (an ``UPDATE …
WHERE version = ?``), so that of two operators editing at once one wins and the other is told.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Union

from . import audit, redirect_uris
from .audit import AuditEvent, AuditLog
from .clients import (
    GRANT_TYPES,
    PUBLIC_GRANT_TYPES,
    Client,
    ClientExists,
    check_imported_secret,
    generate_secret,
)
from .authorization import Consent, Consents
from .identities import Account, AccountExists, Username
from .lockout import LoginAttempts
from .passwords import PasswordHasher
from .pseudonyms import Pseudonyms
from .roles import Role, parse_role
from .signing_keys import SigningKeyRecord, SigningKeys


class InvalidChange(ValueError):
    """A change that breaks a rule; ``field`` names what to fix (the admin API answers it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFound(LookupError):
    pass


class AlreadyExists(ValueError):
    pass


class Stale(Exception):
    """The record changed since the version the change was made against (``if_version``)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, and from where: ``cli:alice``; ``account:command://bob`` or
    ``client:deploy-bot`` with the source address of their call."""

    name: str
    source_address: str | None = None

    def __str__(self) -> str:
        return self.name


Who = Union[Actor, str]


def _event(kind: str, who: Who, **fields: object) -> AuditEvent:
    """The audit event of a change made by ``who``."""
    actor = who if isinstance(who, Actor) else Actor(who)
    return AuditEvent(kind, actor=actor.name, source_address=actor.source_address, **fields)  # type: ignore[arg-type]


def _conditional(done: bool, exists: Callable[[], bool], what: str) -> None:
    """A conditional write that changed nothing: the record is gone (NotFound) or has moved on (Stale)."""
    if not done:
        if exists():
            raise Stale(f"{what} has changed since that version: read it again")
        raise NotFound(f"no {what}")


# --- clients --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientRegistration:
    """What a client is registered with (RFC 7591's vocabulary where it has a word for it)."""

    client_id: str
    grants: tuple[str, ...]
    scopes: tuple[str, ...] = ()
    # None: the one allowed scope, if there is one (a client allowed several must choose).
    default_scopes: tuple[str, ...] | None = None
    # Interactive sign-in (issue 20; README: Interactive sign-in).
    redirect_uris: tuple[str, ...] = ()
    public: bool = False  # RFC 6749 §2.1: no secret; PKCE then always required
    pkce: str = "required"  # or "optional", for a confidential client (RFC 9700 §2.1.1)
    trusted: bool = False  # first-party: no consent page
    access_token_lifetime: float | None = None  # seconds, at most the deployment's
    id_token_alg: str | None = None  # "RS256" (None: the default) or "ES256"

    @property
    def interactive(self) -> bool:
        """Whether a person signs in for it through the authorization endpoint."""
        return bool({"authorization_code", "implicit"} & set(self.grants))

    def validated(self) -> ClientRegistration:
        """The registration with repeats dropped, or :class:`InvalidChange`."""
        client_id = self.client_id
        if not 1 <= len(client_id) <= 255 or not client_id.isprintable() or ":" in client_id:
            # RFC 6749 §2.3.1: the id is form-encoded into HTTP Basic, where ':' separates it.
            raise InvalidChange("client_id", "a client id is 1 to 255 printable characters, without ':'")
        unknown = sorted(set(self.grants) - set(GRANT_TYPES))
        if unknown or not self.grants:
            raise InvalidChange("grants", f"unknown grant type {unknown[0]!r}; choose from {', '.join(GRANT_TYPES)}"
                                if unknown else f"a client needs a grant: {', '.join(GRANT_TYPES)}")
        for scope in self.scopes + (self.default_scopes or ()):
            if not scope or not scope.isprintable() or " " in scope or '"' in scope or "\\" in scope:
                raise InvalidChange("scopes", f"{scope!r} is not a scope (RFC 6749 §3.3: printable, no space, quote or backslash)")
        if self.default_scopes is not None and not set(self.default_scopes) <= set(self.scopes):
            raise InvalidChange("default_scopes", "every default scope must also be an allowed scope")
        if self.default_scopes is None and len(set(self.scopes)) > 1:
            # Least privilege (RFC 9700 §2.3): a request that names no scope gets what the
            # operator chose, not every scope the client may ask for; clients such as
            # requests-oauthlib refuse a token wider than the scope they were configured with.
            raise InvalidChange("default_scopes", "a client allowed several scopes needs default scopes: the "
                                "scopes a request without `scope` gets (--default-scope; README: Default scopes)")
        self._check_interactive()
        return ClientRegistration(
            client_id,
            tuple(dict.fromkeys(self.grants)),
            tuple(dict.fromkeys(self.scopes)),
            None if self.default_scopes is None else tuple(dict.fromkeys(self.default_scopes)),
            tuple(dict.fromkeys(self.redirect_uris)),
            self.public,
            self.pkce,
            self.trusted,
            self.access_token_lifetime,
            self.id_token_alg,
        )

    def _check_interactive(self) -> None:
        """The rules of the clients a person signs in to through the browser (issue 20)."""
        for uri in self.redirect_uris:
            try:
                redirect_uris.check(uri)
            except ValueError as error:
                raise InvalidChange("redirect_uris", str(error)) from None
        if self.interactive and not self.redirect_uris:
            # RFC 9700 §2.1: redirect URIs are registered, and matched exactly; none is guessed.
            raise InvalidChange("redirect_uris", "the authorization_code and implicit grants need a redirect URI "
                                "(--redirect-uri, repeatable)")
        if self.redirect_uris and not self.interactive:
            raise InvalidChange("redirect_uris", "redirect URIs are for the authorization_code and implicit grants")
        if self.public and not set(self.grants) <= set(PUBLIC_GRANT_TYPES):
            # A public client cannot keep a secret, so it cannot prove it is itself: no grant
            # that relies on that (password, client credentials, token validation).
            raise InvalidChange("grants", f"a public client may have only {', '.join(PUBLIC_GRANT_TYPES)}")
        if self.public and not self.interactive:
            raise InvalidChange("grants", "a public client needs authorization_code or implicit")
        if self.pkce not in ("required", "optional"):
            raise InvalidChange("pkce", "PKCE is 'required' or 'optional'")
        if self.pkce == "optional" and (self.public or "authorization_code" not in self.grants):
            # RFC 9700 §2.1.1: PKCE is what protects a public client's code; only a confidential
            # client, which also proves itself at the token endpoint, may do without it.
            raise InvalidChange("pkce", "PKCE may be optional only for a confidential client with authorization_code")
        if self.trusted and not self.interactive:
            raise InvalidChange("trusted", "only a client people sign in to can be trusted (it skips consent)")
        if self.id_token_alg is not None and (self.id_token_alg not in ("RS256", "ES256") or not self.interactive):
            raise InvalidChange("id_token_alg", "an ID token algorithm is RS256 or ES256, for a client people sign in to")
        if self.access_token_lifetime is not None and not 1 <= self.access_token_lifetime <= 86400:
            raise InvalidChange("access_token_lifetime", "an access-token lifetime is 1 to 86400 seconds")


@dataclass(frozen=True, slots=True)
class ClientFilter:
    """Which clients a page lists: an id prefix, enabled or not, allowed a grant type."""

    prefix: str | None = None
    enabled: bool | None = None
    grant: str | None = None


class ClientStorage(Protocol):
    """Every change moves the client's version; with ``if_version`` it is made only on that
    version (False: no such client, or another version)."""

    def add_client(self, client_id: str, secret: str, grant_types: Iterable[str], scopes: Iterable[str],
                   default_scopes: Iterable[str] | None = None, *, redirect_uris: Iterable[str] = (),
                   public: bool = False, pkce_required: bool = True, trusted: bool = False,
                   access_token_lifetime: float | None = None, id_token_alg: str | None = None) -> Client: ...
    def find_client(self, client_id: str) -> Client | None: ...
    def list_clients(self) -> list[Client]: ...
    def page_clients(self, where: ClientFilter, offset: int, limit: int) -> tuple[list[Client], int]: ...
    def remove_client(self, client_id: str, if_version: int | None = None) -> bool: ...
    def set_enabled(self, client_id: str, enabled: bool, if_version: int | None = None) -> bool: ...
    def replace_secret(self, client_id: str, secret: str, if_version: int | None = None) -> bool: ...
    def update_client(self, client_id: str, grant_types: Iterable[str], scopes: Iterable[str],
                      default_scopes: Iterable[str] | None, redirect_uris: Iterable[str], if_version: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A client secret as it is handed out once (only its digest is stored); None for a public
    client, which has none."""

    client: Client
    secret: str | None = field(repr=False)


class ClientRegistry:
    def __init__(self, store: ClientStorage, audit_log: AuditLog) -> None:
        self._store = store
        self._audit = audit_log

    def register(self, registration: ClientRegistration, *, actor: Who, secret: str | None = None) -> NewSecret:
        """Register a client with ``secret`` (imported: 32 characters or more) or a new one (a
        public client has none: give none)."""
        registration = registration.validated()
        if registration.public and secret is not None:
            raise InvalidChange("client_secret", "a public client has no secret")
        secret = _new_secret(secret)
        try:
            client = self._store.add_client(
                registration.client_id, secret, registration.grants, registration.scopes,
                registration.default_scopes, redirect_uris=registration.redirect_uris, public=registration.public,
                pkce_required=registration.pkce == "required", trusted=registration.trusted,
                access_token_lifetime=registration.access_token_lifetime, id_token_alg=registration.id_token_alg,
            )
        except ClientExists:
            raise AlreadyExists(f"client {registration.client_id} exists already") from None
        kind = [word for word, on in (("public", registration.public), ("trusted", registration.trusted),
                                      ("pkce=optional", registration.pkce == "optional")) if on]
        self._audit.record(_event(
            audit.CLIENT_ADDED, actor, client_id=client.client_id,
            detail=" ".join([f"grants={','.join(registration.grants)} scopes={','.join(registration.scopes)}",
                             *([f"redirect_uris={','.join(registration.redirect_uris)}"]
                               if registration.redirect_uris else []), *kind]),
        ))
        return NewSecret(client, None if registration.public else secret)

    def find(self, client_id: str) -> Client:
        client = self._store.find_client(client_id)
        if client is None:
            raise NotFound(f"no client {client_id}")
        return client

    def list(self) -> list[Client]:
        return self._store.list_clients()

    def page(self, where: ClientFilter = ClientFilter(), *, offset: int = 0, limit: int = 50) -> tuple[list[Client], int]:
        """One page of the clients ``where`` selects, by client id, and how many it selects in all."""
        _check_prefix(where.prefix or "")
        return self._store.page_clients(where, offset, limit)

    def _exists(self, client_id: str) -> Callable[[], bool]:
        return lambda: self._store.find_client(client_id) is not None

    def remove(self, client_id: str, *, actor: Who, if_version: int | None = None) -> None:
        """Remove a client; every grant and token it holds ends with it."""
        _conditional(self._store.remove_client(client_id, if_version), self._exists(client_id), f"client {client_id}")
        self._audit.record(_event(audit.CLIENT_REMOVED, actor, client_id=client_id,
                                  detail="its grants and tokens removed"))

    def set_enabled(self, client_id: str, enabled: bool, *, actor: Who, if_version: int | None = None) -> Client:
        """A disabled client cannot authenticate; its grants are unusable meanwhile."""
        _conditional(self._store.set_enabled(client_id, enabled, if_version), self._exists(client_id),
                     f"client {client_id}")
        self._audit.record(_event(audit.CLIENT_ENABLED if enabled else audit.CLIENT_DISABLED, actor,
                                  client_id=client_id))
        return self.find(client_id)

    def rotate_secret(self, client_id: str, *, actor: Who, secret: str | None = None,
                      if_version: int | None = None) -> NewSecret:
        """A new secret; the old one stops working at once (in this process; elsewhere within
        MOBPROC_CLIENT_CACHE_SECONDS)."""
        if self.find(client_id).public:
            raise InvalidChange("client_secret", f"client {client_id} is public: it has no secret")
        secret = _new_secret(secret)
        _conditional(self._store.replace_secret(client_id, secret, if_version), self._exists(client_id),
                     f"client {client_id}")
        self._audit.record(_event(audit.CLIENT_SECRET_ROTATED, actor, client_id=client_id))
        return NewSecret(self.find(client_id), secret)

    def update(self, client_id: str, *, actor: Who, grants: Sequence[str] | None = None,
               scopes: Sequence[str] | None = None, default_scopes: Sequence[str] | None = None,
               redirect_uris: Sequence[str] | None = None, if_version: int | None = None) -> Client:
        """Change what a client is allowed, and where a browser may be sent back to it (what is
        not given stays; the rules are a new registration's). Scopes changed without default
        scopes keep the defaults that are still allowed. Its tokens keep the scope they were
        issued with until they expire; a refresh may ask only for what is allowed now."""
        for _attempt in range(3):
            current = self.find(client_id)
            if if_version is not None and current.version != if_version:
                raise Stale(f"client {client_id} has changed since that version: read it again")
            new_scopes = tuple(scopes) if scopes is not None else tuple(sorted(current.scopes))
            if default_scopes is not None:
                defaults: tuple[str, ...] | None = tuple(default_scopes)
            else:
                defaults = tuple(s for s in current.default_scopes if s in new_scopes) or None
            registration = ClientRegistration(
                client_id, tuple(grants) if grants is not None else tuple(sorted(current.grant_types)),
                new_scopes, defaults,
                tuple(redirect_uris) if redirect_uris is not None else current.redirect_uris,
                current.public, "required" if current.pkce_required else "optional", current.trusted,
                current.access_token_lifetime,
            ).validated()
            # Read, then written on the version read: a change made between the two is never
            # overwritten (without If-Match the merge is simply made again on the new version).
            if self._store.update_client(client_id, registration.grants, registration.scopes,
                                         registration.default_scopes, registration.redirect_uris, current.version):
                break
            if if_version is not None:
                _conditional(False, self._exists(client_id), f"client {client_id}")
        else:
            raise Stale(f"client {client_id} kept changing: try again")
        uris = f" redirect_uris={','.join(registration.redirect_uris)}" if registration.redirect_uris else ""
        self._audit.record(_event(
            audit.CLIENT_UPDATED, actor, client_id=client_id,
            detail=f"grants={','.join(registration.grants)} scopes={','.join(registration.scopes)} "
                   f"default_scopes={','.join(registration.default_scopes or registration.scopes)}{uris}",
        ))
        return self.find(client_id)


def _new_secret(imported: str | None) -> str:
    """A secret made here, or one imported (32 characters or more)."""
    if imported is None:
        return generate_secret()
    try:
        check_imported_secret(imported)
    except ValueError as error:
        raise InvalidChange("client_secret", str(error)) from None
    return imported


# --- accounts --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountAttributes:
    """What the MOBPROC API needs to authorize an account (CONTRACT §2)."""

    tenant: str | None = None
    multitenant: bool = False
    domain: str | None = None

    def validated(self) -> AccountAttributes:
        if self.tenant is not None and not (0 < len(self.tenant) <= 64 and self.tenant.isprintable()):
            raise InvalidChange("tenant", "a tenant code is 1 to 64 printable characters")
        if self.domain is not None and not (0 < len(self.domain) <= 255 and self.domain.isprintable()):
            raise InvalidChange("domain", "a domain is 1 to 255 printable characters")
        return self


class AccountStorage(Protocol):
    """As :class:`ClientStorage`: every change moves the version, ``if_version`` conditions it."""

    def add_account(self, username: Username, password_hash: str, *, tenant: str | None = None,
                    multitenant: bool = False, domain: str | None = None) -> Account: ...
    def find_account(self, source_system: str, name: str) -> Account | None: ...
    def list_accounts(self) -> list[Account]: ...
    def search_accounts(self, prefix: str, source_system: str | None, offset: int,
                        limit: int) -> tuple[list[Account], int]: ...
    def remove_account(self, username: Username, if_version: int | None = None) -> bool: ...
    def set_password_hash(self, username: Username, password_hash: str, if_version: int | None = None) -> bool: ...


class RoleStorage(Protocol):
    def roles_of(self, subjects: list[str]) -> dict[str, tuple[str, ...]]: ...
    def grant_role(self, subject: str, role: str, granted_by: str, now: float) -> bool: ...
    def revoke_role(self, subject: str, role: str) -> bool: ...
    def revoke_roles(self, subject: str) -> None: ...


@dataclass(frozen=True, slots=True)
class GrantView:
    """A grant as an operator sees it: one login (or client-credentials request) and every token
    descended from it; ``active`` while it can still be used (neither revoked nor expired)."""

    grant_id: int
    client_id: str
    grant_type: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and time.time() < self.expires_at


class GrantStorage(Protocol):
    def grants_of(self, subject: str, account_id: int | None, limit: int) -> list[GrantView]: ...
    def revoke_grant_of(self, subject: str, grant_id: int) -> bool | None:
        """True: revoked now; False: revoked already; None: no such grant of the subject's."""
        ...


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account as an operator sees it: with its lockout in force, if any, and its roles."""

    account: Account
    locked_until: float | None
    roles: tuple[str, ...] = ()


class LockoutStates(Protocol):
    def locked_until(self, keys: list[bytes], now: float) -> dict[bytes, float]: ...


class AccountRegistry:
    """Accounts of the built-in identity sources. A directory's accounts are the directory's:
    here they can only be unlocked, given roles and have their grants revoked (lockout, roles
    and grants are mobproc's, kept by subject)."""

    def __init__(
        self,
        store: AccountStorage,
        hasher: PasswordHasher,
        attempts: LoginAttempts,
        lockout_states: LockoutStates,
        pseudonyms: Pseudonyms,
        audit_log: AuditLog,
        *,
        source_systems: Sequence[str],
        directories: Mapping[str, Callable[[str], str]] | None = None,
        consents: Consents | None = None,
        roles: RoleStorage | None = None,
        grants: GrantStorage | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._attempts = attempts
        self._lockout_states = lockout_states
        self._pseudonyms = pseudonyms
        self._audit = audit_log
        self._roles = roles
        self._grants = grants
        self.source_systems = tuple(source_systems)
        # The source systems backed by a directory, each with its canonical form of a name.
        self._directories = dict(directories or {})
        self._consents = consents

    def _subject(self, username: str) -> str:
        """The subject ``username`` names, in a directory's canonical form where it has one."""
        parsed = self.parse(username)
        canonical = self._directories.get(parsed.source_system)
        return str(Username(parsed.source_system, canonical(parsed.name)) if canonical is not None else parsed)

    def consents(self, username: str) -> list[Consent]:
        """What the account allowed which client (the sign-in's consent page)."""
        assert self._consents is not None
        return self._consents.list(self._subject(username))

    def revoke_consent(self, username: str, client_id: str | None = None, *, actor: Who) -> int:
        """Withdraw the consent given to ``client_id`` (None: to every client): the next sign-in
        asks again. Tokens already issued stay until revoked or expired."""
        assert self._consents is not None
        subject = self._subject(username)
        withdrawn = self._consents.withdraw(subject, client_id)
        if not withdrawn:
            raise NotFound(f"no consent of {subject}" + (f" to {client_id}" if client_id else ""))
        self._audit.record(_event(audit.CONSENT_REVOKED, actor, subject=subject, client_id=client_id,
                                  detail=f"{withdrawn} consent(s) withdrawn"))
        return withdrawn

    def parse(self, username: str) -> Username:
        """``command://alice``, ``rivermine://alice`` or a bare platform name, of an enabled source system."""
        try:
            parsed = Username.parse(username)
        except ValueError as error:
            raise InvalidChange("username", str(error)) from None
        if parsed.source_system not in self.source_systems:
            raise InvalidChange("username", f"source system {parsed.source_system!r} is not enabled (MOBPROC_SOURCE_SYSTEMS)")
        return parsed

    def _builtin(self, username: str) -> Username:
        """``username``, of a source system whose accounts are mobproc's own."""
        parsed = self.parse(username)
        if parsed.source_system in self._directories:
            raise InvalidChange("username", f"source system {parsed.source_system!r} is backed by a directory "
                                            "(MOBPROC_IDENTITY_SOURCES): its accounts are managed there")
        return parsed

    def _owner(self, username: str) -> tuple[Username, Account | None]:
        """The account's one spelling (a directory's canonical form) and its row, if it is a
        built-in account; NotFound for a built-in account that does not exist."""
        parsed = self.parse(username)
        canonical = self._directories.get(parsed.source_system)
        if canonical is not None:  # a directory's account has no row here
            return Username(parsed.source_system, canonical(parsed.name)), None
        account = self._store.find_account(parsed.source_system, parsed.name)
        if account is None:
            raise NotFound(f"no account {parsed}")
        return parsed, account

    def _exists(self, parsed: Username) -> Callable[[], bool]:
        return lambda: self._store.find_account(parsed.source_system, parsed.name) is not None

    def add(self, username: str, password: str, attributes: AccountAttributes = AccountAttributes(), *,
            actor: Who) -> Account:
        parsed = self._builtin(username)
        attributes = attributes.validated()
        _check_password(password)
        try:
            account = self._store.add_account(parsed, self._hasher.hash(password), tenant=attributes.tenant,
                                              multitenant=attributes.multitenant, domain=attributes.domain)
        except AccountExists:
            raise AlreadyExists(f"account {parsed} exists already") from None
        self._audit.record(_event(
            audit.ACCOUNT_ADDED, actor, subject=str(parsed),
            detail=f"tenant={attributes.tenant or '-'} multitenant={str(attributes.multitenant).lower()}",
        ))
        return account

    def find(self, username: str) -> AccountView:
        parsed = self.parse(username)
        account = self._store.find_account(parsed.source_system, parsed.name)
        if account is None:
            raise NotFound(f"no account {parsed}")
        return self._views([account])[0]

    def list(self) -> list[AccountView]:
        return self._views(self._store.list_accounts())

    def search(self, prefix: str = "", source_system: str | None = None, *, offset: int = 0,
               limit: int = 50) -> tuple[list[AccountView], int]:
        """One page of the built-in accounts whose name starts with ``prefix`` (of one source
        system, or of all), by name, and how many match in all."""
        if source_system is not None and source_system not in self.source_systems:
            raise InvalidChange("source_system", f"source system {source_system!r} is not enabled (MOBPROC_SOURCE_SYSTEMS)")
        _check_prefix(prefix)
        accounts, total = self._store.search_accounts(prefix, source_system, offset, limit)
        return self._views(accounts), total

    def _views(self, accounts: list[Account]) -> list[AccountView]:
        keys = {self._pseudonyms.attempts_key(str(account.username)): account for account in accounts}
        locked = self._lockout_states.locked_until(list(keys), time.time())
        roles = self._roles.roles_of([str(a.username) for a in accounts]) if self._roles and accounts else {}
        return [AccountView(account, locked.get(key), roles.get(str(account.username), ()))
                for key, account in keys.items()]

    def remove(self, username: str, *, actor: Who, if_version: int | None = None) -> None:
        """Remove an account; every grant and token it holds ends with it, and its roles."""
        parsed = self.parse(username)
        _conditional(self._store.remove_account(parsed, if_version), self._exists(parsed), f"account {parsed}")
        if self._roles is not None:
            self._roles.revoke_roles(str(parsed))
        self._audit.record(_event(audit.ACCOUNT_REMOVED, actor, subject=str(parsed),
                                  detail="its grants, tokens, browser sessions, consents and roles removed"))

    def set_password(self, username: str, password: str, *, actor: Who, if_version: int | None = None) -> None:
        """A new password; every grant made with the old one, and every login still being
        checked against it, ends (setting a password does not unlock)."""
        parsed = self._builtin(username)
        _check_password(password)
        _conditional(self._store.set_password_hash(parsed, self._hasher.hash(password), if_version),
                     self._exists(parsed), f"account {parsed}")
        self._audit.record(_event(audit.PASSWORD_SET, actor, subject=str(parsed),
                                  detail="its grants revoked, its browser sessions ended"))

    def unlock(self, username: str, *, actor: Who) -> None:
        """End a lockout now and forget the failure streak."""
        parsed, _account = self._owner(username)
        self._attempts.unlock(self._pseudonyms.attempts_key(str(parsed)))
        self._audit.record(_event(audit.ACCOUNT_UNLOCKED, actor, subject=str(parsed)))

    # --- roles of the admin API (mobproc.domain.roles)

    def roles_of(self, subject: str) -> tuple[Role, ...]:
        """The roles ``subject`` (a token's subject) holds now."""
        if self._roles is None:
            return ()
        return tuple(Role(name) for name in self._roles.roles_of([subject]).get(subject, ()) if name in set(Role))

    def _role(self, role: str) -> Role:
        try:
            return parse_role(role)
        except ValueError as error:
            raise InvalidChange("role", str(error)) from None

    def grant_role(self, username: str, role: str, *, actor: Who) -> bool:
        """Give an account a role (False: it held it already). A directory's account may hold
        one: the directory checks its password, mobproc what it may do here."""
        parsed, _account = self._owner(username)
        granted = self._role(role)
        assert self._roles is not None
        added = self._roles.grant_role(str(parsed), granted.value, str(actor), time.time())
        if added:
            self._audit.record(_event(audit.ROLE_GRANTED, actor, subject=str(parsed), detail=f"role={granted.value}"))
        return added

    def revoke_role(self, username: str, role: str, *, actor: Who) -> None:
        """Take a role away; the account's tokens can no longer act in it, at once."""
        parsed = self.parse(username)
        canonical = self._directories.get(parsed.source_system)
        if canonical is not None:
            parsed = Username(parsed.source_system, canonical(parsed.name))
        revoked = self._role(role)
        assert self._roles is not None
        if not self._roles.revoke_role(str(parsed), revoked.value):
            raise NotFound(f"account {parsed} does not hold the role {revoked.value}")
        self._audit.record(_event(audit.ROLE_REVOKED, actor, subject=str(parsed), detail=f"role={revoked.value}"))

    # --- an account's grants

    def grants(self, username: str, *, limit: int = 200) -> list[GrantView]:
        """The account's grants, newest first (the latest ``limit``)."""
        parsed, account = self._owner(username)
        assert self._grants is not None
        return self._grants.grants_of(str(parsed), account.id if account else None, limit)

    def revoke_grant(self, username: str, grant_id: int, *, actor: Who) -> None:
        """End one of the account's grants: its refresh token and every access token from it."""
        parsed, _account = self._owner(username)
        assert self._grants is not None
        revoked = self._grants.revoke_grant_of(str(parsed), grant_id)
        if revoked is None:
            raise NotFound(f"account {parsed} has no grant {grant_id}")
        if revoked:
            self._audit.record(_event(audit.GRANT_REVOKED, actor, subject=str(parsed), grant_id=grant_id,
                                      reason="operator"))


# --- signing keys -------------------------------------------------------------------------------


class SigningKeyRegistry:
    """Rotation of the keys of one ring (:class:`SigningKeys`: the JWT access tokens', or
    ``id_token``, OpenID Connect's ID tokens'), audited."""

    def __init__(self, keys: SigningKeys, audit_log: AuditLog, *, ring: str = "access") -> None:
        self._keys = keys
        self._audit = audit_log
        self._ring = ring

    def list(self) -> list[SigningKeyRecord]:
        """Every key of the environment, newest first."""
        return self._keys.records()

    def rotate(self, *, actor: Who, now: bool = False) -> tuple[SigningKeyRecord, bool]:
        """Stage a new key (``now``: it signs at once and every other stops). The key, and
        whether it is new (False: one was staged already, and is answered as it is)."""
        before = {record.kid for record in self._keys.records()}
        key = self._keys.rotate(now=now)
        if key.kid not in before:
            self._audit.record(_event(audit.SIGNING_KEY_ROTATED, actor,
                                      detail=f"ring={self._ring} kid={key.kid} {key.state(time.time())}"))
        return key, key.kid not in before

    def retire(self, kid: str, *, actor: Who) -> SigningKeyRecord:
        """The key ``kid`` stops signing now (a compromised key): a new key signs at once and every
        other stops, as ``mobproc keys rotate --now``. The new key is answered."""
        record = next((record for record in self._keys.records() if record.kid == kid), None)
        if record is None:
            raise NotFound(f"no signing key {kid}")
        if record.state(time.time()) not in ("active", "staged"):
            raise InvalidChange("kid", f"signing key {kid} signs no more already ({record.state(time.time())})")
        key = self._keys.rotate(now=True)
        self._audit.record(_event(audit.SIGNING_KEY_RETIRED, actor, detail=f"kid={kid} replaced_by={key.kid}"))
        return key


def _check_prefix(prefix: str) -> None:
    """What a search may start with: what a name may hold (printable, 255 characters at most)."""
    if len(prefix) > 255 or not prefix.isprintable():
        raise InvalidChange("prefix", "a prefix is at most 255 printable characters")


MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a megabyte of password is a denial of service


def _check_password(password: str) -> None:
    if not password:
        raise InvalidChange("password", "the password is empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidChange("password", f"a password is at most {MAX_PASSWORD_LENGTH} characters")
