"""RFC 7009: OAuth 2.0 token revocation, by the client the token was issued to."""

from __future__ import annotations

from typing import Any, Protocol

from ..domain import audit, secrets
from ..domain.audit import AuditEvent, AuditLog, LoggedAuditLog
from ..domain.clients import Client, ClientStore
from ..domain.tokens import RefreshTokenRecord
from ..domain.verifier import AccessTokenVerifier
from .client_auth import authenticate_client
from .request import TokenRequest


class RevocationStorage(Protocol):
    def find_refresh_token(self, lookup: bytes) -> RefreshTokenRecord | None: ...
    def revoke_grant(self, grant_id: int) -> bool: ...
    def revoke_access_token(self, token_id: int) -> None: ...


class RevocationEndpoint:
    def __init__(
        self,
        clients: ClientStore,
        storage: RevocationStorage,
        verifier: AccessTokenVerifier,
        audit_log: AuditLog | None = None,
    ) -> None:
        self._clients = clients
        self._storage = storage
        self._verifier = verifier
        self._audit = audit_log or LoggedAuditLog()

    def handle(self, request: TokenRequest) -> dict[str, Any]:
        """RFC 7009 §2.1: ``token`` REQUIRED, ``token_type_hint`` OPTIONAL (it only orders the
        search); the client authenticates, and only a token issued to it is revoked.

        §2.2: "The authorization server responds with HTTP status code 200 if the token has
        been revoked successfully or if the client submitted an invalid token." Another
        client's token gets the same 200 and stays valid: an error would tell the caller that
        the token exists. A write that fails is an error (503), never a 200: the client must
        not believe a token dead that still works. A public client (no secret) names itself with
        ``client_id``, as at the token endpoint: whoever holds its token may end it (§5), which
        is what a single-page app's logout needs.
        """
        client = authenticate_client(request, self._clients, public=True)
        token = request.require("token")
        searches = [self._revoke_refresh_token, self._revoke_access_token]
        if request.get("token_type_hint") == "access_token":
            searches.reverse()
        for revoke in searches:
            if revoke(token, client):
                break
        return {}

    def _revoke_refresh_token(self, token: str, client: Client) -> bool:
        """§2.1: "If the token passed to the request is a refresh token and the authorization
        server supports the revocation of access tokens, then the authorization server SHOULD
        also invalidate all access tokens based on the same authorization grant"."""
        record = self._storage.find_refresh_token(secrets.digest(token))
        if record is None:
            return False
        if record.authorization.client.pk == client.pk:
            self._storage.revoke_grant(record.grant_id)
            self._recorded(audit.GRANT_REVOKED, client, record.authorization.subject, record.grant_id, token)
        return True

    def _revoke_access_token(self, token: str, client: Client) -> bool:
        record = self._verifier.find(token)
        if record is None:
            return False
        if record.authorization.client.pk == client.pk:
            self._storage.revoke_access_token(record.token_id)
            self._recorded(audit.TOKEN_REVOKED, client, record.authorization.subject, record.grant_id, token)
        return True

    def _recorded(self, event: str, client: Client, subject: str, grant_id: int, token: str) -> None:
        # After the write: a revocation that failed (503) did not happen and is not recorded.
        self._audit.record(AuditEvent(
            event, client_id=client.client_id, subject=subject, grant_id=grant_id, token=secrets.short_id(token),
            detail="revoked by its client (RFC 7009)",
        ))
