"""The grants, one module each; the registry is :func:`mobproc.server.app.build_token_endpoint`."""

from .base import Grant
from .password import ResourceOwnerPasswordGrant
from .refresh_token import RefreshTokenGrant

__all__ = ["Grant", "RefreshTokenGrant", "ResourceOwnerPasswordGrant"]
