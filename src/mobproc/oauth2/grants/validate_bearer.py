"""PingFederate's access token validation grant, the check the MOBPROC documentation shows.

``grant_type=urn:pingidentity.com:oauth2:grant_type:validate_bearer`` with ``token``, at the
token endpoint, by a client allowed ``access_token_validation`` (a resource server). It
predates RFC 7662 and answers the token's attributes in PingFederate's shape.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from ...domain.clients import Client
from ...domain.tokens import AccessTokenRecord
from ...domain.verifier import AccessTokenVerifier
from ..errors import InvalidGrantError
from ..request import TokenRequest
from ..scope import format_scope

VALIDATED_TOKEN_TYPE = "urn:pingidentity.com:oauth2:validated_token"
INVALID_TOKEN = "token is invalid or expired"


@dataclass(frozen=True, slots=True)
class _Checked:
    record: AccessTokenRecord


class ValidateBearerGrant:
    grant_type = "urn:pingidentity.com:oauth2:grant_type:validate_bearer"
    client_grant = "access_token_validation"

    def __init__(self, verifier: AccessTokenVerifier) -> None:
        self._verifier = verifier

    def check(self, request: TokenRequest, client: Client) -> _Checked:
        """``token`` REQUIRED: an access token of this environment that is active now, of any
        client (the caller is a resource server); anything else is ``invalid_grant``."""
        record = self._verifier.active(request.require("token"))
        if record is None:
            raise InvalidGrantError(INVALID_TOKEN)
        return _Checked(record)

    def respond(self, checked: _Checked) -> dict[str, Any]:
        """PingFederate's answer: the token's attributes as strings (``multitenant`` is
        ``"false"`` or ``"true"``); ``identityProvider`` is the source system and
        ``identifier`` the account name."""
        record = checked.record
        authorization = record.authorization
        attributes: dict[str, Any] = {}
        if authorization.identity is not None:
            identity = authorization.identity
            attributes = {
                "platform": identity.source_system,
                "tenant": identity.tenant,
                "multitenant": "true" if identity.multitenant else "false",
                "domain": identity.domain,
                "identityProvider": identity.source_system,
                "identifier": identity.name,
            }
        return {
            "token_type": VALIDATED_TOKEN_TYPE,
            "expires_in": max(0, math.floor(record.expires_at - time.time())),
            "client_id": authorization.client.client_id,
            "scope": format_scope(authorization.scope),
            "access_token": attributes,
        }
