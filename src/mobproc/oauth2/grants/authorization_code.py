"""RFC 6749 §4.1.3: the authorization code grant, with PKCE (RFC 7636 §4.5, §4.6)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ...domain import audit
from ...domain.audit import AuditEvent, AuditLog
from ...domain.authorization import AuthorizationCodeRecord, AuthorizationCodes, verifier_matches
from ...domain.clients import Client
from ...domain.id_tokens import IdTokens
from ...domain.secrets import short_id
from ...domain.tokens import Authorization, GrantOwnerGone, TokenFactory
from ..errors import InvalidGrantError
from ..request import TokenRequest
from .base import bearer_response
from .storage import GrantStorage, RefreshTokenStorage

INVALID_CODE = "Authorization code is invalid or expired"


@dataclass(frozen=True, slots=True)
class CheckedCodeRequest:
    record: AuthorizationCodeRecord
    client: Client
    presented: str  # short_id of the code, for the audit trail
    source_address: str = ""


class CodeGrantStorage(GrantStorage, RefreshTokenStorage):
    """Making the grant a code becomes, and revoking it when the code comes back."""


class AuthorizationCodeGrant:
    grant_type = "authorization_code"
    client_grant = "authorization_code"
    # On a thread: a replayed code revokes a grant before it answers, and an ID token is signed.
    runs_on_event_loop = False

    def __init__(self, codes: AuthorizationCodes, storage: CodeGrantStorage, tokens: TokenFactory, audit_log: AuditLog,
                 *, id_tokens: IdTokens | None = None) -> None:
        self._codes = codes
        self._storage = storage
        self._tokens = tokens
        self._audit = audit_log
        self._id_tokens = id_tokens

    def check(self, request: TokenRequest, client: Client) -> CheckedCodeRequest:
        """RFC 6749 §4.1.3: "ensure that the authorization code was issued to the authenticated
        confidential client, or if the client is public, ensure that the code was issued to
        "client_id" in the request", "verify that the authorization code is valid", "ensure
        that the "redirect_uri" parameter is present if the "redirect_uri" parameter was
        included in the initial authorization request ... and if included ensure that their
        values are identical"; RFC 7636 §4.6: the verifier's S256 is the challenge."""
        code = request.require("code")
        record = self._codes.find(code)
        # A code of another client is unknown to this one: its use would let any client spend
        # (and, by the replay rule, revoke) another's codes.
        if record is None or record.client_pk != client.pk:
            raise InvalidGrantError(INVALID_CODE)
        presented = short_id(code)
        if record.used:
            # §4.1.2: "If an authorization code is used more than once, the authorization server
            # MUST deny the request and SHOULD revoke (when possible) all tokens previously
            # issued based on that authorization code." The code was seen by someone else.
            self._revoke_replayed(record, client, presented, request.source_address)
            raise InvalidGrantError(INVALID_CODE)
        if record.expires_at <= time.time():
            raise InvalidGrantError(INVALID_CODE)
        grant = record.grant
        if grant.redirect_uri and request.get("redirect_uri") != grant.redirect_uri:
            raise InvalidGrantError("redirect_uri does not match the authorization request")
        verifier = request.get("code_verifier")
        if grant.code_challenge is not None:
            if not verifier_matches(verifier, grant.code_challenge):
                raise InvalidGrantError("code_verifier does not match the code_challenge")
        elif verifier is not None:
            # RFC 9700 §2.1.1: a verifier for a code issued without a challenge is refused, or an
            # attacker could inject a code obtained without PKCE (PKCE downgrade).
            raise InvalidGrantError("code_verifier given for a code issued without code_challenge")
        return CheckedCodeRequest(record, client, presented, request.source_address)

    def _revoke_replayed(self, record: AuthorizationCodeRecord, client: Client, presented: str,
                         source_address: str) -> None:
        if record.grant_id is not None and self._storage.revoke_grant(record.grant_id):
            self._audit.record(AuditEvent(
                audit.GRANT_REVOKED, client_id=client.client_id, subject=record.grant.identity.subject,
                source_address=source_address or None, grant_type=self.grant_type, grant_id=record.grant_id,
                token=presented, reason=audit.CODE_REUSE,
            ))

    def respond(self, checked: CheckedCodeRequest) -> dict[str, Any]:
        """RFC 6749 §4.1.4: the same kind of grant as a password's (refresh rotation, reuse
        detection, idle and absolute limits), made in the transaction that uses the code up."""
        now = time.time()
        client, grant = checked.client, checked.record.grant
        grant_expires_at = now + self._tokens.grant_lifetime
        refresh = self._tokens.refresh_token(now, grant_expires_at) if "refresh_token" in client.grant_types else None
        authorization = Authorization(client, grant.scope, self.grant_type, grant.identity)
        access = self._tokens.access_token(authorization, now)
        issued = AuditEvent(
            audit.TOKEN_ISSUED, client_id=client.client_id, subject=authorization.subject,
            source_address=checked.source_address or None, grant_type=self.grant_type,
            token=short_id(access.value), refresh_token=short_id(refresh.value) if refresh else None,
        )
        try:
            with self._codes.transaction():
                if not self._codes.consume(checked.record, now):
                    raise _Lost()
                grant_id = self._storage.create_grant(authorization, access, refresh, grant_expires_at, issued)
                self._codes.attach_grant(checked.record, grant_id)
        except _Lost:
            # Another request used it (or it expired) between the check and now: a replay.
            again = self._codes.reread(checked.record)
            if again is not None:
                self._revoke_replayed(again, client, checked.presented, checked.source_address)
            raise InvalidGrantError(INVALID_CODE) from None
        except GrantOwnerGone:
            raise InvalidGrantError("The client or account no longer exists") from None
        body = bearer_response(access, refresh, grant.scope, None)  # the scope always said (RFC 6749 §5.1)
        if self._id_tokens is not None and "openid" in grant.scope:
            # OpenID Connect Core §3.1.3.3: with the openid scope, an ID token beside the tokens.
            body["id_token"] = self._id_tokens.issue(client, grant.identity, auth_time=grant.auth_time,
                                                     nonce=grant.nonce, access_token=access.value, now=now)
        return body


class _Lost(Exception):
    pass
