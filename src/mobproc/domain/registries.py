"""Changes to clients and accounts: validated, stored and audited in one place, whoever asks
(the command line today; the admin API with the same rules).

Every change names its *actor*, which the audit trail keeps with it: ``cli:<os user>`` from
the command line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

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


class InvalidChange(ValueError):
    """A change that breaks a rule; ``field`` names what to fix (the admin API answers it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFound(LookupError):
    pass


class AlreadyExists(ValueError):
    pass


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


class ClientStorage(Protocol):
    def add_client(self, client_id: str, secret: str, grant_types: Iterable[str], scopes: Iterable[str],
                   default_scopes: Iterable[str] | None = None, *, redirect_uris: Iterable[str] = (),
                   public: bool = False, pkce_required: bool = True, trusted: bool = False,
                   access_token_lifetime: float | None = None, id_token_alg: str | None = None) -> Client: ...
    def find_client(self, client_id: str) -> Client | None: ...
    def list_clients(self) -> list[Client]: ...
    def remove_client(self, client_id: str) -> bool: ...
    def set_enabled(self, client_id: str, enabled: bool) -> bool: ...
    def replace_secret(self, client_id: str, secret: str) -> bool: ...


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

    def register(self, registration: ClientRegistration, *, actor: str, secret: str | None = None) -> NewSecret:
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
        self._audit.record(AuditEvent(
            audit.CLIENT_ADDED, client_id=client.client_id, actor=actor,
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

    def remove(self, client_id: str, *, actor: str) -> None:
        """Remove a client; every grant and token it holds ends with it."""
        if not self._store.remove_client(client_id):
            raise NotFound(f"no client {client_id}")
        self._audit.record(AuditEvent(audit.CLIENT_REMOVED, client_id=client_id, actor=actor,
                                      detail="its grants and tokens removed"))

    def set_enabled(self, client_id: str, enabled: bool, *, actor: str) -> None:
        """A disabled client cannot authenticate; its grants are unusable meanwhile."""
        if not self._store.set_enabled(client_id, enabled):
            raise NotFound(f"no client {client_id}")
        self._audit.record(AuditEvent(audit.CLIENT_ENABLED if enabled else audit.CLIENT_DISABLED,
                                      client_id=client_id, actor=actor))

    def rotate_secret(self, client_id: str, *, actor: str, secret: str | None = None) -> NewSecret:
        """A new secret; the old one stops working at once (in this process; elsewhere within
        MOBPROC_CLIENT_CACHE_SECONDS)."""
        if self.find(client_id).public:
            raise InvalidChange("client_secret", f"client {client_id} is public: it has no secret")
        secret = _new_secret(secret)
        if not self._store.replace_secret(client_id, secret):
            raise NotFound(f"no client {client_id}")
        self._audit.record(AuditEvent(audit.CLIENT_SECRET_ROTATED, client_id=client_id, actor=actor))
        return NewSecret(self.find(client_id), secret)


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
    def add_account(self, username: Username, password_hash: str, *, tenant: str | None = None,
                    multitenant: bool = False, domain: str | None = None) -> Account: ...
    def find_account(self, source_system: str, name: str) -> Account | None: ...
    def list_accounts(self) -> list[Account]: ...
    def remove_account(self, username: Username) -> bool: ...
    def set_password_hash(self, username: Username, password_hash: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account as an operator sees it: with its lockout in force, if any."""

    account: Account
    locked_until: float | None


class LockoutStates(Protocol):
    def locked_until(self, keys: list[bytes], now: float) -> dict[bytes, float]: ...


class AccountRegistry:
    """Accounts of the built-in identity sources. A directory's accounts are the directory's:
    here they can only be unlocked (lockout is mobproc's, kept by subject)."""

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
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._attempts = attempts
        self._lockout_states = lockout_states
        self._pseudonyms = pseudonyms
        self._audit = audit_log
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

    def revoke_consent(self, username: str, client_id: str | None = None, *, actor: str) -> int:
        """Withdraw the consent given to ``client_id`` (None: to every client): the next sign-in
        asks again. Tokens already issued stay until revoked or expired."""
        assert self._consents is not None
        subject = self._subject(username)
        withdrawn = self._consents.withdraw(subject, client_id)
        if not withdrawn:
            raise NotFound(f"no consent of {subject}" + (f" to {client_id}" if client_id else ""))
        self._audit.record(AuditEvent(audit.CONSENT_REVOKED, subject=subject, client_id=client_id, actor=actor,
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

    def add(self, username: str, password: str, attributes: AccountAttributes = AccountAttributes(), *,
            actor: str) -> Account:
        parsed = self._builtin(username)
        attributes = attributes.validated()
        _check_password(password)
        try:
            account = self._store.add_account(parsed, self._hasher.hash(password), tenant=attributes.tenant,
                                              multitenant=attributes.multitenant, domain=attributes.domain)
        except AccountExists:
            raise AlreadyExists(f"account {parsed} exists already") from None
        self._audit.record(AuditEvent(
            audit.ACCOUNT_ADDED, subject=str(parsed), actor=actor,
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

    def _views(self, accounts: list[Account]) -> list[AccountView]:
        keys = {self._pseudonyms.attempts_key(str(account.username)): account for account in accounts}
        locked = self._lockout_states.locked_until(list(keys), time.time())
        return [AccountView(account, locked.get(key)) for key, account in keys.items()]

    def remove(self, username: str, *, actor: str) -> None:
        """Remove an account; every grant and token it holds ends with it."""
        parsed = self.parse(username)
        if not self._store.remove_account(parsed):
            raise NotFound(f"no account {parsed}")
        self._audit.record(AuditEvent(audit.ACCOUNT_REMOVED, subject=str(parsed), actor=actor,
                                      detail="its grants, tokens, browser sessions and consents removed"))

    def set_password(self, username: str, password: str, *, actor: str) -> None:
        """A new password; every grant made with the old one, and every login still being
        checked against it, ends (setting a password does not unlock)."""
        parsed = self._builtin(username)
        _check_password(password)
        if not self._store.set_password_hash(parsed, self._hasher.hash(password)):
            raise NotFound(f"no account {parsed}")
        self._audit.record(AuditEvent(audit.PASSWORD_SET, subject=str(parsed), actor=actor,
                                      detail="its grants revoked, its browser sessions ended"))

    def unlock(self, username: str, *, actor: str) -> None:
        """End a lockout now and forget the failure streak."""
        parsed = self.parse(username)
        canonical = self._directories.get(parsed.source_system)
        if canonical is not None:  # a directory's account has no row here; its lockout does
            parsed = Username(parsed.source_system, canonical(parsed.name))
        elif self._store.find_account(parsed.source_system, parsed.name) is None:
            raise NotFound(f"no account {parsed}")
        self._attempts.unlock(self._pseudonyms.attempts_key(str(parsed)))
        self._audit.record(AuditEvent(audit.ACCOUNT_UNLOCKED, subject=str(parsed), actor=actor))


MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a megabyte of password is a denial of service


def _check_password(password: str) -> None:
    if not password:
        raise InvalidChange("password", "the password is empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidChange("password", f"a password is at most {MAX_PASSWORD_LENGTH} characters")
