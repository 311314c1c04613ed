"""mobproc: a self-hostable OAuth 2.0 token service for the MOBPROC v1 API.

The public API is what this module exports: the client side (``TokenClient`` and friends, for
an integrator who needs a token) and ``TokenChecker`` (for a resource server that receives
one). Neither needs the server: ``pip install mobproc`` installs them alone, and
``pip install 'mobproc[server]'`` the server. Every other module is internal and may move
(the README's Architecture section is the map).
"""

from typing import Any

from .resource import RejectedToken, TokenChecker, ValidatedToken
from .sdk import PRODUCTION, QA, BearerAuth, Token, TokenClient, TokenError

__all__ = [
    "PRODUCTION", "QA", "BearerAuth", "Environment", "RejectedToken", "Settings", "Token", "TokenChecker",
    "TokenClient", "TokenError", "ValidatedToken",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The server's settings, imported only when asked for: they need mobproc[server].
    if name in ("Environment", "Settings"):
        from . import config

        return getattr(config, name)
    raise AttributeError(f"module 'mobproc' has no attribute {name!r}")
