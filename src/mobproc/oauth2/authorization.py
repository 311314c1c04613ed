"""RFC 6749 §3.1: the authorization endpoint, independent of HTTP. It validates an
authorization request, and, once a person has signed in (and consented), answers the redirect
that carries the code (§4.1.2) or, for a client registered for the implicit grant, the token
(§4.2.2).

Where an error goes is the security question (§4.1.2.1): "If the request fails due to a
missing, invalid, or mismatching redirection URI, or if the client identifier is missing or
invalid, the authorization server SHOULD inform the resource owner of the error and MUST NOT
automatically redirect the user-agent to the invalid redirection URI." Those are
:class:`AuthorizationPageError`: an error page, never a redirect (mobproc is never an open
redirector). Every later error is :class:`AuthorizationRedirectError`, sent back to the
client's registered redirect URI with ``error``, ``error_description``, ``state`` and ``iss``
(RFC 9207, against mix-up attacks).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ..domain import audit, redirect_uris
from ..domain.audit import AuditEvent
from ..domain.authorization import AuthorizationCodes, CodeGrant, valid_challenge
from ..domain.clients import Client, ClientStore
from ..domain.identities import Identity
from ..domain.secrets import short_id
from ..domain.tokens import Authorization, GrantOwnerGone, TokenFactory
from .errors import InvalidScopeError
from .grants.storage import GrantStorage
from .request import MAX_PARAMETERS
from .scope import format_scope, requested_scope

# response_type -> the grant type a client must be registered for.
RESPONSE_TYPES = {"code": "authorization_code", "token": "implicit"}
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
MAX_PARAMETER_LENGTH = 2048
# The parameters of the request itself, as the sign-in forms carry them from page to page.
REQUEST_PARAMETERS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                      "code_challenge_method", "nonce", "login_hint", "prompt", "max_age", "response_mode")


class AuthorizationPageError(Exception):
    """The client or its redirect URI is not known to be genuine: told to the person on a page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class RedirectTarget:
    """Where a response goes: the registered redirect URI, how (query or fragment), and the
    client's ``state`` to return exactly as it was sent (RFC 6749 §4.1.2)."""

    redirect_uri: str
    fragment: bool
    state: str | None

    def url(self, issuer: str, **values: str | None) -> str:
        """The redirect URI with ``values``, ``state`` and ``iss`` added (RFC 9207 §2)."""
        pairs = [(name, value) for name, value in values.items() if value is not None]
        if self.state is not None:
            pairs.append(("state", self.state))
        pairs.append(("iss", issuer))
        encoded = urlencode(pairs)
        if self.fragment:
            return f"{self.redirect_uri}#{encoded}"
        # RFC 6749 §3.1.2: a registered URI's own query is kept.
        return f"{self.redirect_uri}{'&' if '?' in self.redirect_uri else '?'}{encoded}"


class AuthorizationRedirectError(Exception):
    """RFC 6749 §4.1.2.1 and OpenID Connect Core §3.1.2.6: an error told to the client."""

    def __init__(self, target: RedirectTarget, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.target, self.error, self.description = target, error, description

    def url(self, issuer: str) -> str:
        return self.target.url(issuer, error=self.error, error_description=self.description)


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request."""

    client: Client
    target: RedirectTarget
    redirect_uri: str  # as the request gave it ("" when it gave none: the one registered is used)
    response_type: str
    scope: tuple[str, ...]
    code_challenge: str | None
    nonce: str | None
    login_hint: str | None
    prompt: frozenset[str]
    max_age: int | None
    parameters: Mapping[str, str] = field(repr=False)

    @property
    def grant_type(self) -> str:
        return RESPONSE_TYPES[self.response_type]

    def error(self, error: str, description: str) -> AuthorizationRedirectError:
        return AuthorizationRedirectError(self.target, error, description)


def read_parameters(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], frozenset[str]]:
    """The request's parameters, and the names given more than once with different values
    (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once").
    Empty values count as absent (§3.1)."""
    params: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in pairs[: MAX_PARAMETERS * 2]:
        if value == "":
            continue
        if params.setdefault(name, value) != value:
            repeated.add(name)
    return params, frozenset(repeated)


class AuthorizationEndpoint:
    def __init__(self, clients: ClientStore, codes: AuthorizationCodes, tokens: TokenFactory, storage: GrantStorage,
                 *, issuer: str) -> None:
        self._clients = clients
        self._codes = codes
        self._tokens = tokens
        self._storage = storage
        self.issuer = issuer

    def validate(self, params: Mapping[str, str], repeated: frozenset[str] = frozenset()) -> AuthorizationRequest:
        """RFC 6749 §4.1.1, §4.2.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1."""
        client = self._client(params, repeated)
        target = RedirectTarget(self._redirect_uri(client, params, repeated), params.get("response_type") == "token",
                                params.get("state"))

        def refuse(error: str, description: str) -> AuthorizationRedirectError:
            return AuthorizationRedirectError(target, error, description)

        if repeated:
            raise refuse("invalid_request", f"{sorted(repeated)[0]} is given more than once")
        if any(len(value) > MAX_PARAMETER_LENGTH for value in params.values()):
            raise refuse("invalid_request", f"a parameter is longer than {MAX_PARAMETER_LENGTH} characters")
        if any("\x00" in value for value in params.values()):
            raise refuse("invalid_request", "parameters must not contain NUL characters")
        response_type = params.get("response_type")
        if response_type is None:
            raise refuse("invalid_request", "response_type is required")
        if response_type not in RESPONSE_TYPES:
            raise refuse("unsupported_response_type", "response_type is code (or token, for a client registered "
                                                      "for the implicit grant)")
        if RESPONSE_TYPES[response_type] not in client.grant_types:
            raise refuse("unauthorized_client", f"the client is not registered for response_type={response_type}")
        if "request" in params or "request_uri" in params:
            raise refuse("request_not_supported" if "request" in params else "request_uri_not_supported",
                         "request objects are not supported")
        mode = params.get("response_mode")
        if mode is not None and mode != ("fragment" if target.fragment else "query"):
            raise refuse("invalid_request", f"response_mode for response_type={response_type} is "
                                            f"{'fragment' if target.fragment else 'query'}")
        try:
            scope = requested_scope(params.get("scope"), client)
        except InvalidScopeError as error:
            raise refuse("invalid_scope", error.description) from None
        if not scope:
            raise refuse("invalid_scope", "the client has no default scope: name one")
        challenge = self._pkce(client, params, response_type, refuse)
        prompt = frozenset(params.get("prompt", "").split())
        if not prompt <= PROMPTS or ("none" in prompt and len(prompt) > 1):
            raise refuse("invalid_request", "prompt is none, or any of login, consent, select_account")
        max_age = params.get("max_age")
        if max_age is not None and not (max_age.isascii() and max_age.isdigit() and len(max_age) < 10):
            raise refuse("invalid_request", "max_age is a number of seconds")
        return AuthorizationRequest(
            client, target, params.get("redirect_uri", ""), response_type, scope, challenge, params.get("nonce"),
            params.get("login_hint"), prompt, int(max_age) if max_age is not None else None,
            {name: params[name] for name in REQUEST_PARAMETERS if name in params},
        )

    def _client(self, params: Mapping[str, str], repeated: frozenset[str]) -> Client:
        client_id = params.get("client_id")
        if "client_id" in repeated or client_id is None:
            raise AuthorizationPageError("The request does not say which application is asking (client_id).")
        client = self._clients.find_client(client_id) if len(client_id) <= 255 else None
        if client is None or not client.enabled or not client.redirect_uris:
            raise AuthorizationPageError("The application asking is not registered here.")
        return client

    @staticmethod
    def _redirect_uri(client: Client, params: Mapping[str, str], repeated: frozenset[str]) -> str:
        """RFC 6749 §3.1.2.3, RFC 9700 §4.1.3: the registered URI, matched exactly; without one
        in the request, the client's only registered URI."""
        given = params.get("redirect_uri")
        if "redirect_uri" in repeated:
            raise AuthorizationPageError("The request names more than one address to return to (redirect_uri).")
        if given is None:
            if len(client.redirect_uris) == 1:
                return client.redirect_uris[0]
            raise AuthorizationPageError("The request does not say where to return to (redirect_uri).")
        if not redirect_uris.matches(given, client.redirect_uris):
            raise AuthorizationPageError("The address to return to (redirect_uri) is not one the application "
                                         "registered.")
        return given

    @staticmethod
    def _pkce(client: Client, params: Mapping[str, str], response_type: str, refuse) -> str | None:  # noqa: ANN001
        """RFC 7636 §4.4.1, RFC 9700 §2.1.1: S256 only; required unless a confidential client
        was registered with PKCE optional."""
        challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
        if response_type != "code":
            return None
        if method is not None and method != "S256":
            raise refuse("invalid_request", "code_challenge_method must be S256 (plain is not accepted)")
        if challenge is None:
            if method is not None or client.public or client.pkce_required:
                raise refuse("invalid_request", "code_challenge is required (PKCE, code_challenge_method=S256)")
            return None
        if method is None:
            # RFC 7636 §4.3: a missing method means plain, which is refused.
            raise refuse("invalid_request", "code_challenge_method must be S256 (plain is not accepted)")
        if not valid_challenge(challenge):
            raise refuse("invalid_request", "code_challenge must be 43 characters of base64url (S256)")
        return challenge

    def after_logout(self, params: Mapping[str, str]) -> str | None:
        """OpenID Connect RP-Initiated Logout 1.0 §3: where the browser goes once signed out, if
        the client names a ``post_logout_redirect_uri`` it registered (matched as a redirect URI
        is); None otherwise: the signed-out page, never a redirect to an address not registered."""
        client_id, uri = params.get("client_id"), params.get("post_logout_redirect_uri")
        if client_id is None or uri is None or len(client_id) > 255 or len(uri) > redirect_uris.MAX_LENGTH:
            return None
        client = self._clients.find_client(client_id)
        if client is None or not client.enabled or not redirect_uris.matches(uri, client.redirect_uris):
            return None
        state = params.get("state")
        if state is None:
            return uri
        return f"{uri}{'&' if '?' in uri else '?'}{urlencode([('state', state)])}"

    def respond(self, request: AuthorizationRequest, identity: Identity, auth_time: float,
                source_address: str = "") -> str:
        """Where the browser goes once the person signed in and consented: the redirect URI with
        a code (RFC 6749 §4.1.2), or with the access token in its fragment (§4.2.2)."""
        now = time.time()
        if request.response_type == "code":
            code = self._codes.issue(CodeGrant(request.client, identity, request.scope, request.redirect_uri,
                                               request.code_challenge, request.nonce, auth_time), now)
            return request.target.url(self.issuer, code=code)
        return request.target.url(self.issuer, **self._implicit(request, identity, now, source_address))

    def _implicit(self, request: AuthorizationRequest, identity: Identity, now: float,
                  source_address: str) -> dict[str, str]:
        """RFC 6749 §4.2.2: an access token and no refresh token ("The authorization server MUST
        NOT issue a refresh token"), with the client's own (shorter) lifetime."""
        client = request.client
        authorization = Authorization(client, request.scope, "implicit", identity)
        access = self._tokens.access_token(authorization, now)
        issued = AuditEvent(audit.TOKEN_ISSUED, client_id=client.client_id, subject=authorization.subject,
                            source_address=source_address or None, grant_type="implicit", token=short_id(access.value))
        try:
            self._storage.create_grant(authorization, access, None, access.expires_at, issued)
        except GrantOwnerGone:
            raise request.error("access_denied", "the account or application no longer exists") from None
        values = {"access_token": access.value, "token_type": "Bearer",
                  "expires_in": str(max(0, math.floor(access.expires_at - time.time())))}
        if request.parameters.get("scope") is None or tuple(request.parameters["scope"].split()) != request.scope:
            values["scope"] = format_scope(request.scope)
        return values
