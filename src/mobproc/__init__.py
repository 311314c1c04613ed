"""mobproc: a self-hostable OAuth 2.0 token service for the MOBPROC v1 API.

The public API is what this module exports; everything else may move.
"""

from .config import Environment, Settings
from .resource import RejectedToken, TokenChecker, ValidatedToken
from .sdk import PRODUCTION, QA, BearerAuth, Token, TokenClient, TokenError

__all__ = [
    "PRODUCTION", "QA", "BearerAuth", "Environment", "RejectedToken", "Settings", "Token", "TokenChecker",
    "TokenClient", "TokenError", "ValidatedToken",
]
__version__ = "0.1.0"
