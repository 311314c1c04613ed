"""The grants, one module each; the registry is :meth:`mobproc.server.app.Services.build`."""

from .authorization_code import AuthorizationCodeGrant
from .base import Grant
from .client_credentials import ClientCredentialsGrant
from .password import ResourceOwnerPasswordGrant
from .refresh_token import RefreshTokenGrant
from .validate_bearer import ValidateBearerGrant

__all__ = ["AuthorizationCodeGrant", "ClientCredentialsGrant", "Grant", "RefreshTokenGrant", "ResourceOwnerPasswordGrant", "ValidateBearerGrant"]
